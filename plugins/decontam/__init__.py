"""The ``decontam`` plugin: the ``decontaminate`` stage (``bioharness decontaminate`` and the
instructions stage of ``bioharness run``). An instruction that shares a word n-gram (13 by
default, after normalisation) with a task's test or dev example overlaps it (see :mod:`.overlap`)."""
from bioharness import TaskCatalog, hookimpl


def decontaminate_stage(hooks, *, instructions, tasks, n=13, mode="drop", data_dir=None):
    """``(kept, report)`` for ``instructions`` (records) against the test and dev data of
    ``tasks`` (task specs or selectors: names, ``qa``, ``all``); ``mode`` drop or keep (flagged)."""
    from .overlap import decontaminate

    return decontaminate(instructions, list(tasks), n=n, mode=mode, data_dir=data_dir, catalog=TaskCatalog(hooks))


@hookimpl
def register_stages(register):
    register("decontaminate", decontaminate_stage, description="drop or flag instructions overlapping test/dev data")
