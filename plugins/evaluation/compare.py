"""Compare evaluated models: leaderboard, paired bootstrap against a baseline, gain per category.

Reads what ``bioharness eval`` wrote (``<out>/eval/<model>/<task>/metrics.json`` and
``samples.jsonl``); writes ``<out>/leaderboard.json``. Differences between two models are
computed on the samples both were evaluated on, with the task kind's own metric
recomputed on each bootstrap resample (paired: the same resamples for both models).
"""
import json
from pathlib import Path

from bioharness import (
    STAGE_MANIFEST, TaskCatalog, UsageError, atomic_write_json, check_stage, damage_error, model_name, read_json,
)

from .stats import defined, fmt_incomplete, fmt_metric


def collect_results(out):
    """{model: {task: metrics.json dict}} for every evaluation under ``<out>/eval`` (``_dir``:
    the task's folder, with its ``samples.jsonl``), and for the tasks whose requests failed
    their stage manifest's result (``complete`` false, the ``errors``; no metrics.json)."""
    root = Path(out) / "eval"
    if not root.is_dir():
        raise UsageError(f"no evaluations under {root}: run `bioharness eval --out {out}` first")
    found = {}
    paths = sorted(root.glob("*/*/metrics.json"))
    paths += [p for p in sorted(root.glob(f"*/*/{STAGE_MANIFEST}")) if not (p.parent / "metrics.json").exists()]
    for path in paths:
        data = read_json(path)
        if path.name == STAGE_MANIFEST:
            data = data.get("result") or {}
            if data.get("complete", True) or "task" not in data:  # killed, not failed: nothing to show
                continue
        data["_dir"] = str(path.parent)
        found.setdefault(model_name(data["model"]), {})[data["task"]] = data
    if not found:
        raise UsageError(f"no finished evaluation (metrics.json) under {root}")
    return found


def check_evaluations(out):
    """Stop with one line when an evaluation's output (metrics.json, samples.jsonl) was damaged
    since its stage wrote it: compared, it would give numbers nobody measured."""
    for path in sorted((Path(out) / "eval").glob(f"*/*/{STAGE_MANIFEST}")):
        check = check_stage(path.parent)
        if check.damages:
            raise UsageError(damage_error(check, out))


def _samples(task_dir):
    path = Path(task_dir) / "samples.jsonl"
    rows = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                rows[record["id"]] = record["values"]
    return rows


def relative_gain(new, old):
    """``(new - old) / |old|``; ``None`` (undefined) when either is undefined or ``old`` is 0."""
    new, old = defined(new), defined(old)
    return (new - old) / abs(old) if new is not None and old else None


def compare(out, catalog=None, baseline=None, models=None, resamples=1000, seed=0):
    """Write and return ``<out>/leaderboard.json``; ``catalog`` defaults to the tasks of the
    active plugins."""
    catalog = catalog or TaskCatalog()
    from .stats import paired_bootstrap  # numpy: imported when a comparison runs

    results = collect_results(out)
    names = list(results) if not models else [model_name(m) for m in models]
    baseline = model_name(baseline) if baseline else None
    for name in names:
        if name not in results:
            raise UsageError(f"model {name!r} has no evaluation under {out} (found: {', '.join(results)})")
    if baseline is not None and baseline not in results:
        raise UsageError(f"baseline {baseline!r} has no evaluation under {out} (found: {', '.join(results)})")
    tasks = sorted({t for m in names for t in results[m]})
    board = {"models": names, "baseline": baseline, "tasks": {}, "gain_by_category": {}}
    for task in tasks:
        entry = {"category": None, "metric": None, "scores": {}, "vs_baseline": {}}
        for model in names:
            data = results[model].get(task)
            if not data:
                continue
            headline = data["headline"]
            entry["category"], entry["metric"] = data["category"], headline
            m = data["metrics"].get(headline) or {"value": None, "ci95": [None, None]}  # none: nothing scored yet
            score = {"value": m["value"], "ci95": m["ci95"], "n": data["n"], "errors": data.get("errors", 0),
                     "complete": data.get("complete", True), "setting": data["setting"],
                     "samples": Path(data["_dir"], "samples.jsonl").relative_to(out).as_posix()}
            if not score["complete"]:  # requests failed: no value (what was scored is a biased part)
                score.update(value=None, ci95=[None, None], status=fmt_incomplete(score["errors"]))
            entry["scores"][model] = score
        complete = {m for m, s in entry["scores"].items() if s["complete"]}
        if baseline in complete and task in catalog.specs:
            spec = catalog.specs[task]
            kind = catalog.kind(spec.kind)
            base_rows = _samples(results[baseline][task]["_dir"])
            for model in names:
                if model == baseline or model not in complete:
                    continue
                rows = _samples(results[model][task]["_dir"])
                shared = sorted(set(rows) & set(base_rows))
                if not shared:
                    continue
                diff = paired_bootstrap([base_rows[i] for i in shared], [rows[i] for i in shared],
                                        lambda sums, n: kind.metrics(spec, sums, n), entry["metric"],
                                        n_resamples=resamples, seed=seed)
                base_value = kind.metrics(spec, _sum([base_rows[i] for i in shared]), len(shared)).get(entry["metric"])
                new_value = None if base_value is None or diff["diff"] is None else base_value + diff["diff"]
                diff["relative_gain"] = relative_gain(new_value, base_value)
                entry["vs_baseline"][model] = diff
        board["tasks"][task] = entry
    if baseline:
        for model in names:
            if model == baseline:
                continue
            per_category = {}
            for task, entry in board["tasks"].items():
                gain = entry["vs_baseline"].get(model, {}).get("relative_gain")
                if gain is not None:
                    per_category.setdefault(entry["category"], []).append(gain)
            board["gain_by_category"][model] = {c: sum(g) / len(g) for c, g in per_category.items()}
    # published numbers, kept apart
    board["reported"] = [row for _, rows in catalog.hooks.each("reported_scores", board=board) for row in rows or ()]
    atomic_write_json(Path(out) / "leaderboard.json", board)
    return board


