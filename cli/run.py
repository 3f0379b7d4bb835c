"""``bioharness run [CONFIG]``: the BioInstruct experiment in one command.

With no CONFIG it runs :data:`DEFAULT` (the same as ``examples/runs/default.yaml``): offline, on
the embedded model, in a few minutes on a laptop CPU. Every step is a stage of
:mod:`bioharness.stages` (up to date / resumed / rerun when an input changed):

    generate (teacher)  ->  instructions (seeds + generated, decontaminated; one file per category
    when ablating)  ->  train (one adapter, or qa/ie/gen/all)  ->  eval (base and every adapter on
    every task)  ->  compare (paired bootstrap; transfer matrix)  ->  report

Every value of the config is type-checked before anything runs: one line ``file:key``, exit 2.

The stages form a graph (:meth:`Experiment.graph`, the same for every executor): ``--executor
local`` (the default) runs it in this process, ``--executor slurm`` one job per step on a
cluster (:mod:`bioharness.executors`). ``train.launch`` runs the train stages under
``accelerate launch`` (:mod:`bioharness.cli.launch`).
"""
import os
from pathlib import Path

import yaml

from bioharness.errors import DataError, Incomplete, UsageError
from bioharness.executors import LOCAL, Graph, LocalExecutor, Step
from bioharness.stages import Stage, is_planning, run_stage, stage_record
from bioharness.textfiles import read_yaml

DEFAULT_YAML = """\
# The default experiment of `bioharness run` (offline, embedded model, ~10 min on 2 CPU cores).
out: runs/default
base: embedded                 # the model tuned and evaluated
teacher: embedded              # the model that writes new instructions (any model spec)
instructions: null             # an instruction file (JSON/JSONL) instead of generating
tasks: [pubmedqa, chemprot, meqsum]      # one QA, one IE (relations), one GEN task
limit: 20                      # examples per task (seeded subset)
seed: 0
judge: null                    # model spec of an LLM judge for GEN tasks
ablate_categories: false       # also adapters tuned on qa-, ie-, gen-only instructions
generate:                      # options of the generator (the 80 seeds are always included)
  generator: selfinstruct
  n: 4
  per_request: 2
  max_tokens: 256
  concurrency: 2
  max_requests: 2
  default_category: qa
decontaminate: {n: 13, contamination: drop}
train:                         # options of the trainer
  trainer: lora
  max_steps: 10
  batch_size: 4
  micro_batch_size: 4
  cutoff_len: 160
  save_steps: 5
  sanity_prompts: 0
eval: {batch_size: 8, bootstrap: 1000}
compare: {bootstrap: 1000, seed: 0}
"""
DEFAULT = yaml.safe_load(DEFAULT_YAML)

ABLATION = ("all", "qa", "ie", "gen")


def input_option(registration, artifact):
    """The option of ``registration`` that takes ``artifact`` (as its registration declares)."""
    for option, kind in registration.inputs.items():
        if kind == artifact:
            return option
    raise UsageError(f"{registration.kind} {registration.name!r} declares no {artifact} input")


def plugin_options(path, section, values, registry, selector):
    """Typed, defaulted factory keywords for one plugin section of a run config: a value that is
    not the option's type is an error naming ``path:section.key``."""
    import click

    values = dict(values or {})
    names = registry.names()
    name = values.pop(selector, None) or (names[0] if len(names) == 1 else None)
    if name is None or name not in registry:
        known = ", ".join(names) or "none installed"
        raise DataError(path, f"{section}.{selector}", f"unknown {registry.kind} {name!r} (known: {known})"
                        if name else f"which {registry.kind}? ({known})")
    registration = registry.get(name)
    options = {opt.name: opt for opt in registration.options}
    ctx = click.Context(click.Command(section))
    kwargs = {}
    for key, value in values.items():
        opt = options.get(key.replace("-", "_"))
        if opt is None:
            raise DataError(path, f"{section}.{key}", f"not an option of {registry.kind} {name!r} "
                                                       f"(known: {', '.join(sorted(options))})")
        if isinstance(value, (list, dict)) and not opt.multiple:
            raise DataError(path, f"{section}.{key}", f"expected one value, got {type(value).__name__}")
        try:
            kwargs[opt.name] = opt.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise DataError(path, f"{section}.{key}", exc.message) from None
    for opt_name, opt in options.items():
        if opt_name not in kwargs:
            default = opt.get_default(ctx, call=True)
            kwargs[opt_name] = None if type(default).__name__ == "Sentinel" else default  # click's "no default"
    return registration, kwargs


