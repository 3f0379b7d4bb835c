"""Job states with and without SLURM accounting.

submitit's ``SlurmInfoWatcher`` asks ``sacct`` only. On a cluster without accounting
(no slurmdbd) ``sacct`` fails and submitit 1.5.4 keeps every job ``UNKNOWN`` for good: a job
cancelled with ``scancel`` is never seen to end. :class:`QueueWatcher` asks ``sacct`` first and,
when the cluster answers that it keeps no accounting, ``squeue --states=all`` from then on
(which lists ended jobs for ``MinJobAge``, 300 s by default; a job that has left the queue is
reported ``GONE``: ended, how unknown, and the completion records decide).
"""
import subprocess
import time

from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob

#: a job no longer listed by squeue (ended more than MinJobAge ago): ended, state unknown
GONE = "GONE"


class QueueWatcher(SlurmInfoWatcher):
    def __init__(self, delay_s=10):
        super().__init__(delay_s=delay_s)
        self.accounting = None  # unknown until sacct has answered once
        self.last_error = None
        self._seen = set()

    def _make_command(self):
        to_check = {x.split("_")[0] for x in self._registered - self._finished}
        if not to_check:
            return None
        if self.accounting is not False:
            return super()._make_command()  # sacct -o JobID,State,NodeList --parsable2 -j ...
        return ["squeue", "--states=all", "--noheader", "--format=%i|%T|%N", "--me"]

    def read_queue(self, text, asked):
        """squeue's ``id|STATE|nodes`` lines -> submitit's info dicts; a job we asked about and
        had seen that is no longer listed is ``GONE``."""
        info = {}
        for line in text.splitlines():
            parts = line.strip().split("|")
            if len(parts) >= 2 and parts[0]:
                info[parts[0]] = {"JobID": parts[0], "State": parts[1], "NodeList": parts[2] if len(parts) > 2 else ""}
        for job_id in asked:
            if job_id not in info and job_id in self._seen:
                info[job_id] = {"JobID": job_id, "State": GONE, "NodeList": ""}
        self._seen.update(info)
        return info

    def update(self):
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0 and command[0] == "sacct" and self.accounting is None:
            self.accounting = False  # "Slurm accounting storage is disabled": squeue from now on
            self.update()
            return
        if run.returncode != 0:
            self.last_error = (run.stderr or run.stdout).strip()  # slurmctld busy: the next poll
        elif command[0] == "sacct":
            self.accounting = True
            self._info_dict.update(self.read_info(run.stdout))
        else:
            asked = {x.split("_")[0] for x in self._registered - self._finished}
            self._info_dict.update(self.read_queue(run.stdout, asked))
        self._last_status_check = time.time()
        for job_id in self._registered - self._finished:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)


class StageJob(SlurmJob):
    """A submitit job whose state comes from :class:`QueueWatcher` (one per executor run: the
    executor sets it)."""

    watcher = QueueWatcher()
