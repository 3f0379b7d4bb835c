"""The trainer's own attention for packed rows and its target-only loss give the model's numbers."""
import pytest
import torch

from bioharness.plugins.lora.attention import NAME, segment_bounds, use_packed_attention
from bioharness.plugins.lora.collate import POSITION_IDS, PackedCollator, PaddedCollator
from bioharness.plugins.lora.loss import _HeadCrossEntropy, target_cross_entropy, use_target_loss

from test_lora_packing import features


def test_segment_bounds_accepts_only_restarting_ranges():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]])
    assert segment_bounds(pos) == [0, 3, 5, 9]
    assert segment_bounds(torch.arange(5)[None]) == [0, 5]
    assert segment_bounds(torch.tensor([[1, 2, 3]])) is None  # does not start at 0 (a cache offset)
    assert segment_bounds(torch.tensor([[0, 1, 3, 4]])) is None  # a gap
    assert segment_bounds(torch.tensor([[0, 1, 0, 1], [0, 1, 2, 3]])) is None  # several rows
    assert segment_bounds(None) is None


@pytest.mark.parametrize("chunk_rows", [3, 64])
@pytest.mark.parametrize("bias", [False, True])
def test_head_cross_entropy_equals_torch_in_value_and_every_gradient(chunk_rows, bias):
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(10, 6, generator=gen, requires_grad=True)
    weight = torch.randn(50, 6, generator=gen, requires_grad=True)
    b = torch.randn(50, generator=gen, requires_grad=True) if bias else None
    targets = torch.randint(0, 50, (10,), generator=gen)
    ours = _HeadCrossEntropy.apply(hidden, weight, b, targets, chunk_rows)
    ours.mul(0.5).backward()
    got = [t.grad.clone() for t in (hidden, weight, b) if t is not None]
    for t in (hidden, weight, b):
        if t is not None:
            t.grad = None
    logits = hidden @ weight.T + (b if bias else 0)
    want = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    want.mul(0.5).backward()
    torch.testing.assert_close(ours, want)
    for g, t in zip(got, (hidden, weight, b)):
        torch.testing.assert_close(g, t.grad)


def test_target_loss_is_the_models_own_loss_and_gradient(tokenizer, load_tiny, fixed_rows):
    feats = features(tokenizer, fixed_rows[:6])
    batch = PaddedCollator(tokenizer.pad_token_id)(feats)
    reference = load_tiny("sdpa").train()
    ours = load_tiny("sdpa").train()
    assert use_target_loss(ours)
    for count in (None, torch.tensor(97)):  # the mean, and the Trainer's count over accumulated micro-batches
        kw = {} if count is None else {"num_items_in_batch": count}
        want = reference(**batch, **kw).loss
        got = ours(**batch, **kw, target_loss=True)
        assert got.logits is None  # nothing vocabulary-wide was built
        torch.testing.assert_close(got.loss, want, atol=1e-6, rtol=1e-5)
    want.backward()
    got.loss.backward()
    for (name, a), b in zip(reference.named_parameters(), ours.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-4, msg=name)
    # without the flag, the model's own forward (logits for generation and the probe)
    assert ours(**batch).logits.shape == (*batch["input_ids"].shape, len(tokenizer))


def test_target_loss_is_refused_for_heads_it_does_not_model(load_tiny):
    model = load_tiny("sdpa")
    model.config.final_logit_softcapping = 30.0
    assert not use_target_loss(model)


def test_packed_attention_equals_each_example_alone_and_leaves_padded_batches_to_sdpa(tokenizer, load_tiny, fixed_rows):
    feats = features(tokenizer, fixed_rows[:5])
    model = load_tiny("sdpa")
    assert use_packed_attention(model) == "sdpa" and model.config._attn_implementation == NAME
    packed = PackedCollator(POSITION_IDS)(feats)
    padded = PaddedCollator(tokenizer.pad_token_id)(feats)
    reference = load_tiny("sdpa")
    with torch.no_grad():
        logits = model(**packed, use_cache=False).logits[0]
        start = 0
        for f in feats:
            n = len(f["input_ids"])
            alone = reference(input_ids=torch.tensor([f["input_ids"]])).logits[0]
            torch.testing.assert_close(logits[start:start + n], alone, atol=2e-5, rtol=1e-4)
            start += n
        torch.testing.assert_close(model(**padded).logits, reference(**padded).logits)
        # generation (a cache, one new token a step) is sdpa's as well
        prompt = torch.tensor([feats[0]["input_ids"][:12]])
        assert model.generate(prompt, max_new_tokens=5, do_sample=False).tolist() == reference.generate(
            prompt, max_new_tokens=5, do_sample=False).tolist()


def test_packed_attention_is_for_sdpa_on_cpu_only(load_tiny):
    eager = load_tiny("eager")
    assert use_packed_attention(eager) is None and eager.config._attn_implementation == "eager"
