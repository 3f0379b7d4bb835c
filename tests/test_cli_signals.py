"""A terminated run (SIGTERM from a scheduler, SIGHUP from a closed terminal) exits cleanly:
one line, exit 128+signal, nothing written is lost, and the same command resumes."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

LIMIT = 48


def _eval_cmd(model_dir, data_dir, out):
    # meqsum: real data, free generation (the random tiny model always runs to the token
    # limit), one example per batch so the run lasts long enough to be interrupted.
    return [sys.executable, "-m", "bioharness.cli", "eval", "--model", f"hf:{model_dir}", "--tasks", "meqsum",
            "--limit", str(LIMIT), "--batch-size", "1", "--data-dir", str(data_dir), "--out", str(out)]


def _wait_for_lines(path, proc, n, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"eval ended (rc {proc.returncode}) before writing {n} samples: {proc.stderr.read()}")
        time.sleep(0.2)
    pytest.fail(f"no {n} samples in {path} after {timeout} s")


def _default_dispositions():
    # As from a terminal: under nohup (or a CI runner) the test process may inherit an
    # ignored SIGHUP, which the child would keep, rightly (see the nohup test below).
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_terminated_eval_exits_cleanly_and_resumes(signum, tiny_llama_dir, data_dir, tmp_path):
    out = tmp_path / "runs"
    cmd = _eval_cmd(tiny_llama_dir, data_dir, out)
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_default_dispositions)
    samples = out / "eval" / "hf__tiny-llama0" / "meqsum" / "samples.jsonl"
    _wait_for_lines(samples, proc, 16)  # the first chunk is on disk
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == f"Terminated ({signal.Signals(signum).name}); what was written is kept: the same command resumes."
    before = samples.read_text().splitlines()
    assert 16 <= len(before) < LIMIT
    assert all(json.loads(line)["id"] for line in before)  # whole records only

    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    after = samples.read_text().splitlines()
    assert after[: len(before)] == before  # kept byte for byte
    ids = [json.loads(line)["id"] for line in after]
    assert len(ids) == LIMIT == len(set(ids))
    assert json.loads((samples.parent / "metrics.json").read_text())["n"] == LIMIT


def test_nohup_is_respected(tiny_llama_dir, data_dir, tmp_path):
    """Started under nohup (SIGHUP ignored), a hang-up does not stop the run."""
    out = tmp_path / "runs"
    cmd = _eval_cmd(tiny_llama_dir, data_dir, out)
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")

    def nohup():
        _default_dispositions()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=nohup)
    samples = out / "eval" / "hf__tiny-llama0" / "meqsum" / "samples.jsonl"
    _wait_for_lines(samples, proc, 16)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert len(samples.read_text().splitlines()) == LIMIT


def test_handlers_are_left_alone_when_someone_else_set_them():
    """An embedding program's own SIGTERM handler wins, and main() restores what it found."""
    from bioharness.cli import main

    def mine(signum, frame):
        pass

    hup = signal.getsignal(signal.SIGHUP)
    old = signal.signal(signal.SIGTERM, mine)
    try:
        assert main(["--version"]) == 0
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, old)
    assert signal.getsignal(signal.SIGHUP) == hup  # restored after main()
