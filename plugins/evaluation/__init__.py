"""The ``evaluation`` plugin: the ``eval`` and ``compare`` stages.

``eval`` scores a model on tasks (``<out>/eval/<model>/<task>/samples.jsonl`` and
``metrics.json``, each task a resumable stage); ``compare`` puts the evaluated models side by
side with paired-bootstrap differences to a baseline and writes ``<out>/leaderboard.json``.
The commands and ``bioharness run`` reach them through :func:`bioharness.get_stage`.
"""
from pathlib import Path

from bioharness import TaskCatalog, UsageError, hookimpl

BOARD_VERSION = "3"


@hookimpl
def add_hookspecs(add):
    from . import hookspecs

    add(hookspecs)


def eval_stage(hooks, *, model, tasks="all", catalog=None, console=None, slug=None, archive=None, title=None,
               out="runs", data_dir=None, label=None, **settings):
    """Evaluate ``model`` on ``tasks``: a selector (``qa,pubmedqa``; ``prefix:name`` tasks are run
    by the plugin owning the prefix) or task specs. ``settings`` are the fields of
    :class:`~.evaluate.EvalSettings`. ``label``: the model's name in compare's tables. With
    ``title``, the metrics table is printed to stdout (also when requests failed). Returns the
    metrics.json dicts."""
    from .evaluate import EvalSettings, IncompleteEvaluation, evaluate
    from .progress import metrics_table, stdout_console

    catalog = catalog or TaskCatalog(hooks)
    prefixed = {}
    if isinstance(tasks, str):
        parts = [p.strip() for p in tasks.split(",") if p.strip()]
        for part in [p for p in parts if ":" in p]:
            prefix, _, name = part.partition(":")
            prefixed.setdefault(prefix, []).append(name)
        plain = ",".join(p for p in parts if ":" not in p)
        tasks = catalog.select(plain) if plain or not prefixed else []
    settings = EvalSettings(out=Path(out), data_dir=Path(data_dir) if data_dir else None, **settings)
    try:
        results = evaluate(hooks, catalog, model, tasks, settings, console=console, slug=slug,
                           archive=archive, label=label) if tasks else []
    except IncompleteEvaluation as exc:  # what was scored is shown, then the one-line error
        if title:
            stdout_console().print(metrics_table(exc.results, title=title))
        raise
    for prefix, names in prefixed.items():
        found = hooks.first("run_prefixed_tasks", prefix=prefix, names=names, model=model, settings=settings)
        if found is None:
            raise UsageError(f"no plugin runs tasks named {prefix}:<task> (e.g. lm_eval:medqa_4options)")
        results += found
    if title:
        stdout_console().print(metrics_table(results, title=title))
    return results


def compare_stage(hooks, *, out, baseline=None, models=None, bootstrap=1000, seed=0, transfer=None, catalog=None,
                  say=print, archive=None, show=None, labels=None, reported=(), check_only=False):
    """``compare`` as a stage in ``<out>/compare``: rerun when an evaluation, an option or a
    reported file changed. ``transfer`` ({trained on: model}) adds the category-transfer
    matrix. ``labels``: {spec: name} shown for each model (``--label``); ``baseline`` and
    ``models`` may use those names. ``reported``: reported files (``--reported``) read besides
    those of the ``reported_dirs`` hook. ``show``: ``"lines"`` prints the leaderboard and the
    gains per category, ``"table"`` the gains as a table. Returns the board (``leaderboard.json``);
    with ``check_only``, only checks the reported files (a run does before anything else) and
    returns None."""
    from bioharness import Stage, atomic_write_json, jsonable, model_name, run_stage

    from .compare import check_evaluations, check_names, compare, transfer_matrix
    from .reported import digest, load_all

    catalog = catalog or TaskCatalog(hooks)
    labels = {model_name(spec): name for spec, name in (labels or {}).items()}
    # bad input is one line before anything runs (and before a board of before is archived)
    loaded = load_all(hooks, reported, tasks=set(catalog.specs))
    if check_only:
        return None
    check_evaluations(out)  # before anything is read, archived or started
    check_names(out, models, labels)
    board_path = Path(out) / "leaderboard.json"

    def work(run_dir, on_record):
        board = compare(out, catalog, baseline=baseline, models=models, resamples=bootstrap, seed=seed, labels=labels,
                        reported=loaded)
        if transfer:
            board["transfer"] = transfer_matrix(board, {g: model_name(m) for g, m in transfer.items()})
            atomic_write_json(board_path, board)
        return {"board": jsonable(board), "outputs": {"leaderboard": str(board_path)}}

    options = {"baseline": baseline, "models": models, "bootstrap": bootstrap, "seed": seed, "labels": labels,
               "reported": digest(loaded)}
    # version 3: gains per category carry a paired-bootstrap CI and p; models have names; reported
    # files (a board of before is recomputed, the old one archived)
    stage = Stage("compare", "compare", "bioharness.compare", BOARD_VERSION, options, work, {"eval": Path(out) / "eval"})
    board = run_stage(hooks, stage, Path(out) / "compare", say=say, archive=archive)["board"]
    if show:
        show_board(board, show)
    return board


