"""`bioharness eval` through the fault proxy in front of a real `vllm serve` (issue 12): a
burst of failed requests leaves the task incomplete (exit 1, nothing failed scored), and the
same command retries exactly those samples and completes with the result of a clean run."""
import json
import time

import pytest

from bioharness.cli import main
from faultproxy import FaultProxy

pytestmark = pytest.mark.vllm

LIMIT = 6
OPTIONS = 4  # medqa: one log-likelihood request per option


@pytest.fixture
def server(vllm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", vllm_server.api_key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return vllm_server


def origin(url):
    return url.rsplit("/v1", 1)[0]


def run_eval(server, base_url, out, data_dir, *extra):
    return main(["eval", "--model", f"openai:{server.model}", "--base-url", base_url, "--tasks", "medqa",
                 "--limit", str(LIMIT), "--data-dir", str(data_dir), "--out", str(out), "--bootstrap", "200",
                 "--batch-size", "1", *map(str, extra)])


def task_dir(out, server):
    return out / "eval" / f"openai__{server.model}" / "medqa"


def samples_of(folder):
    return {s["id"]: s for s in map(json.loads, (folder / "samples.jsonl").read_text().splitlines())}


def test_a_burst_of_failures_leaves_the_task_incomplete_and_the_rerun_retries_only_those(server, data_dir, tmp_path,
                                                                                          capsys):
    # Requests carry no case marker: they all count as case "-", sent one at a time in order.
    # Examples 3 and 4 (requests 9-16) meet a burst of faults; later attempts pass through.
    burst = ["500", "cut", "nonjson", "500", "429", "500", "500", "cut"]
    with FaultProxy(origin(server.url), {"-": ["pass"] * 2 * OPTIONS + burst}, retry_after=1) as proxy:
        out = tmp_path / "runs"
        code = run_eval(server, proxy.url + "/v1", out, data_dir, "--model-args", "max_retries=0")
        err = capsys.readouterr().err
        assert code == 1, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1] == (
            "Error: 1 task(s) incomplete (medqa 2 failed); first error: HTTP 500: injected 500. Nothing failed was "
            "scored; run the same command again to retry those samples")
        folder = task_dir(out, server)
        first = samples_of(folder)
        assert len(first) == LIMIT - 2
        assert not (folder / "metrics.json").exists()
        manifest = json.loads((folder / "stage.json").read_text())  # the stage runner's manifest
        assert manifest["complete"] is False and manifest["result"]["errors"] == 2
        assert all(o["logprob"] is not None and "error" not in o for s in first.values() for o in s["output"])
        sent = len(proxy.attempts)
        assert sent == LIMIT * OPTIONS

        assert run_eval(server, proxy.url + "/v1", out, data_dir) == 0, capsys.readouterr().err
        retried = proxy.attempts[sent:]
        assert len(retried) == 2 * OPTIONS and all(a.delivered for a in retried)  # only the failed samples
    final = samples_of(folder)
    assert len(final) == LIMIT and {k: v for k, v in final.items() if k in first} == first  # kept byte for byte
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["n"] == LIMIT and metrics["errors"] == 0 and metrics["complete"] is True

    # The same as one clean run straight against the server.
    clean = tmp_path / "clean"
    assert run_eval(server, server.url, clean, data_dir) == 0
    reference = samples_of(task_dir(clean, server))
    assert {k: v["values"] for k, v in final.items()} == {k: v["values"] for k, v in reference.items()}
    for k, v in final.items():
        assert [o["logprob"] for o in v["output"]] == pytest.approx(
            [o["logprob"] for o in reference[k]["output"]], abs=1e-4)
    clean_metrics = json.loads((task_dir(clean, server) / "metrics.json").read_text())
    assert metrics["metrics"] == clean_metrics["metrics"]


def test_retries_of_5xx_stop_at_the_time_budget(server, data_dir, tmp_path, capsys):
    with FaultProxy(origin(server.url), {"-": ["500"] * 200}) as proxy:
        start = time.monotonic()
        code = main(["eval", "--model", f"openai:{server.model}", "--base-url", proxy.url + "/v1", "--tasks", "medqa",
                     "--limit", "1", "--data-dir", str(data_dir), "--out", str(tmp_path / "runs"),
                     "--max-retry-time", "3", "--model-args", "max_retries=50,backoff_base=0.5"])
        elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 1
    assert elapsed < 15  # 50 retries with backoff would be minutes
    assert "first error: HTTP 500: injected 500 (retry time budget of 3s spent; raise it with --max-retry-time) " \
           "(after " in err.strip().splitlines()[-1]
    assert 2 <= len(proxy.attempts) <= 4 * OPTIONS  # retried, but not 50 times each


