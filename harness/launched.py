"""One process of a stage run under ``accelerate launch``: ``python -m bioharness.launched SPEC``.

:func:`bioharness.executors.launch_stage` writes SPEC (the stage's ``entry``, its folder, the
process that launched it) and starts ``accelerate launch`` on this module. Every process builds
the stage's work again from the entry and runs it (the worker decides what only the main
process writes); the main process writes the result for the launcher's caller.

torch's launcher starts each worker in a session of its own, so a ``kill -9`` of the launcher
would leave them training on: each process watches its launcher and the bioharness process
that started it, and exits as soon as either is gone.
"""
import json
import os
import sys
import threading
import time
from pathlib import Path


def _watch(launcher, driver):
    from bioharness.lock import pid_alive

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

    from bioharness.executors import LAUNCH_RESULT, call_entry
    from bioharness.manager import active_hooks
    from bioharness.stages import jsonable
    from bioharness.store import atomic_write_json

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
