"""Where data files are found: the data directory, then the cache of fetched datasets, then
beside the task spec.

A task spec names its files relative to a data directory (``pubmedqa/ori_pqal.json``). Each is
looked up in the data directory (``--data-dir`` / ``BIOHARNESS_DATA``), then in the cache
(``$BIOHARNESS_CACHE/data``, laid out the same way, where the ``datasets`` plugin fetches
datasets from their pinned sources), then beside the spec (a plugin that ships its data).
"""
import os
from pathlib import Path

ENV_DATA = "BIOHARNESS_DATA"
ENV_CACHE = "BIOHARNESS_CACHE"


def cache_dir() -> Path:
    """``$BIOHARNESS_CACHE``, else ``$XDG_CACHE_HOME/bioharness``, else ``~/.cache/bioharness``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "bioharness"


def data_cache() -> Path:
    """The data directory of fetched datasets."""
    return cache_dir() / "data"


def data_roots(data_dir=None) -> list:
    """The folders searched for data files, in order: the data directory (``data_dir``, else
    ``$BIOHARNESS_DATA``), then the cache."""
    given = data_dir or os.environ.get(ENV_DATA)
    return [*([Path(given).expanduser()] if given else []), data_cache()]


def find_data_file(name, data_dir=None, beside=None) -> Path:
    """``name`` (relative to a data directory) in the data directory, the cache or ``beside`` (the
    spec's folder), whichever has it first; else where it was looked for first (a path that does
    not exist)."""
    places = [root / name for root in data_roots(data_dir)]
    if beside is not None:
        places.append(Path(beside) / name)
    return next((p for p in places if p.exists()), places[0])


def found_in(path, data_dir=None) -> str:
    """Where ``path`` (as :func:`find_data_file` gave it) lies: ``data dir``, ``cache``, or
    ``beside the spec`` (anywhere else)."""
    given = data_dir or os.environ.get(ENV_DATA)
    for label, root in ((("data dir", Path(given).expanduser()),) if given else ()) + (("cache", data_cache()),):
        if _under(path, root):
            return label
    return "beside the spec"


def data_root(files, data_dir=None):
    """The data root holding every one of ``files``, else None: file names in results
    (``meta.source``) are relative to it, wherever the data was found."""
    for root in data_roots(data_dir):
        if all(_under(f, root) for f in files):
            return root
    return None


def places_searched(data_dir=None, beside=None) -> str:
    """Every place a data file is looked for, for messages: never one folder when three were searched."""
    given = data_dir or os.environ.get(ENV_DATA)
    parts = [f"the data directory {given}"] if given else []
    parts.append(f"the cache {data_cache()}")
    if beside is not None:
        parts.append(f"the task's folder {beside}")
    return ", ".join(parts) + ("" if given else " (no data directory given: set --data-dir or BIOHARNESS_DATA)")


def _under(path, folder) -> bool:
    try:
        Path(path).relative_to(folder)
        return True
    except ValueError:
        return False
