"""kill -9 in the middle of `bioharness train`, then resume: the same adapter as a run never killed."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from bioharness.cli import main
from bioharness.plugins.lora.trainer import COMPLETE_MARKER, LoraTrainer, last_complete_checkpoint

#: A plugin that SIGKILLs its own process once step KILL_AT is logged (deterministic kill -9).
KILLER = textwrap.dedent(
    """
    import os
    import signal

    from bioharness import hookimpl


    @hookimpl
    def on_sample(stage, record):
        if stage == "train" and record.get("step") == {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)
    """
)


def argv(options, out):
    args = ["train", "--out", str(out)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            args += [flag, str(value)]
    return args


def bioharness(args, **kw):
    import torch

    # the children train with this process's thread count: bit-exact equality with the
    # in-process reference needs the same reductions (an earlier test may have set it)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, **kw)


def log_steps(run):
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_kill_9_then_resume_equals_an_uninterrupted_run(options_for, tmp_path):
    from safetensors.torch import load_file

    # 16 examples in micro-batches of 2, two per step: 4 steps an epoch, shuffled every epoch. The
    # checkpoint at step 3 is mid-epoch, so resuming must skip the 6 micro-batches already seen.
    options = options_for(max_steps=6, batch_size=4, micro_batch_size=2, save_steps=3, sanity_prompts=0)
    reference = tmp_path / "uninterrupted"
    LoraTrainer.from_options(**options).run(reference)

    run = tmp_path / "killed"
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER.format(kill_at=5))
    killed = bioharness(argv(options, run) + ["--plugins", str(killer)])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert [r["step"] for r in log_steps(run)] == [1, 2, 3, 4, 5]
    assert last_complete_checkpoint(run / "checkpoints").name == "checkpoint-3"
    assert not (run / "adapter").exists()
    assert json.loads((run / "manifest.json").read_text())["complete"] is False

    # a different config must not resume into this run directory
    assert main(argv({**options, "learning_rate": 0.01}, run)) == 2

    resumed = bioharness(argv(options, run))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from checkpoint-3" in resumed.stderr
    assert "6/6" in resumed.stderr and "loss=" in resumed.stderr  # the progress bar's last state
    log = log_steps(run)
    assert [r["step"] for r in log] == list(range(1, 7))  # steps 4, 5 once: the log was cut back to step 3
    expected = log_steps(reference)
    for got, want in zip(log, expected):
        assert got["loss"] == pytest.approx(want["loss"], abs=1e-5), (got["step"], got["loss"], want["loss"])
        assert got["target_tokens"] == want["target_tokens"]  # the same batches in the same order
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["result"]["resumed_from_step"] == 3
    a = load_file(run / "adapter" / "adapter_model.safetensors")
    b = load_file(reference / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)

    # a finished run is not trained again
    again = LoraTrainer.from_options(**options).run(run)
    assert again == manifest["result"]
    assert len(log_steps(run)) == 6


def test_only_completely_written_checkpoints_count(tmp_path):
    folder = tmp_path / "checkpoints"
    assert last_complete_checkpoint(folder) is None
    for step, complete in ((3, True), (6, True), (9, False), (12, False)):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        if complete:
            (folder / f"checkpoint-{step}" / COMPLETE_MARKER).write_text(f"{step}\n")
    (folder / "checkpoint-x").mkdir()
    assert last_complete_checkpoint(folder).name == "checkpoint-6"
