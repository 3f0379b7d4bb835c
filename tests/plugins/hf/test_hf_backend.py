"""The hf backend on a tiny random Llama (fast) and on the real embedded model."""
import json

import pytest
import torch

from bioharness.modelspec import parse_model_spec
from bioharness.plugins.hf.backend import HFBackend
from bioharness.records import LoglikelihoodRequest, Request

PROMPTS = [
    "Name a drug that inhibits COX-2.",
    "What is the mechanism of action of metformin in type 2 diabetes mellitus?",
    "Hi",
    "Summarise: the patient reports chest pain radiating to the left arm for two hours.",
    "List three symptoms of hypothyroidism.",
    "Is aspirin an anticoagulant?",
    "Define tachycardia.",
]


@pytest.fixture(scope="module")
def backend(tiny_llama, tokenizer):
    return HFBackend(tiny_llama, tokenizer, batch_size=3)


def requests(**kw):
    return [Request(id=f"q{i}", prompt=p, max_new_tokens=kw.get("max_new_tokens", 10), **{k: v for k, v in kw.items() if k != "max_new_tokens"})
            for i, p in enumerate(PROMPTS)]


def reference_greedy(model, tokenizer, backend, request):
    """Unbatched, unpadded greedy decoding written out by hand."""
    text = backend.render(request)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = []
    with torch.no_grad():
        for _ in range(request.max_new_tokens):
            nxt = int(model(input_ids=ids).logits[0, -1].argmax())
            if nxt == tokenizer.eos_token_id:
                break
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return tokenizer.decode(out, skip_special_tokens=True)


def test_results_in_input_order_and_batch_invariant(backend, tiny_llama, tokenizer):
    reqs = requests()
    batched = backend.generate(reqs)
    assert [p.id for p in batched] == [r.id for r in reqs]
    single = HFBackend(tiny_llama, tokenizer, batch_size=1).generate(reqs)
    assert [p.text for p in batched] == [p.text for p in single]


def test_left_padding_matches_unpadded_reference(backend, tiny_llama, tokenizer):
    reqs = requests(max_new_tokens=6)
    preds = backend.generate(reqs)
    for req, pred in zip(reqs, preds):
        assert pred.text == reference_greedy(tiny_llama, tokenizer, backend, req), req.prompt
        assert pred.finish_reason in ("length", "stop")
        if pred.finish_reason == "length":
            assert pred.completion_tokens == 6


def test_progress_counts_every_request(backend):
    seen = []
    backend.generate(requests(max_new_tokens=2), progress=seen.append)
    assert sum(seen) == len(PROMPTS) and len(seen) == 3  # batches of 3, 3, 1


