"""The ``bioharness`` command line.

Plugins are loaded before click parses the command line, so that a plugin named with
``--plugins`` (anywhere on the line) or ``BIOHARNESS_PLUGINS`` can add commands. Errors
the user can fix (:class:`bioharness.UsageError`) print one line and exit 2.
"""
import json
import re
import signal
import sys

import click

from bioharness import UsageError, __version__, model_name, parse_model_args
from bioharness.errors import Incomplete, StageFailed

PLUGINS_OPTION = "--plugins"
PLUGINS_HELP = (
    "Extra plugin to load: an entry-point name, an importable module, a .py file or a package directory. "
    "Repeatable, or comma-separated; also read from BIOHARNESS_PLUGINS."
)


def plugins_from_argv(argv):
    """The values of every ``--plugins X`` / ``--plugins=X`` on the command line."""
    names = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            break
        if arg == PLUGINS_OPTION:
            value = next(args, None)
            if value is not None:
                names.append(value)
        elif arg.startswith(PLUGINS_OPTION + "="):
            names.append(arg.split("=", 1)[1])
    return names


def plugins_option(f):
    """``--plugins`` on every command: already consumed before parsing, accepted here."""
    return click.option(PLUGINS_OPTION, "plugins", multiple=True, expose_value=False, help=PLUGINS_HELP)(f)


def get_manager(ctx=None):
    ctx = ctx or click.get_current_context()
    return ctx.find_root().obj


def echo_json(obj):
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


class StageGroup(click.Group):
    """Stages first, then the rest, in the order they were added (not alphabetical)."""

    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=StageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bioharness")
@plugins_option
def cli():
    """Instruction-tune LLMs for biomedicine and prove it helps.

    \b
    generate -> train -> eval -> compare
    Each stage is a plugin: `bioharness plugins` shows what is installed.
    """


def _stub(name, capability, issue_hint):
    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   help=f"[not installed] {issue_hint}", add_help_option=True)
    @plugins_option
    def command():
        raise UsageError(f"'bioharness {name}' needs {capability}, which no installed plugin provides yet")

    return command


# Stage commands that a plugin (or a later part of the core) provides. A stub never
# pretends to succeed: it names the missing capability and exits 2.
for _name, _capability, _hint in (
    ("generate", "a generator plugin", "Generate instructions (self-instruct)."),
    ("train", "a trainer plugin", "Tune a model on instructions (LoRA)."),
):
    cli.add_command(_stub(_name, _capability, _hint))


def wait_option(f):
    return click.option("--wait", is_flag=True, help="If another process is writing the same run folder, wait "
                        "for it to finish (default: refuse at once).")(f)


def data_dir_option(f):
    return click.option("--data-dir", type=click.Path(file_okay=False, exists=True), envvar="BIOHARNESS_DATA",
                        help="Folder with the original BioNLP data files, searched before the cache of fetched "
                             "datasets (default: $BIOHARNESS_DATA).")(f)


def no_fetch_option(f):
    return click.option("--no-fetch", is_flag=True, help="Never fetch missing datasets (also BIOHARNESS_OFFLINE=1): "
                        "a task whose data is not found fails with one line naming where it looked.")(f)


def fetch_task_data(specs, data_dir, no_fetch):
    """The ``prepare_data`` stage: fetch what ``specs`` read and no data root has, one line per
    dataset (the first use); with fetching off, a missing dataset is one line naming its command."""
    hooks = get_manager().hooks
    if "prepare_data" in hooks.stages:
        hooks.stage("prepare_data")(specs=specs, data_dir=data_dir, fetch=not no_fetch, say=_say)


@cli.command("eval")
@click.option("--model", "model", required=True, help="Model spec: embedded, hf:PATH, vllm:PATH, openai:MODEL, +ADAPTER.")
@click.option("--tasks", default="all", show_default=True, help="Task names (comma-separated), or qa, ie, gen, all.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate a seeded subset of N examples per task.")
@click.option("--sample", type=click.Choice(["random", "stratified", "first"]), default="random", show_default=True,
              help="How --limit picks: seeded random, stratified by label (rare labels kept), or the first N.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --limit and the bootstrap.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Backend batch size / concurrency.")
