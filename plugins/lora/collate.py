"""Batches for training: padded, or packed without cross-contamination.

Packed (padding-free): a micro-batch's examples are laid end to end in one row, with no
padding at all, and ``position_ids`` restart at 0 for every example. Whether the model
then keeps the examples apart depends on its attention code, so :func:`probe_packing`
checks it on the model itself before training:

* ``position-ids``: transformers (>= 4.5x) builds a block-diagonal causal mask from the
  restarting ``position_ids`` when no 2-D ``attention_mask`` is given (sdpa and eager
  attention, see ``masking_utils.find_packed_sequence_indices``), and flash-attention
  runs variable-length kernels from them. Nothing else is needed. The model must be
  called with ``use_cache=False`` (a cache object disables that detection), which the
  trainer sets.
* ``block-mask``: the fallback for models whose attention does not read packing from the
  positions. The collator passes an explicit 4-D additive mask ``[1, 1, T, T]`` that is
  causal inside each example and blocks every other example (``0`` where attention is
  allowed, the dtype's minimum elsewhere). It costs T x T memory per micro-batch.

The loss is unchanged by packing: labels travel with their tokens, every example's first
label is -100 (see :mod:`.prompts`), so no token predicts across a boundary, and the
loss is a mean over the same target tokens as in the padded batch.
"""
import torch

from bioharness import UsageError
from bioharness.plugins.lora.prompts import IGNORE

POSITION_IDS = "position-ids"
BLOCK_MASK = "block-mask"


def _as_list(feature, key):
    value = feature[key]
    return value.tolist() if hasattr(value, "tolist") else list(value)


class PaddedCollator:
    """Right-pads a micro-batch to its longest example (alpaca-lora's batching)."""

    def __init__(self, pad_token_id):
        self.pad_token_id = pad_token_id

    def __call__(self, features):
        seqs = [_as_list(f, "input_ids") for f in features]
        labs = [_as_list(f, "labels") for f in features]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, (s, lab) in enumerate(zip(seqs, labs)):
            ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
            labels[row, : len(s)] = torch.tensor(lab, dtype=torch.long)
            mask[row, : len(s)] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def block_diagonal_mask(lengths, dtype=torch.float32, device=None):
    """``[1, 1, T, T]`` additive mask: causal within each segment, blocked across."""
    total = sum(lengths)
    segment = torch.repeat_interleave(torch.arange(len(lengths), device=device),
                                      torch.tensor(lengths, device=device))
    same = segment[:, None] == segment[None, :]
    causal = torch.ones((total, total), dtype=torch.bool, device=device).tril()
    allowed = same & causal
    mask = torch.zeros((total, total), dtype=dtype, device=device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None, None]


class PackedCollator:
    """Lays a micro-batch end to end in one row: no padding, positions restart per example."""

    def __init__(self, mode=POSITION_IDS, mask_dtype=torch.float32):
        if mode not in (POSITION_IDS, BLOCK_MASK):
            raise ValueError(f"unknown packing mode {mode!r}")
        self.mode = mode
        self.mask_dtype = mask_dtype

    def __call__(self, features):
        seqs = [_as_list(f, "input_ids") for f in features]
        labs = [_as_list(f, "labels") for f in features]
        lengths = [len(s) for s in seqs]
        batch = {
            "input_ids": torch.tensor([t for s in seqs for t in s], dtype=torch.long)[None],
            "labels": torch.tensor([t for lab in labs for t in lab], dtype=torch.long)[None],
            "position_ids": torch.cat([torch.arange(n, dtype=torch.long) for n in lengths])[None],
        }
        if self.mode == BLOCK_MASK:
            batch["attention_mask"] = block_diagonal_mask(lengths, dtype=self.mask_dtype)
        return batch


def _model_dtype(model):
    return next(p for p in model.parameters() if p.is_floating_point()).dtype


@torch.no_grad()
def probe_packing(model, vocab_size, mode="auto"):
    """Which packing keeps examples apart in ``model``: ``position-ids`` or ``block-mask``.

    Runs two short random sequences alone and packed, and accepts a mode when the packed
    logits match the separate ones far better than plain concatenation (one causal
    sequence) does (a relative test, so it holds in fp32 and bf16 alike). ``mode`` other than ``auto`` checks that
    mode only. Raises :class:`UsageError` when none works.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        gen = torch.Generator().manual_seed(0)
        low = min(3, vocab_size - 1)
        a = torch.randint(low, vocab_size, (1, 7), generator=gen).to(device)
        b = torch.randint(low, vocab_size, (1, 11), generator=gen).to(device)
        ids = torch.cat([a, b], dim=1)
        positions = torch.cat([torch.arange(7), torch.arange(11)])[None].to(device)

        def logits(**kw):
            return model(use_cache=False, **kw).logits.float()

        separate = torch.cat([logits(input_ids=a), logits(input_ids=b)], dim=1)
        # the contamination packing must undo: one causal sequence, b attends to a
        mixed = logits(input_ids=ids, attention_mask=torch.ones_like(ids))
        contamination = (mixed - separate)[:, 7:].abs().max().item()
        if contamination == 0:  # pragma: no cover - a model without attention across tokens
            return POSITION_IDS if mode == "auto" else mode
        errors = {}
        candidates = (POSITION_IDS, BLOCK_MASK) if mode == "auto" else (mode,)
        for candidate in candidates:
            kw = {"input_ids": ids, "position_ids": positions}
            if candidate == BLOCK_MASK:
                kw["attention_mask"] = block_diagonal_mask([7, 11], dtype=_model_dtype(model), device=device)
            try:
                err = (logits(**kw) - separate).abs().max().item()
            except Exception as exc:  # an attention kernel that rejects 4-D masks
                errors[candidate] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                continue
            if err <= 0.02 * contamination:
                return candidate
            errors[candidate] = f"packed logits differ by {err:.3g} (cross-contamination {contamination:.3g})"
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise UsageError(f"lora trainer: this model cannot be trained packed ({detail}); use --no-packing")
    finally:
        model.train(was_training)
