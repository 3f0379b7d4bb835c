"""What the metric modules share: count tuples, ratios, classification scores.

* A prediction of ``None`` means "the model's output could not be parsed". It never
  equals a label, so it counts as wrong for accuracy and as a miss for recall; it is not
  a false positive of any class.
* Corpus-level metrics (micro-F1 of NER and RE) are computed from per-sample count
  tuples ``(tp, n_pred, n_gold)``, which sum over samples; the task kinds store such
  counts per sample and the core (the evaluation plugin's ``stats``) bootstraps the sums.
* Scores are fractions in [0, 1]. The task kinds report an undefined ratio (nothing to
  divide by) as ``None`` (:func:`ratio`, :func:`f1_from_counts`); the corpus functions
  below follow sklearn's ``zero_division=0`` so they can be checked against it.
"""
from __future__ import annotations

from typing import Hashable, Iterable, Sequence

Counts = tuple[int, int, int]  # (true positives, predicted, gold)


def ratio(a: float, b: float) -> float | None:
    """``a / b``, or ``None`` when ``b`` is 0: an undefined metric, never 0."""
    return a / b if b else None


def f1_from_counts(tp: float, n_pred: float, n_gold: float) -> float | None:
    """F1 = 2tp / (n_pred + n_gold), the harmonic mean of P and R without the divisions;
    ``None`` when there is neither a prediction nor a gold item (undefined). With gold but
    no prediction (or the reverse) it is 0."""
    return ratio(2 * tp, n_pred + n_gold)


def label_f1(sums, label: str) -> float | None:
    """F1 of one class from the column sums ``tp_<label>``, ``fp_<label>``, ``fn_<label>``
    of one-vs-rest per-sample values; ``None`` when the class is neither predicted nor in
    the gold."""
    tp = sums.get(f"tp_{label}", 0.0)
    return f1_from_counts(tp, tp + sums.get(f"fp_{label}", 0.0), tp + sums.get(f"fn_{label}", 0.0))


def mean_defined(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not ``None`` (a macro average over the classes whose
    score is defined, as sklearn's ``zero_division=np.nan``); ``None`` if there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def accuracy(labels: Sequence[Hashable], preds: Sequence[Hashable | None]) -> float:
    """Fraction of ``preds`` equal to ``labels`` (``None`` is always wrong); 0.0 if empty."""
    _same_length(labels, preds)
    if not labels:
        return 0.0
    return sum(p is not None and p == g for g, p in zip(labels, preds)) / len(labels)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def prf_from_counts(counts: Iterable[Counts]) -> dict[str, float]:
    """Micro precision, recall and F1 from summed ``(tp, n_pred, n_gold)`` tuples.
    A ratio with a zero denominator is 0.0 (as sklearn's ``zero_division=0``)."""
    tp = n_pred = n_gold = 0
    for a, b, c in counts:
        tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": _f1(p, r), "tp": tp, "n_pred": n_pred, "n_gold": n_gold}


def micro_f1_from_counts(counts: Iterable[Counts]) -> float:
    """Micro-F1 from per-sample ``(tp, n_pred, n_gold)``; the bootstrap statistic for NER
    and RE."""
    tp = n_pred = n_gold = 0
    for a, b, c in counts:
        tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
    # 2tp / (pred + gold) is the F1 of P = tp/pred and R = tp/gold, without the divisions
    return 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0


def per_class_prf(
    labels: Sequence[Hashable], preds: Sequence[Hashable | None], classes: Sequence[Hashable]
) -> dict[Hashable, dict[str, float]]:
    """Per class: precision, recall, f1 and support (gold count), one-vs-rest."""
    _same_length(labels, preds)
    out = {}
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(labels, preds))
        n_pred = sum(p == c for p in preds)
        n_gold = sum(g == c for g in labels)
        s = prf_from_counts([(tp, n_pred, n_gold)])
        out[c] = {"precision": s["precision"], "recall": s["recall"], "f1": s["f1"], "support": n_gold}
    return out


def macro_f1(labels: Sequence[Hashable], preds: Sequence[Hashable | None], classes: Sequence[Hashable]) -> float:
    """Unweighted mean of the per-class F1 over ``classes`` (a class never predicted nor in
    gold scores 0, as sklearn's ``f1_score(average="macro", labels=classes,
    zero_division=0)``)."""
    if not classes:
        raise ValueError("macro_f1 needs at least one class")
    per = per_class_prf(labels, preds, classes)
    return sum(v["f1"] for v in per.values()) / len(classes)


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"{len(a)} references but {len(b)} predictions")

