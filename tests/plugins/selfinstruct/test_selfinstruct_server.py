"""The generator against a real ``vllm serve`` of the embedded model, through the real
``openai`` backend: a full run behind the fault-injecting proxy of the openai tests,
``kill -9`` in the middle of a run and its resumption, and an endpoint that keeps failing.

SmolLM2-135M writes poor tasks, slowly on a CPU, so these runs use options only to stay
fast: ``--seeds`` with the 16 shortest curated seeds (prompt processing is half the time of
a request on a small CPU), a short answer budget, items without a category kept as
``other``, and a cap on requests so that a run that cannot reach its target fails in bounded
time. Parsing, filtering (thresholds unchanged), the novelty filter, commit records, stats
and resume are the real ones.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from faultproxy import FaultProxy

from bioharness.plugins.selfinstruct.config import GenerateConfig
from bioharness.plugins.selfinstruct.generator import (
    INSTRUCTIONS, REQUESTS, STATS, EndpointFailing, SelfInstructGenerator, sample_examples,
)
from bioharness.plugins.selfinstruct.prompt import format_task
from bioharness.plugins.selfinstruct.seeds import load_seeds

pytestmark = pytest.mark.vllm

#: What makes the 135M model reach a target in bounded time (and nothing else).
LOW_BAR = dict(per_request=5, max_tokens=200, temperature=0.7, default_category="other", max_requests=160)
#: A CPU server under load can take minutes for a wave: no request should time out.
PATIENT = "timeout=600"


@pytest.fixture(scope="module")
def short_seeds(tmp_path_factory):
    """The 16 shortest curated seeds (by their text in the prompt) as a seed file."""
    seeds = sorted(load_seeds(), key=lambda s: len(format_task(1, s.instruction, s.input, s.output, s.category)))
    path = tmp_path_factory.mktemp("seeds") / "short_seeds.jsonl"
    path.write_text("".join(json.dumps({k: v for k, v in s.to_dict().items() if k != "provenance"}) + "\n"
                            for s in seeds[:16]))
    return path


def cli_args(options):
    args = []
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def complete_lines(path):
    """The lines of ``path`` that end in a newline (what a killed writer finished)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode().splitlines()


def check_run(out, n):
    """The invariants of a finished run; returns (stats, records, request lines)."""
    stats = json.loads((out / STATS).read_text())
    records = [json.loads(line) for line in (out / INSTRUCTIONS).read_text().splitlines()]
    requests = [json.loads(line) for line in (out / REQUESTS).read_text().splitlines()]
    assert stats["complete"] is True, stats
    assert stats["instructions"] == stats["accepted"] == len(records) == n
    assert stats["parsed"] == stats["accepted"] + sum(stats["rejected"].values())
    assert stats["requested"] == len(requests) == stats["responses"]["ok"] + stats["responses"]["failed"]
    assert [r["request_index"] for r in requests] == list(range(len(requests)))
    assert len({r["id"] for r in records}) == n
    assert len({r["instruction"] for r in records}) == n
    assert sum(len(r["accepted"]) for r in requests) == n
    assert [a["id"] for r in requests for a in r["accepted"]] == [r["id"] for r in records]
    assert stats["tokens"]["prompt"] > 0 and stats["tokens"]["completion"] > 0
    return stats, records, requests


def origin(url):
    return url.rsplit("/v1", 1)[0]


#: Faults for the first attempts reaching the proxy, in arrival order: four that a retry
#: cures (an error status, throttling with Retry-After, a body cut short, an HTML page)
#: and two permanent ones (404), which must each cost exactly one request.
SCHEDULE = {"-": ["500", "pass", "429", "404", "cut", "pass", "nonjson", "404"]}


