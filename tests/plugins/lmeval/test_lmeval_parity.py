"""Parity: bioharness's ``openmedllm`` tasks (hf backend) and lm-eval 0.4.13 itself (its own
task definitions and its own ``hf`` model, reading the same local files) build the same
prompts, choose the same option on every sample and agree on log-likelihoods to 1e-4.

On the tiny random Llama: the first 50 MedQA and 50 PubMedQA test questions, and 20 each
of MedMCQA and MMLU college medicine (whose first question ends in a space that lm-eval's
prompt strips).
"""
import pytest
from lmeval_parity import agree

from bioharness.manager import load_plugins
from bioharness.models import load_backend
from bioharness.taskspec import TaskCatalog
from bioharness.plugins.lmeval.local import local_task_config

TOL = 1e-4
#: lm-eval task -> (bioharness task, samples compared)
PAIRS = {
    "medqa_4options": ("openmedllm_medqa", 50),
    "pubmedqa": ("openmedllm_pubmedqa", 50),
    "medmcqa": ("openmedllm_medmcqa", 20),
    "mmlu_college_medicine": ("openmedllm_mmlu_college_medicine", 20),
}


@pytest.fixture(scope="module")
def lmeval_samples(tiny_llama_dir, data_dir):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    samples = {}
    manager = TaskManager()
    for task, (_, n) in PAIRS.items():
        out = simple_evaluate(model="hf", model_args={"pretrained": str(tiny_llama_dir), "dtype": "float32"},
                              device="cpu", batch_size=8, tasks=[local_task_config(task, manager, data_dir)],
                              task_manager=manager, limit=n, log_samples=True, bootstrap_iters=0)
        samples[task] = sorted(out["samples"][task], key=lambda s: s["doc_id"])
    return samples


@pytest.fixture(scope="module")
def hf_backend(tiny_llama_dir):
    backend = load_backend(load_plugins().hooks, f"hf:{tiny_llama_dir}", dtype="float32", device="cpu")
    yield backend
    backend.close()


@pytest.mark.parametrize("task", list(PAIRS))
def test_same_prompts_same_choice_same_loglikelihoods(task, lmeval_samples, hf_backend, data_dir):
    ours, n = PAIRS[task]
    catalog = TaskCatalog(load_plugins().hooks)
    spec = catalog.specs[ours]
    kind = catalog.kind(spec.kind)
    examples = kind.load(spec, data_dir, spec.split)[:n]
    requests = [kind.requests(spec, e, []) for e in examples]
    flat = hf_backend.loglikelihood([r for reqs in requests for r in reqs])
    worst = agree(examples, requests, flat, lmeval_samples[task])
    print(f"{task}: {n} samples, same choice on all, max |delta loglik| = {worst:.2e}")
    assert worst < TOL
