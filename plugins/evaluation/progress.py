"""Progress bars and summary tables (rich), quiet when output is not a terminal."""
from contextlib import contextmanager


@contextmanager
def progress_bar(console=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as bar:
        yield bar


def metrics_table(results, title="results"):
    from rich.markup import escape
    from rich.table import Table

    from .stats import fmt_incomplete

    table = Table(title=escape(title))
    for column in ("task", "cat", "metric", "value", "95% CI", "n", "unparsed", "errors"):
        table.add_column(column, justify="right" if column in ("value", "95% CI", "n", "unparsed", "errors") else "left")
    for r in results:
        n = str(r["n"])
        errors = r.get("errors", r.get("backend_errors", 0))
        if not r.get("complete", True):  # requests failed: no value, only what happened
            table.add_row(escape(r["task"]), r["category"], escape(r.get("headline") or "-"), fmt_incomplete(errors),
                          "n/a", n, str(r["unparsed"]), str(errors))
            continue
        for i, (name, m) in enumerate(r["metrics"].items() or [("-", {"value": None, "ci95": [None, None]})]):
            lo, hi = m["ci95"]
            value = "n/a" if m["value"] is None else f"{m['value']:.4f}"
            ci = "n/a" if lo is None or hi is None else f"[{lo:.3f}, {hi:.3f}]"
            table.add_row(escape(r["task"]) if i == 0 else "", r["category"] if i == 0 else "", escape(name),
                          value, ci, n if i == 0 else "", str(r["unparsed"]) if i == 0 else "",
                          str(errors) if i == 0 else "")
    return table


def stdout_console():
    """A console for results: as wide as the terminal, or wide enough not to wrap tables
    when the output goes to a file or a pipe."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)
