"""Fetching datasets into the cache: resumable, verified, atomic.

Each file is downloaded into ``$BIOHARNESS_CACHE/downloads/`` as ``<path>.part``; a download that
is cut off continues from its partial file (HTTP ``Range``; a server that ignores it sends the
whole file again). Only a file whose size and sha256 equal the manifest's is moved into
``$BIOHARNESS_CACHE/data/<path>``, atomically: the data directory never holds a partial or
unverified file. A member of an archive is verified on its own once the archive is in, so an
archive re-packed by a mirror is accepted when its members are the same. A checksum mismatch or
a missing file at the source is one line naming the URL (exit 2, nothing kept); a connection that
keeps failing is exit 1 with the partial file kept, and the same command resumes it.

``mirror`` (``--mirror URL`` / ``$BIOHARNESS_DATA_MIRROR``) replaces the scheme and host of every
source URL by its own, keeping the path: ``https://raw.githubusercontent.com/o/r/<commit>/f`` is
fetched as ``<mirror>/o/r/<commit>/f``.
"""
import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bioharness import Incomplete, UsageError, atomic_write_bytes, cache_dir, data_cache, file_lock, sha256_file

ENV_MIRROR = "BIOHARNESS_DATA_MIRROR"

CHUNK = 1 << 16
RETRIES = 3  # attempts per file in one command before it gives up (the partial file stays)
TIMEOUT = 60  # seconds without a byte before an attempt fails
TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


class FetchRefused(UsageError):
    """The source does not have the file, or has another one: retrying will not help."""


def downloads_dir() -> Path:
    return cache_dir() / "downloads"


def mirror_url(url, mirror=None) -> str:
    """``url`` with its scheme and host replaced by the mirror's (its path prefix kept in front)."""
    mirror = mirror or os.environ.get(ENV_MIRROR)
    if not mirror:
        return url
    base, src = urlsplit(mirror), urlsplit(url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise UsageError(f"mirror {mirror!r}: expected http(s)://host[:port][/prefix]")
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + src.path, src.query, ""))


def download(url, part, *, expected_bytes=None, progress=None, retries=RETRIES, timeout=TIMEOUT):
    """Download ``url`` into ``part``, continuing what ``part`` already holds. Returns the size.

    A connection error, a timeout, a body cut short or a 5xx is retried (from where it stopped);
    after ``retries`` attempts :class:`bioharness.Incomplete` (the partial file is kept). A 4xx is
    :class:`FetchRefused` at once.
    """
    part = Path(part)
    part.parent.mkdir(parents=True, exist_ok=True)
    last = None
    for attempt in range(retries):
        if attempt:
            time.sleep(min(2 ** attempt, 10) * 0.5)
        have = part.stat().st_size if part.exists() else 0
        if expected_bytes is not None and have > expected_bytes:
            part.unlink()  # more than the file has: not a prefix of it
            have = 0
        headers = {"User-Agent": "bioharness (dataset fetch)", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
                if have and response.status != 206:  # the server sent the whole file: start over
                    have = 0
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None and length.isdigit() else expected_bytes
                if progress is not None:
                    progress(total=total, completed=have)
                with open(part, "ab" if have else "wb") as fh:
                    while block := response.read(CHUNK):
                        fh.write(block)
                        have += len(block)
                        if progress is not None:
                            progress(completed=have)
                    fh.flush()
                    os.fsync(fh.fileno())
                if total is not None and have < total:
                    raise http.client.IncompleteRead(b"", total - have)
                return have
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # our partial file is no prefix the server knows: start over
                part.unlink()
                last = exc
                continue
            if exc.code < 500 and exc.code != 429:
                raise FetchRefused(f"{url}: HTTP {exc.code} {exc.reason}; nothing kept") from None
            last = exc
        except TRANSIENT as exc:
            last = exc
    size = part.stat().st_size if part.exists() else 0
    reason = getattr(last, "reason", None) or last.__class__.__name__
    raise Incomplete(f"{url}: {reason} ({retries} attempts, {size} bytes kept in {part}); "
                     "run the same command again to resume the download") from None


def _mismatch(source, entry, received, size):
    return FetchRefused(f"{source}: checksum mismatch: expected sha256 {entry.sha256} ({entry.bytes} bytes), "
                        f"received {received} ({size} bytes); nothing kept")


def _fetch_file(entry, mirror, progress):
    url = mirror_url(entry.url, mirror)
    part = downloads_dir() / f"{entry.path}.part"
    download(url, part, expected_bytes=entry.bytes, progress=progress)
    received, size = sha256_file(part), part.stat().st_size
    if size != entry.bytes or received != entry.sha256:
        part.unlink()
        raise _mismatch(url, entry, received, size)
    target = data_cache() / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)  # same filesystem (both under the cache): atomic