def test_stop_strings_cut_output(backend):
    reqs = requests(max_new_tokens=16)
    free = backend.generate(reqs)
    # Use a piece from the middle of each free-running output as its stop string.
    stopped_reqs, expected = [], []
    for req, pred in zip(reqs, free):
        if len(pred.text) < 12:
            continue
        stop = pred.text[len(pred.text) // 2 : len(pred.text) // 2 + 3]
        stopped_reqs.append(Request(id=req.id, prompt=req.prompt, max_new_tokens=16, stop=(stop,)))
        expected.append(pred.text[: pred.text.find(stop)])
    assert len(stopped_reqs) >= 3
    stopped = backend.generate(stopped_reqs)
    for pred, want in zip(stopped, expected):
        assert pred.text == want
        assert pred.finish_reason == "stop"
    assert sum(p.completion_tokens for p in stopped) < sum(
        p.completion_tokens for p in free if p.id in {r.id for r in stopped_reqs})  # stopped early


def test_sampling_is_seeded(backend):
    reqs = requests(max_new_tokens=8, temperature=1.0, seed=11)
    a, b = backend.generate(reqs), backend.generate(reqs)
    assert [p.text for p in a] == [p.text for p in b]
    greedy = backend.generate(requests(max_new_tokens=8))
    assert [p.text for p in a] != [p.text for p in greedy]


def test_raw_prompt_without_chat_template(backend, tokenizer):
    req = Request(id="raw", prompt="The patient", chat=False)
    assert backend.render(req) == "The patient"
    chat = Request(id="chat", prompt="The patient")
    assert backend.render(chat).startswith("<|im_start|>") and "The patient" in backend.render(chat)


LL_PAIRS = [
    ("Question: Which organ secretes insulin?\nAnswer:", " pancreas"),
    ("Question: Which organ secretes insulin?\nAnswer:", " liver"),
    ("Question: Which organ secretes insulin?\nAnswer:", " the adrenal gland"),
    ("Is aspirin an NSAID? Answer: ", "yes"),
    ("Is aspirin an NSAID? Answer: ", "no"),
    ("", "Hello world"),
    ("A short one", " B"),
    ("Question: Which organ secretes insulin?\nAnswer:", " pancreas"),  # exact repeat
]


def reference_loglikelihood(model, tokenizer, context, continuation):
    """Whole sequence, one at a time, no cache, no padding."""
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    if context:
        whole = tokenizer(context + continuation)["input_ids"]
        ctx = tokenizer(context)["input_ids"]
        cont = whole[len(ctx):]
    else:
        ctx, cont = [tokenizer.bos_token_id], tokenizer(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return sum(float(logp[len(ctx) - 1 + i, t]) for i, t in enumerate(cont)), len(cont)


@pytest.mark.parametrize("share_context", [True, False])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_loglikelihood_matches_unbatched_reference(tiny_llama, tokenizer, share_context, batch_size):
    backend = HFBackend(tiny_llama, tokenizer, batch_size=batch_size, share_context=share_context)
    reqs = [LoglikelihoodRequest(id=f"l{i}", context=c, continuation=x) for i, (c, x) in enumerate(LL_PAIRS)]
    results = backend.loglikelihood(reqs)
    assert [r.id for r in results] == [r.id for r in reqs]
    for (context, continuation), result in zip(LL_PAIRS, results):
        want, n = reference_loglikelihood(tiny_llama, tokenizer, context, continuation)
        assert result.logprob == pytest.approx(want, abs=1e-4)
        assert result.num_tokens == n
    assert results[0].logprob == results[-1].logprob


def test_shared_context_runs_each_context_once(tiny_llama, tokenizer, monkeypatch):
    # the reference path; test_hf_fast.py counts the fast path's passes
    backend = HFBackend(tiny_llama, tokenizer, batch_size=8, fast=False)
    seen_rows = []
    original = tiny_llama.forward

    def counting_forward(*args, **kwargs):
        seen_rows.append(kwargs["input_ids"].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(tiny_llama, "forward", counting_forward)
    reqs = [LoglikelihoodRequest(id=f"l{i}", context=c, continuation=x) for i, (c, x) in enumerate(LL_PAIRS)]
    backend.loglikelihood(reqs)
    # one pass over the 4 distinct contexts, one over the 8 continuations
    assert [shape[0] for shape in seen_rows] == [4, 8]


def make_adapter(model_dir, out_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    # init_lora_weights=False: B is random too, so the adapter changes the function
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"],
                                                 init_lora_weights=False))
    peft_model.save_pretrained(out_dir)
    return out_dir


def test_lora_adapter_changes_output(tiny_llama_dir, tmp_path):
    adapter = make_adapter(tiny_llama_dir, tmp_path / "adapter")
    base = HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}"), dtype="float32")
    tuned = HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}+{adapter}"), dtype="float32")
    assert tuned.info["adapter"] == str(adapter)
    reqs = requests(max_new_tokens=8)
    base_out = [p.text for p in base.generate(reqs)]
    tuned_out = [p.text for p in tuned.generate(reqs)]
    assert sum(a != b for a, b in zip(base_out, tuned_out)) >= len(reqs) - 1
    ll = [LoglikelihoodRequest(id="x", context="Answer:", continuation=" yes")]
    assert base.loglikelihood(ll)[0].logprob != pytest.approx(tuned.loglikelihood(ll)[0].logprob, abs=1e-3)


def test_bad_adapter_and_options_are_usage_errors(tiny_llama_dir, tmp_path):
    from bioharness.errors import UsageError

    with pytest.raises(UsageError, match="no adapter_config.json"):
        HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}+{tmp_path}"))
    with pytest.raises(UsageError, match="unknown option\\(s\\) temprature"):
        HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}"), temprature=1)
    with pytest.raises(UsageError, match="model '.*nothing': no such directory"):
        HFBackend.from_spec(parse_model_spec(f"hf:{tmp_path / 'nothing'}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="could not load model"):
        HFBackend.from_spec(parse_model_spec(f"hf:{tmp_path / 'empty'}"))
    with pytest.raises(UsageError, match="dtype 'float8'"):
        HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}"), dtype="float8")


@pytest.mark.embedded
def test_embedded_model_answers(embedded_dir):
    backend = HFBackend.from_spec(parse_model_spec("embedded"), batch_size=2)
    assert backend.info["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    preds = backend.generate([
        Request(id="a", prompt="What is the capital of France?", max_new_tokens=24),
        Request(id="b", prompt="Which organ produces insulin? Answer in one word.", max_new_tokens=24),
    ])
    assert "Paris" in preds[0].text
    assert "pancreas" in preds[1].text.lower()
    assert all(p.finish_reason == "stop" for p in preds)  # ended on <|im_end|>, not the length cap
    ll = backend.loglikelihood([
        LoglikelihoodRequest(id="1", context="The capital of France is", continuation=" Paris"),
        LoglikelihoodRequest(id="2", context="The capital of France is", continuation=" Berlin"),
    ])
    assert ll[0].logprob > ll[1].logprob + 2


@pytest.mark.embedded
def test_embedded_second_load_uses_cache(embedded_dir, monkeypatch):
    """After the first conversion the GGUF is never read again."""
    from bioharness.plugins.hf import embedded
    from bioharness.cli import main

    def no_conversion(*a, **k):
        raise AssertionError("the embedded model was converted again")

    monkeypatch.setattr(embedded, "_convert", no_conversion)
    backend = HFBackend.from_spec(parse_model_spec("embedded"))
    assert backend.model.config.num_hidden_layers == 30
    assert embedded.ensure_model_dir() == embedded_dir


def test_models_command_shows_embedded_cache(embedded_dir, capsys):
    from bioharness.cli import main

    assert main(["models", "--json", "embedded"]) == 0
    out = json.loads(capsys.readouterr().out)
    (row,) = out["models"]
    assert row["resolves_to"] == str(embedded_dir)
    assert row["status"] == "converted (cached safetensors)"
