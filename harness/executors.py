"""Where the stages of a run execute: executors.

``bioharness run`` builds a :class:`Graph` of :class:`Step` s from its config, the same graph for
every executor: each step is one unit of scheduling (``generate``, ``instructions``, each
``train``, each model's ``eval``, ``compare``, ``report``) with the steps whose outputs it reads
(``needs``), and it does its work through :func:`bioharness.run_stage`, so skip, resume,
archive and content keys do not depend on where it runs. An executor only decides where and
when each step runs:

* ``local`` (:class:`LocalExecutor`): one after another in this process (a train stage with
  ``launch`` settings starts ``accelerate launch`` itself: :mod:`bioharness.cli.launch`).
* ``slurm`` (the ``slurm`` plugin) and any executor a plugin registers with
  ``register_executors``: what :func:`pending_steps` says is left to do, each step as a job that
  calls :func:`run_step_job`, which builds the same graph again from ``Graph.rebuild``.

A step's completion records (its stages' ``stage.json``), not the scheduler, say whether it
finished; a scheduler only says whether a job is still alive. A step that raises
:class:`bioharness.Incomplete` (requests failed) ends "incomplete": its dependents still run
(``compare`` compares what is complete) and the run exits 1 naming it. A step that fails
otherwise takes its dependents down: they are not run, and named.
"""
import importlib
import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bioharness.errors import Incomplete, StageFailed, UsageError
from bioharness.lock import run_lock
from bioharness.stages import WouldRun, planning, stage_record

LOCAL = "local"


@dataclass
class Step:
    name: str  # "generate", "train-qa", "eval tuned-qa": what the user reads
    kind: str  # generate, instructions, train, eval, compare, report: resources are given per kind
    run: Callable[[], Any]  # does the step in this process, through run_stage
    needs: tuple = ()  # names of the steps whose outputs it reads
    folders: tuple = ()  # the folders it writes (locked while it runs)
    records: tuple = ()  # its stages' folders: their stage.json say whether it finished


@dataclass
class Graph:
    steps: list  # in an order where every step comes after its needs
    out: Path  # the run folder
    #: ("module:function", kwargs): builds this graph again in another process (a job); the
    #: function takes the kwargs and returns the Graph. JSON-serialisable.
    rebuild: tuple = None

    def __post_init__(self):
        names = [s.name for s in self.steps]
        seen = set()
        for step in self.steps:
            missing = [n for n in step.needs if n not in seen]
            if missing:
                raise ValueError(f"step {step.name!r} needs {missing}, which do not come before it")
            seen.add(step.name)
        if len(set(names)) != len(names):
            raise ValueError(f"two steps share a name: {names}")

    def step(self, name) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise UsageError(f"the run has no step {name!r} (steps: {', '.join(s.name for s in self.steps)})")

    def dependents(self, names) -> list:
        """Every step that needs one of ``names``, directly or not, in graph order."""
        down = set(names)
        found = []
        for step in self.steps:
            if step.name not in down and down.intersection(step.needs):
                down.add(step.name)
                found.append(step.name)
        return found


@dataclass
class Outcome:
    """How each step of a run ended."""

    done: list = field(default_factory=list)  # ran to completion (or were up to date)
    incomplete: dict = field(default_factory=dict)  # name -> message (requests failed; rerun retries)
    failed: dict = field(default_factory=dict)  # name -> message (died or raised; log named)
    cancelled: dict = field(default_factory=dict)  # name -> why (a step it needs failed)
    bad_input: bool = False  # a failure was the user's input (exit 2, as the local executor would)

    def raise_for_status(self):
        """Nothing if every step is done; else the one-line error the CLI prints (exit 1, or 2
        when a step found bad input)."""
        parts = [f"{name}: {msg}" for name, msg in self.failed.items()]
        if self.cancelled:
            parts.append(f"not run (a step they need failed): {', '.join(self.cancelled)}")
        parts += [f"{name}: {msg}" for name, msg in self.incomplete.items()]
        if not parts:
            return
        if self.failed:
            error = UsageError if self.bad_input else StageFailed
            raise error("; ".join(parts) + "; run the same command again to resume")
        raise Incomplete("; ".join(parts))


