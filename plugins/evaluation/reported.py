"""Published results ("reported"): the YAML format, where its files come from, where each row may stand.

A reported file holds the numbers of one source (a paper's table, a leaderboard's result
file, or, for headline gains only, a paper's abstract), typed in as the source prints them
(README, "Published results"). Files come from the ``reported_dirs`` hook (every ``*.yaml`` in
the folders plugins return; the built-in ones are the ``lmeval`` plugin's) and from
``--reported FILE``. :func:`load` checks a file key by key (bad input is one line naming the
file and key), :func:`task_rows` and :func:`gain_rows` flatten it, :func:`place` decides,
for a compare board, which rows may stand beside the measured ones. Reported numbers never
enter a measured cell, a paired difference or a measured gain.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bioharness import TASK_CATEGORIES, DataError, UsageError, read_yaml

SOURCE_KINDS = {
    "table": "a table of a paper (where: 'Table N')",
    "result-file": "a leaderboard's or harness's result file (url: the file)",
    "abstract": "a paper's abstract: category-level gains only, when the tables cannot be read",
}
SOURCE_KEYS = {"key", "cite", "kind", "where", "url", "checked", "note"}
SETTING_KEYS = {"shots", "scoring", "harness", "prompt", "split", "note"}
TOP_KEYS = {"source", "setting", "scale", "models", "rows", "gains"}
MODEL_KEYS = {"size", "base", "tuning", "untuned", "hub", "note"}
ROW_KEYS = {"dataset", "metric", "tasks", "task_metric", "not_comparable", "checked", "values", "setting"}
GAIN_KEYS = {"category", "metric", "gain", "tuned", "untuned", "not_comparable", "checked", "gain_kind"}
TRACKERS = ("/issues/", "/pull/", "/discussions/")  # an issue tracker is not a source


def _text(value):
    return isinstance(value, str) and value.strip() != ""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown(path, where, given, known):
    for key in given:
        if key not in known:
            raise DataError(path, f"{where}{key}", f"unknown key (expected one of: {', '.join(sorted(known))})")


def _need(path, key, value, check, expected):
    if not check(value):
        raise DataError(path, key, f"expected {expected}, got {value!r}")


def load(path, tasks=None):
    """The checked content of one reported file. ``tasks``: the names of the installed tasks;
    when given, every row's ``tasks`` must be among them (``prefix:name`` tasks of a plugin
    that runs its own, such as ``lm_eval:medqa_4options``, are taken as they are)."""
    path = Path(path)
    try:
        data = read_yaml(path, "a reported file (YAML)")
    except OSError as exc:
        raise UsageError(f"reported file {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise DataError(path, "", "expected a mapping with source, setting and rows or gains")
    _unknown(path, "", data, TOP_KEYS)
    source = data.get("source")
    _need(path, "source", source, lambda v: isinstance(v, dict), "a mapping (key, cite, kind, where, url, checked)")
    _unknown(path, "source.", source, SOURCE_KEYS)
    for key in ("key", "cite", "where", "checked"):
        _need(path, f"source.{key}", source.get(key), _text, "text")
    _need(path, "source.kind", source.get("kind"), lambda v: v in SOURCE_KINDS,
          " or ".join(SOURCE_KINDS) + " (" + "; ".join(f"{k}: {v}" for k, v in SOURCE_KINDS.items()) + ")")
    _need(path, "source.url", source.get("url"), lambda v: _text(v) and "://" in v, "the source's address (a URL)")
    if any(t in source["url"] for t in TRACKERS):
        raise DataError(path, "source.url", f"{source['url']} is an issue tracker, not a primary source "
                                            "(cite the paper's table or the result file)")
    setting = data.get("setting") or {}
    _need(path, "setting", setting, lambda v: isinstance(v, dict), "a mapping (shots, scoring, harness, prompt)")
    _unknown(path, "setting.", setting, SETTING_KEYS)
    _need(path, "setting.shots", setting.get("shots"), lambda v: v is None or (isinstance(v, int) and v >= 0),
          "a whole number, or null when the source does not state it")
    scale = data.get("scale", 1)
    _need(path, "scale", scale, lambda v: _number(v) and v > 0, "a number > 0 (100 when the source prints percentages)")
    models = data.get("models") or {}
    _need(path, "models", models, lambda v: isinstance(v, dict), "a mapping of model name to its description")
    for name, info in models.items():
        _need(path, f"models.{name}", info, lambda v: isinstance(v, dict), "a mapping (size, base, tuning, untuned, hub)")
        _unknown(path, f"models.{name}.", info, MODEL_KEYS)
    rows, gains = data.get("rows") or [], data.get("gains") or []
    _need(path, "rows", rows, lambda v: isinstance(v, list), "a list of rows")
    _need(path, "gains", gains, lambda v: isinstance(v, list), "a list of category gains")
    if not rows and not gains:
        raise DataError(path, "rows", "no rows and no gains: nothing is reported")
    if rows and source["kind"] == "abstract":
        raise DataError(path, "rows", "task-level rows need a table or a result file as their source, not an abstract")
    for i, row in enumerate(rows):
        where = f"rows[{i}]"
        _need(path, where, row, lambda v: isinstance(v, dict), "a mapping (dataset, metric, tasks, values)")
        _unknown(path, f"{where}.", row, ROW_KEYS)
        for key in ("dataset", "metric"):
            _need(path, f"{where}.{key}", row.get(key), _text, "text")
        mapped = row.get("tasks") or []
        _need(path, f"{where}.tasks", mapped, lambda v: isinstance(v, list) and all(_text(t) for t in v),
              "a list of bioharness task names")
        if not mapped and not _text(row.get("not_comparable")):
            raise DataError(path, f"{where}.not_comparable", "a row that maps to no task must say why "
                                                              "(no such task, another split, metric or setting)")
        if mapped and not _text(row.get("task_metric")):
            raise DataError(path, f"{where}.task_metric", "the metric of the mapped tasks this row reports")
        for task in mapped:
            if tasks is not None and ":" not in task and task not in tasks:
                raise DataError(path, f"{where}.tasks", f"unknown task {task!r}")
        values = row.get("values")
        _need(path, f"{where}.values", values, lambda v: isinstance(v, dict) and v, "a mapping of model name to value")
        for name, value in values.items():
            _need(path, f"{where}.values.{name}", value, _number, "a number")
    for i, gain in enumerate(gains):
        where = f"gains[{i}]"
        _need(path, where, gain, lambda v: isinstance(v, dict), "a mapping (category, metric, gain, tuned, untuned)")
        _unknown(path, f"{where}.", gain, GAIN_KEYS)
        _need(path, f"{where}.category", gain.get("category"), lambda v: v in TASK_CATEGORIES, " or ".join(TASK_CATEGORIES))
        for key in ("metric", "tuned", "untuned", "not_comparable"):
            _need(path, f"{where}.{key}", gain.get(key), _text, "text")
        _need(path, f"{where}.gain", gain.get("gain"), _number, "a number (0.173 for +17.3%)")
    return {**data, "path": str(path), "scale": scale, "setting": setting, "models": models, "rows": rows, "gains": gains}


def _source(data):
    source = data["source"]
    return {"source": source["key"], "cite": source["cite"], "kind": source["kind"], "where": source["where"],
            "url": source["url"], "file": data["path"]}


def task_rows(data):
    """One row per (value, mapped task), and one per value that maps to no task (``task``
    None): model, dataset, the source's metric and ours, value (a fraction when ``scale``
    says the source prints percentages), the source's setting, ``checked`` and
    ``not_comparable`` (why a measured number of that task is not comparable, or None)."""
    setting, out = data["setting"], []
    for row in data["rows"]:
        row_setting = {**setting, **(row.get("setting") or {})}
        for model, value in row["values"].items():
            info = data["models"].get(model) or {}
            base = {**_source(data), "model": model, "tuning": info.get("tuning"), "untuned": info.get("untuned"),
                    "dataset": row["dataset"], "source_metric": row["metric"],
                    "value": value / data["scale"], "shots": row_setting.get("shots"),
                    "scoring": row_setting.get("scoring"), "harness": row_setting.get("harness"),
                    "prompt": row_setting.get("prompt"), "checked": row.get("checked") or data["source"]["checked"],
                    "not_comparable": row.get("not_comparable")}
            for task in row.get("tasks") or [None]:
                out.append({**base, "task": task, "metric": row.get("task_metric") if task else row["metric"]})
    return out


def gain_rows(data):
    """The category-level gains of one file (tuned over untuned, per task category)."""
    return [{**_source(data), "category": g["category"], "metric": g["metric"], "gain": g["gain"], "tuned": g["tuned"],
             "untuned": g["untuned"], "gain_kind": g.get("gain_kind"), "not_comparable": g["not_comparable"],
             "checked": g.get("checked") or data["source"]["checked"]} for g in data["gains"]]


def files(hooks, extra=()):
    """The reported files: every ``*.yaml`` in the folders of the ``reported_dirs`` hook, then
    ``extra`` (``--reported``), in that order."""
    found = []
    for _, folders in hooks.each("reported_dirs"):
        for folder in folders or ():
            found += sorted(Path(folder).glob("*.yaml"))
    for path in extra or ():
        if not Path(path).is_file():
            raise UsageError(f"--reported {path}: no such file")
        found.append(Path(path))
    return found


def load_all(hooks, extra=(), tasks=None):
    """Every reported file, loaded and checked; a source key used by two files is an error."""
    loaded, keys = [], {}
    for path in files(hooks, extra):
        data = load(path, tasks)
        key = data["source"]["key"]
        if key in keys:
            raise DataError(path, "source.key", f"{key!r} is also the key of {keys[key]}")
        keys[key] = path
        loaded.append(data)
    return loaded


def digest(loaded):
    """A hash of what the reported files say (a compare board is recomputed when it changes)."""
    content = [{k: v for k, v in d.items() if k != "path"} for d in loaded]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _measured_setting(score):
    setting = score.get("setting", {})
    return setting.get("num_fewshot"), setting.get("scoring")


def place(board, rows):
    """The task-level ``rows`` for the tasks on ``board``, each with ``beside`` (True when its
    setting is that of every measured model there and the file does not mark it not
    comparable) and ``difference`` (why not, or None)."""
    out = []
    for row in rows:
        entry = board["tasks"].get(row["task"]) if row["task"] else None
        if not entry:
            continue
        measured = {_measured_setting(s) for s in entry["scores"].values()}
        differences = [row["not_comparable"]] if row["not_comparable"] else []
        if row["metric"] != entry["metric"]:
            differences.append(f"metric {row['metric']} reported vs {entry['metric']} measured")
        unstated = [key for key in ("shots", "scoring") if row[key] is None]
        if unstated:
            differences.append(f"the source does not state {' and '.join(unstated)}")
        if row["shots"] is not None and any(shots != row["shots"] for shots, _ in measured):
            differences.append(f"shots {row['shots']} reported vs {sorted(str(s) for s, _ in measured)} measured")
        if row["scoring"] is not None and any(scoring not in (row["scoring"], "lm-eval") for _, scoring in measured):
            differences.append(f"scoring {row['scoring']} reported vs {sorted(str(s) for _, s in measured)} measured")
        out.append({**row, "beside": not differences, "difference": "; ".join(differences) or None})
    return out
