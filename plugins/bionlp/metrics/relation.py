"""RE metrics: the label parser, the built-in alias tables and micro/macro F1 over the
positive classes (BLURB)."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .common import Counts, _same_length, accuracy, per_class_prf, prf_from_counts

# Alias → label. Task specs can pass their own; these are the defaults of the built-in tasks.
DDI_ALIASES: dict[str, str] = {
    "mechanism": "DDI-mechanism",
    "effect": "DDI-effect",
    "advise": "DDI-advise",
    "advice": "DDI-advise",
    "int": "DDI-int",
    "interaction": "DDI-int",
    "false": "DDI-false",
    "none": "DDI-false",
    "no interaction": "DDI-false",
    "negative": "DDI-false",
}
CHEMPROT_ALIASES: dict[str, str] = {
    "cpr 3": "CPR:3", "cpr3": "CPR:3", "upregulator": "CPR:3", "activator": "CPR:3",
    "cpr 4": "CPR:4", "cpr4": "CPR:4", "downregulator": "CPR:4", "inhibitor": "CPR:4",
    "cpr 5": "CPR:5", "cpr5": "CPR:5", "agonist": "CPR:5",
    "cpr 6": "CPR:6", "cpr6": "CPR:6", "antagonist": "CPR:6",
    "cpr 9": "CPR:9", "cpr9": "CPR:9", "substrate": "CPR:9", "product of": "CPR:9",
    "false": "False", "none": "False", "no relation": "False", "negative": "False",
}
GAD_ALIASES: dict[str, str] = {
    "yes": "positive", "true": "positive", "1": "positive", "associated": "positive",
    "no": "negative", "false": "negative", "0": "negative", "not associated": "negative",
}


def _label_key(s: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", s.lower()).split())


def parse_label(text: str, labels: Sequence[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """The label of ``labels`` that a model's free-text answer names, or ``None``.

    Matching is case-insensitive and treats runs of punctuation as spaces (``cpr-4``,
    ``CPR 4`` and ``CPR:4`` are the same). Each label is also known by its ``aliases``
    (``{"mechanism": "DDI-mechanism"}``; see :data:`DDI_ALIASES` and friends). If the whole
    answer (less a leading ``Answer:``/``Label:``/``Relation:``) is a label or alias, that
    is it; otherwise the earliest whole-word occurrence of any label or alias in the
    answer wins, the longest one at the same position (so ``DDI-false`` beats ``false``).
    No match → ``None`` (which scores as wrong).
    """
    names: dict[str, str] = {}
    for alias, label in (aliases or {}).items():
        if label not in labels:
            raise ValueError(f"alias {alias!r} maps to {label!r}, which is not one of {list(labels)}")
        names[_label_key(alias)] = label
    for label in labels:
        names[_label_key(label)] = label
    names.pop("", None)
    body = _label_key(re.sub(r"^\s*(?:the\s+)?(?:answer|label|relation(?:ship)?|class)\s*(?:is)?\s*:?", "", text or "", flags=re.I))
    if body in names:
        return names[body]
    whole = _label_key(text or "")
    best = None  # (position, -length, label)
    for key, label in names.items():
        m = re.search(rf"(?<!\w){re.escape(key)}(?!\w)", whole)
        if m:
            cand = (m.start(), -len(key), label)
            best = cand if best is None or cand < best else best
    return None if best is None else best[2]


def relation_counts(label: str, pred: str | None, positive: Sequence[str]) -> Counts:
    """``(tp, n_pred, n_gold)`` of one RE sample over the positive classes (BLURB: the
    negative class is left out of the micro average)."""
    pos = set(positive)
    return int(pred is not None and pred == label and label in pos), int(pred in pos), int(label in pos)


def score_relations(
    labels: Sequence[str],
    preds: Sequence[str | None],
    classes: Sequence[str],
    negative: str | None,
) -> dict[str, Any]:
    """RE scores: ``micro_precision``/``micro_recall``/``micro_f1`` over the positive
    classes (all of ``classes`` except ``negative``; predicting the negative class or
    ``None`` is never a false positive), ``macro_f1`` over the positive classes,
    ``accuracy`` over all samples, and ``per_class`` precision/recall/f1/support for every
    class including the negative one."""
    _same_length(labels, preds)
    if negative is not None and negative not in classes:
        raise ValueError(f"negative class {negative!r} is not in {list(classes)}")
    positive = [c for c in classes if c != negative]
    micro = prf_from_counts(relation_counts(g, p, positive) for g, p in zip(labels, preds))
    per = per_class_prf(labels, preds, classes)
    return {
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1"],
        "macro_f1": sum(per[c]["f1"] for c in positive) / len(positive) if positive else 0.0,
        "accuracy": accuracy(labels, preds),
        "per_class": per,
    }
