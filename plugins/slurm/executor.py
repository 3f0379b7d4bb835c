"""The ``slurm`` executor: each step that is not up to date becomes one job.

Dependencies come from the graph (``--dependency=afterok:<the jobs of its needs>``), so the
cluster runs independent steps at once and the chain goes on without this process polling
in between. This process prints each job's id, state and log as they change, and it alone
decides what a job's end means, from the step's own records (the job's outcome file and its
stages' ``stage.json``), never from the scheduler's exit state alone:

* done: the outcome file says so, or the step's stages are complete (finished, then killed);
* incomplete: requests failed (dependents still run; the run exits 1 naming it);
* failed: anything else (raised, cancelled, out of time or memory, node lost): reported with
  its log; every job that needs it, directly or not, is cancelled here and named (SLURM
  would keep them ``PENDING (DependencyNeverSatisfied)`` for ever).

Ctrl-C or SIGTERM cancels every job of the run. A rerun first cancels jobs that an earlier
``bioharness run`` left queued (it can only have died: the run lock is ours), then submits
what is not complete, which is that step and what depends on it.
"""
import functools
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

from bioharness import Outcome, UsageError, atomic_write_json, pending_steps, read_json, run_step_job, step_state, \
    finished_since

from .settings import sbatch_parameters

JOBS_FILE = "jobs.json"
TERMINAL_OK = {"COMPLETED"}


def _job_name(step):
    return "bh-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in step.name)