def test_generate_ten_through_the_fault_proxy(vllm_server, short_seeds, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", vllm_server.api_key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    out = tmp_path / "run"
    seen = []
    with FaultProxy(origin(vllm_server.url), SCHEDULE, retry_after=1) as proxy:
        config = GenerateConfig.from_options(
            n=10, model=f"openai:{vllm_server.model}", base_url=proxy.url + "/v1", concurrency=16, seed=5,
            seeds=short_seeds,
            model_args=f"{PATIENT},backoff_base=0.05,backoff_max=0.5,max_retries=3", **LOW_BAR)
        generator = SelfInstructGenerator(config, progress=False)
        result = generator.run(out, on_record=seen.append)
    stats, records, requests = check_run(out, 10)
    assert result["complete"] and result["instructions"] == 10
    assert seen == records
    # each permanent failure is one failed request, recorded with its reason; the cured ones
    # cost a retry, not a request
    failed = [r for r in requests if r["status"] != "ok"]
    assert len(failed) == 2 and stats["responses"]["failed"] == 2
    assert stats["responses"]["failure_reasons"] == {"HTTP 404": 2}
    assert all(r["error"].startswith("HTTP 404: injected 404") and r["accepted"] == [] for r in failed)
    faults = [a.fault for a in proxy.attempts]
    assert sorted(f for f in faults if f != "pass") == sorted(f for f in SCHEDULE["-"] if f != "pass")
    assert len(proxy.attempts) == stats["requested"] + 4  # one retry for each cured fault
    assert stats["backend_usage"]["retries"] == 4 and stats["backend_usage"]["failed"] == 2
    assert proxy.max_in_flight <= 16
    assert stats["responses"]["ok"] == stats["requested"] - 2
    assert sum(stats["malformed"].values()) > 0  # the small model's drift was parsed, counted, survived
    seeds = {json.loads(line)["id"] for line in short_seeds.read_text().splitlines()}
    for record in records:
        p = record["provenance"]
        assert p["model"] == f"openai:{vllm_server.model}" and p["source"] == "selfinstruct"
        assert len(p["seed_ids"]) == 3 and set(p["seed_ids"]) <= seeds
        assert 0.0 <= p["nearest_score"] <= 0.7
        assert record["category"] in ("qa", "ie", "gen", "other")
        assert requests[p["request_index"]]["request_id"] == p["request_id"]
        assert requests[p["request_index"]]["status"] == "ok"
        assert len(record["instruction"].split()) >= 4


def test_an_endpoint_that_keeps_failing_is_reported_not_hidden(vllm_server, short_seeds, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", vllm_server.api_key)
    out = tmp_path / "run"
    with FaultProxy(origin(vllm_server.url), {"-": ["500"] * 40}, retry_after=0) as proxy:
        config = GenerateConfig.from_options(n=3, model=f"openai:{vllm_server.model}", base_url=proxy.url + "/v1",
                                             concurrency=4, model_args="backoff_base=0.01,max_retries=2",
                                             seeds=short_seeds, **LOW_BAR)
        generator = SelfInstructGenerator(config, progress=False)
        with pytest.raises(EndpointFailing, match=r"every request failed in 3 waves in a row \(last error: HTTP 500: "
                                                  r"injected 500 \(after 3 attempts\)\)") as raised:
            generator.run(out)
    assert len(proxy.attempts) == 3 * 4 * 3  # 3 waves of 4 requests, 3 attempts each, then it stops
    result = raised.value.result
    assert result["complete"] is False and result["instructions"] == 0
    stats = json.loads((out / STATS).read_text())
    assert stats["requested"] == 12 and stats["responses"]["failed"] == 12
    assert stats["responses"]["failure_reasons"] == {"HTTP 500": 12}
    assert stats["complete"] is False and stats["accepted"] == 0 and stats["parsed"] == 0
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    lines = [json.loads(line) for line in (out / REQUESTS).read_text().splitlines()]
    assert [line["error"] for line in lines] == ["HTTP 500: injected 500 (after 3 attempts)"] * 12


def start_and_kill_after_first_record(command, env, out):
    """Run ``command``; SIGKILL it as soon as a complete instruction line is on disk.

    Returns False when the run finished on its own first (its first wave reached the target).
    """
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 400
    try:
        while not complete_lines(out / INSTRUCTIONS):
            if process.poll() is not None:
                break
            assert time.monotonic() < deadline, "no instruction was accepted in time"
            time.sleep(0.05)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        output = process.stdout.read().decode(errors="replace")
        process.stdout.close()
    if process.returncode == 0:
        return False
    assert process.returncode == -signal.SIGKILL, output
    return True


def test_kill_9_in_the_middle_then_resume_to_exactly_n(vllm_server, short_seeds, tmp_path):
    n = 5
    env = {k: v for k, v in os.environ.items() if k not in ("BIOHARNESS_PLUGINS", "OPENAI_BASE_URL")}
    env["OPENAI_API_KEY"] = vllm_server.api_key
    for attempt in range(3):  # a first wave that reaches n leaves nothing to kill: another seed
        out = tmp_path / f"run{attempt}"
        command = [sys.executable, "-m", "bioharness.cli", "generate", "--n", str(n), "--model",
                   f"openai:{vllm_server.model}", "--base-url", vllm_server.url, "--concurrency", "8",
                   "--seed", str(9 + attempt), "--seeds", str(short_seeds), "--model-args", PATIENT,
                   *cli_args(LOW_BAR), "--out", str(out)]
        if start_and_kill_after_first_record(command, env, out) and len(complete_lines(out / INSTRUCTIONS)) < n:
            break
    else:
        pytest.fail("three runs in a row reached the target in their first wave")
    before = complete_lines(out / INSTRUCTIONS)
    assert 1 <= len(before) < n
    committed_before = complete_lines(out / REQUESTS)

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{n}/{n}" in resumed.stderr  # the progress bar's accepted count

    stats, records, requests = check_run(out, n)
    after = (out / INSTRUCTIONS).read_text().splitlines()
    assert after[: len(before)] == before  # the records written before the kill, first and unchanged
    # committed requests kept, in order; the resumed run went on from the next request index
    assert (out / REQUESTS).read_text().splitlines()[: len(committed_before)] == committed_before
    indices = [r["provenance"]["request_index"] for r in records]
    assert indices == sorted(indices)
    # before and after the kill, request i showed the seeds that --seed and i alone decide
    pool = load_seeds(short_seeds)
    assert [r["seed_ids"] for r in requests] == [[e.id for e in sample_examples(pool, 9 + attempt, i)]
                                                 for i in range(len(requests))]
