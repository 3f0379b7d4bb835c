"""The run lock across hosts: a lease file (O_EXCL create, heartbeat, rename to break), not flock,
which some cluster filesystems keep host-local. "Another host" is a real one for the lock: a
process in its own UTS namespace (`unshare -u`) with another host name, so the lock can only go
by its lease, as it must for a process on another node sharing the run folder."""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bioharness.lock import LOCK_NAME, RunLocked, run_lock

HOLD = textwrap.dedent("""
    import sys
    from bioharness.lock import run_lock
    with run_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
""")

#: one worker of the stress test: N times take the lock, check nobody else is inside, count
WORKER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from bioharness.lock import run_lock
    folder, n = Path(sys.argv[1]), int(sys.argv[2])
    for _ in range(n):
        with run_lock(folder, wait=True):
            inside = os.open(folder / "inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if two are in
            count = int((folder / "count").read_text() or 0)
            time.sleep(0.005)
            (folder / "count").write_text(str(count + 1))
            os.close(inside)
            os.unlink(folder / "inside")
""")


def on_host(host, code, *args, **kw):
    """``python -c code args`` in a UTS namespace of its own named ``host``."""
    assert shutil.which("unshare"), "util-linux's unshare is needed to give a process another host name"
    script = f'hostname {host} && exec "$@"'
    return subprocess.Popen(["unshare", "-u", "sh", "-c", script, "sh", sys.executable, "-c", code, *map(str, args)],
                            **kw)


def test_a_holder_on_another_host_keeps_the_lock_while_it_renews_and_loses_it_once_its_lease_runs_out(
        tmp_path, monkeypatch):
    monkeypatch.setenv("BIOHARNESS_LOCK_LEASE", "2")
    folder = tmp_path / "run"
    holder = on_host("node-b", HOLD, folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        record = json.loads((folder / LOCK_NAME).read_text())
        assert record["host"] == "node-b" and record["pid"] == holder.pid  # same PID namespace: exec'd in place
        time.sleep(3)  # longer than the lease: its heartbeat keeps it
        with pytest.raises(RunLocked, match=f"in use by PID {holder.pid} on node-b"):
            with run_lock(folder):
                pass
        holder.send_signal(signal.SIGKILL)  # the node dies: nobody releases, nobody can ask its PID
        holder.wait(10)
        killed = time.monotonic()
        taken = []
        with run_lock(folder, wait=True, on_takeover=taken.append):
            waited = time.monotonic() - killed
            assert json.loads((folder / LOCK_NAME).read_text())["pid"] == os.getpid()
        assert [t["host"] for t in taken] == ["node-b"]
        assert 0.5 < waited < 10, waited  # the lease ran out (2 s after its last heartbeat), no sooner
        assert not (folder / LOCK_NAME).exists()  # released
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_processes_on_two_hosts_never_hold_it_at_the_same_time(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "count").write_text("0")
    workers = [on_host(host, WORKER, folder, 15, stderr=subprocess.PIPE, text=True)
               for host in ("node-a", "node-a", "node-b", "node-b")]
    errors = [w.communicate(timeout=300)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], errors
    assert (folder / "count").read_text() == "60"  # no update lost: one holder at a time
    assert sorted(p.name for p in folder.iterdir()) == ["count"]  # no lock, lease or aside file left


def test_a_stale_lease_replaced_meanwhile_is_not_broken(tmp_path, monkeypatch):
    """Two breakers judge the same lease stale; the second must not remove the fresh lease the
    first wrote in its place (it is put back, not overwritten)."""
    from bioharness import lock

    path = tmp_path / LOCK_NAME
    stale = {"pid": 1, "host": "gone-node", "heartbeat": 0, "lease": 1, "token": "old"}
    fresh = {"pid": os.getpid(), "host": lock.host_name(), "heartbeat": time.time(), "lease": 60, "token": "new"}
    path.write_text(json.dumps(fresh))  # the first breaker already replaced the stale lease
    assert lock._break(path, stale, "late") is False
    assert json.loads(path.read_text())["token"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]
    path.write_text(json.dumps(stale))
    assert lock._break(path, stale, "late") is True and not path.exists()


def test_a_waiter_takes_the_folder_its_holder_removed(tmp_path):
    """A holder that wrote nothing removes the folder it created; a process waiting for it
    (`--wait`, a SLURM step) creates the folder again and takes the lock, not an error."""
    folder = tmp_path / "run" / "eval"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        waiter = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
            import sys
            from pathlib import Path
            from bioharness.lock import run_lock
            with run_lock(sys.argv[1], wait=True):
                (Path(sys.argv[1]) / "written").write_text("by the waiter")
        """), str(folder)], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the waiter is polling the holder's lock
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
        assert waiter.wait(30) == 0, waiter.stderr.read()
    finally:
        for proc in (holder,):
            if proc.poll() is None:
                proc.kill()
    assert (folder / "written").read_text() == "by the waiter"
    assert not (folder / LOCK_NAME).exists()


def test_an_empty_lock_file_is_taken_over_once_older_than_the_lease(tmp_path, monkeypatch):
    """A lock file whose writer died between creating and writing it (or whose disk was full)
    names nobody: it is left alone while it may still be being written, and taken over once
    it is older than the lease, instead of holding the folder for good."""
    monkeypatch.setenv("BIOHARNESS_LOCK_LEASE", "2")
    (tmp_path / LOCK_NAME).write_text("")
    with pytest.raises(RunLocked, match="in use by another process"):
        with run_lock(tmp_path):
            pass
    old = time.time() - 3
    os.utime(tmp_path / LOCK_NAME, (old, old))
    with run_lock(tmp_path):
        record = json.loads((tmp_path / LOCK_NAME).read_text())
        assert record["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lost_lease_fails_the_command(tmp_path, monkeypatch):
    """A holder whose lease another process took (its heartbeat finds another token) must not
    report its work done: it warns at once and the block fails when it ends."""
    from bioharness.errors import StageFailed

    monkeypatch.setenv("BIOHARNESS_LOCK_LEASE", "1")
    with pytest.raises(StageFailed, match=r"lock was taken over by PID 4242 on node-c .*`bioharness verify`"):
        with run_lock(tmp_path):
            intruder = {"pid": 4242, "host": "node-c", "started": time.time(), "heartbeat": time.time(),
                        "lease": 60, "token": "theirs", "command": "bioharness eval"}
            (tmp_path / LOCK_NAME).write_text(json.dumps(intruder))
            time.sleep(0.8)  # at least one heartbeat (every lease/4, at least 0.25 s)
