"""`bioharness run --executor slurm` on a real one-node SLURM (no accounting, as on this machine):
the tiny category ablation gives the local executor's leaderboard; independent steps overlap; a
job killed with scancel and a stage that raises are reported with their logs, what needs them is
cancelled and named, and the same command resubmits exactly those steps."""
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

ABLATION_STEPS = ["generate", "instructions", "train", "train-qa", "train-ie", "train-gen", "eval base", "eval tuned",
                  "eval tuned-qa", "eval tuned-ie", "eval tuned-gen", "compare", "report"]

#: Replaces the lora trainer with one that, once each, sleeps in train-qa (until scancel ends its
#: job) and raises in train-ie; afterwards it is the lora trainer itself.
FAULTS = textwrap.dedent("""
    import os
    import time
    from pathlib import Path

    from bioharness import hookimpl
    from bioharness.plugins.lora import OPTIONS, _factory

    MARKS = Path(os.environ["BIOHARNESS_TEST_FAULTS"])


    class Faulty:
        def __init__(self, trainer):
            self.trainer = trainer

        def run(self, run_dir, on_record=None):
            name = Path(run_dir).name
            if name == "train-qa" and not (MARKS / "train-qa.started").exists():
                (MARKS / "train-qa.started").write_text(os.environ.get("SLURM_JOB_ID", ""))
                time.sleep(600)  # until scancel ends the job
            if name == "train-ie" and not (MARKS / "train-ie.raised").exists():
                (MARKS / "train-ie.raised").write_text("")
                raise RuntimeError("injected failure in train-ie")
            return self.trainer.run(run_dir, on_record=on_record)


    @hookimpl
    def register_trainers(register):
        register("lora", lambda **options: Faulty(_factory(**options)), options=OPTIONS,
                 inputs={"data": "instructions"}, outputs={"adapter": "adapter"}, replace=True)
""")


