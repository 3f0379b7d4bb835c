"""`bioharness zoo`: the reported values as a models x tasks table, the source key in each cell and
a legend of the sources below; the published headline gains per category after it.

The values are those of every reported file (:mod:`.reported`): the ``reported_dirs`` hook's
and ``--reported``'s. A value that maps to no bioharness task is counted below the table (its
reason is in ``--json``).
"""
from bioharness import UsageError

from .reported import gain_rows, task_rows


def zoo(loaded, catalog, task=None, model=None):
    """The zoo's content, filtered: {"tasks": [columns: a task, or "task (metric)" for a
    metric that is not its headline], "models": [rows], "cells": {(model, column): [entries]}, "values": [task rows], "unmapped": [rows], "gains": [gain rows],
    "sources": {key: source}, "models_info": {name: metadata}}."""
    values, gains, sources, info = [], [], {}, {}
    for data in loaded:
        source = {k: v for k, v in data["source"].items()}
        sources[source["key"]] = {**source, "setting": data["setting"], "file": data["path"]}
        for name, meta in data["models"].items():
            info.setdefault(name, {**meta, "source": source["key"]})
        values += task_rows(data)
        gains += gain_rows(data)
    names = list(dict.fromkeys(r["model"] for r in values))
    if model is not None:
        chosen = [n for n in names if n.lower() == model.lower()]
        if not chosen:
            raise UsageError(f"no model {model!r} in the zoo (known: {', '.join(names)})")
        values = [r for r in values if r["model"] == chosen[0]]
    if task is not None:
        if not any(r["task"] == task for r in values) and task not in catalog.specs and ":" not in task:
            raise UsageError(f"unknown task {task!r} (`bioharness tasks` lists them)")
        values = [r for r in values if r["task"] == task]
        gains = [g for g in gains if task in catalog.specs and g["category"] == catalog.specs[task].category]
    if model is not None:
        gains = []
    # one column per task: a value that maps to several tasks (the same dataset asked by
    # bioharness, the openmedllm suite and lm-eval) stands under the first, unless --task names another
    placed = []
    for row in values:
        if row["task"] is None:
            continue
        first = _first_task(row, values)
        if task is not None or row["task"] == first:
            placed.append(row)
    unmapped = list({(r["source"], r["model"], r["dataset"], r["source_metric"]): r
                     for r in values if r["task"] is None}.values())
    columns = list(dict.fromkeys(column(r, catalog) for r in placed))
    rows = list(dict.fromkeys(r["model"] for r in placed))
    cells = {}
    for r in placed:
        cells.setdefault((r["model"], column(r, catalog)), []).append(r)
    return {"tasks": columns, "models": rows, "cells": cells, "values": values, "unmapped": unmapped, "gains": gains,
            "sources": sources, "models_info": info}


def _first_task(row, values):
    return next(r["task"] for r in values if r["source"] == row["source"] and r["model"] == row["model"]
                and r["dataset"] == row["dataset"] and r["source_metric"] == row["source_metric"] and r["task"])


def column(row, catalog):
    """A value's column: its task, and its metric where that is not the task's headline
    (``pubmedqa (macro_f1)``)."""
    spec = catalog.specs.get(row["task"])
    return row["task"] if spec is None or row["metric"] == spec.metrics[0] else f"{row['task']} ({row['metric']})"


def cell_text(entries):
    """``0.508 qiu2024``; two sources for one model and column: both, ``; ``-separated."""
    return "; ".join(f"{r['value']:.3f} {r['source']}" for r in entries)


def render(found, catalog, console):
    from rich.markup import escape
    from rich.table import Table

    if found["tasks"]:
        console.print("zoo: published values, reported (not measured); each cell a value and the key of its source "
                      "(the sources below)", markup=False)
        table = Table()
        table.add_column("model", no_wrap=True)
        for task in found["tasks"]:
            table.add_column(escape(task), justify="right", overflow="fold")
        for name in found["models"]:
            table.add_row(escape(name), *(escape(cell_text(found["cells"].get((name, t), []))) or "-"
                                          for t in found["tasks"]))
        console.print(table)
    else:
        console.print("no published value maps to a bioharness task here", markup=False)
    if found["unmapped"]:
        datasets = list(dict.fromkeys(f"{r['dataset']} {r['source_metric']}" for r in found["unmapped"]))
        console.print(f"{len(found['unmapped'])} more published value(s) map to no bioharness task "
                      f"({', '.join(datasets)}): `bioharness zoo --json` lists them with the reason", markup=False)
    if found["gains"]:
        console.print("\nheadline gains per task category (reported, tuned over untuned):", markup=False)
        for g in found["gains"]:
            console.print(f"  {g['category']}: {g['gain']:+.1%} {g['metric']} [{g['source']}] {g['tuned']} vs "
                          f"{g['untuned']}; {g.get('gain_kind') or ''}", markup=False)
    used = list(dict.fromkeys([r["source"] for r in found["values"]] + [g["source"] for g in found["gains"]]))
    if used:
        console.print("\nsources:", markup=False)
    for key in used:
        s = found["sources"][key]
        setting = s["setting"]
        stated = ", ".join(f"{k} {setting[k]}" for k in ("shots", "scoring", "harness", "prompt")
                           if setting.get(k) is not None) or "no setting stated"
        console.print(f"  {key}: {s['cite']}. {s['where']} ({s['kind']}). {s['url']}\n"
                      f"      setting: {stated}{'; ' + setting['note'] if setting.get('note') else ''}\n"
                      f"      checked: {s['checked']}", markup=False)


def as_json(found):
    return {"sources": found["sources"], "models": found["models_info"], "values": found["values"],
            "gains": found["gains"]}
