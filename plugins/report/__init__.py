"""The ``report`` plugin: ``report.html`` (self-contained: leaderboard, paired differences,
gains per category, category-transfer heatmap, a plot per task, decontamination, a sample
browser) and ``summary.md``, written at the end of every run and by ``bioharness report``.

Another plugin adds a report the same way: ``register_reporters`` with a factory
``(out, board) -> path(s)``.
"""
from pathlib import Path

from bioharness import hookimpl


def write_html(out, board):
    from .html import render

    return render(out, board)


def write_markdown(out, board):
    from .markdown import render

    return render(out, board)


def write_reports(out, board, hooks):
    """Every registered report (``register_reporters``) written for ``board`` into ``out``;
    returns the paths written."""
    paths = []
    for registration in hooks.reporters:
        written = registration.factory(Path(out), board)
        paths += [Path(p) for p in ([written] if isinstance(written, (str, Path)) else written or ())]
    return paths


def report_stage(hooks, *, out, board, say=print, archive=None):
    """The ``report`` stage in ``<out>/report``: every registered report for ``board``, rerun
    when the leaderboard or the set of reporters changed. Its result's ``outputs["report"]`` is
    the HTML report (else the first file written); ``files`` lists every file."""
    from bioharness import Stage, run_stage

    def work(run_dir, on_record):
        written = write_reports(out, board, hooks)
        path = next((p for p in written if p.suffix == ".html"), written[0] if written else Path(out))
        # every file written is an output (recorded, checked before the stage is skipped)
        outputs = {**{p.name: str(p) for p in written}, "report": str(path)}
        return {"files": [str(p) for p in written], "outputs": outputs}

    stage = Stage("report", "report", "bioharness.report", None, {"reporters": hooks.reporters.names()}, work,
                  {"leaderboard": Path(out) / "leaderboard.json"})
    return run_stage(hooks, stage, Path(out) / "report", say=say, archive=archive)


@hookimpl
def register_stages(register):
    register("report", report_stage, description="every registered report for a leaderboard")


@hookimpl
def register_reporters(register):
    register("html", write_html, description="report.html: leaderboard, transfer heatmap, sample browser")
    register("markdown", write_markdown, description="summary.md: the tables in Markdown")


@hookimpl
def register_commands(cli):
    import click

    @cli.command("report")
    @click.option("--out", type=click.Path(file_okay=False, exists=True), default="runs", show_default=True,
                  help="The run directory that `bioharness eval` (and `compare`) wrote.")
    @click.option("--baseline", help="Model spec (or name) to compare against (recomputes leaderboard.json).")
    @click.option("--reported", "reported", multiple=True, type=click.Path(dir_okay=False),
                  help="A file of published results to show as reported (recomputes leaderboard.json); repeatable.")
    @click.option("--wait", is_flag=True, help="If another process is writing OUT, wait for it (default: refuse).")
    def report_command(out, baseline, reported, wait):
        """Write every report (OUT/report.html, OUT/summary.md, ...) from OUT/leaderboard.json,
        recomputed when --baseline or --reported is given or when there is none. A stage: up to
        date when neither the leaderboard nor the reporters changed."""
        from bioharness import UsageError, check_stage, damage_error, get_stage, read_json, run_lock

        def say(text):
            click.echo(text, err=True)

        board_path = Path(out) / "leaderboard.json"
        with run_lock(out, wait=wait):  # one writer per run folder
            recompute, board = bool(baseline or reported), None
            if board_path.is_file():
                check = check_stage(Path(out) / "compare")
                if check.damages and not recompute:  # a board changed since compare wrote it is not reported
                    raise UsageError(damage_error(check, out))
                board = None if check.damages else read_json(board_path)
            if board is None or recompute:
                # names given to `compare --label` before are kept (those of `eval --label` are on disk)
                labels = {m: n for m, n in ((board or {}).get("labels") or {}).items() if m != n}
                board = get_stage("compare")(out=out, baseline=baseline or (board or {}).get("baseline"), say=say,
                                             archive=Path(out) / "superseded", labels=labels, reported=reported)
            result = get_stage("report")(out=out, board=board, say=say, archive=Path(out) / "superseded")
        for path in result.get("files", ()):
            click.echo(path)
