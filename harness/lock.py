"""The run lock: one writer per run folder, also when the folder is on a filesystem that
several hosts share (a cluster's NFS, Lustre, GPFS, BeeGFS home or scratch).

Why not ``flock``: on NFS it is emulated with byte-range locks that need a working lock
manager (``nolock`` mounts and ``local_lock=flock`` make it host-local), Lustre's
``localflock`` mount option makes it host-local, and FUSE filesystems often refuse it. Two
hosts could then both "hold" the lock. What every shared filesystem of a cluster does
atomically is creating a file that does not exist (``O_CREAT | O_EXCL``: NFSv3 and later,
Lustre, GPFS, BeeGFS) and renaming one. So the lock is a *lease file*:

* ``<folder>/.bioharness.lock`` is created with ``O_EXCL``; it names the holder (host, PID,
  the PID's start time, command, a random token) and a heartbeat, which a thread of the
  holder renews every ``lease / 4`` seconds (by replacing the file, after checking that the
  token in it is still its own).
* A holder on **this** host is alive while its PID runs with the recorded start time (a
  ``kill -9``'d holder is taken over at once, as with ``flock``). A holder on **another**
  host is alive while its heartbeat is younger than the lease (``BIOHARNESS_LOCK_LEASE``,
  default 60 s, far above NFS attribute caching and usual clock skew): a crashed node's
  lock is taken over once the lease has run out.
* A stale lease is broken by renaming it to a name of the breaker's own (atomic: of two
  breakers one wins) and checking that what was renamed is the very lease judged stale; a
  fresh one renamed by mistake is put back with ``link`` (which fails rather than replace).
  A holder whose heartbeat finds another token in the file has lost the lock: it says so, and
  its command fails (:class:`StageFailed`) instead of reporting the stage done.
"""
import json
import os
import platform
import secrets
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bioharness.errors import StageFailed, UsageError

LOCK_NAME = ".bioharness.lock"
ENV_LEASE = "BIOHARNESS_LOCK_LEASE"
DEFAULT_LEASE_S = 60.0
POLL_S = 0.2  # how often a waiter looks again

_HELD = {}  # resolved folder -> [depth, Lease]: re-entrant within one process
_HELD_LOCK = threading.Lock()


class RunLocked(UsageError):
    """Another live process holds the run folder's lock."""


def lease_seconds() -> float:
    value = os.environ.get(ENV_LEASE)
    try:
        return max(1.0, float(value)) if value else DEFAULT_LEASE_S
    except ValueError:
        raise UsageError(f"{ENV_LEASE}={value!r}: expected a number of seconds") from None


def host_name() -> str:
    return platform.node()


def process_start(pid) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a live holder from a
    new process that was given its PID; None where /proc does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
        return stat.rpartition(")")[2].split()[19]  # field 22 of proc(5), counted after the name
    except (OSError, IndexError):
        return None


def pid_alive(pid, start=None) -> bool:
    """Whether process ``pid`` of this host runs, and is the one that started at ``start``."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process, alive
    except (TypeError, ValueError):
        return False
    return start is None or process_start(pid) in (None, start)


def _read(path) -> dict | None:
    """The lease at ``path``; None if there is none. An unreadable one (being written) is ``{}``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def describe(holder) -> str:
    if not holder.get("pid"):
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(holder["started"])) if holder.get("started") else "?"
    return (f"PID {holder['pid']} on {holder.get('host', '?')} since {since} "
            f"(`{holder.get('command', '?')}`)")


def is_stale(holder, lease=None, now=None) -> bool:
    """Whether the lease ``holder`` (a lock file's content) no longer protects anything."""
    if not holder.get("pid"):
        return False  # being written: look again
    if holder.get("host") == host_name():
        return not pid_alive(holder["pid"], holder.get("pid_start"))
    lease = holder.get("lease") or lease or lease_seconds()
    return (now or time.time()) - float(holder.get("heartbeat") or 0) > lease


def _lost(current) -> str:
    return f"taken over by {describe(current)}" if current else "removed by someone else"