def test_failed_judge_requests_are_errors_and_the_rerun_judges_only_those(server, data_dir, tmp_path, monkeypatch,
                                                                           capsys):
    """The GPT-4-style judge behind the fault proxy: a judge request that fails is a failed
    sample (not an unparsed score); the rerun asks the model and the judge again for exactly
    those samples, and the metrics are over scored samples only."""
    limit = 4
    # all requests count as case "-": first the model's 4 generations (one at a time), then
    # one judge batch of 4; two of the judge's attempts meet a 404, which is never retried
    schedule = {"-": ["pass"] * limit + ["404", "404"]}
    with FaultProxy(origin(server.url), schedule) as proxy:
        monkeypatch.setenv("OPENAI_BASE_URL", proxy.url + "/v1")  # where the judge is reached
        out = tmp_path / "runs"
        args = ["eval", "--model", f"openai:{server.model}", "--base-url", proxy.url + "/v1", "--tasks", "meqsum",
                "--limit", str(limit), "--data-dir", str(data_dir), "--out", str(out), "--bootstrap", "200",
                "--batch-size", "1", "--judge", f"openai:{server.model}"]
        assert main(args) == 1
        captured = capsys.readouterr()
        assert captured.err.strip().splitlines()[-1] == (
            "Error: 1 task(s) incomplete (meqsum 2 failed); first error: judge: HTTP 404: injected 404. Nothing "
            "failed was scored; run the same command again to retry those samples")
        assert "incomplete (2 errors)" in captured.out
        folder = out / "eval" / f"openai__{server.model}" / "meqsum"
        first = samples_of(folder)
        assert len(first) == 2 and not (folder / "metrics.json").exists()
        assert len(proxy.attempts) == 2 * limit  # the 404s were not retried within the run
        sent = len(proxy.attempts)

        assert main(args) == 0, capsys.readouterr().err
        retried = proxy.attempts[sent:]
        assert len(retried) == 2 * 2 and all(a.delivered for a in retried)  # the model and the judge, 2 samples
    final = samples_of(folder)
    assert len(final) == limit and {k: v for k, v in final.items() if k in first} == first
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["n"], metrics["errors"], metrics["complete"]) == (limit, 0, True)
    parsed = [s["meta"]["judge_score"] for s in final.values() if s["meta"]["judge_score"] is not None]
    assert metrics["metrics"]["judge_unparsed"]["value"] == limit - len(parsed)
    assert metrics["metrics"]["judge_score"]["value"] == (pytest.approx(sum(parsed) / len(parsed)) if parsed else None)
    assert all(s["meta"]["judge_model"] == f"openai:{server.model}" and "judge_error" not in s["meta"]
               for s in final.values())


def test_a_hung_endpoint_opens_the_breaker_and_the_rerun_against_a_healthy_one_completes(server, data_dir, tmp_path,
                                                                                        capsys):
    """A server that accepts every request and never answers (issue 22: one sample cost 7
    timeouts, 464 s): 3 timeouts in a row open the breaker, the task's other requests fail at
    once, and the command exits 1 within the stated bound; the same command against a healthy
    server then completes every sample."""
    timeout, limit = 2.0, 3
    out = tmp_path / "runs"
    with FaultProxy(origin(server.url), {"-": ["hang"] * 1000}, hang_seconds=120) as proxy:
        start = time.monotonic()
        code = run_eval(server, proxy.url + "/v1", out, data_dir, "--limit", limit,
                        "--model-args", f"timeout={timeout:g},backoff_base=0.1")
        elapsed = time.monotonic() - start
        err = capsys.readouterr().err
        sent = len(proxy.attempts)
    assert code == 1, err
    # the bound: breaker_timeouts (3) timeouts, each timeout + its backoff (<= 0.4 s here), plus start-up
    assert elapsed < 3 * (timeout + 0.4) + 8, elapsed
    assert sent == 3  # the first request (sent alone: can the endpoint score?) and its two retries, nothing else
    assert err.strip().splitlines()[-1] == (
        f"Error: 1 task(s) incomplete (medqa {limit} failed); first error: endpoint not answering: {proxy.url}/v1: 3 "
        "requests in a row timed out (2s each) and none was answered, so no more are sent to it in this run (circuit "
        "breaker; if it is only slow, raise its timeout=S) (after 3 attempts). Nothing failed was scored; run the "
        "same command again to retry those samples")
    folder = task_dir(out, server)
    assert not (folder / "samples.jsonl").exists() and not (folder / "metrics.json").exists()

    assert run_eval(server, server.url, out, data_dir, "--limit", limit) == 0, capsys.readouterr().err
    final = samples_of(folder)
    assert len(final) == limit and all("error" not in o for s in final.values() for o in s["output"])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["n"], metrics["errors"], metrics["complete"]) == (limit, 0, True)
