"""The ``evaluation`` plugin: the ``eval`` and ``compare`` stages.

``eval`` scores a model on tasks (``<out>/eval/<model>/<task>/samples.jsonl`` and
``metrics.json``, each task a resumable stage); ``compare`` puts the evaluated models side by
side with paired-bootstrap differences to a baseline and writes ``<out>/leaderboard.json``.
The commands and ``bioharness run`` reach them through :func:`bioharness.get_stage`.
"""
from pathlib import Path

from bioharness import TaskCatalog, UsageError, hookimpl

BOARD_VERSION = "2"


@hookimpl
def add_hookspecs(add):
    from . import hookspecs

    add(hookspecs)


def eval_stage(hooks, *, model, tasks="all", catalog=None, console=None, slug=None, archive=None, title=None,
               out="runs", data_dir=None, **settings):
    """Evaluate ``model`` on ``tasks``: a selector (``qa,pubmedqa``; ``prefix:name`` tasks are run
    by the plugin owning the prefix) or task specs. ``settings`` are the fields of
    :class:`~.evaluate.EvalSettings`. With ``title``, the metrics table is printed to stdout
    (also when requests failed). Returns the metrics.json dicts."""
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
                           archive=archive) if tasks else []
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
                  say=print, archive=None, show=None):
    """``compare`` as a stage in ``<out>/compare``: rerun when an evaluation or an option changed.
    ``transfer`` ({trained on: model}) adds the category-transfer matrix. ``show``: ``"lines"``
    prints the leaderboard and the gains per category, ``"table"`` the gains as a table.
    Returns the board (``leaderboard.json``)."""
    from bioharness import Stage, atomic_write_json, jsonable, parse_model_spec, run_stage

    from .compare import check_evaluations, compare, gains_table, leaderboard_table, transfer_matrix
    from .progress import stdout_console

    catalog = catalog or TaskCatalog(hooks)
    baseline = str(parse_model_spec(baseline)) if baseline else None  # `embedded` is `hf:embedded`
    models = [str(parse_model_spec(m)) for m in models] if models else None
    board_path = Path(out) / "leaderboard.json"

    def work(run_dir, on_record):
        board = compare(out, catalog, baseline=baseline, models=models, resamples=bootstrap, seed=seed)
        if transfer:
            board["transfer"] = transfer_matrix(board, transfer)
            atomic_write_json(board_path, board)
        return {"board": jsonable(board), "outputs": {"leaderboard": str(board_path)}}

    check_evaluations(out)  # before anything is archived or started
    options = {"baseline": baseline, "models": models, "bootstrap": bootstrap, "seed": seed}
    # version 2: every score names its samples.jsonl (a board of before is recomputed, the old one archived)
    stage = Stage("compare", "compare", "bioharness.compare", BOARD_VERSION, options, work, {"eval": Path(out) / "eval"})
    board = run_stage(hooks, stage, Path(out) / "compare", say=say, archive=archive)["board"]
    if show:
        console = stdout_console()
        console.print(leaderboard_table(board))
        if show == "table":
            console.print(gains_table(board, board["baseline"]))
        for model, gains in board["gain_by_category"].items() if show == "lines" else ():
            text = ", ".join(f"{c} {g:+.1%}" for c, g in sorted(gains.items())) or "n/a (no complete task in common)"
            console.print(f"mean relative gain of {model} over {board['baseline']}: {text}")
        for r in [r for r in board.get("reported", ()) if not r["beside"]] if show == "lines" else ():
            console.print(f"reported, not comparable: {r['model']} {r['task']} {r['value']:.3f} ({r['difference']})",
                          markup=False)
    return board


@hookimpl
def register_stages(register):
    register("eval", eval_stage, description="score a model on tasks: samples.jsonl and metrics.json per task")
    register("compare", compare_stage, description="leaderboard, paired bootstrap against a baseline, gains")
