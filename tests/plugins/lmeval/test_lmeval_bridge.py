"""``--tasks lm_eval:<task>``: lm-eval's own tasks through lm-eval's evaluator on our backends."""
import json
import os
import subprocess
import sys

import pytest

from bioharness.plugins.evaluation.compare import compare
from bioharness.manager import load_plugins
from bioharness.models import load_backend
from bioharness.taskspec import TaskCatalog
from bioharness.plugins.lmeval.bridge import run_lmeval

N = 5


@pytest.fixture(scope="module")
def tiny_adapter_dir(tiny_llama_dir, tmp_path_factory):
    """A rank-8 adapter with random, non-zero weights on the tiny Llama (as tests/vllm_fixtures.py
    makes one for the embedded model)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1234)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                        lora_dropout=0.0, init_lora_weights=False, task_type="CAUSAL_LM")
    path = tmp_path_factory.mktemp("tiny-adapter")
    get_peft_model(model, config).save_pretrained(path)
    return path


def _logprobs(out, model_slug_glob="*"):
    [path] = list((out / "eval").glob(f"{model_slug_glob}/lm_eval__medqa_4options/samples.jsonl"))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [[o["logprob"] for o in r["output"]] for r in rows], rows


def test_bridge_applies_the_adapter_and_matches_our_own_task(tiny_llama_dir, tiny_adapter_dir, data_dir, tmp_path):
    base_spec, tuned_spec = f"hf:{tiny_llama_dir}", f"hf:{tiny_llama_dir}+{tiny_adapter_dir}"
    options = {"dtype": "float32", "device": "cpu"}
    [base] = run_lmeval(["medqa_4options"], base_spec, out=tmp_path, data_dir=data_dir, limit=N, backend_options=options)
    [tuned] = run_lmeval(["medqa_4options"], tuned_spec, out=tmp_path, data_dir=data_dir, limit=N,
                         backend_options=options)
    assert base["setting"]["scored_by"] == "lm-eval 0.4.13" and base["n"] == tuned["n"] == N
    slug_base = base_spec.replace("hf:", "").rstrip("/").split("/")[-1]
    base_lp, base_rows = _logprobs(tmp_path, f"hf__{slug_base}")
    tuned_lp, _ = _logprobs(tmp_path, f"hf__{slug_base}__*")
    # the adapter is really applied: every option's log-likelihood moves
    assert all(abs(a - b) > 1e-3 for row_a, row_b in zip(base_lp, tuned_lp) for a, b in zip(row_a, row_b))
    # without the adapter, the bridge's numbers are our own openmedllm_medqa task's (same prompt, same backend)
    catalog = TaskCatalog(load_plugins().hooks)
    spec, kind = catalog.specs["openmedllm_medqa"], catalog.kind("mcqa")
    examples = kind.load(spec, data_dir, "test")[:N]
    backend = load_backend(load_plugins().hooks, base_spec, **options)
    try:
        ours = backend.loglikelihood([r for e in examples for r in kind.requests(spec, e, [])])
    finally:
        backend.close()
    flat = [x for row in base_lp for x in row]
    assert max(abs(o.logprob - x) for o, x in zip(ours, flat)) < 1e-4
    assert [r["reference"] for r in base_rows] == ["ABCD".index(e.reference) for e in examples]
    # compare reads the bridge's results beside each other, marked with lm-eval's setting
    board = compare(tmp_path, catalog, resamples=100)
    entry = board["tasks"]["lm_eval:medqa_4options"]
    assert set(entry["scores"]) == {base["model"], tuned["model"]}
    assert entry["scores"][base["model"]]["setting"]["scored_by"] == "lm-eval 0.4.13"
    # a finished task is not run again
    again = run_lmeval(["medqa_4options"], base_spec, out=tmp_path, data_dir=data_dir, limit=N, backend_options=options)
    assert again[0]["written"] == base["written"]


def test_a_task_that_needs_the_hub_says_so_in_one_line(tmp_path):
    env_cmd = [sys.executable, "-m", "bioharness.cli", "eval", "--model", "hf:/nonexistent",
               "--tasks", "lm_eval:hellaswag", "--out", str(tmp_path)]
    proc = subprocess.run(env_cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error")]
    assert lines == [lines[0]] and "lm_eval:hellaswag needs the Hugging Face hub" in lines[0]
    assert "Traceback" not in proc.stderr


def test_a_failed_request_inside_lm_eval_is_incomplete_not_bad_input(tmp_path, data_dir):
    """lm-eval keeps no partial results: a backend request that fails (a real openai backend
    on a port where nothing listens) ends the task with exit 1 (incomplete: run it again), not
    exit 2 (bad input), one line, nothing written as if it were scored."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "OPENAI_API_KEY": "sk-test-not-a-secret"}
    cmd = [sys.executable, "-m", "bioharness.cli", "eval", "--model", "openai:ghost", "--tasks", "lm_eval:medqa_4options",
           "--limit", "2", "--data-dir", str(data_dir), "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and lines[0].startswith("Error: lm_eval bridge: the backend failed a log-likelihood "
                                                   "request (connection error"), lines
    assert lines[0].endswith("nothing was written, run the same command again")
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("metrics.json"))
