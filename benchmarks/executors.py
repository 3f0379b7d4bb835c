"""Wall time of one experiment under the local and the slurm executor, on this machine.

    python benchmarks/executors.py [--ablate] [--keep DIR]

Runs the same tiny experiment (a randomly initialised 2-layer Llama as base and teacher, three
tasks, 2 examples each; with --ablate the category ablation: 13 steps) twice, in fresh folders:
`bioharness run` with the local executor (every stage in one process), then with the slurm
executor on a one-node SLURM started here with scripts/slurm-local.sh (one job per stage, one CPU
each, so two independent stages run at once on 2 cores). Both leaderboards must agree. Prints
both times and, last, slurm/local. Each side runs with OMP_NUM_THREADS=1 per process.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tiny_model(folder):
    sys.path.insert(0, str(REPO / "tests"))
    from tinymodels import build_tiny_llama
    from transformers import AutoTokenizer

    from bioharness.plugins.hf import embedded

    tokenizer = AutoTokenizer.from_pretrained(embedded.ensure_model_dir())
    build_tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def config(folder, model, executor, ablate):
    """The slurm tests' tiny experiment (one definition of it), ablated or not."""
    sys.path.insert(0, str(REPO / "tests" / "plugins" / "slurm"))
    from test_slurm_run import ablation_config

    extra = {"slurm": {"cpus_per_task": 1, "poll_seconds": 2, "time": 60}} if executor == "slurm" else {}
    return ablation_config(folder, model, executor, ablate_categories=ablate, **extra)


def timed_run(path, env):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bioharness.cli", "run", str(path)], cwd=path.parent, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{path}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return seconds


def values(run):
    board = json.loads((run / "leaderboard.json").read_text())
    return {task: [row["scores"][m]["value"] for m in board["models"]] for task, row in board["tasks"].items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablate", action="store_true", help="the category ablation (13 steps), not 7")
    parser.add_argument("--keep", help="keep the run folders here")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bioharness-executors-"))
    cluster = Path(tempfile.mkdtemp(prefix="bioharness-slurm-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SLURM_CONF": str(cluster / "slurm.conf")}
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]  # before any SLURM command: no DNS lookup
    try:
        model = tiny_model(work / "tiny-llama")
        local = timed_run(config(work / "local", model, "local", args.ablate), env)
        subprocess.run(["bash", str(REPO / "scripts" / "slurm-local.sh"), "start", str(cluster)], check=True,
                       capture_output=True, timeout=600)
        slurm = timed_run(config(work / "slurm", model, "slurm", args.ablate), env)
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "slurm-local.sh"), "stop", str(cluster)], capture_output=True)
        shutil.rmtree(cluster, ignore_errors=True)
    assert values(work / "local" / "run") == values(work / "slurm" / "run"), "the leaderboards differ"
    steps = 13 if args.ablate else 7
    print(f"experiment: {steps} steps, tiny Llama, 3 tasks x 2 examples; load average {os.getloadavg()[0]:.1f}")
    print(f"local executor: {local:.1f} s (one process, OMP_NUM_THREADS=1)")
    print(f"slurm executor: {slurm:.1f} s (one job per step, 1 CPU each, 2 CPUs; OMP_NUM_THREADS=1 per job)")
    print(f"slurm/local: {slurm / local:.2f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
