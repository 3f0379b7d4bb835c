"""Wall time of the default `bioharness run` (goal: <= 10 min on 2 CPU cores), per stage.

    BIOHARNESS_DATA=../shared/data python benchmarks/run_default.py [--out DIR] [--ablate-categories]

Runs `bioharness run` in a fresh folder (so no stage is up to date), then reads each stage's
`stage.json` (started / finished) and prints the wall time per stage, the total, and last the
ratio of the total to the 10-minute goal (below 1.0 meets it). A second, warm run is timed too:
every stage is up to date, which is the peer the cold run is measured against.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 600


def stage_times(out):
    rows = []
    for manifest in sorted(Path(out).rglob("stage.json")):
        if "superseded" in manifest.parts:
            continue
        data = json.loads(manifest.read_text())
        if data.get("finished") and data.get("started"):
            rows.append((data["stage"], data["finished"] - data["started"]))
    return rows


def timed_run(args):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "bioharness.cli", "run", *args], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode:
        sys.exit(f"bioharness run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", help="run folder (default: a fresh temporary one)")
    parser.add_argument("--ablate-categories", action="store_true")
    opts = parser.parse_args()
    out = opts.out or tempfile.mkdtemp(prefix="bioharness-default-")
    args = ["--out", out] + (["--ablate-categories"] if opts.ablate_categories else [])
    cold, stdout = timed_run(args)
    print(stdout)
    print(f"{'stage':<32} {'wall s':>8}")
    for stage, seconds in stage_times(out):
        print(f"{stage:<32} {seconds:>8.1f}")
    warm, _ = timed_run(args)
    print(f"{'total (cold, incl. start-up)':<32} {cold:>8.1f}")
    print(f"{'second run (all up to date)':<32} {warm:>8.1f}")
    print(f"cold / 10-minute goal: {cold / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
