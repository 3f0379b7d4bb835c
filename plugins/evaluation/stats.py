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
import hashlib
import math
import random
from collections import Counter, defaultdict


def _matrix(rows, columns):
    import numpy as np

    return np.array([[float(r.get(c, 0.0)) for c in columns] for r in rows], dtype=np.float64).reshape(len(rows), len(columns))


def _weights(n, n_resamples, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    # multinomial counts: how often each sample is drawn in each resample
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)


def bootstrap(rows, metric_fn, *, n_resamples=1000, seed=0, alpha=0.05):
    """Point estimate and percentile CI for every metric of ``metric_fn(sums, n)``.

    ``rows``: per-sample dicts of summable values. Returns {metric: (value, low, high)}.
    """
    import numpy as np

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
    import numpy as np

    return np.array([v for v in map(defined, values) if v is not None], dtype=np.float64)


def fmt_metric(value, spec=".3f"):
    """A metric for a table: ``format(value, spec)``, or ``n/a`` when it is undefined."""
    value = defined(value)
    return "n/a" if value is None else format(value, spec)


def fmt_incomplete(errors):
    """What a table shows instead of a value for a task whose requests failed."""
    return f"incomplete ({errors} error{'' if errors == 1 else 's'})"


def task_seed(seed, task):
    """The bootstrap seed of one task's paired resamples: tasks are resampled independently of
    each other (two tasks of the same size do not share their draws), and a task's mean gain in
    its category is computed on exactly the resamples of its own paired difference."""
    return int(hashlib.sha256(f"{seed}:{task}".encode()).hexdigest()[:8], 16)


def paired_resamples(rows_a, rows_b, metric_fn, metric, *, n_resamples=1000, seed=0):
    """``metric`` of both models on the same samples (same order), at the point and on each
    paired resample (the same draws for both: that is the pairing): ``{"n", "a", "b",
    "resamples_a", "resamples_b"}``, undefined values ``None`` at the point and NaN in the
    resample arrays."""
    import numpy as np

    if len(rows_a) != len(rows_b):
        raise ValueError("paired bootstrap needs the same samples for both models")
    n = len(rows_a)
    if n == 0:
        return {"n": 0, "a": None, "b": None, "resamples_a": np.full(0, np.nan), "resamples_b": np.full(0, np.nan)}
    columns = sorted({c for r in rows_a + rows_b for c in r})
    ma, mb = _matrix(rows_a, columns), _matrix(rows_b, columns)
    weights = _weights(n, n_resamples, seed)

    def value(sums):
        return defined(metric_fn(dict(zip(columns, sums)), n).get(metric))

    def values(matrix):
        return np.array([np.nan if v is None else v for v in map(value, weights @ matrix)], dtype=np.float64)

    return {"n": n, "a": value(ma.sum(0)), "b": value(mb.sum(0)), "resamples_a": values(ma), "resamples_b": values(mb)}


def difference(draws, alpha=0.05):
    """The paired difference ``b - a`` of :func:`paired_resamples`, its percentile CI, the
    share of resamples where it is <= 0 (a one-sided p-value), over the resamples where both
    are defined, and ``significant`` (the CI excludes 0: the one test every table uses to show
    a difference bold or coloured). ``None`` where the difference is undefined."""
    import numpy as np

    a, b, n = draws["a"], draws["b"], draws["n"]
    point = None if a is None or b is None else b - a
    diffs = draws["resamples_b"] - draws["resamples_a"]
    diffs = diffs[~np.isnan(diffs)]
    if point is None or not len(diffs):
        return {"diff": point, "low": None, "high": None, "p_le_zero": None, "n": n, "significant": False}
    low, high = (float(x) for x in np.quantile(diffs, [alpha / 2, 1 - alpha / 2]))
    return {"diff": point, "low": low, "high": high, "p_le_zero": float((diffs <= 0).mean()), "n": n,
            "significant": excludes_zero(low, high)}


def paired_bootstrap(rows_a, rows_b, metric_fn, metric, *, n_resamples=1000, seed=0, alpha=0.05):
    """Difference ``metric(b) - metric(a)`` on the same samples (same order), its CI, and
    the fraction of resamples where the difference is <= 0 (a one-sided p-value), over the
    resamples where both are defined. ``None`` where the difference is undefined."""
    draws = paired_resamples(rows_a, rows_b, metric_fn, metric, n_resamples=n_resamples, seed=seed)
    return difference(draws, alpha)


