"""The hf backend's fast paths against its reference path (``fast=False``): same choices,
log-likelihoods within 1e-4 and the same greedy text, on the tiny Llama and on real
MedQA/PubMedQA samples with the embedded model."""
import dataclasses
import os

import pytest
import torch

from bioharness.modelspec import parse_model_spec
from bioharness.plugins.hf.backend import HFBackend, auto_threads, set_cpu_threads
from bioharness.records import LoglikelihoodRequest, Request

MIXED = [  # one-token and multi-token continuations, shared and lone contexts, a repeat
    ("Question: Which organ secretes insulin?\nAnswer:", " pancreas"),
    ("Question: Which organ secretes insulin?\nAnswer:", " liver"),
    ("Question: Which organ secretes insulin?\nAnswer:", " the adrenal gland"),
    ("Is aspirin an NSAID? Answer: ", "yes"),
    ("Is aspirin an NSAID? Answer: ", "no"),
    ("Is aspirin an NSAID? Answer: ", "maybe"),
    ("", "Hello world"),
    ("A short one", " B"),
    ("A much longer context about the kidney, the nephron and the loop of Henle. Answer:", " A"),
    ("A much longer context about the kidney, the nephron and the loop of Henle. Answer:", " B"),
    ("Question: Which organ secretes insulin?\nAnswer:", " pancreas"),
]


def ll_requests(pairs):
    return [LoglikelihoodRequest(id=f"l{i}", context=c, continuation=x) for i, (c, x) in enumerate(pairs)]


def assert_same_scores(fast, reference):
    assert [r.id for r in fast] == [r.id for r in reference]
    for f, r in zip(fast, reference):
        assert f.logprob == pytest.approx(r.logprob, abs=1e-4), f.id
        assert f.num_tokens == r.num_tokens
        assert f.is_greedy == r.is_greedy, f.id


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_fast_loglikelihood_matches_reference_path(tiny_llama, tokenizer, batch_size):
    reqs = ll_requests(MIXED)
    reference = HFBackend(tiny_llama, tokenizer, batch_size=batch_size, fast=False).loglikelihood(reqs)
    fast = HFBackend(tiny_llama, tokenizer, batch_size=batch_size).loglikelihood(reqs)
    assert_same_scores(fast, reference)


def test_one_token_continuations_take_a_single_pass_with_last_logits_only(tiny_llama, tokenizer, monkeypatch):
    calls = []
    original = tiny_llama.forward

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append((kwargs["input_ids"].shape, out.logits.shape))
        return out

    monkeypatch.setattr(tiny_llama, "forward", spy)
    pairs = [(c, x) for c, x in MIXED if c and len(tokenizer(c + x)["input_ids"]) - len(tokenizer(c)["input_ids"]) == 1]
    contexts = {c for c, _ in pairs}
    assert len(pairs) >= 6 and len(contexts) >= 3
    HFBackend(tiny_llama, tokenizer, batch_size=8).loglikelihood(ll_requests(pairs))
    rows = sum(shape[0] for shape, _ in calls)
    assert rows == len(contexts)  # each context once, no continuation pass
    assert all(logits[1] == 1 for _, logits in calls)  # vocabulary logits at one position


def test_token_budget_cuts_batches(tiny_llama, tokenizer):
    backend = HFBackend(tiny_llama, tokenizer, batch_size=8, batch_tokens=100)
    assert [list(b) for b in backend._token_budget_batches([50, 50, 49, 30, 29, 28, 27, 5])] == [
        [0, 1], [2], [3, 4, 5], [6], [7]]
    # batch_size caps the rows; on CPU a batch stops where padding passes 10% of its tokens
    assert [len(b) for b in HFBackend(tiny_llama, tokenizer, batch_size=2)._token_budget_batches([9] * 5)] == [2, 2, 1]
    assert [len(b) for b in HFBackend(tiny_llama, tokenizer, batch_size=8)._token_budget_batches([100, 95, 70])] == [2, 1]


def test_reference_path_is_selectable_and_options_are_checked(tiny_llama_dir):
    from bioharness.errors import UsageError

    spec = parse_model_spec(f"hf:{tiny_llama_dir}")
    assert HFBackend.from_spec(spec, fast="false", threads=1).info["fast"] is False
    with pytest.raises(UsageError, match="fast must be true or false"):
        HFBackend.from_spec(spec, fast="quick")
    with pytest.raises(UsageError, match="threads must be >= 1"):
        HFBackend.from_spec(spec, threads=0)


