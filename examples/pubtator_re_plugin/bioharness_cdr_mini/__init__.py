"""A bioharness plugin that adds one task and no code: the folder of YAML specs it
returns from ``task_dirs()`` is read by the core like its own ``tasks/`` folder, and the
task's data files ship beside its YAML."""
from pathlib import Path

from bioharness import hookimpl


@hookimpl
def task_dirs():
    return [Path(__file__).parent / "tasks"]