def ablation_config(folder, tiny_llama_dir, executor, **extra):
    """The tiny category ablation (13 steps) as a run config in ``folder`` (also what
    benchmarks/executors.py times)."""
    config = {
        "out": str(folder / "run"), "base": f"hf:{tiny_llama_dir}", "teacher": f"hf:{tiny_llama_dir}",
        "tasks": "pubmedqa,bc5cdr_chem,meqsum", "limit": 2, "ablate_categories": True, "executor": executor,
        "generate": {"n": 2, "per_request": 2, "max_tokens": 24, "concurrency": 2, "max_requests": 1},
        "train": {"max_steps": 2, "batch_size": 4, "micro_batch_size": 2, "cutoff_len": 160, "save_steps": 1,
                  "sanity_prompts": 0},
        "eval": {"batch_size": 4, "bootstrap": 200}, "compare": {"bootstrap": 200},
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class Driver:
    """`bioharness run` in a subprocess; every line of its output with the time it arrived."""

    def __init__(self, args, cwd, env):
        self.started = time.monotonic()
        self.lines = []
        self.proc = subprocess.Popen([sys.executable, "-m", "bioharness.cli", *args], cwd=cwd, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait(self, timeout=900):
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.reader.join(10)
        self.seconds = time.monotonic() - self.started
        return code

    @property
    def text(self):
        return "\n".join(line for _, line in self.lines)

    def when(self, predicate):
        return next((t for t, line in self.lines if predicate(line)), None)

    def job_of(self, step):
        for _, line in self.lines:
            if line.startswith(f"{step}: job ") and " submitted" in line:
                return line.split()[2 if " " not in step else 3]
        return None


def run_env(marks=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    if marks is not None:
        env["BIOHARNESS_TEST_FAULTS"] = str(marks)
    return env


def board_values(run):
    """{task: [value of each model, in the board's model order]}: comparable across run folders
    (the adapter paths in the model names differ)."""
    board = json.loads((run / "leaderboard.json").read_text())
    return {task: [row["scores"][m]["value"] for m in board["models"]] for task, row in board["tasks"].items()}


def stage_span(folder):
    records = [json.loads(p.read_text()) for p in Path(folder).rglob("stage.json")]
    return min(r["started"] for r in records), max(r["finished"] for r in records)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, tiny_llama_dir, data_dir):
    folder = tmp_path_factory.mktemp("local")
    config = ablation_config(folder, tiny_llama_dir, "local")
    driver = Driver(["run", str(config), "--data-dir", str(data_dir)], folder, run_env())
    assert driver.wait() == 0, driver.text
    print(f"tiny ablation, local executor: {driver.seconds:.0f} s")
    return folder / "run", driver


@pytest.fixture(scope="module")
def slurm_runs(slurm_cluster, tmp_path_factory, tiny_llama_dir, data_dir):
    """The ablation under slurm with two faults (train-qa cancelled with scancel, train-ie raising),
    then the same command again."""
    folder = tmp_path_factory.mktemp("slurm")
    marks = folder / "marks"
    marks.mkdir()
    (folder / "faults.py").write_text(FAULTS)
    config = ablation_config(folder, tiny_llama_dir, "slurm", slurm={"cpus_per_task": 1, "poll_seconds": 2,
                                                                       "time": 30})
    args = ["run", str(config), "--data-dir", str(data_dir), "--plugins", str(folder / "faults.py")]
    first = Driver(args, folder, run_env(marks))
    deadline = time.monotonic() + 600
    while not (marks / "train-qa.started").exists():
        assert first.proc.poll() is None and time.monotonic() < deadline, first.text
        time.sleep(0.5)
    job = (marks / "train-qa.started").read_text()
    assert job == first.job_of("train-qa"), first.text  # the job we scancel is the one the driver named
    subprocess.run(["scancel", job], check=True)
    cancelled_at = time.monotonic()
    code = first.wait()
    second = Driver(args, folder, run_env(marks))
    assert second.wait() == 0, second.text
    return folder / "run", first, code, job, cancelled_at, second


def test_scancel_is_reported_within_a_minute_with_its_log_and_what_needs_it_is_cancelled(slurm_runs):
    run, first, code, job, cancelled_at, _ = slurm_runs
    reported = first.when(lambda line: line.startswith(f"train-qa: FAILED: job {job} CANCELLED"))
    assert reported is not None, first.text
    assert reported - cancelled_at < 60
    line = next(line for _, line in first.lines if line.startswith("train-qa: FAILED"))
    log = run / "slurm" / f"{job}_0_log.out"
    assert f"log: {log}" in line and log.is_file()
    assert "cancelled what needs it: eval tuned-qa (job " in line
    assert code == 1  # incomplete: the same command resumes
    last = first.text.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "run the same command again to resume" in last
    assert "not run (a step they need failed): eval tuned-qa, eval tuned-ie, compare, report" in last, last


def test_a_stage_that_raises_fails_its_job_and_takes_its_dependents_down(slurm_runs):
    run, first, *_ = slurm_runs
    line = next(line for _, line in first.lines if line.startswith("train-ie: FAILED"))
    job = first.job_of("train-ie")
    assert f"job {job} FAILED: RuntimeError: injected failure in train-ie; log: " in line, line
    log = Path(line.split("log: ")[1].split(";")[0])
    assert "Traceback" in log.read_text() and "injected failure in train-ie" in log.read_text()
    assert "cancelled what needs it: eval tuned-ie (job " in line
    # compare and report need both failures: cancelled once, named in the summary
    assert "train-ie: job" in first.text.strip().splitlines()[-1]
    for step in ("eval tuned-qa", "eval tuned-ie", "compare", "report"):
        assert not any(line.startswith(f"{step}: job ") and "RUNNING" in line for _, line in first.lines), step


def test_independent_steps_ran_at_the_same_time(slurm_runs):
    run, *_ = slurm_runs
    generate, base = stage_span(run / "generate"), stage_span(run / "eval" / "base")
    assert generate[0] < base[1] and base[0] < generate[1], (generate, base)  # the stages' own timestamps


def test_the_rerun_resubmits_only_the_failed_steps_and_what_needs_them(slurm_runs):
    _, _, _, _, _, second = slurm_runs
    submitted = [s for s in ABLATION_STEPS if second.job_of(s)]
    assert submitted == ["train-qa", "train-ie", "eval tuned-qa", "eval tuned-ie", "compare", "report"], second.text
    for step in set(ABLATION_STEPS) - set(submitted):
        assert f"{step}: up to date" in second.text
    assert "mean relative gain" in second.text or "gain" in second.text  # the board, as a local run prints it


def test_the_slurm_leaderboard_equals_the_local_one(slurm_runs, local_run):
    run, first, _, _, _, second = slurm_runs
    local, driver = local_run
    assert board_values(run) == board_values(local)
    board = json.loads((run / "leaderboard.json").read_text())
    assert set(board["transfer"]) == {"all", "qa", "ie", "gen"}
    print(f"tiny ablation: local {driver.seconds:.0f} s; slurm (with the faults, then the rerun) "
          f"{first.seconds:.0f} + {second.seconds:.0f} s")