class Lease:
    """One held lock file: renewed by a thread until released."""

    def __init__(self, path, record):
        self.path, self.record = Path(path), record
        self.lost = None  # the holder found in the file instead of us, if that ever happens: run_lock fails
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"bioharness-lease {path}", daemon=True)
        self._thread.start()

    def _renew(self):
        every = max(0.25, float(self.record["lease"]) / 4)
        while not self._stop.wait(every):
            current = _read(self.path)
            if current == {}:
                continue  # unreadable for a moment: the next beat
            if current is None or current.get("token") != self.record["token"]:
                self.lost = current or {}
                sys.stderr.write(f"warning: the lock {self.path} was {_lost(self.lost)}\n")
                return
            self.record["heartbeat"] = time.time()
            try:
                _replace(self.path, self.record)
            except OSError:
                pass  # a full or unreachable filesystem: try again at the next beat

    def release(self):
        self._stop.set()
        self._thread.join()
        current = _read(self.path)
        if current is not None and current.get("token") == self.record["token"]:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def _replace(path, record):
    """Write ``record`` as the lock file by rename (readers never see half a file)."""
    tmp = path.with_name(f"{path.name}.{record['token']}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _create(path, record) -> bool:
    """Create the lock file holding ``record``; False if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:  # the holder before us removed the folder it left empty
        path.parent.mkdir(parents=True, exist_ok=True)
        return _create(path, record)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(path)  # a full disk or quota: an empty lock file would hold the folder for good
        raise
    return True


def _age(path) -> float:
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return 0.0


def _break(path, holder, token) -> bool:
    """Remove the stale lease ``holder`` from ``path``; False if it was no longer there."""
    aside = path.with_name(f"{path.name}.stale-{token}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    moved = _read(aside)
    if moved is not None and moved.get("token") != holder.get("token"):
        try:  # a fresh lease replaced the stale one meanwhile: give it back, never overwrite
            os.link(aside, path)
        except FileExistsError:
            pass  # a third process already holds a new one; the one moved aside sees it lost
        os.unlink(aside)
        return False
    os.unlink(aside)
    return True


def acquire(path, wait=False, on_takeover=None, command=None) -> Lease:
    """Take the lock file ``path`` (see the module's docstring); :class:`RunLocked` if a live
    holder has it and ``wait`` is false, else wait for it."""
    path = Path(path)
    lease = lease_seconds()
    token = secrets.token_hex(8)
    me = {"pid": os.getpid(), "pid_start": process_start(os.getpid()), "host": host_name(),
          "command": command or " ".join(["bioharness", *sys.argv[1:]]), "started": time.time(),
          "heartbeat": time.time(), "lease": lease, "token": token}
    patience = time.monotonic() + 1.0  # a holder still writing its name: look again for up to 1 s
    while True:
        me["started"] = me["heartbeat"] = time.time()
        if _create(path, me):
            return Lease(path, me)
        holder = _read(path)
        if holder is None:
            continue  # released between our create and read: try again
        if is_stale(holder, lease):
            if _break(path, holder, token) and on_takeover is not None:
                on_takeover(holder)  # a holder that never released it: killed, or its host died
            continue
        if not holder.get("pid"):
            if time.monotonic() < patience:
                time.sleep(0.05)  # a holder still writing its name
                continue
            if _age(path) > lease:  # its writer died between create and write: nobody holds it
                _break(path, holder, token)
                continue
        if not wait:
            raise RunLocked(f"{path.parent}: in use by {describe(holder)}; wait for it to finish, "
                            "or add --wait to start when it does")
        time.sleep(POLL_S)


@contextmanager
def run_lock(path, wait=False, on_takeover=None):
    """Hold the run folder ``path`` for one writing process, on this host or any other that
    shares the filesystem (see the module's docstring).

    A lock left by a killed process is taken over (``on_takeover(holder)`` is told whose it
    was): at once when it was on this host, after its lease ran out when on another. A live
    holder makes this raise :class:`RunLocked` naming its PID and host, or, with ``wait``,
    blocks until it is gone. Re-entrant within one process (a stage inside ``bioharness run``).
    Folders it created and that are still empty at the end are removed: a failed stage leaves
    no trace.
    """
    path = Path(path)
    key = str(path.resolve())
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is not None:
            held[0] += 1
    if held is not None:
        try:
            yield
        finally:
            with _HELD_LOCK:
                held[0] -= 1
        return
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        lease = acquire(path / LOCK_NAME, wait=wait, on_takeover=on_takeover)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise UsageError(f"{path}: cannot create the run directory: {blocker} is a file, not a directory") from None
    except PermissionError as exc:
        raise UsageError(f"{path}: cannot write the run directory ({exc.strerror})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the run directory ({exc.strerror})") from None
    with _HELD_LOCK:
        _HELD[key] = [1, lease]
    try:
        yield
    finally:
        with _HELD_LOCK:
            del _HELD[key]
        lease.release()
        if created and not any(path.iterdir()):
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:
                    break
    if lease.lost is not None:  # another process took the folder while we wrote: say so, never "done"
        raise StageFailed(f"{path}: the run folder's lock was {_lost(lease.lost)} while this process wrote to it; "
                          "another process may have written there too: `bioharness verify` checks the run folder")
