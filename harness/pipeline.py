"""``bioharness run CONFIG``: generate → train → eval → compare from one YAML file.

::

    out: runs/bioinstruct-qa          # every stage writes below this folder
    generate:                         # optional; options of the generator plugin
      generator: selfinstruct
      n: 1000
      model: openai:gpt-4o
    train:                            # optional; options of the trainer plugin
      trainer: lora
      base: embedded
      categories: qa                  # `data` defaults to what `generate` wrote
    eval:
      models: [embedded, "embedded+{adapter}"]   # {adapter}: what `train` wrote
      tasks: qa
      limit: 200
    compare:
      baseline: embedded

Every stage resumes: the generator and trainer continue a killed run and return at once
when their output is complete, eval skips the samples already scored. Keys are checked
against the plugin's own options, so a typo is an error naming the file and the key.
"""
from pathlib import Path

import click
import yaml

from bioharness.errors import DataError

SECTIONS = ("out", "generate", "train", "eval", "compare")
EVAL_KEYS = {"models", "tasks", "limit", "seed", "judge", "batch_size", "dtype", "device", "base_url",
             "model_args", "bootstrap"}
COMPARE_KEYS = {"baseline", "bootstrap", "seed"}


def load_config(path):
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(path, mark.line + 1 if mark else "", f"invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(config, dict):
        raise DataError(path, "", "expected a mapping of stages (out, generate, train, eval, compare)")
    for key in config:
        if key not in SECTIONS:
            raise DataError(path, key, f"unknown key (expected one of: {', '.join(SECTIONS)})")
    if "out" not in config:
        raise DataError(path, "out", "missing required key (the run directory)")
    if not isinstance(config["out"], str) or not config["out"].strip():
        raise DataError(path, "out", "expected the run directory (a path)")
    for section in SECTIONS[1:]:
        if config.get(section) is not None and not isinstance(config[section], dict):
            raise DataError(path, section, f"expected a mapping of options, got {type(config[section]).__name__}")
    for section, known in (("eval", EVAL_KEYS), ("compare", COMPARE_KEYS)):
        for key in config.get(section) or {}:
            if key not in known:
                raise DataError(path, f"{section}.{key}", f"unknown key (expected one of: {', '.join(sorted(known))})")
    if "eval" in config and "models" not in (config["eval"] or {}):
        raise DataError(path, "eval.models", "missing required key (model specs to evaluate)")
    for section, key, minimum in (("eval", "limit", 1), ("eval", "batch_size", 1), ("eval", "seed", None),
                                  ("eval", "bootstrap", 100), ("compare", "bootstrap", 100), ("compare", "seed", None)):
        value = (config.get(section) or {}).get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or (minimum is not None and value < minimum)):  # found now, not after a model loads
            raise DataError(path, f"{section}.{key}", f"expected an integer{f' >= {minimum}' if minimum else ''}, "
                                                      f"got {value!r}")
    return config


def plugin_options(path, section, values, registry, selector):
    """The factory keywords for one plugin stage, typed and defaulted by its click options."""
    values = dict(values or {})
    names = registry.names()
    name = values.pop(selector, None) or (names[0] if len(names) == 1 else None)
    if name is None:
        raise DataError(path, f"{section}.{selector}", f"which {registry.kind}? ({', '.join(names) or 'none installed'})")
    if name not in registry:
        raise DataError(path, f"{section}.{selector}", f"unknown {registry.kind} {name!r} (known: {', '.join(names)})")
    registration = registry.get(name)
    options = {opt.name: opt for opt in registration.options}
    ctx = click.Context(click.Command(section))
    kwargs = {}
    for key, value in values.items():
        opt = options.get(key.replace("-", "_"))
        if opt is None:
            raise DataError(path, f"{section}.{key}", f"not an option of {registry.kind} {name!r} "
                                                       f"(known: {', '.join(sorted(options))})")
        try:
            kwargs[opt.name] = opt.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise DataError(path, f"{section}.{key}", exc.message) from None
    for opt_name, opt in options.items():
        if opt_name not in kwargs:
            kwargs[opt_name] = opt.get_default(ctx, call=True)
    return name, registration, kwargs


def run_pipeline(manager, path, console=None, data_dir=None):
    from bioharness.compare import compare
    from bioharness.evaluate import EvalSettings, evaluate
    from bioharness.store import run_lock
    from bioharness.taskspec import TaskCatalog

    path = Path(path)
    config = load_config(path)
    hooks = manager.hooks
    out = Path(config["out"])
    summary = {}
    produced = {}
    for stage, registry, selector in (("generate", hooks.generators, "generator"), ("train", hooks.trainers, "trainer")):
        if stage not in config:
            continue
        section = dict(config[stage] or {})
        if stage == "train" and "data" not in section and "instructions" in produced:
            section["data"] = produced["instructions"]
        name, registration, kwargs = plugin_options(path, stage, section, registry, selector)
        run_dir = out / stage
        with run_lock(run_dir):  # one writer per stage folder
            hooks.stage_start(stage, run_dir, {selector: name, **{k: str(v) for k, v in kwargs.items()}})
            result = registration.factory(**kwargs).run(run_dir, on_record=lambda record, s=stage: hooks.sample(s, record))
            hooks.stage_end(stage, run_dir, result)
        summary[stage] = result
        if stage == "generate":
            produced["instructions"] = str(run_dir / "instructions.jsonl")
        if stage == "train" and result.get("adapter"):
            produced["adapter"] = result["adapter"]
    if "eval" in config:
        section = config["eval"]
        catalog = TaskCatalog(hooks)
        specs = catalog.select(str(section.get("tasks", "all")))
        models = section["models"] if isinstance(section["models"], list) else [section["models"]]
        backend_options = {k: section[k] for k in ("batch_size", "dtype", "device", "base_url") if k in section}
        backend_options.update(section.get("model_args") or {})
        results = {}
        for model in models:
            model = _fill(path, "eval.models", str(model), produced)
            settings = EvalSettings(out=out, data_dir=Path(data_dir) if data_dir else None, limit=section.get("limit"),
                                    seed=section.get("seed", 0), judge=section.get("judge"),
                                    bootstrap_resamples=section.get("bootstrap", 1000), backend_options=backend_options)
            results[model] = evaluate(hooks, catalog, model, specs, settings, console=console)
        summary["eval"] = results
    if "compare" in config:
        section = config["compare"] or {}
        baseline = _fill(path, "compare.baseline", section["baseline"], produced) if section.get("baseline") else None
        with run_lock(out):
            summary["compare"] = compare(out, TaskCatalog(hooks), baseline=baseline,
                                         resamples=section.get("bootstrap", 1000), seed=section.get("seed", 0))
    return summary


def _fill(path, where, text, produced):
    try:
        return text.format(**produced)
    except KeyError as exc:
        raise DataError(path, where, f"{{{exc.args[0]}}} is only known when an earlier stage produces it "
                                     f"(available: {', '.join(produced) or 'none'})") from None

