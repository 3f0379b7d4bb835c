"""The stage runner: ``generate``, ``train``, ``eval``, ``compare``, ``report`` and ``run`` all go
through :func:`run_stage`.

A :class:`Stage` is one piece of work by one plugin: its name, version and options, the files
or folders it reads (``inputs``) and what it writes (``outputs``: artifact -> path in its
folder). Its key hashes the plugin, version, options and the *content* of every input (an
adapter re-trained in place is a new input); ``<folder>/stage.json`` keeps it. Same key and
complete: "up to date", once every output it recorded still has its recorded size and sha256
(:mod:`bioharness.outputs`; a damaged one is repaired: the stage runs again, resuming a log from
its last intact line); same key, unfinished: the worker resumes; another key: refused, unless
the old run is complete and ``archive`` is given (``bioharness run``: moved there, rerun).

Under :func:`planning` nothing runs: a stage that is up to date returns its recorded result,
any other raises :class:`WouldRun` (how an executor learns what a rerun has left to do).
"""
import contextvars
import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bioharness.errors import UsageError
from bioharness.outputs import check_outputs, record_outputs, repair
from bioharness.store import RunDir

MANIFEST = "stage.json"


@dataclass
class Stage:
    kind: str  # generate, train, eval, compare, report (what observers see)
    name: str  # what the user reads: "train", "eval base/pubmedqa"
    plugin: str
    version: str | None
    options: dict
    work: Callable[[Path, Callable], Any]  # work(run_dir, on_record) -> result dict
    inputs: dict = field(default_factory=dict)  # {name: file or folder}
    outputs: dict = field(default_factory=dict)  # {artifact: path relative to the run folder}

    @property
    def config(self):
        return {"plugin": self.plugin, "version": self.version, "options": jsonable(self.options)}


def jsonable(obj):
    return json.loads(json.dumps(obj, default=str, sort_keys=True))


def _changed(previous, config, hashes):
    old = previous.get("config", {})
    names = [k for k in ("plugin", "version") if old.get(k) != config[k]]
    options, before = config["options"], old.get("options", {})
    names += sorted(k for k in set(options) | set(before) if options.get(k) != before.get(k))
    inputs = {k: v.get("sha256") for k, v in previous.get("inputs", {}).items()}
    names += sorted(k for k in set(hashes) | set(inputs) if hashes.get(k) != inputs.get(k))
    return ", ".join(dict.fromkeys(names)) or "inputs"


_PLANNING = contextvars.ContextVar("bioharness_planning", default=False)


class WouldRun(Exception):
    """Raised by :func:`run_stage` under :func:`planning` for a stage that is not up to date."""


@contextmanager
def planning():
    """Within the block, :func:`run_stage` runs nothing (see the module's docstring)."""
    token = _PLANNING.set(True)
    try:
        yield
    finally:
        _PLANNING.reset(token)


def is_planning() -> bool:
    return _PLANNING.get()


def stage_record(folder) -> dict:
    """The completion record (``stage.json``) of the stage folder ``folder``; {} if none."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def run_stage(hooks, stage, run_dir, say=print, archive=None):
    """Run ``stage`` in ``run_dir`` unless it is up to date; returns its result (with ``outputs``)."""
    run = RunDir(run_dir, manifest=MANIFEST, create=not is_planning())
    inputs = {k: Path(v) for k, v in stage.inputs.items() if v is not None}
    if is_planning() and not all(p.exists() for p in inputs.values()):
        raise WouldRun(stage.name)
    hashes = run.input_hashes(inputs)
    previous = run.manifest
    repairing = False
    if run.is_complete(stage.config, hashes=hashes):
        damages = check_outputs(run.path, previous, stage.outputs)
        if not damages:
            if not is_planning():
                say(f"{stage.name}: up to date")
            return previous.get("result", {})
        if is_planning():  # damaged: it would run again
            raise WouldRun(stage.name)
        for damage in damages:  # one line each, then the stage runs again over what is intact
            say(f"{stage.name}: {damage.describe()}; {damage.remedy}")
        repair(damages)
        repairing = True
    if is_planning():
        raise WouldRun(stage.name)
    if previous.get("key") not in (None, run.stage_key(stage.config, hashes=hashes)):
        changed = _changed(previous, stage.config, hashes)
        if not previous.get("complete") or archive is None:
            state = "complete" if previous.get("complete") else "unfinished"
            raise UsageError(f"{run.path} holds {state} results of a different setting (changed: {changed}); "
                             "use another --out or remove that folder")
        target = Path(archive) / f"{run.path.name}-{previous['key'][:12]}"
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run.path), str(target))
        say(f"{stage.name}: {changed} changed; rerunning (the previous result is kept in {target})")
        run = RunDir(run_dir, manifest=MANIFEST)
    elif previous and not repairing:
        say(f"{stage.name}: resuming")
    run.start(stage.name, stage.config, inputs, hashes)
    hooks.stage_start(stage.kind, run.path, stage.config)
    try:
        result = jsonable(stage.work(run.path, lambda record: hooks.sample(stage.kind, record)) or {})
    except BaseException:
        if not previous and [p.name for p in run.path.iterdir()] == [MANIFEST]:
            shutil.rmtree(run.path, ignore_errors=True)  # it failed before writing anything: leave no folder
        raise
    if result.get("unfinished"):  # requests failed: kept unfinished, the same command retries them
        run.finish(result, complete=False)
        hooks.stage_end(stage.kind, run.path, result)
        return result
    outputs = {artifact: str(run.path / rel) for artifact, rel in stage.outputs.items()}
    outputs.update(result.get("outputs") or {})
    missing = [artifact for artifact, path in outputs.items() if not Path(path).exists()]
    if missing:
        raise UsageError(f"{stage.name}: {stage.plugin} declares {', '.join(missing)} but did not write it")
    result["outputs"] = outputs
    run.finish(result, outputs=record_outputs(run.path, outputs))
    hooks.stage_end(stage.kind, run.path, result)
    return result

