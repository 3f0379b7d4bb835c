"""The ``datasets`` plugin: every dataset a task reads, fetched from its pinned source and verified.

* dataset manifests (:mod:`.manifest`), read from the ``datasets/`` folder of every task folder
  the plugins return (``tasks/datasets/*.yaml`` for the built-in tasks; a third party's beside
  its own specs);
* the ``prepare_data`` stage: before ``eval``, ``run`` or ``decontaminate`` read a task's data,
  what no data root has (the data directory, the cache) is fetched into the cache
  (:mod:`.fetch`: resumable, atomic, every file checked against its sha256), one line per
  dataset; with fetching off, a missing dataset is one line naming where it was looked for and
  the command that fetches it;
* the ``bioharness data list | fetch | verify`` commands (:mod:`.commands`).
"""
import os

from bioharness import UsageError, hookimpl, places_searched

ENV_OFFLINE = "BIOHARNESS_OFFLINE"  # 1: never fetch on first use (`bioharness data fetch` still does)


def offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def _hub_usable(spec) -> bool:
    """The spec's Hugging Face fallback may serve it: its loader tries the hub, not this stage."""
    return bool(spec.data.get("hf")) and os.environ.get("HF_HUB_OFFLINE", "") in ("", "0")


def prepare_data(hooks, *, specs, data_dir=None, fetch=True, mirror=None, accept=(), say=print, check_only=False):
    """Make the data of ``specs`` (task specs) available: fetch into the cache what no data root
    has, unless ``fetch`` is off or ``$BIOHARNESS_OFFLINE`` is set.

    Returns ``{task: [names of its datasets still missing]}``. With ``check_only`` nothing is
    fetched or raised. Otherwise a missing dataset that is not fetched is a one-line
    :class:`bioharness.UsageError` (a task with a usable hub fallback is left to its loader), as
    is a restricted dataset the user has not accepted.
    """
    from .manifest import DataCatalog, missing_data, missing_files

    catalog = DataCatalog(hooks)
    needed = missing_data(specs, catalog, data_dir)
    if not needed:  # the usual case: every file found, nothing more to look at
        return {s.name: [] for s in specs}
    if check_only:
        return {s.name: [d.name for d in catalog.covering(missing_files(s, catalog, data_dir))] for s in specs}
    if not fetch or offline():
        for spec in specs:
            names = missing_files(spec, catalog, data_dir)
            datasets = catalog.covering(names)
            if datasets and not _hub_usable(spec):
                why = "--no-fetch" if not fetch else f"{ENV_OFFLINE} is set"
                raise UsageError(f"task {spec.name}: data not found: looked for {', '.join(names)} in "
                                 f"{places_searched(data_dir, spec.path.parent if spec.path else None)}; not fetched "
                                 f"({why}): `bioharness data fetch {' '.join(d.name for d in datasets)}` fetches it")
        return {}
    refused = [d for d in needed.values() if not d.accepted(accept)]
    if refused:
        d = refused[0]
        raise UsageError(f"dataset {d.name} is licensed {d.licence} ({d.restricted}) and is not fetched without "
                         f"your consent: run `bioharness data fetch {' '.join(x.name for x in refused)} "
                         f"--accept-licence {d.name}`, or give its data with --data-dir")
    from .commands import fetch_progress
    from .fetch import fetch_datasets

    with fetch_progress() as progress:
        fetch_datasets([(d, d.missing(data_dir)) for d in needed.values()], mirror=mirror, say=say,
                       progress=progress, reason="first use")
    return {}


@hookimpl
def register_stages(register):
    register("prepare_data", prepare_data, description="fetch the datasets the tasks read that no data root has")


@hookimpl
def register_commands(cli):
    from .commands import data_group

    cli.add_command(data_group)
