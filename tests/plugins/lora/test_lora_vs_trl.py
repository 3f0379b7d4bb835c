"""Our loss on a packed batch is TRL's on the same batch, so that benchmarks/train_vs_peers.py
compares the same training when either side changes (TRL's SFTTrainer with padding_free and
completion-only loss: its collator and its fused LM head, as SFTTrainer builds them)."""
import torch
from peft import LoraConfig, get_peft_model
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
from trl.trainer.utils import add_fused_lm_head

from bioharness.plugins.lora.attention import use_packed_attention
from bioharness.plugins.lora.collate import POSITION_IDS, PackedCollator
from bioharness.plugins.lora.loss import use_target_loss

from test_lora_packing import features


def lora_model(load_tiny, prepare):
    model = load_tiny("sdpa")
    prepare(model)
    torch.manual_seed(3)
    # random B as well as A, so that the adapter changes the loss and has gradients everywhere
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                      init_lora_weights=False, task_type="CAUSAL_LM")
    return get_peft_model(model, lora).train()


def test_our_packed_loss_and_gradients_equal_trls(tokenizer, load_tiny, fixed_rows):
    feats = features(tokenizer, fixed_rows[:8])
    ours_batch = PackedCollator(POSITION_IDS)(feats)
    trl_batch = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(
        [{"input_ids": f["input_ids"], "labels": f["labels"]} for f in feats])
    for key in ("input_ids", "labels", "position_ids"):  # the same packed row
        assert torch.equal(ours_batch[key], trl_batch[key]), key

    def ours_prepare(model):
        assert use_target_loss(model) and use_packed_attention(model) == "sdpa"

    ours = lora_model(load_tiny, ours_prepare)
    trl = lora_model(load_tiny, lambda m: add_fused_lm_head(m, outputs=("log_probs", "entropy", "is_top1")))
    targets = int((ours_batch["labels"][:, 1:] != -100).sum())
    for count in (None, torch.tensor(2 * targets)):
        kw = {} if count is None else {"num_items_in_batch": count}
        got = ours(**ours_batch, **kw, target_loss=True).loss
        want = trl(**trl_batch, **kw, fused_lm_head=True).loss
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    got.backward()
    want.backward()
    grads = {n: p.grad for n, p in trl.named_parameters() if p.requires_grad}
    assert len(grads) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)
    for name, p in ours.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads[name], atol=1e-6, rtol=1e-4, msg=name)
