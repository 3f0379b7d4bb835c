"""The engine's lifetime: the last backend out stops its processes; data parallelism runs
replicas as separate engine processes. (Collected after the other vllm tests, which share
the engine this file finally stops.)"""
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from bioharness.errors import UsageError
from bioharness.modelspec import parse_model_spec
from bioharness.plugins.vllm import _factory
from bioharness.plugins.vllm import engine as engines
from bioharness.records import LoglikelihoodRequest, Request
from vllm_fixtures import GENERATION_PROMPTS, HEAVY, shared_vllm_backend

REQUESTS = [Request(id=f"d{i}", prompt=p, max_new_tokens=16) for i, p in enumerate(GENERATION_PROMPTS[:8])]
SCORED = [LoglikelihoodRequest(id="s", context="Question: What causes tuberculosis?\nAnswer:",
                               continuation=" a bacterium")]


def engine_processes():
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name().startswith("VLLM::") or any(a.startswith("VLLM::") for a in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def offline_results(embedded_dir):
    """The single offline engine's answers, taken before it is stopped."""
    backend = shared_vllm_backend()
    return backend.generate(REQUESTS), backend.loglikelihood(SCORED)


def test_closing_the_last_backend_stops_the_engine_processes(vllm_backend, offline_results):
    processes = engine_processes()
    names = sorted(p.name() for p in processes)
    assert any("EngineCor" in n for n in names) and any("Worker" in n for n in names), names
    HEAVY.release()  # closes the shared backend: its only user
    assert engines.current() is None
    gone, alive = psutil.wait_procs(processes, timeout=20)
    assert not alive, [p.pid for p in alive]
    with pytest.raises(UsageError, match="used after close"):
        vllm_backend.generate(REQUESTS[:1])


def test_data_parallel_replicas_answer_like_the_single_engine(offline_results):
    base_texts, base_scores = offline_results
    dp = _factory(parse_model_spec("vllm:embedded"), dtype="float32", enforce_eager=True, data_parallel_size=2,
                  kv_cache_memory_bytes=512 << 20, max_model_len=2048)
    try:
        assert type(dp.engine.driver).__name__ == "AsyncDriver"
        assert dp.info["data_parallel_size"] == 2
        cores = [p for p in engine_processes() if "EngineCor" in p.name()]
        assert len(cores) == 2  # one engine core per replica
        seen = []
        out = dp.generate(REQUESTS, progress=seen.append)
        assert sum(seen) == len(REQUESTS)
        assert [p.id for p in out] == [r.id for r in REQUESTS]
        assert sum(a.text == b.text for a, b in zip(out, base_texts)) >= len(REQUESTS) - 1
        assert dp.loglikelihood(SCORED)[0].logprob == pytest.approx(base_scores[0].logprob, abs=2e-3)
    finally:
        dp.close()
    assert engines.current() is None
    assert not engine_processes()  # stopped and reaped: no zombies either


def test_asking_for_more_memory_than_is_free_fails_before_starting():
    assert engines.current() is None
    with pytest.raises(UsageError, match=r"gpu_memory_utilization=1.0 asks for .* GiB but .* GiB of memory is free"):
        _factory(parse_model_spec("vllm:embedded"), dtype="float32", gpu_memory_utilization=1.0)
    assert engines.current() is None and not engine_processes()


def test_terminated_eval_reaps_the_engine_processes(embedded_dir, data_dir, tmp_path):
    """SIGTERM to ``bioharness eval`` on vLLM: the engine core and its worker are stopped
    with it, not orphaned holding their memory (Python's default SIGTERM action would
    skip every clean-up), and the samples written so far stay."""
    HEAVY.release()
    shm_before = set(os.listdir("/dev/shm"))
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "bioharness.cli", "eval", "--model", "vllm:embedded", "--tasks", "meqsum",
           "--limit", "64", "--dtype", "float32", "--batch-size", "4", "--data-dir", str(data_dir), "--out", str(out),
           "--model-args", f"enforce_eager=true,kv_cache_memory_bytes={512 << 20},max_model_len=2048"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    samples = out / "eval" / "vllm__embedded" / "meqsum" / "samples.jsonl"
    try:
        deadline = time.monotonic() + 300
        while not (samples.exists() and samples.read_text().count("\n") >= 16):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no samples after 300 s"
            time.sleep(0.5)
        engine = [p for p in psutil.Process(proc.pid).children(recursive=True)
                  if any(a.startswith("VLLM::") for a in [p.name(), *p.cmdline()])]
        assert engine, "the engine processes were expected to run while eval does"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    assert "Terminated (SIGTERM); what was written is kept: the same command resumes." in err.splitlines()
    gone, alive = psutil.wait_procs(engine, timeout=30)
    assert not alive, [(p.pid, p.name()) for p in alive]
    # vLLM's shared-memory queue of an interrupted request is unlinked by Python's resource
    # tracker at exit (it warns that it did): nothing is left behind in /dev/shm.
    assert set(os.listdir("/dev/shm")) <= shm_before
    assert 16 <= samples.read_text().count("\n") < 64
