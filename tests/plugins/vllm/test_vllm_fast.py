"""The vllm backend's fast log-likelihood path against its reference path (``fast=False``,
prompt log-probs of every whole sequence), on the shared engine: same choices and
log-likelihoods within 1e-4, on hand-made pairs and on real MedQA/PubMedQA samples."""
import pytest

from bioharness.plugins.vllm.backend import VLLMBackend
from bioharness.records import LoglikelihoodRequest

PAIRS = [
    ("Question: Which organ secretes insulin?\nAnswer:", " pancreas"),
    ("Question: Which organ secretes insulin?\nAnswer:", " the adrenal gland"),  # several tokens
    ("Is aspirin an NSAID? Answer: ", "yes"),
    ("Is aspirin an NSAID? Answer: ", "no"),
    ("Is aspirin an NSAID? Answer: ", "maybe"),
    ("", "Hello world"),
    ("The capital of France is", " Paris"),
    ("The capital of France is", " Paris"),  # a repeat
]


def task_requests(task, data_dir, n):
    from bioharness.manager import load_plugins
    from bioharness.taskspec import TaskCatalog

    catalog = TaskCatalog(load_plugins(entry_points=False, env={}).hooks)
    (spec,) = catalog.select(task)
    kind = catalog.kind(spec.kind)
    return [r for e in kind.load(spec, data_dir, spec.split)[:n] for r in kind.requests(spec, e, [])]


def reference(backend):
    # The same engine, the reference path; never closed here (the fixture owns the engine).
    return VLLMBackend(backend.engine, backend.tokenizer, fast=False)


def assert_same(fast, ref):
    assert [r.id for r in fast] == [r.id for r in ref]
    for a, b in zip(fast, ref):
        assert a.num_tokens == b.num_tokens
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4), a.id
        assert a.is_greedy == b.is_greedy, a.id


def test_fast_path_matches_reference_and_runs_each_one_token_context_once(vllm_backend, monkeypatch):
    reqs = [LoglikelihoodRequest(id=f"p{i}", context=c, continuation=x) for i, (c, x) in enumerate(PAIRS)]
    want = reference(vllm_backend).loglikelihood(reqs)
    sent = []
    run = vllm_backend.engine.run
    monkeypatch.setattr(vllm_backend.engine, "run", lambda prompts, *a, **k: sent.append(len(prompts)) or run(prompts, *a, **k))
    seen = []
    got = vllm_backend.loglikelihood(reqs, progress=seen.append)
    assert_same(got, want)
    assert sum(seen) == len(reqs)
    # "Is aspirin..." and "The capital..." take one request each; the other three are whole sequences
    assert sent == [2, 3]


@pytest.mark.embedded
@pytest.mark.parametrize("task, n", [("medqa", 12), ("pubmedqa", 8)])
def test_fast_path_matches_reference_on_real_samples(vllm_backend, data_dir, task, n):
    reqs = task_requests(task, data_dir, n)
    assert_same(vllm_backend.loglikelihood(reqs), reference(vllm_backend).loglikelihood(reqs))
