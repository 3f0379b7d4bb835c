"""The ``slurm`` plugin: the ``slurm`` executor of ``bioharness run`` (one job per step, through
submitit), with a job watcher that works with and without SLURM accounting.

``bioharness run CONFIG --executor slurm`` (or ``executor: slurm`` in CONFIG) submits every
step that is not up to date as a job, with ``afterok`` dependencies from the steps' declared
inputs, and waits: independent steps (the trainings of an ablation, every model's evaluation)
run at once. The config's ``slurm:`` section gives the resources (see :mod:`.settings`).
submitit is imported when a run starts, not when the plugin loads.
"""
from bioharness import hookimpl


def _factory(options, where):
    from .settings import SlurmSettings

    settings = SlurmSettings.from_config(options, where)  # a bad key: one line naming slurm.<key>
    from .executor import SlurmExecutor

    return SlurmExecutor(settings)


@hookimpl
def register_executors(register):
    register("slurm", _factory,
             description="one SLURM job per step (submitit), dependencies from the steps' inputs")
