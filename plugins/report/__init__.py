"""The ``report`` plugin: ``report.html`` (self-contained: leaderboard, paired differences,
gains per category, category-transfer heatmap, a plot per task, decontamination, a sample
browser) and ``summary.md``, written at the end of every run and by ``bioharness report``.

Another plugin adds a report the same way: ``register_reporters`` with a factory
``(out, board) -> path(s)``.
"""
from bioharness import hookimpl


def write_html(out, board):
    from .html import render

    return render(out, board)


def write_markdown(out, board):
    from .markdown import render

    return render(out, board)


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
    @click.option("--baseline", help="Model spec to compare against (recomputes leaderboard.json).")
    @click.option("--wait", is_flag=True, help="If another process is writing OUT, wait for it (default: refuse).")
    @click.option("--plugins", "plugins", multiple=True, expose_value=False, help="Extra plugin to load.")
    def report_command(out, baseline, wait):
        """Write every report (OUT/report.html, OUT/summary.md, ...) from OUT/leaderboard.json,
        recomputed when --baseline is given or when there is none."""
        from pathlib import Path

        from bioharness import compare_models, read_json, run_lock, write_reports

        board_path = Path(out) / "leaderboard.json"
        with run_lock(out, wait=wait):  # one writer per run folder
            board = (read_json(board_path) if board_path.is_file() and not baseline
                     else compare_models(out, baseline=baseline))
            for path in write_reports(out, board):
                click.echo(str(path))
