"""``bioharness_sdpa``: masked grouped-query attention on CPU without repeating the KV heads,
giving the same numbers as transformers' ``sdpa``."""
import pytest
import torch
import transformers.integrations.sdpa_attention as sdpa_module

from bioharness.plugins.hf.attention import NAME, use_cpu_gqa
from bioharness.plugins.hf.backend import HFBackend
from bioharness.records import LoglikelihoodRequest, Request
from tinymodels import build_tiny_llama

PROMPTS = [
    "A 54-year-old man presents with crushing chest pain radiating to the jaw for forty minutes. What is the next step?",
    "Define ketoacidosis.",
    "List the first-line drugs for community-acquired pneumonia in adults without comorbidities.",
    "Hi",
]


def twin_models(tokenizer, **overrides):
    """Two copies of one random model: transformers' sdpa and the switched one."""
    stock = build_tiny_llama(tokenizer, seed=3, **overrides)
    ours = build_tiny_llama(tokenizer, seed=3, **overrides)
    return stock, ours


def padded_batch(tokenizer, prompts):
    return tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")


def count_repeats(monkeypatch):
    calls = []
    real = sdpa_module.repeat_kv

    def spy(hidden, n_rep):
        calls.append(n_rep)
        return real(hidden, n_rep)

    monkeypatch.setattr(sdpa_module, "repeat_kv", spy)
    return calls


def test_same_logits_and_no_kv_copy_on_a_padded_batch(tokenizer, monkeypatch):
    stock, ours = twin_models(tokenizer)
    assert use_cpu_gqa(ours) and ours.config._attn_implementation == NAME
    batch = padded_batch(tokenizer, PROMPTS)
    assert (batch["attention_mask"] == 0).any()  # really padded
    calls = count_repeats(monkeypatch)
    with torch.no_grad():
        want = stock(**batch).logits
        assert calls, "transformers' sdpa was expected to repeat the KV heads under a mask"
        calls.clear()
        got = ours(**batch).logits
    assert not calls
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(got[mask], want[mask], atol=1e-5, rtol=1e-5)


def test_same_greedy_generation_with_a_growing_cache(tokenizer):
    stock, ours = twin_models(tokenizer)
    use_cpu_gqa(ours)
    batch = padded_batch(tokenizer, PROMPTS)
    kwargs = dict(max_new_tokens=24, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.equal(ours.generate(**batch, **kwargs), stock.generate(**batch, **kwargs))


def test_backend_uses_it_and_scores_like_stock_sdpa(tokenizer):
    stock, ours = twin_models(tokenizer)
    reqs = [LoglikelihoodRequest(id=f"l{i}", context=p, continuation=" Aspirin.") for i, p in enumerate(PROMPTS)]
    gen = [Request(id=f"g{i}", prompt=p, max_new_tokens=12) for i, p in enumerate(PROMPTS)]
    fast = HFBackend(ours, tokenizer, batch_size=4)
    assert fast.info["attention"] == NAME
    # the reference: the same weights on transformers' own sdpa (switched back after the backend)
    slow = HFBackend(stock, tokenizer, batch_size=4)
    stock.set_attn_implementation("sdpa")
    slow.info["attention"] = "sdpa"
    for a, b in zip(fast.loglikelihood(reqs), slow.loglikelihood(reqs)):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-4) and a.is_greedy == b.is_greedy
    assert [p.text for p in fast.generate(gen)] == [p.text for p in slow.generate(gen)]


@pytest.mark.parametrize("overrides, implementation", [
    (dict(num_key_value_heads=4), "sdpa"),  # no grouping: nothing to gain
    ({}, "eager"),  # the user asked for another implementation
])
def test_left_alone_where_it_does_not_apply(tokenizer, overrides, implementation):
    model = build_tiny_llama(tokenizer, **overrides)
    model.set_attn_implementation(implementation)
    assert not use_cpu_gqa(model)
    assert model.config._attn_implementation == implementation


def test_real_embedded_model_same_greedy_text(embedded_dir, tokenizer):
    from transformers import AutoModelForCausalLM

    stock = AutoModelForCausalLM.from_pretrained(embedded_dir, dtype=torch.float32).eval()
    ours = AutoModelForCausalLM.from_pretrained(embedded_dir, dtype=torch.float32).eval()
    assert use_cpu_gqa(ours)  # SmolLM2-135M: 9 query heads, 3 key/value heads
    batch = padded_batch(tokenizer, PROMPTS)
    kwargs = dict(max_new_tokens=32, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.equal(ours.generate(**batch, **kwargs), stock.generate(**batch, **kwargs))
