"""The openai backend against a real ``vllm serve`` of the embedded model on 127.0.0.1,
directly and through a proxy that injects faults (faultproxy.py)."""
import asyncio
import json
import logging
import random
import secrets
import time

import pytest

from bioharness.errors import UsageError
from bioharness.modelspec import parse_model_spec
from bioharness.plugins.openai import _factory
from bioharness.plugins.openai.retry import Backoff, parse_retry_after
from bioharness.records import LoglikelihoodRequest, Request
from bioharness.store import JsonlLog, atomic_write_json
from faultproxy import FaultProxy
from vllm_fixtures import GENERATION_PROMPTS, MCQA_ITEMS, mcqa_context, one_torch_thread


@pytest.fixture
def server(vllm_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", vllm_server.api_key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return vllm_server


def backend_for(server, base_url=None, **options):
    return _factory(parse_model_spec(f"openai:{server.model}"), base_url=base_url or server.url, **options)


def origin(url):
    return url.rsplit("/v1", 1)[0]


# --- against the server ------------------------------------------------------------------


def test_chat_generation_matches_hf_and_counts_tokens(server, hf_embedded):
    requests = [Request(id=f"g{i}", prompt=p, max_new_tokens=24) for i, p in enumerate(GENERATION_PROMPTS[:12])]
    backend = backend_for(server, concurrency=4)
    out = backend.generate(requests)
    with one_torch_thread():
        reference = hf_embedded.generate(requests)
    assert [p.id for p in out] == [r.id for r in requests]
    assert all(p.ok for p in out)
    # The server renders the same chat template: identical prompts, and greedy text alike.
    assert [p.prompt_tokens for p in out] == [p.prompt_tokens for p in reference]
    assert sum(a.text == b.text for a, b in zip(out, reference)) >= 11
    usage = backend.usage.to_dict()
    assert usage["succeeded"] == 12 and usage["failed"] == 0 and usage["retries"] == 0
    assert usage["prompt_tokens"] == sum(p.prompt_tokens for p in out)
    assert usage["completion_tokens"] == sum(p.completion_tokens for p in out)
    assert usage["cost_usd"] is None  # no list price for a local model


def test_raw_completion_stop_strings_and_length(server):
    backend = backend_for(server)
    raw, stopped, short = backend.generate([
        Request(id="raw", prompt="The capital of France is", chat=False, max_new_tokens=8),
        Request(id="stop", prompt="The capital of France is", chat=False, max_new_tokens=8, stop=(".",)),
        Request(id="short", prompt="The capital of France is", chat=False, max_new_tokens=3),
    ])
    assert raw.text.startswith(" Paris.") and raw.prompt_tokens == 5
    assert (stopped.text, stopped.finish_reason) == (" Paris", "stop")
    assert (short.finish_reason, short.completion_tokens) == ("length", 3)


def test_loglikelihood_ranks_options_like_hf(server, hf_embedded):
    requests = [LoglikelihoodRequest(id=f"q{q}-{k}", context=mcqa_context(question), continuation=" " + option)
                for q, (question, options, _) in enumerate(MCQA_ITEMS[:10]) for k, option in enumerate(options)]
    requests.append(LoglikelihoodRequest(id="space", context="The capital of France is ", continuation="Paris"))
    backend = backend_for(server)
    ours = backend.loglikelihood(requests)
    with one_torch_thread():
        reference = hf_embedded.loglikelihood(requests)
    for a, b in zip(ours, reference):
        assert a.id == b.id and a.error is None
        assert a.num_tokens == b.num_tokens
        assert a.logprob == pytest.approx(b.logprob, abs=5e-3)
        assert a.is_greedy == b.is_greedy
    for q in range(10):
        mine = [r.logprob for r in ours[4 * q: 4 * q + 4]]
        theirs = [r.logprob for r in reference[4 * q: 4 * q + 4]]
        assert mine.index(max(mine)) == theirs.index(max(theirs))
    assert ours[-1].is_greedy and ours[-1].num_tokens == 1


def test_generate_works_from_inside_a_running_event_loop(server):
    backend = backend_for(server)

    async def caller():  # e.g. a notebook: generate() must not call asyncio.run on this loop
        return backend.generate([Request(id="x", prompt="The capital of France is", chat=False, max_new_tokens=2)])

    assert asyncio.run(caller())[0].text.startswith(" Paris")


# --- through the fault proxy -----------------------------------------------------------

#: case -> faults of its successive attempts; later attempts pass through.
SCHEDULE = {
    "ok0": [], "ok1": [], "ok2": [], "ok3": [],
    "rate": ["429"],
    "server": ["500", "500"],
    "hang": ["hang"],
    "cut": ["cut"],
    "junk": ["nonjson"],
    "mixed": ["cut", "nonjson", "500"],
    "dead": ["500", "500", "500", "500"],
    "gone": ["404"],
}
MAX_RETRIES = 3
TIMEOUT = 6.0
#: case -> (succeeds, attempts, words in the recorded reason)
EXPECTED = {
    "ok0": (True, 1, ""), "ok1": (True, 1, ""), "ok2": (True, 1, ""), "ok3": (True, 1, ""),
    "rate": (True, 2, ""), "server": (True, 3, ""), "hang": (True, 2, ""), "cut": (True, 2, ""),
    "junk": (True, 2, ""), "mixed": (True, 4, ""),
    "dead": (False, 4, "HTTP 500: injected 500 (after 4 attempts)"),
    "gone": (False, 1, "HTTP 404: injected 404"),
}


def case_requests():
    return [Request(id=case, prompt=f"[case:{case}] Name one organ of the human body.", max_new_tokens=6)
            for case in SCHEDULE]


def test_every_request_ends_as_success_after_retry_or_a_recorded_failure(server):
    with FaultProxy(origin(server.url), SCHEDULE, retry_after=1, hang_seconds=60) as proxy:
        backend = backend_for(server, base_url=proxy.url + "/v1", concurrency=3, timeout=TIMEOUT,
                              max_retries=MAX_RETRIES, backoff_base=0.05, backoff_max=0.2)
        seen = []
        out = backend.generate(case_requests(), progress=seen.append)
    assert [p.id for p in out] == list(SCHEDULE)  # every request answered once, in order
    assert sum(seen) == len(SCHEDULE)
    for pred in out:
        succeeds, attempts, reason = EXPECTED[pred.id]
        tried = proxy.of(pred.id)
        assert len(tried) == attempts, (pred.id, tried)
        assert [a.fault for a in tried] == (SCHEDULE[pred.id] + ["pass"])[:attempts]
        delivered = sum(a.delivered for a in tried)
        if succeeds:
            assert pred.ok and pred.text and pred.finish_reason in ("stop", "length"), pred
            assert delivered == 1 and tried[-1].delivered  # answered exactly once, by the last attempt
        else:
            assert (pred.text, pred.finish_reason, delivered) == ("", "error", 0)
            assert pred.error == reason
    # Retry-After honoured: the retry came no sooner than the server asked.
    rate = proxy.of("rate")
    assert rate[1].start - rate[0].end >= 1.0
    # The hung attempt was given up at the timeout, not earlier and not much later.
    hang = proxy.of("hang")[0]
    assert TIMEOUT - 0.5 <= hang.end - hang.start <= TIMEOUT + 5
    # Bounded concurrency, and used.
    assert 2 <= proxy.max_in_flight <= 3
    usage = backend.usage.to_dict()
    assert usage["retries"] == sum(e[1] - 1 for e in EXPECTED.values()) == 12
    assert (usage["succeeded"], usage["failed"]) == (10, 2)
    assert usage["failures"] == {"HTTP 500": 1, "HTTP 404": 1}
    assert usage["completion_tokens"] == sum(p.completion_tokens for p in out if p.ok)


@pytest.mark.parametrize("status", ["400", "401", "404", "422"])
def test_a_deterministic_http_error_fails_the_request_at_once(server, status):
    """A bad request, a refused key, an unknown model, an invalid body: asking again cannot
    help, so the request fails on its first answer, with the server's reason, however many
    retries are allowed (the schedule would answer the same to every retry)."""
    requests = [Request(id=c, prompt=f"[case:{c}] Name one organ of the human body.", max_new_tokens=6)
                for c in ("bad", "fine")]
    with FaultProxy(origin(server.url), {"bad": [status] * 6}) as proxy:
        backend = backend_for(server, base_url=proxy.url + "/v1", max_retries=5, backoff_base=1.0)
        bad, fine = backend.generate(requests)
    assert (bad.text, bad.finish_reason, bad.error) == ("", "error", f"HTTP {status}: injected {status}")
    tried = proxy.of("bad")
    assert len(tried) == 1 and tried[0].end - tried[0].start < 1.0
    assert fine.ok and len(proxy.of("fine")) == 1
    usage = backend.usage.to_dict()
    assert usage["retries"] == 0 and usage["failures"] == {f"HTTP {status}": 1}


def test_proxied_answers_equal_direct_ones(server):
    requests = [Request(id=c, prompt=f"[case:{c}] Name one organ of the human body.", max_new_tokens=6)
                for c in ("ok0", "cut", "junk")]
    direct = backend_for(server).generate(requests)
    with FaultProxy(origin(server.url), {"cut": ["cut"], "junk": ["nonjson"]}) as proxy:
        proxied = backend_for(server, base_url=proxy.url + "/v1", backoff_base=0.05).generate(requests)
    assert [p.text for p in proxied] == [p.text for p in direct]


def test_loglikelihood_retries_too(server):
    requests = [LoglikelihoodRequest(id=c, context=f"[case:{c}] The capital of France is", continuation=" Paris")
                for c in ("a", "b", "c")]
    with FaultProxy(origin(server.url), {"b": ["500", "cut"], "c": ["404", "404"]}) as proxy:
        backend = backend_for(server, base_url=proxy.url + "/v1", backoff_base=0.05, max_retries=2)
        out = backend.loglikelihood(requests)
    direct = backend_for(server).loglikelihood(requests[:2])
    assert [r.id for r in out] == ["a", "b", "c"]
    assert out[0].error is None and out[1].error is None
    assert [r.logprob for r in out[:2]] == pytest.approx([r.logprob for r in direct], abs=1e-4)
    assert len(proxy.of("b")) == 3
    assert out[2].error == "HTTP 404: injected 404" and len(proxy.of("c")) == 1


@pytest.mark.parametrize("fault, reason", [
    ("404", "HTTP 404: injected 404"),
    ("strip_logprobs", "its completions carry no prompt log-probs"),
])
def test_loglikelihood_without_prompt_logprobs_is_one_clear_error(server, fault, reason):
    requests = [LoglikelihoodRequest(id=f"r{i}", context=f"[case:all] Question {i}:", continuation=" yes")
                for i in range(3)]
    with FaultProxy(origin(server.url), {"all": [fault] * 10}) as proxy:
        backend = backend_for(server, base_url=proxy.url + "/v1")
        with pytest.raises(UsageError, match="not supported by this endpoint") as info:
            backend.loglikelihood(requests)
    assert reason in str(info.value) and "vllm serve" in str(info.value)
    assert len(proxy.of("all")) == 1  # decided on the first request; the rest were never sent


# --- the key -----------------------------------------------------------------------------


def test_api_key_never_reaches_a_file_a_log_or_an_error(server, tmp_path, monkeypatch):
    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # everything the openai client and httpx say, on disk
    wrong_key = "sk-wrong-" + secrets.token_hex(12)
    try:
        backend = backend_for(server)
        preds = backend.generate([Request(id="a", prompt="Define tachycardia.", max_new_tokens=8)])
        scores = backend.loglikelihood([LoglikelihoodRequest(id="l", context="The heart is a", continuation=" muscle")])
        monkeypatch.setenv("OPENAI_API_KEY", wrong_key)
        refused = backend_for(server, max_retries=3)
        denied = refused.generate([Request(id="b", prompt="Define tachycardia.", max_new_tokens=8)])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
    assert preds[0].ok and scores[0].error is None
    # A wrong key is a recorded failure, not retried (asking again will not help).
    assert denied[0].error.startswith("HTTP 401") and refused.usage.retries == 0
    # What a run writes: records, usage, backend facts, reprs.
    with JsonlLog(tmp_path / "samples.jsonl") as samples:
        samples.extend([p.to_dict() for p in preds + denied] + [s.to_dict() for s in scores])
    for b in (backend, refused):
        atomic_write_json(tmp_path / f"{b.usage.requests}-usage.json",
                          {"info": b.info, "usage": b.usage.to_dict(), "repr": repr(b)})
    with pytest.raises(UsageError) as given_as_option:
        backend_for(server, api_key=server.api_key)
    assert server.api_key not in str(given_as_option.value)
    written = [p for p in tmp_path.rglob("*") if p.is_file()] + [server.log]
    assert log_file in written and log_file.stat().st_size > 0
    for path in written:
        content = path.read_bytes()
        for key in (server.api_key, wrong_key):
            assert key.encode() not in content, f"the API key leaked into {path}"


# --- options and arithmetic (no server) ------------------------------------------------------


def test_options_are_checked_and_the_key_comes_from_the_environment_only(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    spec = parse_model_spec("openai:gpt-4")
    with pytest.raises(UsageError, match="set OPENAI_API_KEY"):
        _factory(spec)
    with pytest.raises(UsageError, match="unknown option.*dtype.*known: base_url, concurrency"):
        _factory(spec, base_url="http://127.0.0.1:9/v1", dtype="float32")
    with pytest.raises(UsageError, match="read from OPENAI_API_KEY only") as secret:
        _factory(spec, base_url="http://127.0.0.1:9/v1", api_key="sk-live-123")
    assert "sk-live-123" not in str(secret.value)
    with pytest.raises(UsageError, match="adapters are served by the endpoint"):
        _factory(parse_model_spec("openai:gpt-4+/tmp/adapter"), base_url="http://127.0.0.1:9/v1")
    with pytest.raises(UsageError, match="concurrency must be >= 1"):
        _factory(spec, base_url="http://127.0.0.1:9/v1", concurrency=0)
    with pytest.raises(UsageError, match="give both input_price and output_price"):
        _factory(spec, base_url="http://127.0.0.1:9/v1", input_price=1)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abc")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1")
    backend = _factory(spec, batch_size=5)
    assert backend.concurrency == 5
    assert backend.info["base_url"] == "http://127.0.0.1:9/v1"
    assert "sk-live-abc" not in json.dumps(backend.info) + repr(backend)
    # gpt-4 is priced from the list; 1000 prompt + 500 completion tokens at $30/$60 per million.
    backend.usage.add_tokens(1000, 500)
    assert backend.usage.to_dict()["cost_usd"] == pytest.approx(0.06)
    custom = _factory(parse_model_spec("openai:my-model"), input_price=2, output_price=4)
    custom.usage.add_tokens(1_000_000, 250_000)
    assert custom.usage.cost_usd == pytest.approx(3.0)


def test_unreachable_endpoint_is_a_recorded_failure_per_request(monkeypatch):
    from vllm_fixtures import free_port

    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    backend = _factory(parse_model_spec("openai:m"), base_url=f"http://127.0.0.1:{free_port()}/v1",
                       max_retries=2, backoff_base=0.01, timeout=5)
    out = backend.generate([Request(id=str(i), prompt="hi", max_new_tokens=2) for i in range(3)])
    assert [p.id for p in out] == ["0", "1", "2"]
    # refused: nothing listens, so one retry at most (issue 12), whatever max_retries says
    assert all(p.finish_reason == "error" and p.error.startswith("connection error: ConnectionRefusedError") and
               p.error.endswith("(after 2 attempts)") for p in out)
    assert backend.usage.retries == 3 and backend.usage.failed == 3


# --- the breaker for an endpoint that accepts and never answers (issue 22) -------------------


def test_timeouts_in_a_row_open_the_breaker_and_the_rest_fail_at_once(monkeypatch):
    """A real server on loopback that reads every request and never answers: 3 timeouts in a
    row open the breaker; in-flight attempts are given up and nothing more is sent, also in
    later calls of the same backend. No upstream is needed: nothing is forwarded."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    with FaultProxy("http://127.0.0.1:9", {"-": ["hang"] * 100}, hang_seconds=120) as proxy:
        backend = _factory(parse_model_spec("openai:m"), base_url=proxy.url + "/v1", timeout=1.5, concurrency=2,
                           backoff_base=0.05)
        start = time.monotonic()
        out = backend.generate([Request(id=str(i), prompt="Name an organ.", max_new_tokens=4) for i in range(12)])
        elapsed = time.monotonic() - start
        # two in flight: timeouts 1 and 2 at 1.5 s; their retries, 0.05 s later: one is the third timeout at
        # ~3 s, the other is given up then
        assert 2.9 <= elapsed < 4.5, elapsed
        assert len(proxy.attempts) == 4
        reason = (f"endpoint not answering: {proxy.url}/v1: 3 requests in a row timed out (1.5s each) and none was "
                  "answered, so no more are sent to it in this run (circuit breaker; if it is only slow, raise its "
                  "timeout=S)")
        assert [p.error.split(" (after")[0] for p in out] == [reason] * 12 and not any(p.text for p in out)
        start = time.monotonic()
        again = backend.generate([Request(id="late", prompt="Name a bone.", max_new_tokens=4)])
        assert time.monotonic() - start < 0.5 and again[0].error == reason and len(proxy.attempts) == 4
        assert proxy.in_flight == 0  # the given-up attempts closed their connections
    assert backend.usage.failures == {"endpoint not answering": 13}


def test_an_answer_between_timeouts_keeps_the_breaker_closed(server):
    """Timeouts count only in a row: an answered request resets the count."""
    schedule = {c: ["hang"] for c in "abdeghi"}  # c and f answer; i is the third timeout in a row
    with FaultProxy(origin(server.url), schedule, hang_seconds=60) as proxy:
        backend = backend_for(server, base_url=proxy.url + "/v1", timeout=1, concurrency=1, max_retries=0)
        out = backend.generate([Request(id=c, prompt=f"[case:{c}] Name one organ.", max_new_tokens=4)
                                for c in "abcdefghij"])
    assert [(p.id, p.ok) for p in out if p.ok] == [("c", True), ("f", True)]
    assert [p.error for p in out[:2] + out[3:5] + out[6:8]] == ["timeout after 1s"] * 6  # two in a row at most
    assert out[8].error.startswith(f"endpoint not answering: {proxy.url}/v1: 3 requests in a row timed out")
    assert out[9].error == out[8].error  # j: not sent
    assert [a.case for a in proxy.attempts] == list("abcdefghi")


def test_backoff_grows_with_jitter_and_retry_after_is_a_floor():
    backoff = Backoff(base=1.0, cap=8.0, rng=random.Random(0))
    for attempt, ceiling in enumerate([1, 2, 4, 8, 8, 8]):
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 40  # jittered
    assert backoff.delay(0, retry_after=5.0) == 5.0
    assert backoff.delay(3, retry_after=0.5) >= 4.0


def test_retry_after_header_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Sat, 21 Nov 2026 10:00:05 GMT"},
                             now=1795255200.0) == pytest.approx(5.0)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "99999"}) == 600.0
    assert parse_retry_after({}) is None