def _sum(rows):
    sums = {}
    for row in rows:
        for key, value in row.items():
            sums[key] = sums.get(key, 0.0) + value
    return sums


def leaderboard_table(board):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape("leaderboard" + (f" (baseline: {board['baseline']})" if board["baseline"] else "")))
    table.add_column("task")
    table.add_column("metric")
    for model in board["models"]:
        table.add_column(escape(model), justify="right")
    beside = {}
    for row in board.get("reported", ()):
        if row["beside"]:
            beside.setdefault(row["task"], []).append(f"{row['model']} {row['value']:.3f} ({row['status']})")
    table.add_column("errors", justify="right")
    if beside:
        table.add_column("reported, same setting (not measured)")
    for task, entry in board["tasks"].items():
        cells = []
        for model in board["models"]:
            score = entry["scores"].get(model)
            if not score or not score.get("complete", True):
                cells.append(score["status"] if score else "-")
                continue
            text = fmt_metric(score["value"])
            diff = entry["vs_baseline"].get(model)
            if diff and diff["diff"] is not None and diff["low"] is not None:
                star = "*" if diff["low"] > 0 or diff["high"] < 0 else ""
                text += f" ({diff['diff']:+.3f}{star})"
            cells.append(text)
        errors = sum(score.get("errors", 0) for score in entry["scores"].values())
        table.add_row(escape(task), escape(entry["metric"] or ""), *cells, str(errors),
                      *([escape("; ".join(beside.get(task, ["-"])))] if beside else []))
    return table


def transfer_matrix(board, tuned):
    """{trained on: {task category: {gain (mean relative gain), tasks: {task: diff, low, high, p}}}}."""
    matrix = {}
    for group, model in tuned.items():
        row = {}
        for task, entry in board["tasks"].items():
            diff = entry["vs_baseline"].get(model)
            if not diff:
                continue
            cell = row.setdefault(entry["category"], {"gain": None, "tasks": {}})
            cell["tasks"][task] = {"diff": diff["diff"], "low": diff["low"], "high": diff["high"],
                                   "p": diff.get("p_le_zero"), "relative_gain": diff.get("relative_gain")}
        for category, cell in row.items():
            gains = [t["relative_gain"] for t in cell["tasks"].values()
                     if t["relative_gain"] is not None and t["relative_gain"] == t["relative_gain"]]
            cell["gain"] = sum(gains) / len(gains) if gains else None
        matrix[group] = row
    return matrix


def gains_table(board, base):
    from rich.table import Table

    table = Table(title=f"mean relative gain over {base} per task category")
    categories = sorted({e["category"] for e in board["tasks"].values()})
    table.add_column("model")
    for category in categories:
        table.add_column(category, justify="right")
    for model, gains in board.get("gain_by_category", {}).items():
        table.add_row(model, *(f"{gains[c]:+.1%}" if gains.get(c) is not None else "n/a" for c in categories))
    return table
