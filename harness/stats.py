"""Bootstrap confidence intervals over per-sample values that sum.

Every task reports its metrics as a function of column sums over samples (correct,
tp/fp/fn, rouge1, ...). Resampling samples with replacement is then a matrix product of
bootstrap weights with the per-sample matrix, so 1,000 resamples of 10,000 samples cost
milliseconds, and corpus-level metrics such as micro-F1 get honest intervals.

A metric may be undefined (``None``: nothing to divide by, e.g. recall without gold
items). An undefined point estimate has no interval; resamples where a metric is
undefined are left out of its interval. Undefined values are ``None`` in every result
(JSON ``null``) and :func:`fmt_metric` shows them as ``n/a``, never as 0.
"""
import math

import numpy as np


def _matrix(rows, columns):
    return np.array([[float(r.get(c, 0.0)) for c in columns] for r in rows], dtype=np.float64).reshape(len(rows), len(columns))


def _weights(n, n_resamples, seed):
    rng = np.random.default_rng(seed)
    # multinomial counts: how often each sample is drawn in each resample
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)


def bootstrap(rows, metric_fn, *, n_resamples=1000, seed=0, alpha=0.05):
    """Point estimate and percentile CI for every metric of ``metric_fn(sums, n)``.

    ``rows``: per-sample dicts of summable values. Returns {metric: (value, low, high)}.
    """
    n = len(rows)
    if n == 0:
        return {}
    columns = sorted({c for r in rows for c in r})
    matrix = _matrix(rows, columns)
    point = metric_fn(dict(zip(columns, matrix.sum(0))), n)
    sums = _weights(n, n_resamples, seed) @ matrix
    samples = {name: [] for name in point}
    for row in sums:
        values = metric_fn(dict(zip(columns, row)), n)
        for name in point:
            samples[name].append(values.get(name))
    out = {}
    for name, value in point.items():
        value = defined(value)
        arr = _defined_array(samples[name])
        if value is None or not len(arr):
            out[name] = (value, None, None)
            continue
        low, high = np.quantile(arr, [alpha / 2, 1 - alpha / 2])
        out[name] = (value, float(low), float(high))
    return out


def defined(value):
    """``value`` as a float, or ``None`` when it is undefined (``None`` or NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _defined_array(values):
    return np.array([v for v in map(defined, values) if v is not None], dtype=np.float64)


def fmt_metric(value, spec=".3f"):
    """A metric for a table: ``format(value, spec)``, or ``n/a`` when it is undefined."""
    value = defined(value)
    return "n/a" if value is None else format(value, spec)


def paired_bootstrap(rows_a, rows_b, metric_fn, metric, *, n_resamples=1000, seed=0, alpha=0.05):
    """Difference ``metric(b) - metric(a)`` on the same samples (same order), its CI, and
    the fraction of resamples where the difference is <= 0 (a one-sided p-value), over the
    resamples where both are defined. ``None`` where the difference is undefined."""
    if len(rows_a) != len(rows_b):
        raise ValueError("paired bootstrap needs the same samples for both models")
    n = len(rows_a)
    if n == 0:
        return {"diff": None, "low": None, "high": None, "p_le_zero": None, "n": 0}
    columns = sorted({c for r in rows_a + rows_b for c in r})
    ma, mb = _matrix(rows_a, columns), _matrix(rows_b, columns)
    weights = _weights(n, n_resamples, seed)  # the same resamples for both: that is the pairing
    sa, sb = weights @ ma, weights @ mb

    def value(sums):
        return defined(metric_fn(dict(zip(columns, sums)), n).get(metric))

    def difference(a, b):
        va, vb = value(a), value(b)
        return None if va is None or vb is None else vb - va

    diffs = _defined_array([difference(a, b) for a, b in zip(sa, sb)])
    point = difference(ma.sum(0), mb.sum(0))
    if point is None or not len(diffs):
        return {"diff": point, "low": None, "high": None, "p_le_zero": None, "n": n}
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return {"diff": point, "low": float(low), "high": float(high),
            "p_le_zero": float((diffs <= 0).mean()), "n": n}
