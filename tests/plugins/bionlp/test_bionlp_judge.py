"""The LLM judge: strict parsing of its score, one batch per scoring call, its reply kept
with the sample, unparseable replies excluded from the mean and counted, a failed judge
request a failed sample (not an unparsed one), and never a judge request without an
explicit judge."""
import pytest

from bioharness.manager import load_plugins
from bioharness.plugins.bionlp import judge as J
from bioharness.plugins.bionlp.kinds import SummarizationKind
from bioharness.records import Prediction
from bioharness.taskspec import TaskCatalog


@pytest.mark.parametrize("reply,expected", [
    ("Complete and correct.\nScore: 9", 9),
    ("Score: 10", 10),
    ("Score: 1\n", 1),
    ("  Score: 4  \n\nThanks", 4),
    ("Score: 0", None),
    ("Score: 11", None),
    ("Score: 7/10", None),
    ("Score: 7.5", None),
    ("**Score: 7**", None),
    ("score: 7", None),
    ("The answer deserves a Score: 7 overall.", None),
    ("Score: 6\nOn reflection,\nScore: 7", None),
    ("I would give it an 8.", None),
    ("", None),
    (None, None),
])
def test_parse_judge_score_is_strict(reply, expected):
    assert J.parse_judge_score(reply) == expected


def test_judge_request_carries_the_rubric_and_is_greedy():
    request = J.judge_request("judge:1", "Summarize: my head hurts", "What causes headaches?", "Why does my head hurt?")
    assert request.temperature == 0.0 and request.chat and request.system == J.JUDGE_SYSTEM
    prompt = request.prompt
    for part in ("[TASK]\nSummarize: my head hurts", "[REFERENCE ANSWER]\nWhat causes headaches?",
                 "[ASSISTANT ANSWER]\nWhy does my head hurt?", "from 1 to 10", "Score: N"):
        assert part in prompt
    assert prompt.rstrip().endswith("Score: N")
    with pytest.raises(ValueError, match="explicit judge"):
        J.judge_answers(None, [("1", "t", "r", "a")])


class ScriptedJudge:
    """A judge backend that answers from a script and records each batch."""

    info = {"spec": "scripted:judge"}

    def __init__(self, replies):
        self.replies = list(replies)
        self.batches = []

    def generate(self, requests, progress=None):
        self.batches.append(list(requests))
        out = []
        for request, reply in zip(requests, self.replies):
            if isinstance(reply, Exception):
                out.append(Prediction(id=request.id, text="", finish_reason="error", error=str(reply)))
            else:
                out.append(Prediction(id=request.id, text=reply))
        return out


@pytest.fixture(scope="module")
def meqsum(data_dir):
    spec = TaskCatalog(load_plugins(entry_points=False, env={}).hooks).specs["meqsum"]
    kind = SummarizationKind()
    return spec, kind, kind.load(spec, data_dir, spec.split)[:4]


def _outputs(examples, texts):
    return [[Prediction(id=str(e.id), text=t)] for e, t in zip(examples, texts)]


def _sums(scores):
    sums = {}
    for s in scores:
        for k, v in s.values.items():
            sums[k] = sums.get(k, 0) + v
    return sums


def test_judge_scores_in_one_batch_counts_unparsed_and_fails_what_it_could_not_judge(meqsum):
    spec, kind, examples = meqsum
    judge = ScriptedJudge(["Accurate.\nScore: 8", "Misses the drug.\nScore: 4", "Good, I'd say 9/10",
                           RuntimeError("HTTP 503: overloaded (after 7 attempts)")])
    texts = [examples[0].reference, "What is it?", examples[2].reference, "x"]
    scores = kind.score(spec, examples, _outputs(examples, texts), judge)
    assert len(judge.batches) == 1 and len(judge.batches[0]) == 4
    first = judge.batches[0][0]
    assert kind.render(spec, examples[0]) in first.prompt and examples[0].reference in first.prompt
    assert first.temperature == 0.0
    # the judge answered without a score: unparsed; the judge's request failed: an error, no judge values
    assert [s.error for s in scores] == [None, None, None, "judge: HTTP 503: overloaded (after 7 attempts)"]
    scored = scores[:3]
    assert [s.values["judge_score"] for s in scored] == [8, 4, 0]
    assert [s.values["judge_scored"] for s in scored] == [1, 1, 0]
    assert [s.values["judge_unparsed"] for s in scored] == [0, 0, 1]
    assert [s.meta["judge_score"] for s in scored] == [8, 4, None]
    assert scores[2].meta["judge_reply"] == "Good, I'd say 9/10" and scores[2].meta["judge_model"] == "scripted:judge"
    assert not any(key.startswith("judge") for key in scores[3].values)
    metrics = kind.metrics(spec, _sums(scored), len(scored))
    assert list(metrics)[:5] == ["rougeL", "rouge1", "rouge2", "judge_score", "judge_unparsed"]
    assert metrics["judge_score"] == pytest.approx(6.0)  # mean over the two parsed ratings
    assert metrics["judge_unparsed"] == 1
    assert metrics["rouge1"] == pytest.approx(sum(s.values["rouge1"] for s in scored) / 3)