@click.option("--dtype", help="Model dtype (auto, float32, bfloat16, float16).")
@click.option("--device", help="Device for the hf backend (cpu, cuda, cuda:1).")
@click.option("--base-url", help="Endpoint of an OpenAI-compatible server (openai backend).")
@click.option("--model-args", help="More backend options: key=value,key=value.")
@click.option("--judge", help="Model spec of the LLM judge for generation tasks; never used unless given.")
@click.option("--judge-args", help="The judge backend's options: key=value,key=value (e.g. base_url=...,"
              "max_retry_time=60).")
@click.option("--out", type=click.Path(file_okay=False), default="runs", show_default=True, help="Run directory.")
@click.option("--label", help="The model's name in compare's tables and the report: NAME, or NAME=SPEC naming "
              "--model's spec (kept beside its results; `compare --label` overrides it).")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=100), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% confidence intervals.")
@click.option("--max-retry-time", type=click.FloatRange(min=0), help="openai backend: seconds one request may "
              "spend retrying 429/5xx/timeouts before it counts as failed.")
@wait_option
@data_dir_option
@no_fetch_option
@plugins_option
def eval_command(model, tasks, limit, sample, seed, batch_size, dtype, device, base_url, model_args, judge, judge_args,
                 out, label, resamples, max_retry_time, wait, data_dir, no_fetch):
    """Evaluate a model on BioNLP tasks; writes samples.jsonl and metrics.json per task.

    A killed evaluation resumes from the samples already written.
    """
    from pathlib import Path

    from rich.console import Console

    from bioharness import TaskCatalog

    name = eval_label(label, model)
    options = {"batch_size": batch_size, "dtype": dtype, "device": device, "base_url": base_url,
               "max_retry_time": max_retry_time, **parse_model_args(model_args)}
    catalog = TaskCatalog(get_manager().hooks)
    plain = ",".join(p for p in tasks.split(",") if p.strip() and ":" not in p)  # prefix:name: another harness's
    fetch_task_data(catalog.select(plain) if plain else [], data_dir, no_fetch)
    get_manager().hooks.stage("eval")(
        model=model, tasks=tasks, catalog=catalog, out=out, data_dir=data_dir, limit=limit, seed=seed, sample=sample, judge=judge,
        judge_options=parse_model_args(judge_args, "--judge-args"), bootstrap_resamples=resamples, wait=wait, backend_options={k: v for k, v in options.items() if v is not None},
        console=Console(stderr=True), title=f"{f'{name} = ' if name else ''}{model}  ({Path(out) / 'eval'})", label=name)


def eval_label(text, model):
    """``--label NAME`` or ``--label NAME=SPEC`` of `eval`: the name (SPEC, if given, must be --model's)."""
    if not text:
        return None
    if "=" not in text:
        text = f"{text}={model}"
    (spec, name), = parse_labels([text]).items()
    if spec != model_name(model):
        raise UsageError(f"--label {text!r}: {spec} is not the evaluated model ({model_name(model)})")
    return name


@cli.command("compare")
@click.option("--out", type=click.Path(file_okay=False, exists=True), default="runs", show_default=True,
              help="The run directory that `bioharness eval --out` wrote.")
@click.option("--baseline", help="Model spec to compare the others against (paired bootstrap).")
@click.option("--models", help="Comma-separated model specs to include (default: all evaluated).")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=100), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--label", "labels", multiple=True, metavar="NAME=SPEC",
              help="Show the model SPEC as NAME in every table (repeatable); --baseline and --models may then use NAME.")
@click.option("--reported", "reported", multiple=True, type=click.Path(dir_okay=False),
              help="A file of published results (the format of the README's 'Published results') shown as reported; repeatable.")
