"""``summary.md``: the run's numbers as Markdown tables (for a README, a pull request, a log)."""
from pathlib import Path

from bioharness import atomic_write_text

from .html import (REPORTED_HEAD, _num, _ordered, _pct, find_decontamination, incomplete, reported_table, score_rows,
                   task_errors)


def _table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(out, board):
    out = Path(out)
    models, base = board["models"], board.get("baseline")
    parts = [f"# bioharness summary: {out.name}", "",
             f"Baseline: {base or 'none'}. Values with 95% bootstrap CI and n; "
             "differences to the baseline are paired (* = the CI excludes 0).", ""]
    rows = []
    for task, entry, scores in score_rows(board):
        cells = []
        for m, s, low, high in scores:
            if not s or incomplete(s):
                cells.append(incomplete(s) or "-")
                continue
            text = f"{_num(s['value'])} [{_num(low)}, {_num(high)}] n={s['n']}"
            d = entry["vs_baseline"].get(m)
            if d:
                star = "*" if d["low"] is not None and (d["low"] > 0 or d["high"] < 0) else ""
                text += f" ({_num(d['diff'], '{:+.3f}')}{star})"
            cells.append(text)
        rows.append([task, entry["category"], entry["metric"], *cells, task_errors(entry)])
    parts += ["## Leaderboard", "", _table(["task", "category", "metric", *models, "errors"], rows), "",
              "errors: samples whose requests failed; a task with errors is incomplete (no value, no difference) "
              "until the same command is run again.", ""]
    published = reported_table(board)
    if published:
        parts += ["## Reported scores (published, not measured)", "",
                  "Published numbers, not measured here: never part of the leaderboard, the differences or the gains.",
                  "", _table(REPORTED_HEAD, published), ""]
    gains = board.get("gain_by_category") or {}
    if gains:
        cats = _ordered({c for g in gains.values() for c in g})
        parts += [f"## Mean relative gain over {base}", "",
                  _table(["model", *cats], [[m, *(_pct(g.get(c)) for c in cats)] for m, g in gains.items()]), ""]
    transfer = board.get("transfer") or {}
    if transfer:
        cols = _ordered({c for r in transfer.values() for c in r})
        parts += ["## Category transfer (rows: tuned on; mean relative gain)", "",
                  _table(["tuned on", *cols], [[r, *(_pct((transfer[r].get(c) or {}).get("gain")) for c in cols)]
                                               for r in _ordered(transfer)]), ""]
    report = find_decontamination(out)
    if report:
        parts += ["## Decontamination", "",
                  f"{report.get('overlapping', 0)} of {report.get('instructions')} instructions share a "
                  f"{report.get('n')}-gram with test/dev data ({report.get('mode', 'drop')}).", "",
                  _table(["task", "overlapping instructions", "examples hit"],
                         [[t, r.get("instructions"), r.get("examples_overlapping")]
                          for t, r in report.get("tasks", {}).items()]), ""]
    atomic_write_text(out / "summary.md", "\n".join(parts))
    return out / "summary.md"
