"""Distributed training started by the stage runner: `train.launch` (and `bioharness train
--num-processes`) runs the train stage under `accelerate launch` (2 processes, DDP over gloo on
this CPU machine). Its adapter equals the single-process one trained with the same global batch,
seed and data; a kill -9 of the launcher mid-run stops its workers, and the same command resumes
to the adapter of a run never killed."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

#: Global batch 4 either way: one process accumulates 2 micro-batches of 2, two processes take one
#: micro-batch each. No dropout: each process draws its own dropout masks, so with dropout the two
#: runs agree only in distribution.
SETTINGS = {"max_steps": 6, "batch_size": 4, "micro_batch_size": 2, "learning_rate": 0.05, "warmup": 0,
            "lora_dropout": 0.0, "save_steps": 1, "sanity_prompts": 0, "seed": 7, "cutoff_len": 96}
#: fp32 all the way. DDP sums the two processes' gradients in gloo's all-reduce where one process
#: adds its two micro-batches in autograd: the same numbers added in another order differ in the
#: last bits (~1e-7 relative), and six Adam steps (which divide by sqrt of the second moment)
#: carry that forward. 1e-5 absolute on weights of ~1e-2 is far below what one step at lr 0.05
#: changes (the adapters moved by > 1e-2 from their start), so a wrong batch, order or average
#: would fail it.
ATOL = 1e-5

KILLER = textwrap.dedent("""
    import os
    import signal
    from pathlib import Path

    from bioharness import hookimpl

    MARK = Path(os.environ["BIOHARNESS_TEST_MARK"])


    @hookimpl
    def on_sample(stage, record):
        # in the main training process: kill -9 its launcher (accelerate launch) once, at step 3
        if stage == "train" and record.get("step") == 3 and not MARK.exists():
            MARK.write_text(str(os.getppid()))
            os.kill(os.getppid(), signal.SIGKILL)
""")


def bioharness(args, cwd, **env):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **env}
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def train_args(data, out, **extra):
    args = ["train", "--base", extra.pop("base"), "--data", str(data), "--out", str(out)]
    for key, value in {**SETTINGS, **extra}.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return args


def adapter(folder):
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "adapter_model.safetensors"))


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def launched_processes(spec):
    """PIDs whose command line names ``spec`` (a launch's workers or launcher still alive)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(spec).encode() in cmdline:
            found.append(int(pid))
    return found


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory, tiny_base, fixed_set, data_dir):
    """`bioharness run` with train.launch {num_processes: 2}: the launcher killed at step 3, then
    the same command again."""
    folder = tmp_path_factory.mktemp("launch")
    (folder / "killer.py").write_text(KILLER)
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({
        "out": str(folder / "run"), "base": tiny_base, "instructions": str(fixed_set), "tasks": "pubmedqa",
        "limit": 2, "train": {**SETTINGS, "launch": {"num_processes": 2}}, "eval": {"batch_size": 4, "bootstrap": 200},
        "compare": {"bootstrap": 200},
    }))
    args = ["run", str(config), "--data-dir", str(data_dir), "--plugins", str(folder / "killer.py")]
    mark = folder / "killed"
    first = bioharness(args, folder, BIOHARNESS_TEST_MARK=str(mark))
    second = bioharness(args, folder, BIOHARNESS_TEST_MARK=str(mark))
    return folder / "run", first, second, mark


def test_kill_9_of_the_launcher_stops_its_workers_and_the_same_command_resumes(killed_and_resumed):
    run, first, second, mark = killed_and_resumed
    assert mark.exists(), first.stderr  # the launcher was killed
    assert first.returncode == 1, first.stderr
    last = first.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: train: accelerate launch was killed by SIGKILL"), last
    assert last.endswith("run the same command again to resume")
    assert "not run (a step they need failed): eval tuned, compare, report" in last
    assert not launched_processes(run / "train" / ".launch.json")  # no worker trains on unseen
    assert second.returncode == 0, second.stderr
    assert "train: resuming" in second.stderr and "resuming from checkpoint-" in second.stderr
    log = [json.loads(x)["step"] for x in (run / "train" / "train_log.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3, 4, 5, 6]  # nothing lost or repeated across the kill
    stage = json.loads((run / "train" / "stage.json").read_text())
    assert stage["complete"] and not {"launch", "num_processes"} & set(stage["config"]["options"])  # no launcher in the key
    assert (run / "leaderboard.json").is_file()


def test_two_processes_give_the_single_process_adapter_and_the_killed_run_the_uninterrupted_one(
        killed_and_resumed, tiny_base, tmp_path):
    run, *_ = killed_and_resumed
    data = run / "instructions" / "instructions-all.jsonl"  # what the run trained on
    single = bioharness(train_args(data, tmp_path / "one", base=tiny_base), tmp_path)
    assert single.returncode == 0, single.stderr
    double = bioharness(train_args(data, tmp_path / "two", base=tiny_base, num_processes=2), tmp_path)
    assert double.returncode == 0, double.stderr
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["result"]["steps"] == 6
    one, two = adapter(tmp_path / "one" / "adapter"), adapter(tmp_path / "two" / "adapter")
    resumed = adapter(run / "train" / "adapter")
    moved = max(float(w.abs().max()) for k, w in one.items() if "lora_B" in k)  # B starts at zero
    across = max_difference(one, two)
    print(f"max |adapter(1 process) - adapter(2 processes)| = {across:.2e}; "
          f"killed and resumed vs uninterrupted: {max_difference(two, resumed):.2e}; training moved it {moved:.2e}")
    assert moved > 1e-2  # the comparison means something
    assert across <= ATOL
    assert max_difference(two, resumed) <= ATOL


def test_an_accelerate_config_decides_the_distribution_and_a_launch_gets_a_port_of_its_own(tmp_path):
    from bioharness.cli.launch import launch_command

    fsdp = tmp_path / "fsdp.yaml"
    fsdp.write_text("distributed_type: FSDP\nnum_processes: 8\n")
    with_config = launch_command({"num_processes": 4, "config_file": str(fsdp)}, tmp_path / "spec.json")
    assert with_config[with_config.index("--config_file") + 1] == str(fsdp)
    assert "--multi_gpu" not in with_config  # the config says FSDP; only the process count is overridden
    assert with_config[with_config.index("--num_processes") + 1] == "4"
    plain = launch_command({"num_processes": 2}, tmp_path / "spec.json")
    assert "--multi_gpu" in plain and plain[-3:] == ["-m", "bioharness.cli.launch", str(tmp_path / "spec.json")]
    port = plain[plain.index("--main_process_port") + 1]
    assert port.isdigit()  # a free port of its own, not accelerate's fixed default 29500 that two launches share
