"""Compare evaluated models: leaderboard, paired bootstrap against a baseline, gain per category.

Reads what ``bioharness eval`` wrote (``<out>/eval/<model>/<task>/metrics.json`` and
``samples.jsonl``, and ``<out>/eval/<model>/label.json``, a model's name); writes
``<out>/leaderboard.json``. Differences between two models are computed on the samples both
were evaluated on, with the task kind's own metric recomputed on each bootstrap resample
(paired: the same resamples for both models); the mean relative gain per category averages
those same resamples, so it carries a CI and p too. Published results (:mod:`.reported`)
are listed apart, marked reported.
"""
import json
from pathlib import Path

from bioharness import (
    STAGE_MANIFEST, TASK_CATEGORIES, TaskCatalog, UsageError, atomic_write_json, check_stage, damage_error, model_name,
    parse_model_spec, read_json,
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


def collect_labels(out):
    """{spec: name} that `bioharness eval --label` (and `bioharness run`) recorded beside each
    evaluation (``<out>/eval/<model>/label.json``)."""
    found = {}
    for path in sorted((Path(out) / "eval").glob("*/label.json")):
        data = read_json(path)
        if isinstance(data, dict) and data.get("model") and data.get("label"):
            found[model_name(data["model"])] = data["label"]
    return found


def model_info(spec, label):
    """What a board says of one model: its name in tables, the full spec, backend, base model
    and adapter path (``leaderboard.json``: ``models_info``)."""
    try:
        parsed = parse_model_spec(spec)
        backend, model, adapter = parsed.backend, parsed.model, parsed.adapter
    except UsageError:
        backend, model, adapter = None, spec, None
    return {"label": label, "spec": spec, "backend": backend, "model": model, "adapter": adapter}


def _names(out, results, models, labels):
    """The models compared and their names: ``labels`` (--label) over those recorded by
    `eval --label`, else the spec; two models with one name is an error."""
    names = list(results) if not models else [model_name(m) for m in models]
    given = {**collect_labels(out), **(labels or {})}
    shown = {m: given.get(m, m) for m in names}
    taken = {}
    for model, label in shown.items():
        if label in taken:
            raise UsageError(f"the name {label!r} is given to two models ({taken[label]} and {model}): "
                             "use --label NAME=SPEC to tell them apart")
        taken[label] = model
    return names, shown


def check_names(out, models=None, labels=None):
    """The models' names, checked (two models with one name is an error) before compare runs."""
    return _names(out, collect_results(out), _by_label(out, models, labels), labels)


def _by_label(out, models, labels):
    """``models`` with each name (given or recorded by `eval --label`) turned into its spec."""
    if not models:
        return models
    recorded = {label: spec for spec, label in {**collect_labels(out), **(labels or {})}.items()}
    return [recorded.get(m, m) for m in models]


def _resolve(name, shown):
    """A model named by its label or by its spec."""
    by_label = {label: model for model, label in shown.items()}
    return by_label.get(name) or model_name(name)


def compare(out, catalog=None, baseline=None, models=None, resamples=1000, seed=0, labels=None, reported=None):
    """Write and return ``<out>/leaderboard.json``; ``catalog`` defaults to the tasks of the
    active plugins. ``labels``: {spec: name} shown for a model in every table (else the name
    recorded by `eval --label`, else the spec). ``reported``: loaded reported files (default:
    those of the ``reported_dirs`` hook)."""
    catalog = catalog or TaskCatalog()
    from .reported import gain_rows, load_all, place, task_rows
    from .stats import difference, mean_relative_gain, paired_resamples, task_seed  # numpy: imported when a comparison runs

    results = collect_results(out)
    models = _by_label(out, models, labels)  # a model may be named by its label
    names, shown = _names(out, results, models, labels)
    baseline = _resolve(baseline, shown) if baseline else None
    if baseline in names and not models:  # every model against the baseline: it comes first
        names = [baseline] + [m for m in names if m != baseline]
    for name in names:
        if name not in results:
            raise UsageError(f"model {name!r} has no evaluation under {out} (found: {', '.join(results)})")
    if baseline is not None and baseline not in results:
        raise UsageError(f"baseline {baseline!r} has no evaluation under {out} (found: {', '.join(results)})")
    tasks = sorted({t for m in names for t in results[m]})
    board = {"models": names, "labels": shown, "models_info": {m: model_info(m, shown[m]) for m in names},
             "baseline": baseline, "tasks": {}, "gain_by_category": {}}
    draws = {}  # (model, task) -> the paired resamples of its difference, reused by the category gains
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
                found = paired_resamples([base_rows[i] for i in shared], [rows[i] for i in shared],
                                         lambda sums, n: kind.metrics(spec, sums, n), entry["metric"],
                                         n_resamples=resamples, seed=task_seed(seed, task))
                diff = difference(found)
                diff["relative_gain"] = relative_gain(found["b"], found["a"])
                entry["vs_baseline"][model] = diff
                draws[(model, task)] = found
        board["tasks"][task] = entry
    if baseline:
        for model in names:
            if model == baseline:
                continue
            by_category = {}
            for task, entry in board["tasks"].items():
                if (model, task) in draws:
                    by_category.setdefault(entry["category"], {})[task] = draws[(model, task)]
            board["gain_by_category"][model] = {c: mean_relative_gain(by_category[c]) for c in ordered(by_category)}
            board["gain_by_category"][model] = {c: g for c, g in board["gain_by_category"][model].items()
                                                if g["gain"] is not None}
    # published numbers, kept apart: rows of the reported files, then what plugins compute
    loaded = load_all(catalog.hooks) if reported is None else reported
    rows = [r for data in loaded for r in task_rows(data)]
    board["reported"] = place(board, rows)
    board["reported"] += [row for _, found in catalog.hooks.each("reported_scores", board=board) for row in found or ()]
    categories = {e["category"] for e in board["tasks"].values()}
    board["reported_gains"] = [g for data in loaded for g in gain_rows(data) if g["category"] in categories]
    atomic_write_json(Path(out) / "leaderboard.json", board)
    return board


def _sum(rows):
    sums = {}
    for row in rows:
        for key, value in row.items():
            sums[key] = sums.get(key, 0.0) + value
    return sums


def ordered(categories):
    """Task categories as the paper lists them: qa, ie, gen (then any other, by name)."""
    return sorted(categories, key=lambda c: (TASK_CATEGORIES.index(c) if c in TASK_CATEGORIES else 3, str(c)))


def label(board, model):
    """The name a board shows for ``model`` (its label, else its spec)."""
    return (board.get("labels") or {}).get(model, model)


def category_gain(board, model, category):
    """One model's mean relative gain in one category: a dict (gain, low, high, p, significant,
    tasks...), or None."""
    return (board.get("gain_by_category") or {}).get(model, {}).get(category)


def fmt_gain(gain, ci=True):
    """``+16.7% [-20.0%, +60.0%] p=0.37`` for a category gain (``n/a`` when undefined)."""
    if not gain or gain.get("gain") is None:
        return "n/a"
    text = f"{gain['gain']:+.1%}"
    if ci:
        text += (f" [{gain['low']:+.1%}, {gain['high']:+.1%}] p={gain['p']:.2f}" if gain.get("low") is not None
                 else " [no interval]")
    return text


def reported_gain_label(row):
    return f"{row['source']} (reported, {row['kind']})"


def leaderboard_table(board):
    from rich.markup import escape
    from rich.table import Table

    base = board["baseline"]
    table = Table(title=escape("leaderboard" + (f" (baseline: {label(board, base)})" if base else "")))
    table.add_column("task")
    table.add_column("metric")
    for model in board["models"]:
        table.add_column(escape(label(board, model)), justify="right")
    beside = {}
    for row in board.get("reported", ()):
        if row["beside"]:
            beside.setdefault(row["task"], []).append(f"{row['model']} {row['value']:.3f} ({row['source']})")
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
                star = "*" if diff.get("significant") else ""
                text += f" ({diff['diff']:+.3f}{star})"
            cells.append(text)
        errors = sum(score.get("errors", 0) for score in entry["scores"].values())
        table.add_row(escape(task), escape(entry["metric"] or ""), *cells, str(errors),
                      *([escape("; ".join(beside.get(task, ["-"])))] if beside else []))
    return table


def models_table(board):
    """Each model's name in the tables, its full spec and adapter path."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="models")
    for column in ("name", "spec", "adapter"):
        table.add_column(column)
    for model in board["models"]:
        info = (board.get("models_info") or {}).get(model) or {"spec": model}
        name = label(board, model) + (" (baseline)" if model == board.get("baseline") else "")
        table.add_row(escape(name), escape(info["spec"]), escape(info.get("adapter") or "-"))
    return table


def transfer_matrix(board, tuned):
    """{trained on: {task category: {gain, low, high, p (the category's mean relative gain of
    that model, as in ``gain_by_category``), tasks: {task: diff, low, high, p, relative_gain}}}}."""
    matrix = {}
    for group, model in tuned.items():
        row = {}
        for task, entry in board["tasks"].items():
            diff = entry["vs_baseline"].get(model)
            if not diff:
                continue
            cell = row.setdefault(entry["category"], {"gain": None, "low": None, "high": None, "p": None,
                                                      "significant": False, "tasks": {}})
            cell["tasks"][task] = {"diff": diff["diff"], "low": diff["low"], "high": diff["high"],
                                   "p": diff.get("p_le_zero"), "relative_gain": diff.get("relative_gain"),
                                   "significant": diff.get("significant", False)}
        for category, cell in row.items():
            gain = category_gain(board, model, category) or {}
            cell.update({k: gain.get(k, cell[k]) for k in ("gain", "low", "high", "p", "significant")})
        matrix[group] = row
    return matrix


def gains_table(board, base):
    """Measured mean relative gain per category (95% CI, p; bold only where the CI excludes 0),
    and below it the published headline gains of the reported files, marked reported."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"mean relative gain over {label(board, base)} per task category "
                               "(paired bootstrap 95% CI, p = share of resamples <= 0; bold: the CI excludes 0)"))
    categories = ordered({e["category"] for e in board["tasks"].values()})
    table.add_column("model")
    for category in categories:
        table.add_column(category, justify="right")
    for model in [m for m in board["models"] if m in board.get("gain_by_category", {})]:  # board order
        cells = []
        for category in categories:
            gain = category_gain(board, model, category)
            text = escape(fmt_gain(gain))
            cells.append(f"[bold]{text}[/bold]" if gain and gain.get("significant") else text)
        table.add_row(escape(label(board, model)), *cells)
    reported = {}
    for row in board.get("reported_gains", ()):
        reported.setdefault(reported_gain_label(row), {})[row["category"]] = row
    for name, by_category in reported.items():
        table.add_row(escape(name), *(f"{by_category[c]['gain']:+.1%}" if c in by_category else "-" for c in categories))
    return table
