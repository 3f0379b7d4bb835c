"""Stages run under ``accelerate launch``: ``train.launch`` in a run config, ``bioharness train
--num-processes N [--accelerate-config F]``.

The stage runner knows nothing of it: the CLI gives such a stage a work function
(:func:`launched_work`) that starts ``accelerate launch`` on this module (``python -m
bioharness.cli.launch SPEC``) and waits for it, so skip, resume, lock and the stage's key (the
launch settings are not in it) are those of any stage. Every launched process builds the
stage's worker again from the same plugins and options (:func:`registered_worker`) and runs it;
the main process writes the result for the caller.

torch's launcher starts each worker in a session of its own, so a ``kill -9`` of the launcher
would leave them training on: each process watches its launcher and the bioharness process
that started it, and exits as soon as either is gone.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bioharness.errors import StageFailed
from bioharness.lock import pid_alive, process_start
from bioharness.store import atomic_write_json


LAUNCH_SPEC = ".launch.json"
LAUNCH_RESULT = ".launch-result.json"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_command(launch, spec_path):
    """The ``accelerate launch`` command line for a stage's ``launch`` settings."""
    n = launch.get("num_processes")
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if launch.get("config_file"):
        cmd += ["--config_file", str(launch["config_file"])]  # DDP, FSDP or DeepSpeed: as it says
    elif n and int(n) > 1:
        # torchrun underneath: NCCL on GPUs, gloo on CPUs (accelerate's name notwithstanding)
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    else:
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if n:
        cmd += ["--num_processes", str(int(n))]
    # a port of our own: two launches on one node (two runs, two tests) must not meet
    cmd += ["--main_process_port", str(_free_port()), "-m", "bioharness.cli.launch", str(spec_path)]
    return cmd


def launched_work(entry, kind, launch):
    """The work of a stage run under ``accelerate launch`` with ``launch`` ({num_processes,
    config_file}): ``work(run_dir, on_record)`` writes SPEC (``entry``, the folder, this process)
    and starts the launcher on this module; every process builds the work again from ``entry``
    (:func:`main`) and the main one writes the result, which is returned. The launcher and its
    processes are ended with the call, however it ends; a launcher that fails or is killed
    raises :class:`bioharness.errors.StageFailed` (what was written is kept: the stage resumes
    from its last checkpoint)."""

    def work(run_dir, on_record):
        run_dir = Path(run_dir)
        spec_path, result_path = run_dir / LAUNCH_SPEC, run_dir / LAUNCH_RESULT
        result_path.unlink(missing_ok=True)
        atomic_write_json(spec_path, {"entry": list(entry), "kind": kind, "run_dir": str(run_dir),
                                      "driver": {"pid": os.getpid(), "start": process_start(os.getpid())}})
        proc = subprocess.Popen(launch_command(launch, spec_path), env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                start_new_session=True)  # Ctrl-C reaches it through us only
        try:
            code = proc.wait()
        finally:
            _end(proc)
        if code != 0:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
            raise StageFailed(f"accelerate launch {how} (its output is above); what it wrote is kept")
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            raise StageFailed("the processes accelerate launched ended without a result") from None
        result_path.unlink(missing_ok=True)
        spec_path.unlink(missing_ok=True)
        return result

    work.launch = launch  # what it starts, for those who ask (the shipped configs' test)
    return work


def _end(proc, grace=10.0):
    """Stop the launcher's process group (its workers watch it and stop with it)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM if proc.poll() is None else signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def registered_worker(kind, name, options, plugins=()):
    """``entry`` of a stage done by a registered generator or trainer: load the same plugins,
    build the worker, return its work callable ``work(run_dir, on_record)``."""
    from bioharness.manager import load_plugins

    hooks = load_plugins(plugins).hooks
    registration = getattr(hooks, kind).get(name)
    worker = registration.factory(**options)
    return lambda run_dir, on_record: worker.run(run_dir, on_record=on_record)


def _watch(launcher, driver):
    while True:
        time.sleep(0.5)
        if os.getppid() != launcher or (driver.get("pid") and not pid_alive(driver["pid"], driver.get("start"))):
            sys.stderr.write("bioharness: the launcher or the process that started it is gone: stopping\n")
            sys.stderr.flush()
            os._exit(143)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    threading.Thread(target=_watch, args=(os.getppid(), spec.get("driver") or {}), daemon=True).start()

    from bioharness.executors import call_entry
    from bioharness.manager import active_hooks
    from bioharness.stages import jsonable

    work = call_entry(spec["entry"])
    main_process = int(os.environ.get("RANK", "0")) == 0
    hooks = active_hooks()

    def on_record(record):
        if main_process:
            hooks.sample(spec["kind"], record)

    result = work(Path(spec["run_dir"]), on_record)
    if main_process:
        atomic_write_json(Path(spec["run_dir"]) / LAUNCH_RESULT, jsonable(result or {}))
    return 0


if __name__ == "__main__":
    from bioharness.errors import REPORTED

    try:
        sys.exit(main())
    except REPORTED as exc:
        sys.stderr.write(f"Error: {exc}\n")
        sys.exit(getattr(exc, "exit_code", 1))
