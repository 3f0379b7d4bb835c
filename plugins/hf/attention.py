"""Grouped-query attention on CPU without copying the KV cache.

transformers' ``sdpa`` attention only lets torch handle grouped-query attention (fewer
key/value heads than query heads) when there is no attention mask; with one (any
left-padded batch) it first repeats every key and value head ``num_key_value_groups``
times. That choice suits CUDA, where a masked GQA call falls back to the math kernel. On
CPU, torch's flash kernel takes a mask and ``enable_gqa`` together, so the copy is pure
waste, and in decoding it is most of the work: each new token copied the whole cache.
For SmolLM2-135M (9 query, 3 key/value heads) at a 2.8k-token context that is ~87 ms vs
~6 ms per layer and step (``benchmarks/cpu_attention.py`` measures the whole model).

``use_cpu_gqa(model)`` switches a model on CPU to ``bioharness_sdpa``: the same as ``sdpa``
except that a masked GQA call goes to torch with ``enable_gqa=True``. Anything else
(no mask, equal head counts, paged caches, position biases, attention sinks, other
devices) is handed to transformers' own ``sdpa`` function unchanged.
"""
import torch

NAME = "bioharness_sdpa"

#: Keyword arguments that mean the layer needs more than plain masked attention.
_SPECIAL = ("cache", "position_bias", "s_aux", "sinks")


def cpu_gqa_sdpa_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None,
                         **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    if (attention_mask is None or groups <= 1 or query.device.type != "cpu"
            or any(kwargs.get(k) is not None for k in _SPECIAL)):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, is_causal=is_causal, **kwargs)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, is_causal=False,
        enable_gqa=True,
    )
    return out.transpose(1, 2).contiguous(), None


_registered = set()


def register_attention(name, forward):
    """Make attention implementation ``name`` known to transformers (once per process): the
    function, and ``sdpa``'s mask builder for it (masks for padded and causal inputs)."""
    if name in _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(name, forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(name, sdpa_mask)
    _registered.add(name)


def use_cpu_gqa(model) -> bool:
    """Switch ``model`` (on CPU, using ``sdpa``, with grouped-query attention) to
    ``bioharness_sdpa``; returns whether it did."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    if next(model.parameters()).device.type != "cpu":
        return False
    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    if not heads or kv_heads == heads:
        return False
    register_attention(NAME, cpu_gqa_sdpa_forward)
    model.set_attn_implementation(NAME)
    return True
