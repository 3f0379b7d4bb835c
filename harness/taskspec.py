"""Task specs: one YAML file per task, validated on load.

A task is data + prompt + scorer, composed rather than subclassed (inspect_ai style):
the ``kind`` names a registered task kind that knows how to read, prompt and score;
the spec says which data, which prompt, which settings.

Unknown keys and missing fields are errors naming the file and the key.
"""
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


from bioharness.datafiles import find_data_file
from bioharness.errors import DataError, UsageError
from bioharness.textfiles import read_yaml

CATEGORIES = ("qa", "ie", "gen")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

# key -> (required, type, description)
FIELDS = {
    "name": (True, str, "the task's unique name"),
    "version": (True, int, "bumped whenever prompt, data or scoring change"),
    "category": (True, str, f"one of {', '.join(CATEGORIES)}"),
    "kind": (True, str, "a registered task kind (mcqa, ner, re, summarization, ...)"),
    "description": (False, str, "one line for `bioharness tasks`"),
    "data": (True, dict, "where the examples come from"),
    "prompt": (True, dict, "the prompt template and few-shot settings"),
    "metrics": (True, list, "metric names, the first is the headline"),
    "options": (False, dict, "settings of the task kind (scoring mode, labels, ...)"),
    "generation": (False, dict, "max_new_tokens, stop, temperature"),
    "groups": (False, list, "task groups it belongs to; `--tasks GROUP` selects them all"),
}
DATA_FIELDS = {
    "reader": (True, str, "the reader of the original format"),
    "split": (True, str, "which split of the data"),
    "files": (False, (list, dict), "files relative to the data directory (or the spec's folder): a list, or split -> list"),
    "options": (False, dict, "the reader's options"),
    "hf": (False, dict, "Hugging Face dataset fallback: {path, name, split}"),
}
PROMPT_FIELDS = {
    "template": (True, str, "a str.format template over the example's inputs"),
    "system": (False, str, "a system message"),
    "chat": (False, bool, "wrap in the model's chat template (default true)"),
    "num_fewshot": (False, int, "examples shown before the question (default 0)"),
    "fewshot_split": (False, str, "the split few-shot examples come from"),
    "fewshot_seed": (False, int, "seed choosing the few-shot examples (default 1234)"),
    "fewshot_separator": (False, str, "text between shots (default blank line)"),
}
GENERATION_FIELDS = {
    "max_new_tokens": (False, int, ""),
    "stop": (False, list, ""),
    "temperature": (False, float, ""),
}


