"""The training loss on the target tokens only, without the vocabulary-wide logits.

A causal LM's own loss projects every position of the micro-batch onto the vocabulary
(``T x V`` logits, 49k columns for SmolLM2), keeps a log-softmax of the same size for the
backward pass and builds two more of that size there, although only the response tokens
have labels. For a packed micro-batch of 8 instructions (1,100 tokens, a third of them
targets) that was 0.2 GB saved and ~0.6 GB more at the peak, and a fifth of the compute.

:func:`use_target_loss` gives the model a second way to compute its loss: the backbone's
hidden states of the positions whose next token is a target, projected in chunks of rows
(:class:`_HeadCrossEntropy`): each chunk's logits, their log-sum-exp and the gradient
with respect to the hidden states are computed in the forward pass and the chunk is freed,
so the backward pass only scales the saved ``N x H`` gradient. The value is the model's
own: the sum of the targets' negative log-likelihoods over ``num_items_in_batch`` (the
Trainer's count of target tokens over the accumulated micro-batches) or, without it, the
mean; the logits are float32 as in transformers' ``ForCausalLMLoss``.

It is switched on per call (``target_loss=True``, which the trainer passes), so
generation, the packing probe and the sanity check run the model's own forward.
"""
import functools
import types

import torch
from transformers.modeling_outputs import CausalLMOutputWithPast

IGNORE = -100

#: Bytes of float32 logits per chunk of rows (~32 MiB: 170 rows of a 49k vocabulary).
CHUNK_BYTES = 32 * 2**20

#: Config attributes that change the logits after the projection; the fused loss does
#: not model them, so such a model keeps its own loss.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier",
                     "lm_head_multiplier")


class _HeadCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T (+ bias)`` against ``targets``, chunk by chunk."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_rows):
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_weight else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if need_bias else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            h = hidden[start:start + chunk_rows]
            t = targets[start:start + chunk_rows]
            logits = (h @ weight.T if bias is None else torch.addmm(bias, h, weight.T)).float()
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, t[:, None])[:, 0]).sum()
            if grad_hidden is None and grad_weight is None and grad_bias is None:
                continue
            # d(-log softmax(z)[t]) / dz = softmax(z) - onehot(t), in place over the chunk's logits
            probs = logits.sub_(lse[:, None]).exp_()
            probs[torch.arange(t.shape[0], device=t.device), t] -= 1
            if grad_hidden is not None:
                grad_hidden[start:start + chunk_rows] = probs.to(weight.dtype) @ weight
            if grad_weight is not None:
                grad_weight += probs.T @ h.float()
            if grad_bias is not None:
                grad_bias += probs.sum(0)
        ctx.save_for_backward(*(g for g in (grad_hidden, grad_weight, grad_bias) if g is not None))
        ctx.have = (grad_hidden is not None, grad_weight is not None, grad_bias is not None)
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        saved = iter(ctx.saved_tensors)
        grads = []
        for have, dtype in zip(ctx.have, ctx.dtypes):
            grads.append((next(saved) * grad_total).to(dtype) if have else None)
        return (*grads, None, None)


def chunk_rows_for(vocab_size):
    return max(16, CHUNK_BYTES // (4 * vocab_size))


def target_cross_entropy(hidden, labels, head, num_items_in_batch=None):
    """The causal-LM loss of ``hidden`` (``[B, T, H]``, the backbone's output) against
    ``labels`` (``[B, T]``, ``-100`` where ignored): position ``i`` predicts ``labels[i + 1]``.
    Only positions with a target are projected onto the vocabulary by ``head`` (a linear layer)."""
    shifted = labels[:, 1:].to(hidden.device)
    mask = shifted != IGNORE
    rows = hidden[:, :-1][mask]
    weight, bias = head.weight, head.bias
    if hasattr(weight, "full_tensor"):  # FSDP2 shards parameters as DTensors; the projection needs the whole head
        weight, bias = weight.full_tensor(), (None if bias is None else bias.full_tensor())
    total = _HeadCrossEntropy.apply(rows, weight, bias, shifted[mask], chunk_rows_for(weight.shape[0]))
    if num_items_in_batch is None:
        return total / mask.sum().clamp(min=1)
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def supports_target_loss(model) -> bool:
    """Whether ``model`` (a transformers causal LM) ends in a plain linear head on its
    backbone's last hidden state, which is what :func:`target_cross_entropy` computes."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "get_output_embeddings"):
        return False
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if any(getattr(text, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS):
        return False
    head = model.get_output_embeddings()
    backbone = getattr(model, getattr(model, "base_model_prefix", ""), None)
    return type(head) is torch.nn.Linear and isinstance(backbone, torch.nn.Module) and backbone is not model


def use_target_loss(model) -> bool:
    """Give ``model`` (the transformers model, before PEFT wraps it) the target-only loss,
    used when it is called with ``labels`` and ``target_loss=True``; returns whether it could."""
    if not supports_target_loss(model):
        return False
    if getattr(model, "_bioharness_target_loss", False):
        return True
    original = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, labels=None, target_loss=False, num_items_in_batch=None, **kwargs):
        if not target_loss or labels is None:
            if labels is not None:
                kwargs["labels"] = labels
            if num_items_in_batch is not None:
                kwargs["num_items_in_batch"] = num_items_in_batch
            return original(*args, **kwargs)
        kwargs = {k: v for k, v in kwargs.items() if v is not None and k != "return_dict"}
        kwargs["use_cache"] = False
        backbone = getattr(self, self.base_model_prefix)
        hidden = backbone(*args, **kwargs).last_hidden_state
        loss = target_cross_entropy(hidden, labels, self.get_output_embeddings(), num_items_in_batch)
        return CausalLMOutputWithPast(loss=loss)

    model.forward = types.MethodType(forward, model)
    model._bioharness_target_loss = True
    return True
