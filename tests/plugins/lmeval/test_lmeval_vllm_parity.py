"""Parity on the vllm backend: the embedded model served by our vLLM backend on the
``openmedllm`` tasks vs lm-eval 0.4.13 itself (its own task definitions and its own ``hf``
model, float32, on the same local files): the same prompts, the same option chosen on every
sample, log-likelihoods within 1e-4. 50 MedQA and 50 PubMedQA test questions.
"""
import pytest
from lmeval_parity import agree
from vllm_fixtures import one_torch_thread

from bioharness.manager import load_plugins
from bioharness.taskspec import TaskCatalog
from bioharness.plugins.lmeval.local import local_task_config

pytestmark = pytest.mark.vllm

N = 50
TOL = 1e-4
PAIRS = {"medqa_4options": "openmedllm_medqa", "pubmedqa": "openmedllm_pubmedqa"}


@pytest.mark.parametrize("task", list(PAIRS))
def test_vllm_and_lmeval_choose_the_same_option(task, vllm_backend, embedded_dir, data_dir):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    catalog = TaskCatalog(load_plugins().hooks)
    spec = catalog.specs[PAIRS[task]]
    kind = catalog.kind(spec.kind)
    examples = kind.load(spec, data_dir, spec.split)[:N]
    requests = [kind.requests(spec, e, []) for e in examples]
    flat = vllm_backend.loglikelihood([r for reqs in requests for r in reqs])
    with one_torch_thread():
        manager = TaskManager()
        out = simple_evaluate(model="hf", model_args={"pretrained": str(embedded_dir), "dtype": "float32"},
                              device="cpu", batch_size=8, tasks=[local_task_config(task, manager, data_dir)],
                              task_manager=manager, limit=N, log_samples=True, bootstrap_iters=0)
    theirs = sorted(out["samples"][task], key=lambda s: s["doc_id"])
    worst = agree(examples, requests, flat, theirs)
    print(f"vllm vs lm-eval hf, {task}: {N} samples, same choice on all, max |delta loglik| = {worst:.2e}")
    assert worst < TOL
