import numpy as np
import pytest

from bioharness.plugins.evaluation.stats import bootstrap, fmt_metric, paired_bootstrap


def f1(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


def accuracy(sums, n):
    return {"accuracy": sums.get("correct", 0.0) / n}


def micro_f1(sums, n):
    return {"f1": f1(sums.get("tp", 0), sums.get("fp", 0), sums.get("fn", 0))}


def precision(sums, n):
    return {"precision": sums["tp"] / sums["npred"] if sums.get("npred") else None}


def test_bootstrap_accuracy_matches_numpy_resampling():
    rng = np.random.default_rng(3)
    correct = (rng.random(400) < 0.62).astype(float)
    rows = [{"correct": c} for c in correct]
    value, low, high = bootstrap(rows, accuracy, n_resamples=2000, seed=1)["accuracy"]
    assert value == pytest.approx(correct.mean())
    # the normal approximation of a binomial proportion's 95% interval
    se = np.sqrt(value * (1 - value) / len(rows))
    assert low == pytest.approx(value - 1.96 * se, abs=0.012)
    assert high == pytest.approx(value + 1.96 * se, abs=0.012)


def test_bootstrap_corpus_f1_recomputes_from_sums():
    rows = [{"tp": 2, "fp": 1, "fn": 0}, {"tp": 0, "fp": 0, "fn": 3}, {"tp": 1, "fp": 1, "fn": 1}]
    value, low, high = bootstrap(rows, micro_f1, n_resamples=500, seed=0)["f1"]
    assert value == pytest.approx(f1(3, 2, 4))  # corpus-level, not the mean of per-sample F1s
    assert 0.0 <= low <= value <= high <= 1.0


def test_bootstrap_is_seeded_and_empty_is_empty():
    rows = [{"correct": float(i % 3 == 0)} for i in range(50)]
    assert bootstrap(rows, accuracy, seed=5) == bootstrap(rows, accuracy, seed=5)
    assert bootstrap([], accuracy) == {}


def test_paired_bootstrap():
    a = [{"correct": float(i % 2 == 0)} for i in range(200)]  # 0.50
    b = [{"correct": float(i % 4 != 3)} for i in range(200)]  # 0.75
    result = paired_bootstrap(a, b, accuracy, "accuracy", seed=0)
    assert result["diff"] == pytest.approx(0.25)
    assert 0.15 < result["low"] < 0.25 < result["high"] < 0.35
    assert result["p_le_zero"] == 0.0 and result["significant"]
    same = paired_bootstrap(a, a, accuracy, "accuracy")
    assert not same["significant"]  # [0, 0] includes 0
    assert same["diff"] == same["low"] == same["high"] == 0.0
    with pytest.raises(ValueError):
        paired_bootstrap(a, b[:10], accuracy, "accuracy")


def test_undefined_metric_is_none_and_left_out_of_the_interval():
    # no prediction anywhere: precision is undefined, not 0
    assert bootstrap([{"tp": 0, "npred": 0}] * 5, precision, n_resamples=50) == {"precision": (None, None, None)}
    assert bootstrap([{"tp": 0, "fp": 0, "fn": 0}] * 3, micro_f1, n_resamples=50)["f1"] == (None, None, None)
    # one prediction in 20 samples: resamples that miss it are undefined and left out, so the
    # interval is that of the resamples that drew it (always correct): [1, 1]
    rows = [{"tp": 1, "npred": 1}] + [{"tp": 0, "npred": 0}] * 19
    value, low, high = bootstrap(rows, precision, n_resamples=300, seed=2)["precision"]
    assert (value, low, high) == (1.0, 1.0, 1.0)


def test_paired_bootstrap_with_undefined_metric():
    empty = [{"tp": 0, "npred": 0}] * 10
    some = [{"tp": 1, "npred": 2}] * 10
    result = paired_bootstrap(empty, some, precision, "precision", n_resamples=50)
    assert result == {"diff": None, "low": None, "high": None, "p_le_zero": None, "n": 10, "significant": False}
    assert paired_bootstrap([], [], precision, "precision")["diff"] is None


def _draws(base, new, seed):
    from bioharness.plugins.evaluation.stats import paired_resamples

    rows_a = [{"correct": float(c)} for c in base]
    rows_b = [{"correct": float(c)} for c in new]
    return paired_resamples(rows_a, rows_b, accuracy, "accuracy", n_resamples=2000, seed=seed)


def test_mean_relative_gain_of_one_task_is_its_own_paired_resamples():
    """A category of one task: the mean relative gain's resamples are those of the task's
    paired difference, so p is its p_le_zero and the interval that of (b - a) / a."""
    from bioharness.plugins.evaluation.stats import difference, mean_relative_gain

    rng = np.random.default_rng(0)
    base = (rng.random(20) < 0.6).astype(int)  # 20 questions, as in the default run
    new = np.where(rng.random(20) < 0.8, base, 1 - base)
    draws = _draws(base, new, seed=7)
    gain, diff = mean_relative_gain({"t": draws}), difference(draws)
    assert gain["gain"] == pytest.approx((new.mean() - base.mean()) / base.mean())
    assert gain["p"] == pytest.approx(diff["p_le_zero"]) and gain["resamples"] == 2000
    ratio = (draws["resamples_b"] - draws["resamples_a"]) / draws["resamples_a"]
    assert (gain["low"], gain["high"]) == pytest.approx(tuple(np.quantile(ratio, [0.025, 0.975])))
    assert gain["tasks"] == ["t"] and gain["significant"] == (gain["low"] > 0 or gain["high"] < 0)


def test_mean_relative_gain_averages_tasks_resampled_independently():
    from bioharness.plugins.evaluation.stats import mean_relative_gain, task_seed

    # two tasks of 40: +50% and +0% relative; each resampled with its own seed
    a = [1] * 20 + [0] * 20
    b1 = [1] * 30 + [0] * 10
    gain = mean_relative_gain({"x": _draws(a, b1, task_seed(0, "x")), "y": _draws(a, a, task_seed(0, "y"))})
    assert gain["gain"] == pytest.approx(0.25)
    assert 0 < gain["low"] < 0.25 < gain["high"] and gain["significant"] and gain["p"] < 0.025
    assert task_seed(0, "x") != task_seed(0, "y") and task_seed(0, "x") == task_seed(0, "x")
    # a +16.7% gain on 20 questions (4 newly right, 2 newly wrong) is noise: the interval
    # includes 0, so it is not significant
    small = mean_relative_gain({"z": _draws([1] * 12 + [0] * 8, [1] * 10 + [0] * 2 + [1] * 4 + [0] * 4, 3)})
    assert small["gain"] == pytest.approx(2 / 12) and small["low"] < 0 < small["high"] and not small["significant"]
    assert 0.05 < small["p"] < 0.5
    # a base of 0 has no relative gain: that task is left out, and named
    none = mean_relative_gain({"zero": _draws([0] * 10, [1] * 10, 1), "x": _draws(a, b1, 2)})
    assert none["tasks"] == ["x"] and none["left_out"] == ["zero"] and none["gain"] == pytest.approx(0.5)
    assert mean_relative_gain({})["gain"] is None


def test_fmt_metric_shows_undefined_as_na():
    assert fmt_metric(None) == "n/a" and fmt_metric(float("nan")) == "n/a"
    assert fmt_metric(0.0) == "0.000" and fmt_metric(0.12345, ".4f") == "0.1235"


def test_stratified_sample_keeps_proportions_and_every_label():
    from collections import Counter

    from bioharness.plugins.evaluation.stats import stratified_sample

    labels = [["common"]] * 900 + [["middle"]] * 90 + [["rare"]] * 10
    keep = stratified_sample(labels, 20, seed=3)
    assert keep == sorted(keep) and len(set(keep)) == 20
    # targets 18 / 1.8 / 0.2: the rare label is kept once, at the cost of the middle one's remainder
    assert Counter(labels[i][0] for i in keep) == {"common": 18, "middle": 1, "rare": 1}
    assert Counter(labels[i][0] for i in stratified_sample(labels, 50, seed=3)) == {"common": 45, "middle": 4, "rare": 1}
    # 5 of 1000 still hold the rare label (random sampling would miss it 95% of the time)
    assert {labels[i][0] for i in stratified_sample(labels, 5, seed=1)} == {"common", "middle", "rare"}
    assert stratified_sample(labels, 20, seed=3) == keep and stratified_sample(labels, 20, seed=4) != keep
    assert stratified_sample(labels, 2000) == list(range(1000))


def test_stratified_sample_multi_label_and_unlabelled_items():
    from bioharness.plugins.evaluation.stats import stratified_sample

    # sentences with several entity types, and sentences with none (their own stratum)
    labels = [[]] * 50 + [["protein"]] * 40 + [["protein", "DNA"]] * 8 + [["cell_line"]] * 2
    keep = stratified_sample(labels, 6, seed=0)
    chosen = [labels[i] for i in keep]
    assert {t for ls in chosen for t in ls} == {"protein", "DNA", "cell_line"}
    assert [] in chosen  # the no-entity stratum too
    assert sum(1 for ls in chosen if not ls) >= 2  # about half of a slice has no entity, as in the corpus