def show_board(board, show):
    """Print a board: the leaderboard, the models' names and specs, the gains per category
    with their CIs (``"lines"``: one line per model; ``"table"``: a table) beside the published
    headline gains, and where the reported numbers that are not comparable are listed."""
    from .compare import category_gain, fmt_gain, gains_table, label, leaderboard_table, models_table, ordered
    from .progress import stdout_console

    console = stdout_console()
    console.print(leaderboard_table(board))
    if any(label(board, m) != m for m in board["models"]):
        console.print(models_table(board))
    base = board["baseline"]
    if show == "table":
        console.print(gains_table(board, base))
    elif base:
        for model in [m for m in board["models"] if m in board["gain_by_category"]]:  # board order
            gains = [f"{c} {fmt_gain(category_gain(board, model, c))}" for c in ordered(board["gain_by_category"][model])]
            text = ", ".join(gains) or "n/a (no complete task in common)"
            console.print(f"mean relative gain of {label(board, model)} over {label(board, base)}: {text}", markup=False)
    sources = {}
    for row in board.get("reported_gains", ()):
        sources.setdefault(row["source"], []).append(row)
    for key, rows in sources.items():
        gains = ", ".join(f"{r['category']} {r['gain']:+.1%} ({r['metric']})" for r in rows)
        console.print(f"reported by {key} ({rows[0]['kind']}, not measured here): {gains}. {rows[0]['cite']}. "
                      f"Not comparable: {rows[0]['not_comparable']}", markup=False)
    apart = {}
    for row in board.get("reported", ()):
        if not row["beside"]:
            apart.setdefault(row["task"], set()).add(row["source"])
    for task, keys in apart.items():
        count = sum(1 for r in board["reported"] if r["task"] == task and not r["beside"])
        console.print(f"reported, not comparable: {count} published value(s) for {task} ({', '.join(sorted(keys))}): "
                      f"`bioharness zoo --task {task}` lists them", markup=False)


@hookimpl
def register_stages(register):
    register("eval", eval_stage, description="score a model on tasks: samples.jsonl and metrics.json per task")
    register("compare", compare_stage, description="leaderboard, paired bootstrap against a baseline, gains")


@hookimpl
def register_commands(cli):
    import click

    @cli.command("zoo")
    @click.option("--task", help="Only this task's column: every published value that maps to it.")
    @click.option("--model", "name", help="Only this model's row (as the source names it).")
    @click.option("--reported", "reported", multiple=True, type=click.Path(dir_okay=False),
                  help="A reported file of your own (the README's format); repeatable.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable: sources, models, values, gains.")
    def zoo_command(task, name, reported, as_json):
        """Published results of biomedical LLMs on our tasks, as models x tasks ("reported", never
        measured): each cell a value and the key of its source (a paper's table or a result file),
        the sources with their setting and how they were checked below, then the published
        headline gains per task category."""
        import json

        from rich.console import Console

        from bioharness import TaskCatalog

        from .reported import load_all
        from .zoo import as_json as to_json
        from .zoo import render, zoo

        hooks = click.get_current_context().find_root().obj.hooks
        catalog = TaskCatalog(hooks)
        found = zoo(load_all(hooks, reported, tasks=set(catalog.specs)), catalog, task=task, model=name)
        if as_json:
            click.echo(json.dumps(to_json(found), indent=2, ensure_ascii=False))
            return
        console = Console(width=None if Console().is_terminal else 240)
        render(found, catalog, console)