def _check(mapping, fields, path, prefix=""):
    if not isinstance(mapping, dict):
        raise DataError(path, prefix.rstrip(".") or "top level", "expected a mapping")
    for key in mapping:
        if key not in fields:
            known = ", ".join(fields)
            raise DataError(path, f"{prefix}{key}", f"unknown key (expected one of: {known})")
    for key, (required, typ, desc) in fields.items():
        if key not in mapping:
            if required:
                raise DataError(path, f"{prefix}{key}", f"missing required key ({desc})")
            continue
        value = mapping[key]
        if isinstance(typ, tuple):
            if not isinstance(value, typ):
                raise DataError(path, f"{prefix}{key}", f"expected {' or '.join(t.__name__ for t in typ)}, got {type(value).__name__}")
            continue
        ok = isinstance(value, typ) or (typ is float and isinstance(value, int) and not isinstance(value, bool))
        if typ is int and isinstance(value, bool):
            ok = False
        if not ok:
            raise DataError(path, f"{prefix}{key}", f"expected {typ.__name__}, got {type(value).__name__}")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: int
    category: str
    kind: str
    data: Mapping[str, Any]
    prompt: Mapping[str, Any]
    metrics: tuple
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    generation: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple = ()
    path: Path | None = None
    plugin: str | None = None

    @property
    def split(self):
        return self.data["split"]

    @property
    def num_fewshot(self) -> int:
        return int(self.prompt.get("num_fewshot", 0))

    def prompt_hash(self) -> str:
        payload = {"prompt": dict(self.prompt), "options": dict(self.options), "generation": dict(self.generation)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def listed_files(self, split=None):
        """The names ``data.files`` gives for ``split`` (default: the task's own split)."""
        files = self.data.get("files") or ()
        if isinstance(files, dict):
            return list(files.get(split or self.split) or ())
        return list(files) if (split or self.split) == self.split else []

    def data_files(self, data_dir, split=None):
        """The listed files of ``split``, each where it is found first: the data directory, the
        cache of fetched datasets, beside the spec (else where it was looked for first)."""
        beside = self.path.parent if self.path is not None else None
        return [find_data_file(name, data_dir, beside) for name in self.listed_files(split)]


def load_spec(path, plugin=None) -> TaskSpec:
    path = Path(path)
    raw = read_yaml(path, "a YAML task spec")
    _check(raw, FIELDS, path)
    if not SAFE_NAME.fullmatch(raw["name"]):  # it names the task's result folder
        raise DataError(path, "name", f"{raw['name']!r} is not a safe name (letters, digits, '_', '-', '.'; "
                                      "starting with a letter or digit)")
    _check(raw["data"], DATA_FIELDS, path, "data.")
    _check(raw["prompt"], PROMPT_FIELDS, path, "prompt.")
    if "generation" in raw:
        _check(raw["generation"], GENERATION_FIELDS, path, "generation.")
    if raw["category"] not in CATEGORIES:
        raise DataError(path, "category", f"{raw['category']!r} is not one of {', '.join(CATEGORIES)}")
    if not raw["metrics"] or not all(isinstance(m, str) for m in raw["metrics"]):
        raise DataError(path, "metrics", "expected a non-empty list of metric names")
    files = raw["data"].get("files")
    for split, names in (files.items() if isinstance(files, dict) else [(None, files or [])]):
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise DataError(path, "data.files" + (f".{split}" if split else ""), "expected a list of file names")
    if not all(isinstance(g, str) and g and g not in ("all", *CATEGORIES) for g in raw.get("groups", ())):
        raise DataError(path, "groups", "expected a list of group names (not all, qa, ie or gen)")
    if raw["prompt"].get("num_fewshot", 0) < 0:
        raise DataError(path, "prompt.num_fewshot", "must be >= 0")
    if raw["prompt"].get("num_fewshot", 0) and "fewshot_split" not in raw["prompt"]:
        raise DataError(path, "prompt.fewshot_split", "required when num_fewshot > 0 (shots must not come from the test split)")
    return TaskSpec(
        name=raw["name"], version=raw["version"], category=raw["category"], kind=raw["kind"],
        description=raw.get("description", ""), data=raw["data"], prompt=raw["prompt"],
        metrics=tuple(raw["metrics"]), options=raw.get("options") or {}, generation=raw.get("generation") or {},
        groups=tuple(raw.get("groups", ())), path=path, plugin=plugin,
    )


def load_examples(kind, spec, data_dir, split):
    """The task kind's examples of ``split``; an undecodable or empty data file is a one-line
    error naming the file (and line), never a traceback or a "complete" task of n=0."""
    files = [f for f in spec.data_files(data_dir) if f.is_file()]
    for path in files:
        if path.stat().st_size == 0:
            raise DataError(path, "", f"empty file: expected the {split!r} examples of task {spec.name}")
    try:
        examples = kind.load(spec, data_dir, split)
    except UnicodeDecodeError as exc:
        for path in files:
            with open(path, "rb") as fh:
                for line_no, line in enumerate(fh, 1):
                    try:
                        line.decode("utf-8")
                    except UnicodeDecodeError as bad:
                        raise DataError(path, line_no, f"not UTF-8 text (byte {bad.start} of the line): "
                                                       "expected UTF-8; re-encode the file") from None
        raise DataError(files[0] if len(files) == 1 else spec.path, "", f"not UTF-8 text ({exc.reason})") from None
    where = files[0] if len(files) == 1 else spec.path
    if not examples:
        raise DataError(where, "", f"no examples in split {split!r} of task {spec.name}")
    seen = set()
    for example in examples:  # results are keyed by id: a repeated one would be scored twice or not at all
        if example.id in seen:
            raise DataError(where, "", f"duplicate example id {example.id!r} in split {split!r}: expected unique ids")
        seen.add(example.id)
    return examples


def choose_shots(kind, spec, data_dir):
    k = spec.num_fewshot
    if not k:
        return []
    pool = load_examples(kind, spec, data_dir, spec.prompt["fewshot_split"])
    if len(pool) < k:
        raise UsageError(f"task {spec.name}: {k} shots asked for, the {spec.prompt['fewshot_split']} split has {len(pool)}")
    rng = random.Random(spec.prompt.get("fewshot_seed", 1234))
    return [pool[i] for i in sorted(rng.sample(range(len(pool)), k))]


class TaskCatalog:
    """Every task spec from the plugins' ``task_dirs()`` (the built-in ones come from ``bionlp``)."""

    def __init__(self, hooks=None):
        if hooks is None:  # the active plugin manager's (the CLI's, else the defaults)
            from bioharness.manager import active_hooks

            hooks = active_hooks()
        self.hooks = hooks
        self.specs = {}
        self.kinds = {}
        for plugin, folder in hooks.task_dirs():
            if not folder.is_dir():
                raise UsageError(f"plugin {plugin!r} returned task folder {str(folder)!r}, which does not exist")
            for path in sorted(folder.glob("*.yaml")):
                spec = load_spec(path, plugin)
                if spec.name in self.specs:
                    other = self.specs[spec.name].path
                    raise DataError(path, "name", f"task {spec.name!r} is already defined in {other}")
                if spec.kind not in hooks.task_kinds:
                    known = ", ".join(hooks.task_kinds.names()) or "none installed"
                    raise DataError(path, "kind", f"unknown task kind {spec.kind!r} (known: {known})")
                self.kind(spec.kind).validate(spec)
                self.specs[spec.name] = spec

    def kind(self, name):
        """One instance of each task kind, shared by its tasks."""
        if name not in self.kinds:
            self.kinds[name] = self.hooks.task_kinds.get(name).factory()
        return self.kinds[name]

    def select(self, selector: str) -> list:
        """``T1,T2``, a category (``qa``, ``ie``, ``gen``), a group a spec lists in ``groups``
        (``openmedllm``) or ``all``; unknown names are errors. A task of a group (a suite's
        variant of a dataset) is chosen by its group or its name, not by ``all`` or its
        category, so category gains never count one dataset twice."""
        names = []
        for part in [p.strip() for p in selector.split(",") if p.strip()]:
            if part == "all":
                names += [n for n, s in self.specs.items() if not s.groups]
            elif part in CATEGORIES:
                names += [n for n, s in self.specs.items() if s.category == part and not s.groups]
            elif part in self.specs:
                names.append(part)
            elif any(part in s.groups for s in self.specs.values()):
                names += [n for n, s in self.specs.items() if part in s.groups]
            else:
                raise UsageError(f"unknown task {part!r}; `bioharness tasks` lists them (or use qa, ie, gen, all)")
        if not names:
            raise UsageError(f"no task selected by {selector!r}")
        return [self.specs[n] for n in dict.fromkeys(names)]