@wait_option
@plugins_option
def compare_command(out, baseline, models, resamples, seed, labels, reported, wait):
    """Models side by side: headline metric per task, difference to a baseline with a
    paired-bootstrap 95% CI (* = the CI excludes 0), mean relative gain per category with its
    paired-bootstrap CI and p, and published results beside them marked reported.
    Writes leaderboard.json."""
    from pathlib import Path

    from bioharness.store import run_lock

    wanted = [m.strip() for m in models.split(",")] if models else None
    names = parse_labels(labels)
    with run_lock(out, wait=wait):
        get_manager().hooks.stage("compare")(out=out, baseline=baseline, models=wanted, bootstrap=resamples, seed=seed,
                                             say=_say, archive=Path(out) / "superseded", show="lines", labels=names,
                                             reported=reported)


LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_labels(values, flag="--label"):
    """``NAME=SPEC`` pairs (``--label tuned=hf:m+adapter``) -> {spec: name}, specs normalised
    (``embedded`` is ``hf:embedded``); a name is letters, digits, ``_.-``, one per model."""
    labels = {}
    for text in values or ():
        name, sep, spec = str(text).partition("=")
        name, spec = name.strip(), spec.strip()
        if not sep or not spec:
            raise UsageError(f"{flag} {text!r}: expected NAME=SPEC (e.g. tuned=hf:embedded+runs/x/adapter)")
        if not LABEL.match(name):
            raise UsageError(f"{flag} {text!r}: the name {name!r} is not letters, digits, '_', '.' or '-'")
        spec = model_name(spec)
        if spec in labels and labels[spec] != name:
            raise UsageError(f"{flag}: {spec} is named both {labels[spec]!r} and {name!r}")
        labels[spec] = name
    taken = {}
    for spec, name in labels.items():
        if name in taken:
            raise UsageError(f"{flag}: {name!r} names two models ({taken[name]} and {spec})")
        taken[name] = spec
    return labels


def _say(text):
    click.echo(text, err=True)


