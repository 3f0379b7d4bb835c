"""``bioharness data list | fetch | verify``: the datasets the tasks read, from their pinned sources."""
import json
import os
from contextlib import contextmanager
from pathlib import Path

import click

from bioharness import TaskCatalog, UsageError, data_cache, find_data_file

from .manifest import DataCatalog, verify

ACCEPT_HELP = ("Accept the restricted licence of a dataset (its name, or its licence id such as CC-BY-NC-4.0); "
               "repeatable or comma-separated.")
MIRROR_HELP = ("Fetch from this mirror instead: its scheme and host (and path prefix) replace those of every "
               "source URL, the path is kept. Also $BIOHARNESS_DATA_MIRROR.")


@click.group("data")
def data_group():
    """The datasets the tasks read: where each comes from, where it is found, fetch and verify them.

    \b
    Data is looked up in --data-dir / $BIOHARNESS_DATA, then in the cache ($BIOHARNESS_CACHE/data),
    and fetched there on first use (unless --no-fetch or BIOHARNESS_OFFLINE=1).
    """


def _catalogs():
    hooks = click.get_current_context().find_root().obj.hooks
    return DataCatalog(hooks), TaskCatalog(hooks)


def echo_json(obj):
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def _tasks_of(datasets, tasks):
    return {d.name: [s.name for s in tasks.specs.values() if d in datasets.for_spec(s)]
            for d in datasets.datasets.values()}


def _size(n) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


@data_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One object per file: dataset, path, url, sha256, bytes, licence, ...")
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="BIOHARNESS_DATA",
              help="The data directory searched first (default: $BIOHARNESS_DATA).")
def list_command(as_json, data_dir):
    """Every dataset: its tasks, licence, size, and where it is found (data dir, cache, missing)."""
    datasets, tasks = _catalogs()
    used = _tasks_of(datasets, tasks)
    if as_json:
        rows = []
        for d in datasets.datasets.values():
            for f in d.files:
                path = find_data_file(f.path, data_dir)
                found = str(path) if path.exists() else None
                rows.append({"dataset": d.name, "path": f.path, "url": f.url or d.archives[f.archive]["url"],
                             **({"member": f.member} if f.member else {}), "sha256": f.sha256, "bytes": f.bytes,
                             "licence": d.licence, "restricted": d.restricted or None, "tasks": used[d.name],
                             "found": found})
        echo_json(rows)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="datasets (fetch: bioharness data fetch NAME; data dir first, then the cache)")
    for column in ("dataset", "tasks", "licence", "size", "found"):
        table.add_column(column, overflow="fold")
    for d in datasets.datasets.values():
        licence = d.licence + (f"\n[bold]restricted[/bold]: {escape(d.restricted)}; fetch with "
                               f"--accept-licence {d.name}" if d.restricted else "")
        table.add_row(d.name, ", ".join(used[d.name]) or "-", licence, _size(d.bytes), d.where(data_dir))
    Console(width=160).print(table)


@contextmanager
def fetch_progress():
    """A rich progress bar per download on a terminal; plain lines elsewhere (logs, CI)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        def start(description):
            task = bar.add_task(description, total=None)
            return lambda **state: bar.update(task, **state)

        yield start


def _split(values):
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


@data_group.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--mirror", envvar="BIOHARNESS_DATA_MIRROR", help=MIRROR_HELP)
@click.option("--accept-licence", "accept", multiple=True, help=ACCEPT_HELP)
@click.option("--default-tasks", hidden=True, default="",
              help="The tasks `default` names (the default run's; bioharness sets it).")
def fetch_command(names, mirror, accept, default_tasks):
    """Fetch datasets into the cache: NAMES are tasks, datasets, `default` (the default run's tasks) or `all`.

    Each file is checked against its sha256 before it is kept; a cut-off download resumes
    where it stopped when the same command runs again.
    """
    from .fetch import fetch_datasets

    datasets, tasks = _catalogs()
    chosen = {}
    for name in _split(names):
        if name == "all":
            chosen.update(datasets.datasets)
        elif name in datasets.datasets:
            chosen[name] = datasets.datasets[name]
        else:
            if name == "default":
                if not default_tasks:
                    raise UsageError("`default` names the default run's tasks, which this command was not told")
                name = default_tasks
            try:
                specs = tasks.select(name)
            except UsageError:
                raise UsageError(f"{name!r} is neither a task nor a dataset (datasets: {', '.join(datasets.datasets)}; "
                                 "or default, all)") from None
            for spec in specs:
                found = datasets.for_spec(spec)
                if not found:
                    click.echo(f"data: task {spec.name}: no dataset manifest lists its files; nothing to fetch", err=True)
                chosen.update((d.name, d) for d in found)
    accepted = _split(accept)
    refused = [d for d in chosen.values() if not d.accepted(accepted)]
    if refused:
        d = refused[0]
        others = ", ".join(x.name for x in refused[1:])
        raise UsageError(f"dataset {d.name} is licensed {d.licence}: {d.restricted}; fetch it only if your use "
                         f"complies, with --accept-licence {d.name}" + (f" (also restricted: {others})" if others else ""))
    plan = [(d, [f for f in d.files if not (data_cache() / f.path).is_file()]) for d in chosen.values()]
    with fetch_progress() as progress:
        fetched = fetch_datasets(plan, mirror=mirror, say=lambda text: click.echo(text, err=True), progress=progress)
    click.echo(f"{fetched} files fetched and verified; {len(chosen)} datasets in {data_cache()}")


@data_group.command("verify")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_command(folder, as_json):
    """Re-hash a data directory (default: $BIOHARNESS_DATA, else the cache) against the manifests.

    Every dataset with a file there is checked whole: each missing, truncated or edited file is
    named. Exit 1 if any is.
    """
    root = Path(folder or os.environ.get("BIOHARNESS_DATA") or data_cache())
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    datasets, _ = _catalogs()
    report = verify(root, datasets.datasets.values())
    bad = {name: problems for name, problems in report["checked"].items() if problems}
    if as_json:
        echo_json({"folder": str(root), **report})
    else:
        for name, problems in report["checked"].items():
            click.echo(f"{name}: " + ("ok" if not problems else f"{len(problems)} of "
                                      f"{len(datasets.datasets[name].files)} files damaged"))
            for path, problem in problems:
                click.echo(f"  {root / path}: {problem}")
        if report["absent"]:
            click.echo(f"not in {root}: {', '.join(report['absent'])}")
    if bad:
        raise click.exceptions.Exit(1)