def closed_port():
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_judge_that_cannot_be_reached_leaves_the_task_incomplete(tiny_llama_dir, data_dir, tmp_path, monkeypatch,
                                                                  capsys):
    """A real openai judge on a port where nothing listens: every judge request is refused.
    That is a failed request, not an unparsed reply: nothing is scored, exit 1 with the count
    and the reason, and the same command asks the judge again (still refused here: the same)."""
    import json

    from bioharness.cli import main

    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "runs"
    args = ["eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "meqsum", "--limit", "2", "--data-dir", str(data_dir),
            "--out", str(out), "--bootstrap", "100", "--judge", "openai:judge-model"]
    folder = out / "eval" / f"hf__{tiny_llama_dir.name}" / "meqsum"
    for attempt in range(2):
        assert main(args) == 1
        captured = capsys.readouterr()
        last = captured.err.strip().splitlines()[-1]
        assert last.startswith("Error: 1 task(s) incomplete (meqsum 2 failed); first error: judge: connection error: "
                               "ConnectionRefusedError: "), last
        assert last.endswith("(after 2 attempts). Nothing failed was scored; run the same command again to retry "
                             "those samples"), last
        assert "Traceback" not in captured.err
        assert "incomplete (2 errors)" in captured.out  # the eval's own table
        assert not (folder / "metrics.json").exists()
        assert not (folder / "samples.jsonl").exists() or not (folder / "samples.jsonl").read_text().strip()
        result = json.loads((folder / "stage.json").read_text())["result"]
        assert (result["errors"], result["unparsed"], result["complete"]) == (2, 0, False)


def test_no_judge_no_judge_values(meqsum):
    spec, kind, examples = meqsum
    scores = kind.score(spec, examples, _outputs(examples, ["a question?"] * 4), None)
    assert all(set(s.values) == {"rouge1", "rouge2", "rougeL"} for s in scores)
    metrics = kind.metrics(spec, _sums(scores), 4)
    assert set(metrics) == {"rouge1", "rouge2", "rougeL"}


def test_a_real_backend_as_judge_records_its_unparseable_reply(meqsum, tiny_llama, tokenizer):
    import dataclasses

    import torch

    from bioharness.plugins.hf.backend import HFBackend

    spec, kind, examples = meqsum
    spec = dataclasses.replace(spec, options={"judge_max_new_tokens": 12})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only add contention
    try:
        judge = HFBackend(tiny_llama, tokenizer, batch_size=4)
        calls = []
        generate = judge.generate
        judge.generate = lambda requests, progress=None: calls.append(len(requests)) or generate(requests, progress)
        scores = kind.score(spec, examples[:2], _outputs(examples[:2], [e.reference for e in examples[:2]]), judge)
    finally:
        torch.set_num_threads(threads)
    assert calls == [2]
    for score in scores:
        # a random 2-layer model never writes "Score: N": recorded, excluded, counted
        assert score.meta["judge_score"] is None
        assert isinstance(score.meta["judge_reply"], str) and score.meta["judge_reply"]
        assert dict(score.values)["judge_unparsed"] == 1 and dict(score.values)["judge_scored"] == 0
        assert score.values["rouge1"] == 1.0
    metrics = kind.metrics(spec, _sums(scores), 2)
    assert metrics["judge_score"] is None and metrics["judge_unparsed"] == 2


def test_judge_args_reach_the_judge_backend(tiny_llama_dir, data_dir, tmp_path, monkeypatch, capsys):
    """``--judge-args`` are the judge backend's own options. A real HTTP server on loopback
    that answers every request 503: the judge's retries stop at ``max_retry_time=1`` (the
    default budget is 600 s), the task is incomplete with that reason; an option the judge
    backend does not know is one line, exit 2."""
    import http.server
    import threading
    import time

    from bioharness.cli import main

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b'{"error": {"message": "overloaded"}}'
            self.send_response(503)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    args = ["eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "meqsum", "--limit", "2", "--data-dir", str(data_dir),
            "--out", str(tmp_path / "runs"), "--bootstrap", "100", "--judge", "openai:judge-model"]
    try:
        began = time.monotonic()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        assert main([*args, "--judge-args", f"base_url={url},max_retry_time=1,backoff_base=0.2"]) == 1
        took = time.monotonic() - began
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("Error: 1 task(s) incomplete (meqsum 2 failed); first error: judge: HTTP 503"), last
        assert "retry time budget of 1s spent" in last, last
        assert took < 60, took
    finally:
        server.shutdown()
    assert main([*args, "--judge-args", "bogus=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith("Error: --judge openai:judge-model: openai backend: unknown option(s) bogus")
    assert "Traceback" not in err, err
    assert main([*args, "--judge-args", "nokeyvalue"]) == 2
    assert "--judge-args: 'nokeyvalue' is not key=value" in capsys.readouterr().err
