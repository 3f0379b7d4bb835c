"""The README's cluster walk-through, command by command, against the local one-node SLURM: the
shipped examples/runs/slurm.yaml with the model, data and resources made tiny (this cluster has
no GPU, partition or account), everything else as shipped."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from bioharness.cli.run import Experiment, load_config
from bioharness.manager import load_plugins

REPO = Path(__file__).resolve().parents[3]


def readme_block(marker, language):
    """The fenced ``language`` block of the README whose first line is ``marker``."""
    text = (REPO / "README.md").read_text()
    for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.S):
        if block.splitlines()[0].strip() == marker:
            return block
    raise AssertionError(f"no {language} block starting with {marker!r} in README.md")


def test_the_readme_slurm_section_validates(tmp_path):
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
                 if b.startswith("executor: slurm"))
    path = tmp_path / "snippet.yaml"
    path.write_text(block)
    manager = load_plugins(env={})
    config = load_config(path, sections=["slurm"])
    experiment = Experiment(manager, config, path=path)
    assert experiment.executor.name == "slurm" and experiment.launch == {"num_processes": 4}
    settings = experiment.executor.settings
    assert settings.for_step(experiment.graph().step("train"))["gpus_per_task"] == 4


def tiny(shipped, tiny_llama_dir, instructions):
    """The shipped config on the tiny model, trained on ``instructions`` (no teacher to call: one
    job less; the ablation test generates)."""
    config = yaml.safe_load(shipped.read_text())
    config.update(base=f"hf:{tiny_llama_dir}", teacher=f"hf:{tiny_llama_dir}", judge=None, tasks="pubmedqa", limit=2,
                  ablate_categories=False, instructions=str(instructions))
    config["generate"] = {"generator": "selfinstruct", "n": 2, "per_request": 2, "max_tokens": 24, "concurrency": 2,
                          "max_requests": 1}
    config["train"] = {"trainer": "lora", "max_steps": 2, "batch_size": 4, "micro_batch_size": 2, "cutoff_len": 160,
                       "save_steps": 1, "sanity_prompts": 0}
    config["eval"] = {"batch_size": 4, "bootstrap": 200}
    config["compare"] = {"bootstrap": 200}
    slurm = config["slurm"]
    for key in ("partition", "account", "setup"):  # this cluster has none of those
        slurm.pop(key)
    slurm.update(cpus_per_task=1, mem="2G", poll_seconds=2)
    slurm["stages"] = {kind: {k: v for k, v in res.items() if k not in ("gpus_per_task", "cpus_per_task", "mem")}
                       for kind, res in slurm["stages"].items()}
    return config


def test_the_readme_cluster_walk_through_runs_on_a_local_slurm(slurm_cluster, tmp_path, tiny_llama_dir, data_dir):
    commands = [line.split("#")[0].strip() for line in readme_block("# cluster walk-through", "bash").splitlines()[1:]]
    commands = [c for c in commands if c]
    assert [c.split()[0] for c in commands] == ["bioharness", "squeue", "tail", "bioharness"]
    shipped = REPO / "examples" / "runs" / "slurm.yaml"
    (tmp_path / "examples" / "runs").mkdir(parents=True)
    instructions = tmp_path / "instructions.jsonl"
    instructions.write_text("".join(json.dumps({"id": f"i{i}", "instruction": f"Name organ {i}.", "input": "",
                                                "output": "The liver.", "category": "qa"}) + "\n" for i in range(8)))
    (tmp_path / "examples" / "runs" / "slurm.yaml").write_text(yaml.safe_dump(tiny(shipped, tiny_llama_dir,
                                                                                  instructions)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "BIOHARNESS_DATA": str(data_dir),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def shell(command):
        return subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=900)

    first = shell(commands[0])
    assert first.returncode == 0, first.stderr
    jobs = dict(re.findall(r"^(\S[^:]*): job (\d+) submitted", first.stderr, flags=re.M))
    assert set(jobs) == {"instructions", "train", "eval base", "eval tuned", "compare", "report"}
    assert "report: runs/bioinstruct-slurm/report.html" in first.stdout
    queue = shell(commands[1])
    assert queue.returncode == 0 and queue.stdout.split()[:2] == ["JOBID", "PARTITION"], queue.stderr
    log = shell(commands[2].replace("JOBID", jobs["report"]))
    assert log.returncode == 0 and "Job completed successfully" in log.stdout, log.stderr
    again = shell(commands[3])
    assert again.returncode == 0, again.stderr
    assert " submitted" not in again.stderr
    for step in jobs:
        assert f"{step}: up to date" in again.stderr