class SlurmExecutor:
    name = "slurm"

    def __init__(self, settings):
        self.settings = settings

    # -- submission ------------------------------------------------------------------

    def _submitit(self):
        import submitit

        from .watcher import QueueWatcher, StageJob

        class Executor(submitit.SlurmExecutor):
            job_class = StageJob

        StageJob.watcher = QueueWatcher(delay_s=self.settings.poll_seconds)
        return Executor, StageJob.watcher

    def _cancel_leftovers(self, folder, say):
        """Jobs that an earlier driver of this run folder left in the queue: it is gone (we hold
        the run lock), and nobody would follow or cancel them."""
        path = folder / JOBS_FILE
        if not path.exists():
            return
        try:
            earlier = read_json(path)
        except UsageError:
            return
        ids = [str(j) for j in (earlier.get("jobs") or {}).values()]
        if not ids:
            return
        listed = subprocess.run(["squeue", "--noheader", "--format=%i", "--jobs", ",".join(ids)],
                                capture_output=True, text=True)
        alive = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
        if alive:
            subprocess.run(["scancel", *alive], capture_output=True)
            say(f"cancelled job(s) {', '.join(alive)} left queued by an earlier `bioharness run` "
                f"(PID {earlier.get('pid')} on {earlier.get('host')})")

    def run(self, graph, say=print) -> Outcome:
        if graph.rebuild is None:
            raise UsageError("the slurm executor needs a graph that a job can build again (Graph.rebuild)")
        folder = Path(self.settings.folder or graph.out / "slurm")
        folder.mkdir(parents=True, exist_ok=True)
        Executor, watcher = self._submitit()
        self._cancel_leftovers(folder, say)
        pending = pending_steps(graph)
        outcome = Outcome()
        for step in graph.steps:
            if step.name not in pending:
                say(f"{step.name}: up to date")
                outcome.done.append(step.name)
        jobs, before, submitted = {}, {}, {}
        record = {"pid": os.getpid(), "host": socket.gethostname(), "jobs": {}}
        try:
            for step in graph.steps:
                if step.name not in pending:
                    continue
                needs = [jobs[n].job_id for n in step.needs if n in jobs]
                params = sbatch_parameters(self.settings.for_step(step), _job_name(step),
                                           dependency="afterok:" + ":".join(needs) if needs else None)
                executor = Executor(folder=folder, max_num_timeout=0)
                try:
                    executor.update_parameters(**params)
                except ValueError as exc:
                    raise UsageError(f"slurm: {step.name}: {str(exc).splitlines()[0]}") from None
                before[step.name] = step_state(step)
                outcome_file = folder / f".outcome-{uuid.uuid4().hex}.json"
                try:
                    job = executor.submit(functools.partial(run_step_job, graph.rebuild, step.name, str(outcome_file)))
                except Exception as exc:  # sbatch said no: a partition, account or limit of this cluster
                    raise UsageError(f"slurm: sbatch refused {step.name}: {' '.join(str(exc).split())[:400]}") from None
                jobs[step.name] = job
                submitted[step.name] = (time.time(), outcome_file)
                record["jobs"][step.name] = job.job_id
                atomic_write_json(folder / JOBS_FILE, record)
                after = f" after {', '.join(n for n in step.needs if n in jobs)}" if needs else ""
                say(f"{step.name}: job {job.job_id} submitted{after}; log: {self.log_path(job)}")
            self._follow(graph, jobs, submitted, before, watcher, outcome, say)
            outcome.cancelled = {s.name: outcome.cancelled[s.name] for s in graph.steps if s.name in outcome.cancelled}
        except BaseException:  # Ctrl-C, SIGTERM, a refused submission: no job outlives the run
            left = [job.job_id for name, job in jobs.items()
                    if name not in outcome.done and name not in outcome.failed and name not in outcome.incomplete]
            if left:
                subprocess.run(["scancel", *left], capture_output=True)
                say(f"cancelled job(s) {', '.join(left)}")
            raise
        return outcome

    @staticmethod
    def log_path(job):
        return job.paths.stdout  # stderr goes there too (stderr_to_stdout)

    # -- following -------------------------------------------------------------------

    def _follow(self, graph, jobs, submitted, before, watcher, outcome, say):
        active = dict(jobs)
        shown = {}
        while active:
            watcher.update()
            for name, job in list(active.items()):
                if name not in active:
                    continue  # cancelled by a failure earlier in this pass
                state = watcher.get_state(job.job_id, mode="cache")
                outcome_file = submitted[name][1]
                if state != shown.get(name) and state != "UNKNOWN":
                    shown[name] = state
                    say(f"{name}: job {job.job_id} {state}")
                ended = watcher.is_done(job.job_id, mode="cache") and state != "UNKNOWN"
                if not ended:
                    continue
                del active[name]
                step = graph.step(name)
                status, message = self._judge(step, job, state, outcome_file, before[name])
                if status == "done":
                    outcome.done.append(name)
                elif status == "incomplete":
                    outcome.incomplete[name] = message
                    say(f"{name}: incomplete: {message}")
                else:
                    outcome.failed[name] = message
                    outcome.bad_input = outcome.bad_input or status == "bad input"
                    down = [d for d in graph.dependents([name]) if d in active]
                    ids = [active[d].job_id for d in down]
                    if ids:
                        subprocess.run(["scancel", *ids], capture_output=True)
                    for d in down:
                        outcome.cancelled[d] = f"needs {name}"
                        del active[d]
                    cancelled = f"; cancelled what needs it: {', '.join(f'{d} (job {i})' for d, i in zip(down, ids))}" \
                        if down else ""
                    say(f"{name}: FAILED: {message}{cancelled}")
            if active:
                time.sleep(self.settings.poll_seconds)

    def _judge(self, step, job, state, outcome_file, before):
        """(status, message) of a step whose job has ended: its records, not the scheduler, decide."""
        log = self.log_path(job)
        found = None
        for _ in range(10):  # the job's last write may take a moment to show on a shared filesystem
            try:
                found = read_json(outcome_file)
                break
            except (FileNotFoundError, UsageError):
                if state in TERMINAL_OK:
                    time.sleep(0.5)
                    continue
                break
        if found and found.get("status") == "done":
            return "done", ""
        if found and found.get("status") == "incomplete":
            return "incomplete", found.get("message", "")
        if found:  # raised: its one-line error, and where the traceback is
            return found.get("status", "failed"), f"job {job.job_id} {state}: {found.get('message')}; log: {log}"
        if finished_since(step, before):
            return "done", ""  # its stages finished; the job was ended afterwards
        tail = _last_line(log)
        return "failed", f"job {job.job_id} {state}" + (f" ({tail})" if tail else "") + f"; log: {log}"


def _last_line(path):
    try:
        lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:200] if lines else ""