def _text(value):
    return isinstance(value, str) and value.strip() != ""


def _whole(low):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _names(v):
    return _text(v) or (isinstance(v, list) and bool(v) and all(_text(x) for x in v))


# key: (check, what is expected); None is allowed where the default is None
TOP = {
    "out": (_text, "a folder path"), "base": (_text, "a model spec"), "teacher": (_text, "a model spec"),
    "instructions": (_text, "an instruction file"), "tasks": (_names, "task names (a list or comma-separated)"),
    "limit": (_whole(1), "a whole number >= 1"), "seed": (_whole(0), "a whole number >= 0"),
    "judge": (_text, "a model spec"), "data_dir": (_text, "a folder path"),
    "plugins": (_names, "plugin names (a list or comma-separated)"),
    "ablate_categories": (lambda v: isinstance(v, bool), "true or false"),
    "reported": (_names, "reported files (a list or comma-separated)"),
    "executor": (_text, "an executor name (local, or one a plugin registers: slurm)"),
}
SECTIONS = {
    "eval": {"models": (lambda v: isinstance(v, list) and bool(v) and all(_text(x) for x in v),
                        "a non-empty list of model specs"),
             "batch_size": (_whole(1), "a whole number >= 1"), "bootstrap": (_whole(100), "a whole number >= 100"),
             "dtype": (_text, "a dtype name"), "device": (_text, "a device name"), "base_url": (_text, "a URL"),
             "model_args": (lambda v: isinstance(v, dict), "a mapping of backend options")},
    "compare": {"bootstrap": (_whole(100), "a whole number >= 100"), "seed": (_whole(0), "a whole number >= 0")},
    "decontaminate": {"n": (_whole(1), "a whole number >= 1"),
                      "contamination": (lambda v: v in ("drop", "keep"), "drop or keep")},
}
PLUGIN_SECTIONS = {"generate": "generator", "train": "trainer"}


REQUIRED = ("out", "base", "tasks")  # never null: everything else may fall back to its default


def _check(path, key, value, rule):
    check, expected = rule
    if (value is not None or key in REQUIRED) and not check(value):
        raise DataError(path, key, f"expected {expected}, got {value!r}")


def load_config(path=None, overrides=None, sections=()):
    """The run config: DEFAULT, then the file's values, then the command line's, all checked.
    ``sections``: more keys taking a mapping (the executors': ``slurm``), checked by their owner."""
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT.items()}
    where = path or "(default run)"
    if path is not None:
        given = read_yaml(path, "a run config (YAML)")
        if not isinstance(given, dict):
            raise DataError(path, "", "expected a mapping (out, base, teacher, tasks, generate, train, eval, ...)")
        for key, value in given.items():
            if key in PLUGIN_SECTIONS or key in SECTIONS:
                if value is not None and not isinstance(value, dict):
                    raise DataError(path, key, f"expected a mapping of options, got {value!r}")
                if key in PLUGIN_SECTIONS and PLUGIN_SECTIONS[key] in (value or {}):
                    config[key] = dict(value)  # another plugin: none of the default's options
                else:
                    config[key] = {**(config.get(key) or {}), **(value or {})}
            elif key in TOP:
                config[key] = value
            elif key in sections:
                if value is not None and not isinstance(value, dict):
                    raise DataError(path, key, f"expected a mapping of options, got {value!r}")
                config[key] = dict(value or {})
            else:
                known = ", ".join([*TOP, *PLUGIN_SECTIONS, *SECTIONS, *sections])
                raise DataError(path, key, f"unknown key (expected one of: {known})")
    for key, value in (overrides or {}).items():
        if value is not None:
            config[key] = value
    for key, rule in TOP.items():
        _check(where, key, config.get(key), rule)
    for section, rules in SECTIONS.items():
        for key, value in (config.get(section) or {}).items():
            if key not in rules:
                raise DataError(where, f"{section}.{key}", f"unknown key (expected one of: {', '.join(rules)})")
            _check(where, f"{section}.{key}", value, rules[key])
    return config