@cli.command("verify")
@click.option("--out", type=click.Path(file_okay=False, exists=True), default="runs", show_default=True,
              help="The run folder to check.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugins_option
def verify_command(out, as_json):
    """Check a run folder without running anything: every finished stage's outputs against
    the size and sha256 it recorded. Names every damaged file, one line each, and the command
    that repairs it (running it again resumes a log from its last intact line and recomputes
    the rest). Exit 1 when something is damaged."""
    from bioharness.outputs import verify_run

    checks = verify_run(out)
    if not checks:
        raise UsageError(f"{out}: no stage results found (no stage.json below it)")
    damaged = [c for c in checks if c.damages]
    if as_json:
        echo_json({"out": out, "damaged": sum(len(c.damages) for c in damaged), "stages": [
            {"folder": str(c.folder), "stage": c.name, "state": c.state, "files": c.files, "command": c.command,
             "damaged": [{"path": str(d.path), "problem": d.problem, "repair": d.remedy} for d in c.damages]}
            for c in checks]})
    else:
        for check in damaged:
            for damage in check.damages:
                how = (f"remove {check.folder} and run it again" if check.state == "unreadable" else
                       f"`{check.command}` repairs it" if check.command else "running the stage again repairs it")
                click.echo(f"{damage.describe()} [{check.name}: {how}]")
        counts = {state: sum(c.state == state for c in checks) for state in ("unfinished", "unrecorded")}
        summary = (f"verify: {len(checks)} stage(s), {sum(c.files for c in checks)} recorded file(s): "
                   + (f"{sum(len(c.damages) for c in damaged)} damaged in {len(damaged)} stage(s)" if damaged
                      else "none damaged"))
        if counts["unfinished"]:
            summary += f"; {counts['unfinished']} unfinished (the command that started each resumes it)"
        if counts["unrecorded"]:
            summary += (f"; {counts['unrecorded']} written before output checksums were kept (checked: present, "
                        "parses; recorded when they next run)")
        click.echo(summary)
    if damaged:
        click.get_current_context().exit(1)


from bioharness.cli.decontaminate import decontaminate_command  # noqa: E402  (needs the helpers above)

cli.add_command(decontaminate_command)


@cli.command("tasks")
@click.argument("selector", metavar="[NAME]", required=False)
@click.option("--examples", "n_examples", type=click.IntRange(min=1), metavar="N",
              help="Show the first N examples of task NAME as its reader made them, and the prompt of the first as "
                   "the model is asked it.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@data_dir_option
@plugins_option
def tasks_command(selector, n_examples, as_json, data_dir):
    """List the tasks by category, with where their data is found (data dir, cache, ...; NAME: a
    task, a category or a group). With --examples N: what the reader made of task NAME's files."""
    from pathlib import Path

    from bioharness.taskspec import CATEGORIES, TaskCatalog

    hooks = get_manager().hooks
    catalog = TaskCatalog(hooks)
    if n_examples is not None:
        if selector not in catalog.specs:
            raise UsageError(f"--examples shows one task: `bioharness tasks NAME --examples {n_examples}`"
                             + (f" ({selector!r} is not a task name)" if selector else ""))
        from bioharness.cli.examples import show_examples

        show_examples(catalog, catalog.specs[selector], Path(data_dir) if data_dir else None, n_examples, as_json)
        return
    chosen = {spec.name for spec in catalog.select(selector)} if selector else set(catalog.specs)
    specs = [s for s in catalog.specs.values() if s.name in chosen]
    fetchable = (hooks.stage("prepare_data")(specs=specs, data_dir=data_dir, check_only=True)
                 if "prepare_data" in hooks.stages else {})
    rows = []
    for spec in specs:
        rows.append({"name": spec.name, "category": spec.category, "kind": spec.kind, "version": spec.version,
                     "metrics": list(spec.metrics), "description": spec.description, "plugin": spec.plugin,
                     "data": data_status(spec, data_dir, fetchable.get(spec.name))})
    if as_json:
        echo_json(rows)
        return
    width = max(len(r["name"]) for r in rows) + 2
    for category in CATEGORIES:
        selected = [r for r in rows if r["category"] == category]
        if not selected:
            continue
        click.echo(f"{category}:")
        for r in selected:
            click.echo(f"  {r['name']:<{width}} {r['kind']:<14} {r['metrics'][0]:<12} {r['data']}")


def data_status(spec, data_dir, fetchable=()) -> str:
    """Where a task's listed files are found (``data dir``, ``cache``, ``beside the spec``, joined
    with + when they are spread); else ``missing`` with the command that fetches them (the
    datasets ``fetchable`` names: fetched on first use, before the hub is tried); else
    ``hub (<id>)`` when the spec's hub fallback serves it."""
    from bioharness import found_in

    listed, files = spec.listed_files(), spec.data_files(data_dir)
    hub = spec.data.get("hf")
    if fetchable:  # a manifest's file is missing (a folder may be there, partly)
        return f"missing (bioharness data fetch {' '.join(fetchable)}" + (f"; else hub {hub.get('path')})" if hub else ")")
    if listed and all(f.exists() for f in files):
        return " + ".join(sorted({found_in(f, data_dir) for f in files}))
    if hub:
        return f"hub ({hub.get('path')})"
    if not listed:  # a hub reader, or a dataset reader's own layout
        return f"no files listed (reader {spec.data['reader']})"
    return f"missing ({', '.join(n for n, f in zip(listed, files) if not f.exists())}; no dataset manifest lists it)"


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugins_option
def plugins_command(as_json):
    """Show every loaded plugin: version, where it came from, the hooks it implements."""
    infos = get_manager().plugins()
    rows = [{"name": p.name, "version": p.version, "source": p.source, "hooks": list(p.hooks)} for p in infos]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}  {row['version'] or '-'}  [{row['source']}]")
        click.echo(f"    hooks: {', '.join(row['hooks']) or '(none)'}")


@cli.command("models")
@click.argument("specs", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@plugins_option
def models_command(specs, as_json):
    """Show what model specs resolve to (the backends installed, and `embedded`).

    \b
    Spec syntax: hf:<path-or-hub-id>, vllm:<path-or-hub-id>, openai:<model>,
    `embedded` (SmolLM2-135M-Instruct, offline), each optionally +<adapter-dir>.
    """
    backends = get_manager().hooks.backends
    rows = [_describe_spec(s, backends) for s in (specs or ("embedded",))]
    if as_json:
        echo_json({"backends": [{"name": r.name, "plugin": r.plugin, "description": r.description} for r in backends],
                   "models": rows})
        return
    click.echo("backends:")
    for r in backends:
        click.echo(f"  {r.name:<8} {r.description}  [{r.plugin}]")
    click.echo("models:")
    for row in rows:
        click.echo(f"  {row['spec']}")
        for key in ("backend", "model", "adapter", "resolves_to", "status"):
            if row.get(key):
                click.echo(f"      {key}: {row[key]}")


def _describe_spec(text, backends) -> dict:
    """What ``bioharness models`` shows for one spec: resolved without preparing anything."""
    from bioharness import parse_model_spec, resolve_model

    spec = parse_model_spec(text)
    row = {"spec": str(spec), "backend": spec.backend, "model": spec.model, "adapter": spec.adapter}
    if spec.backend not in backends:
        row["status"] = f"no backend {spec.backend!r} installed (known: {', '.join(backends.names())})"
        return row
    try:
        resolved = resolve_model(spec, prepare=False)
    except UsageError as exc:
        row["status"] = str(exc)
        return row
    row.update(resolves_to=resolved.path, status=resolved.status, adapter=resolved.adapter)
    return row


REGISTRIES = {"generate": "generators", "train": "trainers"}


def plugin_stage(hooks, kind, registration, options, name=None, launch=None):
    """A stage done by a registered generator or trainer, built (and so validated) now. With
    ``launch`` ({num_processes, config_file}) its work runs under ``accelerate launch``, each
    process building the worker again from the same plugins and options (not in the key)."""
    from bioharness.manager import named_plugins
    from bioharness.stages import Stage, jsonable

    worker = registration.factory(**options)
    inputs = {option: options[option] for option in registration.inputs if options.get(option)}
    if launch:
        from bioharness.cli.launch import launched_work

        entry = ("bioharness.cli.launch:registered_worker",
                 {"kind": REGISTRIES[kind], "name": registration.name, "options": jsonable(options),
                  "plugins": named_plugins()})
        work = launched_work(entry, kind, launch)
    else:
        work = lambda run_dir, on_record: worker.run(run_dir, on_record=on_record)  # noqa: E731
    return Stage(kind, name or kind, registration.name, hooks.plugin_version(registration.plugin), options, work,
                 inputs, dict(registration.outputs))


def _plugin_stage(stage, registry, selector, help_text):
    """A stage command whose work is done by one registered plugin object.

    The command has ``--<selector>`` (which registration), ``--out`` and every option the
    registrations declared; the chosen factory receives its own options as keywords and
    returns an object whose ``run(out_dir, on_record)`` does the stage.
    """
    names = registry.names()
    default = names[0] if len(names) == 1 else None
    params, owners = [], {}
    for reg in registry:
        for opt in reg.options:
            if opt.name in owners:
                if reg.name not in owners[opt.name]:
                    owners[opt.name].append(reg.name)
                continue
            owners[opt.name] = [reg.name]
            params.append(opt)

    def callback(out, **values):
        from pathlib import Path

        from bioharness.stages import run_stage

        from bioharness.store import run_lock

        name = values.pop(selector) or default
        wait = values.pop("wait")
        launch = {k: v for k in ("num_processes", "config_file") if (v := values.pop(k, None)) is not None} or None
        if name is None:
            raise UsageError(f"several {registry.kind}s are installed; choose one with --{selector} ({', '.join(names)})")
        reg = registry.get(name)
        mine = {k: v for k, v in values.items() if reg.name in owners.get(k, ())}
        hooks = get_manager().hooks
        with run_lock(Path(out), wait=wait):  # before any model loads: an --out that cannot be written fails now
            run_stage(hooks, plugin_stage(hooks, stage, reg, mine, launch=launch), out, say=_say)

    selector_opt = click.Option([f"--{selector}", selector], type=click.Choice(names), default=default,
                                show_default=True, help=f"Which {registry.kind} to use.")
    out_opt = click.Option(["--out"], required=True, type=click.Path(file_okay=False),
                           help="Run directory to write (resumed if it exists).")
    wait_opt = click.Option(["--wait"], is_flag=True, help="If another process is writing the same run folder, "
                            "wait for it to finish (default: refuse at once).")
    launch_opts = [  # the run config's train.launch
        click.Option(["--num-processes", "num_processes"], type=click.IntRange(min=1),
                     help="Train under `accelerate launch` with this many processes (GPUs; on CPU: gloo). "
                          "--batch-size stays the batch over all of them."),
        click.Option(["--accelerate-config", "config_file"], type=click.Path(dir_okay=False, exists=True),
                     help="An accelerate config file (DDP, FSDP, DeepSpeed) for `accelerate launch`."),
    ] if stage == "train" else []
    command = click.Command(stage, callback=callback, params=[selector_opt, *params, *launch_opts, out_opt, wait_opt],
                            help=help_text)
    return plugins_option(command)


def build_cli(manager):
    hooks = manager.hooks
    if len(hooks.generators):
        cli.add_command(_plugin_stage("generate", hooks.generators, "generator",
                                      "Generate biomedical instructions into a run directory."))
    if len(hooks.trainers):
        cli.add_command(_plugin_stage("train", hooks.trainers, "trainer",
                                      "Tune a base model on instructions; writes a PEFT adapter."))
    from bioharness.cli.run import DEFAULT, run_command

    cli.add_command(run_command, "run")
    hooks.register_commands(cli)
    for command in cli.commands.values():  # a plugin's commands take --plugins like the built-in ones
        _accept_plugins_option(command)
    # what `bioharness data fetch default` names: the default run's tasks
    cli.context_settings["default_map"] = {"data": {"fetch": {"default_tasks": ",".join(DEFAULT["tasks"])}}}
    return cli


def _accept_plugins_option(command):
    if not any(PLUGINS_OPTION in p.opts for p in command.params):
        plugins_option(command)
    for sub in getattr(command, "commands", {}).values():
        _accept_plugins_option(sub)


class Terminated(BaseException):
    """SIGTERM/SIGHUP arrived: unwind like Ctrl-C so that backends close and engine
    processes are reaped (the default action would kill this process and orphan them)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    # One-shot: a second signal must not interrupt the clean-up this one starts.
    for other in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
        if other is not None:
            signal.signal(other, signal.SIG_IGN)
    raise Terminated(signum)


def _install_termination_handlers():
    """Route SIGTERM/SIGHUP through :class:`Terminated`, unless someone else handles them
    (an embedding program) or this is not the main thread (signals can only go there)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _raise_terminated)
    return previous


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    from bioharness.manager import load_plugins

    previous = _install_termination_handlers()
    try:
        manager = load_plugins(plugins_from_argv(argv))
        command = build_cli(manager)
        return command.main(args=argv, prog_name="bioharness", obj=manager, standalone_mode=False) or 0
    except (UsageError, Incomplete, StageFailed) as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except Terminated as exc:
        name = signal.Signals(exc.signum).name
        click.echo(f"Terminated ({name}); what was written is kept: the same command resumes.", err=True)
        return 128 + exc.signum
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