def _fetch_archive(dataset, name, members, mirror, progress, say):
    spec = dataset.archives[name]
    url = mirror_url(spec["url"], mirror)
    part = downloads_dir() / dataset.name / f"{name}.part"
    download(url, part, expected_bytes=None, progress=progress)
    if spec.get("sha256") and sha256_file(part) != spec["sha256"]:
        say(f"data: {url} differs from the archive the manifest records; its members are checked one by one")
    try:
        with zipfile.ZipFile(part) as archive:
            names = set(archive.namelist())
            members = [(entry, archive.read(entry.member) if entry.member in names else None) for entry in members]
    except zipfile.BadZipFile:
        part.unlink()
        raise FetchRefused(f"{url}: not a readable zip archive; nothing kept") from None
    for entry, data in members:  # every member verified before any is kept
        if data is None or len(data) != entry.bytes or hashlib.sha256(data).hexdigest() != entry.sha256:
            part.unlink()
            if data is None:
                raise FetchRefused(f"{url}: the archive has no member {entry.member!r}; nothing kept")
            raise _mismatch(f"{url}#{entry.member}", entry, hashlib.sha256(data).hexdigest(), len(data))
    for entry, data in members:
        atomic_write_bytes(data_cache() / entry.path, data)
    part.unlink()


def fetch_dataset(dataset, files=None, *, mirror=None, say=print, progress=None):
    """Fetch ``files`` of ``dataset`` (default: those not in the cache) into the cache.

    ``progress(description)`` returns a callback ``update(total=..., completed=...)`` for one
    download, or is None. Returns the number of files fetched. One process at a time per dataset
    (a lock in the downloads folder); what another process fetched meanwhile is not fetched again.
    """
    downloads = downloads_dir()
    downloads.mkdir(parents=True, exist_ok=True)
    with file_lock(downloads / f".{dataset.name}.lock"):
        wanted = list(dataset.files if files is None else files)
        todo = [f for f in wanted if not (data_cache() / f.path).is_file()]
        singles = [f for f in todo if f.url]
        archives = {}
        for f in todo:
            if f.archive:
                archives.setdefault(f.archive, []).append(f)
        for entry in singles:
            _fetch_file(entry, mirror, progress(entry.path) if progress else None)
        for name, members in archives.items():
            _fetch_archive(dataset, name, members, mirror, progress(f"{dataset.name}/{name}") if progress else None, say)
    return len(todo)


def fetch_datasets(plan, *, mirror=None, say=print, progress=None, reason=""):
    """Fetch ``plan``, a list of (dataset, the files of it to fetch), one line per dataset."""
    fetched = 0
    for dataset, files in plan:
        todo = [f for f in files if not (data_cache() / f.path).is_file()]
        if not todo:
            say(f"data: {dataset.name}: already in {data_cache()}")
            continue
        size = sum(f.bytes for f in todo)
        host = urlsplit(mirror_url(todo[0].source(dataset), mirror)).netloc
        say(f"data: fetching {dataset.name} ({len(todo)} files, {size / 1e6:.1f} MB) from {host} into "
            f"{data_cache()}" + (f" ({reason})" if reason else ""))
        fetched += fetch_dataset(dataset, todo, mirror=mirror, say=say, progress=progress)
    return fetched