def step_state(step) -> dict:
    """{record folder: (complete, key)} of ``step``'s stages, as they are now."""
    state = {}
    for folder in step.records:
        record = stage_record(folder)
        state[str(folder)] = (bool(record.get("complete")), record.get("key"))
    return state


def finished_since(step, before) -> bool:
    """Whether every stage of ``step`` is complete and was not already so (with that key) in
    ``before`` (:func:`step_state` taken when it was submitted): the completion records say
    the step finished, whatever the scheduler says about its job."""
    now = step_state(step)
    return bool(now) and all(complete and before.get(folder) != (True, key) for folder, (complete, key) in now.items())


def run_step(step, wait=True):
    """Run ``step`` here, holding the locks of the folders it writes (``wait``: a step left
    running by an earlier job or process is waited for, then found up to date)."""
    with ExitStack() as stack:
        for folder in step.folders:
            stack.enter_context(run_lock(folder, wait=wait))
        return step.run()


def pending_steps(graph) -> list:
    """The names of the steps a run has left to do, in graph order: a step whose stages are all
    up to date (checked with :func:`bioharness.stages.planning`: nothing runs, no model loads)
    is not among them; a step that needs a pending one always is."""
    pending = []
    for step in graph.steps:
        if any(n in pending for n in step.needs):
            pending.append(step.name)
            continue
        try:
            with planning():
                step.run()
        except (WouldRun, Incomplete, UsageError):  # UsageError: an input is not there yet, or is in use
            pending.append(step.name)
    return pending


class LocalExecutor:
    """Every step in this process, in graph order."""

    name = LOCAL

    def run(self, graph, say=print) -> Outcome:
        outcome = Outcome()
        for step in graph.steps:
            down = [n for n in step.needs if n in outcome.failed or n in outcome.cancelled]
            if down:
                outcome.cancelled[step.name] = f"needs {', '.join(down)}"
                continue
            try:
                run_step(step, wait=False)
            except Incomplete as exc:
                outcome.incomplete[step.name] = str(exc)
            except StageFailed as exc:
                say(f"{step.name}: failed: {exc}")
                outcome.failed[step.name] = str(exc)
            else:
                outcome.done.append(step.name)
        return outcome


# -- in a job --------------------------------------------------------------------------


def call_entry(entry):
    """``("module:function", kwargs)`` -> ``function(**kwargs)``: how another process (a job, a
    launched worker) builds again what this one had (a graph, a stage's work)."""
    target, kwargs = entry
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)(**kwargs)


def run_step_job(rebuild, name, outcome_file=None):
    """The body of a job: build the run's graph again and run its step ``name`` (waiting for the
    locks of its folders). ``outcome_file`` receives ``{"step", "status", "message"}``: ``done``,
    ``incomplete`` (requests failed: returns normally, so that dependents still run),
    ``bad input`` or ``failed`` (the exception is raised again: the job fails)."""

    def record(status, message=""):
        if outcome_file:
            from bioharness.store import atomic_write_json

            atomic_write_json(outcome_file, {"step": name, "status": status, "message": message,
                                             "host": socket.gethostname(), "pid": os.getpid()})

    try:
        step = call_entry(rebuild).step(name)
        run_step(step, wait=True)
    except Incomplete as exc:
        record("incomplete", str(exc))
        return {"step": name, "status": "incomplete", "message": str(exc)}
    except UsageError as exc:
        record("bad input", str(exc))
        raise
    except BaseException as exc:
        from bioharness.registry import describe_error

        record("failed", str(exc) if isinstance(exc, StageFailed) else describe_error(exc))
        raise
    record("done")
    return {"step": name, "status": "done"}