def _records_in(path) -> int:
    """Non-blank lines of a JSON-lines file (0 when there is none)."""
    if not path or not Path(path).is_file():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


LAUNCH = {"num_processes": (_whole(1), "a whole number >= 1"),
          "config_file": (_text, "an accelerate config file (DDP, FSDP or DeepSpeed)")}


def launch_settings(where, value):
    """``train.launch`` checked: {num_processes, config_file}, or None (train in this process)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise DataError(where, "train.launch", f"expected a mapping (num_processes, config_file), got {value!r}")
    for key, item in value.items():
        if key not in LAUNCH:
            raise DataError(where, f"train.launch.{key}", f"unknown key (expected one of: {', '.join(LAUNCH)})")
        _check(where, f"train.launch.{key}", item, LAUNCH[key])
    if value.get("config_file") and not Path(value["config_file"]).is_file():
        raise DataError(where, "train.launch.config_file", f"no such file: {value['config_file']}")
    return {k: value[k] for k in LAUNCH if value.get(k) is not None}


def get_executor(hooks, name, options, where):
    """The executor ``name`` (``local``, or one a plugin registered) built with ``options``, the
    run config's section of that name (the config's loader lets no ``local:`` section through)."""
    if name == LOCAL:
        return LocalExecutor()
    if name not in hooks.executors:
        known = ", ".join([LOCAL, *hooks.executors.names()])
        raise DataError(where, "executor", f"unknown executor {name!r} (known: {known})")
    return hooks.executors.get(name).factory(options=dict(options or {}), where=str(where))


def _listed(value):
    return [p.strip() for p in (value.split(",") if isinstance(value, str) else value) if p.strip()]


class Experiment:
    """The stages of one run config, built (and so validated) before any of them runs."""

    def __init__(self, manager, config, path=None, console=None, data_dir=None):
        from bioharness.modelspec import parse_model_spec
        from bioharness.taskspec import TaskCatalog

        self.where = str(path or "(default run)")
        if config.get("plugins"):
            from bioharness.manager import split_plugin_names

            manager.load_named(split_plugin_names(_listed(config["plugins"])))
            manager.check()
        self.hooks = hooks = manager.hooks
        self.config, self.console = config, console
        self.out = Path(config["out"])
        self.archive = self.out / "superseded"
        self.catalog = TaskCatalog(hooks)
        try:
            self.specs = self.catalog.select(",".join(_listed(config["tasks"])))
        except UsageError as exc:
            raise DataError(self.where, "tasks", str(exc)) from None
        self.base = str(parse_model_spec(config["base"]))
        self.data_dir = config.get("data_dir") or data_dir
        self.generate = None
        if not config.get("instructions"):
            options = {**config["generate"], "model": config["teacher"]}
            self.generate = self._plugin("generate", options, hooks.generators)
        trainer_values = dict(config.get("train") or {})
        self.launch = launch_settings(self.where, trainer_values.pop("launch", None))
        registration, _ = plugin_options(self.where, "train", trainer_values, hooks.trainers, "trainer")
        if "adapter" not in registration.outputs:
            raise DataError(self.where, "train.trainer", f"trainer {registration.name!r} declares no adapter output")
        self.data_option = input_option(registration, "instructions")
        self.groups = ABLATION if config.get("ablate_categories") else ("all",)
        self.trains = {}
        for group in self.groups:
            values = {"base": config["base"], **trainer_values,
                      self.data_option: str(self.out / "instructions" / f"instructions-{group}.jsonl")}
            self.trains[group] = self._plugin("train", values, hooks.trainers, name="train" if group == "all"
                                              else f"train-{group}", launch=self.launch)
        #: label -> model spec: the base, each adapter (where its trainer declares it), the others
        self.adapters = {group: str(self.out / stage.name / stage.outputs["adapter"]) for group, stage in self.trains.items()}
        self.models = {"base": self.base, **{("tuned" if g == "all" else f"tuned-{g}"): f"{self.base}+{a}"
                                             for g, a in self.adapters.items()}}
        self.models.update({f"model-{i}": m for i, m in enumerate((config.get("eval") or {}).get("models") or ())})
        for model in self.models.values():
            parse_model_spec(model)
        self.reported = _listed(config.get("reported") or [])
        for path in self.reported:  # checked now, not after the training
            if not Path(path).is_file():
                raise DataError(self.where, "reported", f"no such file: {path}")
        if self.reported:
            hooks.stage("compare")(out=self.out, reported=self.reported, catalog=self.catalog, check_only=True)
        name = config.get("executor") or LOCAL
        self.executor = get_executor(hooks, name, config.get(name), self.where)
        self.rebuild = None  # set by the command: how a job builds this experiment again

    def _plugin(self, section, values, registry, name=None, launch=None):
        selector = PLUGIN_SECTIONS[section]
        registration, options = plugin_options(self.where, section, values, registry, selector)
        from bioharness.cli import plugin_stage

        try:
            return plugin_stage(self.hooks, section, registration, options, name=name, launch=launch)
        except UsageError as exc:  # the plugin's own checks: name the config key
            import re

            flag = re.search(r"--([a-z][a-z-]*)", str(exc))
            key = f"{section}.{flag.group(1).replace('-', '_')}" if flag else section
            raise DataError(self.where, key, str(exc)) from None

    def say(self, text):
        if self.console is None:
            print(text)
        else:  # one line each, never wrapped; paths are not markup
            self.console.print(text, soft_wrap=True, markup=False, highlight=False)

    def stage(self, stage, folder):
        return run_stage(self.hooks, stage, self.out / folder, say=self.say, archive=self.archive)

    # -- the stages --------------------------------------------------------------------

    def fetch_data(self, no_fetch=False):
        """The datasets the run's tasks read, fetched now if no data root has them (decontamination
        reads them before any evaluation), one line per dataset."""
        from bioharness.cli import fetch_task_data

        fetch_task_data(self.specs, self.data_dir, no_fetch)

    def graph(self) -> Graph:
        """The run as steps: generate -> instructions -> each train -> each model's eval ->
        compare -> report. A step reads what its needs wrote from their completion records, so
        that it runs the same in this process or in a job of its own."""
        out, steps = self.out, []
        if self.generate is not None:
            steps.append(Step("generate", "generate", self._generate,
                              folders=(out / "generate",), records=(out / "generate",)))
        steps.append(Step("instructions", "instructions", self._prepare, needs=tuple(s.name for s in steps),
                          folders=(out / "instructions",), records=(out / "instructions",)))
        train_of = {}
        for group, stage in self.trains.items():
            steps.append(Step(stage.name, "train", lambda stage=stage: self.stage(stage, stage.name),
                              needs=("instructions",), folders=(out / stage.name,), records=(out / stage.name,)))
            train_of["tuned" if group == "all" else f"tuned-{group}"] = stage.name
        for label, model in self.models.items():
            folder = out / "eval" / label
            steps.append(Step(f"eval {label}", "eval", lambda label=label, model=model: self._evaluate(label, model),
                              needs=(train_of[label],) if label in train_of else (), folders=(folder,),
                              records=tuple(folder / spec.name for spec in self.specs)))
        evals = tuple(f"eval {label}" for label in self.models)
        steps.append(Step("compare", "compare", self._run_compare, needs=evals, folders=(out / "compare",),
                          records=(out / "compare",)))
        steps.append(Step("report", "report", self._run_report, needs=("compare",), folders=(out / "report",),
                          records=(out / "report",)))
        return Graph(steps, out, rebuild=self.rebuild)

    def run(self):
        """Every step with this experiment's executor; a summary like the local run's."""
        outcome = self.executor.run(self.graph(), say=self.say)
        report = (stage_record(self.out / "report").get("result") or {}).get("outputs", {}).get("report")
        return {"outcome": outcome, "models": self.models, "report": report}

    def _prepare(self):
        sources = {}
        if self.config.get("instructions"):
            sources["instructions"] = self.config["instructions"]
        elif self.generate is not None:
            outputs = (stage_record(self.out / "generate").get("result") or {}).get("outputs") or {}
            sources = {k: outputs[k] for k in ("seeds", "instructions") if k in outputs}
        return self.stage(self._instructions_stage(sources), "instructions")

    def _generate(self):
        generated = self.stage(self.generate, "generate")
        if generated.get("complete") is False and not is_planning():  # short of the target: what was kept is used
            outputs = generated.get("outputs") or {}
            counts = {k: _records_in(outputs.get(k)) for k in ("instructions", "seeds")}
            self.say(f"generate: stopped short ({generated.get('stopped') or 'see its stats'}); the run goes on "
                     f"with the {counts['instructions']} generated instruction(s) kept and the {counts['seeds']} "
                     "seed(s)")
        return generated

    def _run_compare(self):
        try:
            return self._compare(self.models, self.adapters)
        except UsageError:
            unfinished = [label for label in self.models
                          if not all(stage_record(self.out / "eval" / label / s.name).get("complete") for s in self.specs)]
            if unfinished:  # nothing complete to compare: the evaluations' failures are the news
                raise Incomplete(f"nothing complete to compare (incomplete: {', '.join(unfinished)})") from None
            raise

    def _run_report(self):
        record = stage_record(self.out / "compare")
        if not record.get("complete"):
            raise Incomplete("no leaderboard to report: compare did not finish")
        return self._report(record["result"]["board"])

    def _instructions_stage(self, sources):
        """Seeds + generated (or the given file), decontaminated against the run's tasks; one file
        per category group trained on."""
        from bioharness.instructions import read_instructions, write_instructions

        section = self.config.get("decontaminate") or {}
        tasks = [s.name for s in self.specs]

        def work(run_dir, on_record):
            items, seen = [], set()
            for path in sources.values():
                if Path(path).stat().st_size == 0:
                    continue  # the teacher wrote nothing usable (counted in the generate stage)
                for item in read_instructions(path):
                    if item.id not in seen:
                        seen.add(item.id)
                        items.append(item)
            summary = {"read": len(items)}
            from bioharness import atomic_write_json

            mode = section.get("contamination", "drop")
            items, found = self.hooks.stage("decontaminate")(instructions=items, tasks=tasks, n=section.get("n", 13),
                                                            mode=mode, data_dir=self.data_dir)
            atomic_write_json(run_dir / "decontamination.json", found)  # the report shows it
            summary["decontamination"] = {k: found[k] for k in ("n", "mode", "overlapping", "dropped", "kept")
                                          if k in found}
            counts = {}
            for group in self.groups:
                chosen = [i for i in items if group == "all" or i.category == group]
                if not chosen:
                    raise UsageError(f"no instructions of category {group} to train on (of {len(items)} read)")
                write_instructions(run_dir / f"instructions-{group}.jsonl", chosen)
                counts[group] = len(chosen)
            return {**summary, "written": counts}

        return Stage("instructions", "instructions", "bioharness.instructions", None,
                     {"decontaminate": section, "tasks": tasks, "groups": list(self.groups)}, work, sources,
                     {**{f"instructions-{g}": f"instructions-{g}.jsonl" for g in self.groups},
                      "decontamination": "decontamination.json"})

    def _evaluate(self, label, model):
        section = self.config.get("eval") or {}
        options = {k: section[k] for k in ("batch_size", "dtype", "device", "base_url") if k in section}
        options.update(section.get("model_args") or {})
        return self.hooks.stage("eval")(
            model=model, tasks=self.specs, catalog=self.catalog, out=self.out, data_dir=self.data_dir,
            limit=self.config.get("limit"), seed=self.config.get("seed") or 0, judge=self.config.get("judge"),
            bootstrap_resamples=section.get("bootstrap", 1000), backend_options=options, console=self.console,
            slug=label, archive=self.archive, label=label)

    def _compare(self, models, adapters, show="table"):
        section = self.config.get("compare") or {}
        transfer = {g: models["tuned" if g == "all" else f"tuned-{g}"] for g in adapters} if len(adapters) > 1 else None
        return self.hooks.stage("compare")(out=self.out, baseline=self.base, models=list(models.values()),
                                           bootstrap=section.get("bootstrap", 1000), seed=section.get("seed", 0),
                                           transfer=transfer, catalog=self.catalog, say=self.say,
                                           archive=self.archive, show=None if is_planning() else show,
                                           labels={spec: label for label, spec in models.items()},
                                           reported=self.reported)

    def show_board(self):
        """The leaderboard and gains tables, as the compare stage prints them (it is up to date)."""
        return self._compare(self.models, self.adapters)

    def _report(self, board):
        return self.hooks.stage("report")(out=self.out, board=board, say=self.say, archive=self.archive)


def graph_for_job(config, path, data_dir, plugins, cwd):
    """The experiment's graph, built again in a job (:func:`bioharness.run_step_job`): same config,
    plugins and working folder as the ``bioharness run`` that submitted it."""
    from rich.console import Console

    from bioharness.manager import load_plugins

    os.chdir(cwd)
    experiment = Experiment(load_plugins(plugins), config, path=path, console=Console(stderr=True, soft_wrap=True),
                            data_dir=data_dir)
    experiment.rebuild = ("bioharness.cli.run:graph_for_job",
                          {"config": config, "path": path, "data_dir": data_dir, "plugins": plugins, "cwd": cwd})
    return experiment.graph()


def _run_options(f):
    import click

    for flag, kw in reversed([
        ("--base", dict(help="Model to tune and evaluate (model spec).")),
        ("--teacher", dict(help="Model that writes the new instructions (any model spec: embedded, hf:, vllm:, openai:).")),
        ("--instructions", dict(type=click.Path(dir_okay=False, exists=True),
                                help="Train on this instruction file (JSON/JSONL) instead of generating.")),
        ("--tasks", dict(help="Tasks: names, comma-separated, or qa, ie, gen, all.")),
        ("--limit", dict(type=click.IntRange(min=1), help="Examples per task (seeded subset).")),
        ("--out", dict(type=click.Path(file_okay=False), help="Run folder.")),
        ("--judge", dict(help="Model spec of the LLM judge for GEN tasks.")),
        ("--ablate-categories/--no-ablate-categories", dict(default=None,
                                                            help="Also tune on qa-, ie-, gen-only instructions.")),
        ("--reported", dict(multiple=True, type=click.Path(dir_okay=False, exists=True),
                            help="A file of published results shown beside the measured ones (repeatable).")),
        ("--executor", dict(help="Where the stages run: local (this process, the default) or slurm (one job per "
                                 "stage; the config's slurm: section sets partition, time, GPUs...).")),
    ]):
        f = click.option(flag, **kw)(f)
    return f


def _command():
    import click

    from bioharness.cli import data_dir_option, get_manager, no_fetch_option, plugins_option

    @click.command("run")
    @click.argument("config", required=False, type=click.Path(dir_okay=False, exists=True))
    @_run_options
    @data_dir_option
    @no_fetch_option
    @plugins_option
    def run_command(config, data_dir, no_fetch, **flags):
        """Run the BioInstruct experiment: generate -> decontaminate -> train -> eval -> compare -> report.

        Without CONFIG, the built-in default (examples/runs/default.yaml): the embedded model
        (nothing from the hub), a slice of one QA, one IE and one GEN task. Datasets not found in
        --data-dir or the cache are fetched first from their pinned sources (--no-fetch: never).
        Flags override the config. Every stage is skipped when up to date and resumes when
        killed: run the same command again.
        """
        from rich.console import Console

        from bioharness import run_lock

        flags["reported"] = list(flags["reported"]) or None  # none given: the config's
        manager = get_manager()
        cfg = load_config(config, overrides=flags, sections=manager.hooks.executors.names())
        experiment = Experiment(manager, cfg, path=config, console=Console(stderr=True, soft_wrap=True),
                                data_dir=data_dir)
        experiment.fetch_data(no_fetch)  # before any job: a compute node may have no network
        experiment.rebuild = ("bioharness.cli.run:graph_for_job",
                              {"config": cfg, "path": str(config) if config else None, "data_dir": data_dir,
                               "plugins": list(manager.named), "cwd": os.getcwd()})
        # one `run` per run folder, on any host that shares it; a second one is refused naming the first
        with run_lock(experiment.out):
            summary = experiment.run()
            outcome = summary["outcome"]
            if experiment.executor.name != LOCAL and "compare" in outcome.done:
                experiment.show_board()  # the tables the compare job printed into its log
        if summary["report"] and "report" in outcome.done:
            click.echo(f"report: {summary['report']}")
        outcome.raise_for_status()  # exit 1 naming what is incomplete or failed: the same command resumes

    return run_command


run_command = _command()