def test_threads_default_respects_the_user_and_says_what_it_chose(monkeypatch, capsys):
    from bioharness.plugins.hf import backend

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert set_cpu_threads() == "OMP_NUM_THREADS"
        assert capsys.readouterr().err == ""
        assert set_cpu_threads(1) == "option" and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        cpus = len(os.sched_getaffinity(0))
        # the machine's CPUs over the sample: (busy, total) jiffies before and after
        samples = iter([(0, 0), (500 * cpus, 1000 * cpus)])
        monkeypatch.setattr(backend, "_cpu_times", lambda which: next(samples))
        n, why = auto_threads()
        assert n == max(1, int(cpus / 2 + 0.5)) and f"{cpus / 2:.1f} busy with other processes" in why
        samples = iter([(0, 0), (20, 1000 * cpus)])  # an idle machine: every CPU
        why = set_cpu_threads()
        assert torch.get_num_threads() == cpus and why.startswith("auto")
        err = capsys.readouterr().err
        assert err.startswith(f"hf backend: {cpus} CPU thread") and err.count("\n") == 1
        # what this process ran during the sample is its own work, not another process's
        samples = iter([(0, 0), (1000 * cpus, 1000 * cpus)])
        times = iter([os.times_result((0, 0, 0, 0, 0)), os.times_result((0.25 * cpus, 0, 0, 0, 0))])
        monkeypatch.setattr(backend.os, "times", lambda: next(times))
        assert auto_threads()[0] == cpus
    finally:
        torch.set_num_threads(before)


def test_threads_default_leaves_cores_busy_with_other_processes_alone():
    """Real processes spinning on every CPU: one thread (no /proc/stat mock)."""
    import subprocess
    import sys

    cpus = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpus)]
    try:
        import time

        time.sleep(0.5)
        n, why = auto_threads()
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    busy = float(why.split(", ")[1].split()[0])
    assert n == 1 and busy >= cpus - 0.5, why


def test_fast_generation_matches_reference_path(tiny_llama, tokenizer):
    prompts = ["Name a drug that inhibits COX-2.", "Hi", "Summarise: the patient reports chest pain radiating to "
               "the left arm for two hours.", "Define tachycardia.", "Is aspirin an anticoagulant?"]
    reqs = [Request(id=f"g{i}", prompt=p, max_new_tokens=12, stop=(".",) if i % 2 else ()) for i, p in enumerate(prompts)]
    reference = HFBackend(tiny_llama, tokenizer, batch_size=3, fast=False).generate(reqs)
    fast = HFBackend(tiny_llama, tokenizer, batch_size=3).generate(reqs)
    assert [(p.id, p.text, p.finish_reason, p.completion_tokens) for p in fast] == [
        (p.id, p.text, p.finish_reason, p.completion_tokens) for p in reference]


@pytest.fixture(scope="module")
def embedded_backends(embedded_dir):
    spec = parse_model_spec("embedded")
    return (HFBackend.from_spec(spec, dtype="float32", batch_size=8, threads=1),
            HFBackend.from_spec(spec, dtype="float32", batch_size=8, threads=1, fast=False))


def task_requests(task, data_dir, n):
    from bioharness.manager import load_plugins
    from bioharness.taskspec import TaskCatalog

    catalog = TaskCatalog(load_plugins(entry_points=False, env={}).hooks)
    (spec,) = catalog.select(task)
    kind = catalog.kind(spec.kind)
    examples = kind.load(spec, data_dir, spec.split)[:n]
    return [r for e in examples for r in kind.requests(spec, e, [])]


@pytest.mark.embedded
@pytest.mark.parametrize("task, n", [("medqa", 12), ("pubmedqa", 8)])
def test_fast_path_matches_reference_on_real_samples(embedded_backends, data_dir, task, n):
    fast, reference = embedded_backends
    reqs = task_requests(task, data_dir, n)
    assert len(reqs) >= 3 * n
    got, want = fast.loglikelihood(reqs), reference.loglikelihood(reqs)
    assert_same_scores(got, want)
    per = len(reqs) // n

    def choices(results):
        return [max(range(per), key=lambda k: results[q * per + k].logprob) for q in range(n)]

    assert choices(got) == choices(want)


@pytest.mark.embedded
def test_fast_greedy_generation_matches_reference_on_meqsum(embedded_backends, data_dir):
    fast, reference = embedded_backends
    reqs = [dataclasses.replace(r, max_new_tokens=24, stop=("\n\n",), chat=False)
            for r in task_requests("meqsum", data_dir, 6)]
    reqs += [dataclasses.replace(r, id=r.id + "-chat", max_new_tokens=24, chat=True) for r in reqs[:3]]
    got, want = fast.generate(reqs), reference.generate(reqs)
    assert [(p.text, p.finish_reason, p.completion_tokens) for p in got] == [
        (p.text, p.finish_reason, p.completion_tokens) for p in want]
    assert len({p.completion_tokens for p in got}) > 1  # rows ended at different steps