def relative_gains(draws):
    """``(b - a) / |a|`` of :func:`paired_resamples`: the point (None where undefined: either
    undefined, or ``a`` is 0) and the array over resamples (NaN where undefined)."""
    import numpy as np

    a, b = draws["a"], draws["b"]
    point = (b - a) / abs(a) if a is not None and b is not None and a != 0 else None
    ra, rb = draws["resamples_a"], draws["resamples_b"]
    with np.errstate(divide="ignore", invalid="ignore"):
        resamples = np.where(ra != 0, (rb - ra) / np.abs(ra), np.nan)
    return point, resamples


def mean_relative_gain(draws_by_task, alpha=0.05):
    """The mean over tasks of the relative gain ``(b - a) / |a|`` (BioInstruct's per-category
    number), with a paired-bootstrap percentile CI and the share of resamples where it is <= 0
    (p). Each task keeps its own paired resamples (:func:`paired_resamples`, drawn with
    :func:`task_seed`): resample ``r`` of the mean averages resample ``r`` of every task, so the
    tasks' samples are resampled as in their paired differences, independently of each other.
    Tasks whose gain is undefined at the point are left out (listed in ``left_out``); resamples
    where a kept task's gain is undefined are left out of the interval (``resamples``: how many
    remain). ``significant``: the CI excludes 0. ``gain`` is None when no task has a defined gain."""
    import numpy as np

    kept, left_out, points, arrays = [], [], [], []
    for task, draws in draws_by_task.items():
        point, resamples = relative_gains(draws)
        if point is None:
            left_out.append(task)
            continue
        kept.append(task)
        points.append(point)
        arrays.append(resamples)
    out = {"gain": None, "low": None, "high": None, "p": None, "significant": False, "tasks": kept,
           "left_out": left_out, "resamples": 0}
    if not kept:
        return out
    out["gain"] = float(np.mean(points))
    width = min(len(a) for a in arrays)
    means = np.mean(np.vstack([a[:width] for a in arrays]), axis=0) if width else np.full(0, np.nan)
    means = means[~np.isnan(means)]
    if len(means):
        low, high = (float(x) for x in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
        out.update(low=low, high=high, p=float((means <= 0).mean()), resamples=int(len(means)),
                   significant=excludes_zero(low, high))
    return out


def excludes_zero(low, high):
    """True when a CI lies wholly above or below 0: the only gains shown as significant (bold,
    coloured); an interval that includes 0, or none at all, is not."""
    return low is not None and high is not None and (low > 0 or high < 0)


def stratified_sample(labels, k, seed=0):
    """Sorted indices of ``k`` of the items whose labels are ``labels`` (one collection of
    labels per item: several for a multi-label item such as a sentence with two entity
    types, none for an item without any), chosen so that

    1. every label occurs at least once where ``k`` allows: labels are covered rarest
       first, each by a seeded random item that has it ("no label" counts as a label);
    2. the rest keeps the proportions of the strata, an item's stratum being its rarest
       label: each next item goes to the stratum furthest below ``k * size / n``.

    Deterministic for a given ``seed``.
    """
    items = [frozenset(ls) or frozenset([None]) for ls in labels]
    n = len(items)
    if k >= n:
        return list(range(n))
    rng = random.Random(seed)
    freq = Counter(label for ls in items for label in ls)

    def rank(label):
        return freq[label], label is not None, str(label)

    order = sorted(freq, key=rank)
    members = defaultdict(list)
    for i, ls in enumerate(items):
        members[min(ls, key=rank)].append(i)
    queues = {s: rng.sample(m, len(m)) for s, m in members.items()}  # each stratum in a seeded random order
    chosen, covered = set(), set()
    for label in order:
        if len(chosen) == k:
            break
        if label not in covered:
            pick = rng.choice([i for i, ls in enumerate(items) if label in ls and i not in chosen])
            chosen.add(pick)
            covered |= items[pick]
    taken = Counter(min(items[i], key=rank) for i in chosen)
    strata = [s for s in order if s in members]
    while len(chosen) < k:
        open_ = [s for s in strata if taken[s] < len(members[s])]
        stratum = max(open_, key=lambda s: (k * len(members[s]) / n - taken[s], -strata.index(s)))
        queue = queues[stratum]
        while queue[-1] in chosen:
            queue.pop()
        chosen.add(queue.pop())
        taken[stratum] += 1
    return sorted(chosen)
