"""``summary.md``: the run's numbers as Markdown tables (for a README, a pull request, a log)."""
from pathlib import Path

from bioharness import atomic_write_text

from .html import (REPORTED_HEAD, _num, _ordered, _pct, find_decontamination, fmt_ci, gain_of, incomplete, models_info,
                   name, reported_gains, reported_table, score_rows, significant, sources, task_errors)


def _gain(gain):
    """``**+16.7%** [+2.0%, +30.0%] p=0.01``: bold only where the CI excludes 0."""
    if not gain or gain.get("gain") is None:
        return "n/a"
    value = _pct(gain["gain"])
    if significant(gain):
        value = f"**{value}**"
    return f"{value} {fmt_ci(gain)}"


def _table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(out, board):
    out = Path(out)
    models, base = board["models"], board.get("baseline")
    parts = [f"# bioharness summary: {out.name}", "",
             f"Baseline: {name(board, base) if base else 'none'}. Values with 95% bootstrap CI and n; "
             "differences to the baseline are paired (* = the CI excludes 0).", "",
             _table(["model", "spec", "adapter"], [[n + (" (baseline)" if m == base else ""), f"`{spec}`", adapter or "-"]
                                                  for m, n, spec, adapter in models_info(board)]), ""]
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
                star = "*" if significant(d) else ""
                text += f" ({_num(d['diff'], '{:+.3f}')}{star})"
            cells.append(text)
        rows.append([task, entry["category"], entry["metric"], *cells, task_errors(entry)])
    parts += ["## Leaderboard", "", _table(["task", "category", "metric", *(name(board, m) for m in models), "errors"],
                                           rows), "",
              "errors: samples whose requests failed; a task with errors is incomplete (no value, no difference) "
              "until the same command is run again.", ""]
    published = reported_table(board)
    if published:
        parts += ["## Reported scores (published, not measured)", "",
                  "Published numbers, not measured here: never part of the leaderboard, the differences or the gains.",
                  "", _table(REPORTED_HEAD, published), "", "Sources:", ""]
        for key in dict.fromkeys(r.get("source") for r in board.get("reported") or ()):
            cite, where, url, checked = sources(board)[key]
            parts.append(f"- {key}: {cite}; {where} ({url}). Checked: {checked}")
        parts.append("")
    gains = board.get("gain_by_category") or {}
    published = reported_gains(board)
    if gains:
        cats = _ordered({c for g in gains.values() for c in g} | {c for r in published.values() for c in r})
        table = [[name(board, m), *(_gain(gain_of(board, m, c)) for c in cats)] for m in board["models"]
                 if m in gains]
        table += [[f"{key} (reported, {next(iter(by.values()))['kind']}; not measured)",
                   *(f"{_pct(by[c]['gain'])} ({by[c]['metric']})" if c in by else "-" for c in cats)]
                  for key, by in published.items()]
        parts += [f"## Mean relative gain over {name(board, base)}", "",
                  "Paired-bootstrap 95% CI (each task's samples resampled as in its paired difference) and p (share of "
                  "resamples <= 0); bold only where the CI excludes 0. Rows marked reported are published, not measured.",
                  "", _table(["model", *cats], table), ""]
        for key, by in published.items():
            first = next(iter(by.values()))
            cite, where, url, checked = sources(board)[key]
            parts += [f"{key}: {cite}; {where} ({url}). {first['tuned']} vs {first['untuned']}; "
                      f"{first.get('gain_kind') or ''}. Not comparable: {first['not_comparable']}.", ""]
    transfer = board.get("transfer") or {}
    if transfer:
        cols = _ordered({c for r in transfer.values() for c in r})
        table = [[r, *(_gain(transfer[r].get(c)) for c in cols)] for r in _ordered(transfer)]
        table += [[f"{key} (reported)", *(_pct(by[c]["gain"]) if c in by else "-" for c in cols)]
                  for key, by in published.items()]
        parts += ["## Category transfer (rows: tuned on; mean relative gain, 95% CI, p)", "", _table(["tuned on", *cols], table),
                  ""]
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
