"""``report.html``: one self-contained page (inline CSS, SVG and plain JS; nothing fetched).

Sections: the leaderboard (value, 95% CI, n, errors and the setting each number was
measured with; a task whose requests failed reads ``incomplete (N errors)``), the published
scores of other models (marked reported, with their source, kept apart), the paired
differences to the baseline, the mean relative gain per task category,
the category-transfer heatmap, one plot per task, the decontamination summary, and a
browser over every evaluated sample (filters: task, model, correct/incorrect, models
disagree, text search; the URL fragment ``#task=..&model=..&correct=..&disagree=1&q=..``
sets them, so a link can point at a selection). Undefined numbers read "n/a".
"""
import html
import json
import time
from pathlib import Path

from bioharness import atomic_write_text, read_json

HERE = Path(__file__).parent
ORDER = ("qa", "ie", "gen", "other", "all")
PROMPT_CHARS = 3000  # a sample's prompt/output shown up to this length (all of it: in samples.jsonl)


def _e(value):
    return html.escape(str(value), quote=True)


def _num(x, fmt="{:.3f}"):
    return "n/a" if x is None or x != x else fmt.format(x)


def _pct(x):
    return _num(x, "{:+.1%}")


def _ordered(names):
    return sorted(names, key=lambda c: (ORDER.index(c) if c in ORDER else len(ORDER), c))


def _setting(setting):
    if not setting:
        return "n/a"
    return (f"scoring {setting.get('scoring')} · {setting.get('num_fewshot', 0)}-shot · prompt "
            f"{str(setting.get('prompt_hash'))[:8]} · data {str(setting.get('data_hash'))[:8]}"
            + (f" · limit {setting['limit']}" if setting.get("limit") else ""))


def name(board, model):
    """A model's name in every table and plot (its label, else its spec)."""
    return (board.get("labels") or {}).get(model, model)


def gain_of(board, model, category):
    """A model's mean relative gain in a category: {gain, low, high, p, significant, ...} or
    None (a board of before the CIs held a bare number: a gain without an interval)."""
    gain = (board.get("gain_by_category") or {}).get(model, {}).get(category)
    if gain is None or isinstance(gain, dict):
        return gain
    return {"gain": gain, "low": None, "high": None, "p": None}


def significant(found):
    """Bold and coloured only where compare found the CI to exclude 0 (``significant``; a board
    of before that flag shows nothing as significant)."""
    return bool(found and found.get("significant"))


def fmt_ci(gain):
    """``[-20.0%, +60.0%] p=0.37`` (relative gains), or ``no interval``."""
    if not gain or gain.get("low") is None:
        return "no interval"
    return f"[{_pct(gain['low'])}, {_pct(gain['high'])}] p={_num(gain.get('p'), '{:.2f}')}"


def models_info(board):
    """[(model, name, spec, adapter)] in board order."""
    info = board.get("models_info") or {}
    return [(m, name(board, m), (info.get(m) or {}).get("spec", m), (info.get(m) or {}).get("adapter"))
            for m in board["models"]]


def score_rows(board):
    """(task, entry, [(model, score or None, CI low, CI high)]) per task, models in board order."""
    for task, entry in board["tasks"].items():
        scores = []
        for m in board["models"]:
            s = entry["scores"].get(m)
            low, high = ((s or {}).get("ci95") or [None, None])[:2]
            scores.append((m, s, low, high))
        yield task, entry, scores


def incomplete(score):
    """``incomplete (N errors)`` for a task whose requests failed (compare's ``status``), else None."""
    return None if not score or score.get("complete", True) else score["status"]


def task_errors(entry):
    """Failed samples of one task, over its models (0 when every evaluation is complete)."""
    return sum(s.get("errors", 0) for s in entry["scores"].values())


def _cell(s, low, high):
    if not s:
        return '<td class="na">not evaluated</td>'
    if incomplete(s):
        return f'<td class="incomplete neg">{_e(incomplete(s))}<br><small>{s["n"]} scored</small></td>'
    return f'<td><b>{_num(s["value"])}</b><br><small>[{_num(low)}, {_num(high)}] n={s["n"]}</small></td>'


def leaderboard(board):
    models, base = board["models"], board.get("baseline")
    head = "".join(f'<th title="{_e(m)}">{_e(name(board, m))}{" (baseline)" if m == base else ""}</th>' for m in models)
    rows = []
    for task, entry, scores in score_rows(board):
        cells = [_cell(s, low, high) for m, s, low, high in scores]
        settings = {_setting(s.get("setting")) for s in entry["scores"].values()}
        note = " <b class=neg>(differs between models)</b>" if len(settings) > 1 else ""
        rows.append(f'<tr data-task="{_e(task)}"><td>{_e(task)}</td><td>{_e(entry["category"])}</td>'
                    f'<td>{_e(entry["metric"])}</td>{"".join(cells)}<td class=errors>{task_errors(entry)}</td>'
                    f'<td class=setting>{"<br>".join(map(_e, sorted(settings)))}{note}</td></tr>')
    return (f'<table id="leaderboard"><tr><th>task</th><th>category</th><th>metric</th>{head}<th>errors</th>'
            "<th>setting</th></tr>" + "".join(rows) + "</table><p>Value, percentile-bootstrap 95% CI and number of "
            "samples; errors: samples whose requests failed (a task with errors is incomplete: it has no value and "
            "no paired difference until the same command is run again); the setting is the scoring mode, the "
            "few-shot count and the hashes of the prompt and the data.</p>" + models_legend(board))


def models_legend(board):
    rows = "".join(f"<tr><td>{_e(n)}{' (baseline)' if m == board.get('baseline') else ''}</td><td><code>{_e(spec)}"
                   f"</code></td><td>{_e(adapter or '-')}</td></tr>" for m, n, spec, adapter in models_info(board))
    return ("<table id=models><tr><th>model</th><th>spec</th><th>adapter</th></tr>" + rows + "</table>"
            "<p>The names used in every table and plot, and the full model each one is.</p>")


def reported_table(board):
    """Published scores (reported files and the ``reported_scores`` hook), each marked reported,
    with its source: [task, model, metric, value, kind, setting, comparable, source] rows,
    measured ones never among them."""
    rows = []
    for r in board.get("reported") or ():
        stated = [f"{r['shots']}-shot" if r.get("shots") is not None else None,
                  f"scoring {r['scoring']}" if r.get("scoring") is not None else None, r.get("harness")]
        setting = " · ".join(x for x in stated if x) or "not stated"
        comparable = "same setting as measured" if r.get("beside") else f"not comparable: {r.get('difference')}"
        model = r["model"] + (f" ({r['tuning']})" if r.get("tuning") else "")
        rows.append([r["task"], model, r.get("metric", ""), _num(r["value"]), f"reported, {r.get('kind')}", setting,
                     comparable, r.get("source")])
    return rows


REPORTED_HEAD = ("task", "model", "metric", "value", "reported", "setting", "comparable", "source")


def sources(board):
    """{key: (cite, where, url, checked)} of every reported row and gain on the board."""
    found = {}
    for r in list(board.get("reported") or ()) + list(board.get("reported_gains") or ()):
        found.setdefault(r.get("source"), (r.get("cite", ""), r.get("where", ""), r.get("url"), r.get("checked", "")))
    return found


def sources_list(board, keys):
    items = []
    for key in keys:
        cite, where, url, checked = sources(board)[key]
        link = f' <a href="{_e(url)}">{_e(url.split("://", 1)[-1])}</a>' if url else ""
        items.append(f"<li><b>{_e(key)}</b>: {_e(cite)}. {_e(where)}.{link} <small>Checked: {_e(checked)}</small></li>")
    return "<ul class=sources>" + "".join(items) + "</ul>" if items else ""


def reported(board):
    rows = reported_table(board)
    if not rows:
        return "<p id=reported-none>No published scores for the tasks of this run.</p>"
    body = "".join("<tr class=reported>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    keys = list(dict.fromkeys(r.get("source") for r in board.get("reported") or ()))
    beside = sum(1 for r in board.get("reported") or () if r.get("beside"))
    return ("<p>Published numbers, <b>not measured here</b>: never part of the leaderboard, the paired differences "
            "or the gains. Comparable only where the setting (task, metric, shots, scoring) is the measured one.</p>"
            f"<details{' open' if len(rows) <= 12 else ''}><summary>{len(rows)} published value(s) for the tasks of this "
            f"run, {beside} in the measured setting</summary>"
            '<table id="reported"><tr>' + "".join(f"<th>{h}</th>" for h in REPORTED_HEAD) + "</tr>" + body + "</table>"
            "</details><p>Sources (key: paper and table, or result file; how each was checked):</p>"
            + sources_list(board, keys))


def differences(board):
    base = board.get("baseline")
    others = [m for m in board["models"] if m != base]
    if not base or not others:
        return "<p>No baseline was given: no paired differences.</p>"
    rows = []
    for task, entry in board["tasks"].items():
        for m in others:
            d = entry["vs_baseline"].get(m)
            if not d:
                continue
            diff = d["diff"] or 0
            cls = (("pos" if diff > 0 else "neg") + " sig") if significant(d) else ""
            rows.append(f'<tr><td>{_e(task)}</td><td>{_e(name(board, m))}</td><td class="{cls}">{_num(d["diff"], "{:+.3f}")}</td>'
                        f'<td>[{_num(d["low"], "{:+.3f}")}, {_num(d["high"], "{:+.3f}")}]</td>'
                        f'<td>{_num(d.get("p_le_zero"))}</td><td>{d.get("n", "n/a")}</td>'
                        f'<td>{_pct(d.get("relative_gain"))}</td><td>{_interval_svg(d)}</td></tr>')
    return (f"<p>Each model minus <b>{_e(name(board, base))}</b> on the samples both were evaluated on (paired "
            "bootstrap); bold and coloured only where the 95% CI excludes 0; p: share of resamples where the difference "
            "is &le; 0.</p><table id=differences>"
            "<tr><th>task</th><th>model</th><th>difference</th><th>95% CI</th><th>p</th><th>n</th>"
            "<th>relative gain</th><th></th></tr>" + "".join(rows) + "</table>")


def _interval_svg(d, width=160):
    """The difference and its CI on a -1..1 axis (0 in the middle)."""
    if d["diff"] is None or d["low"] is None or d["high"] is None:
        return ""
    x = lambda v: width / 2 + max(-1.0, min(1.0, v)) * width / 2  # noqa: E731
    return (f'<svg width="{width}" height="14"><line x1="{width / 2}" x2="{width / 2}" y1="0" y2="14" class=axis />'
            f'<line x1="{x(d["low"]):.1f}" x2="{x(d["high"]):.1f}" y1="7" y2="7" class=ci />'
            f'<circle cx="{x(d["diff"]):.1f}" cy="7" r="3" class=dot /></svg>')


def _gain_cell(gain, model, category):
    if not gain or gain.get("gain") is None:
        return f'<td class=gain data-model="{_e(model)}" data-category="{_e(category)}">n/a</td>'
    cls = ("pos sig" if gain["gain"] > 0 else "neg sig") if significant(gain) else ""
    return (f'<td class="gain {cls}" data-model="{_e(model)}" data-category="{_e(category)}">{_pct(gain["gain"])}'
            f"<br><small>{_e(fmt_ci(gain))}</small></td>")


def reported_gains(board):
    """{source key: {category: row}} of the published headline gains on the board."""
    found = {}
    for row in board.get("reported_gains") or ():
        found.setdefault(row["source"], {})[row["category"]] = row
    return found


def category_gains(board):
    gains = board.get("gain_by_category") or {}
    if not gains:
        return "<p>No baseline was given: no gains.</p>"
    cats = _ordered({c for g in gains.values() for c in g} | {c for r in reported_gains(board).values() for c in r})
    rows = "".join(f"<tr><td>{_e(name(board, m))}</td>" + "".join(_gain_cell(gain_of(board, m, c), m, c) for c in cats)
                   + "</tr>" for m in board["models"] if m in gains)  # board order (the JSON sorts keys)
    published, notes = "", []
    for key, by_category in reported_gains(board).items():
        first = next(iter(by_category.values()))
        published += (f'<tr class=reported data-source="{_e(key)}"><td>{_e(key)} <small>(reported, {_e(first["kind"])}; '
                      "not measured)</small></td>" + "".join(
                          f"<td>{_pct(by_category[c]['gain'])}<br><small>{_e(by_category[c]['metric'])}</small></td>"
                          if c in by_category else "<td>-</td>" for c in cats) + "</tr>")
        notes.append(f"<b>{_e(key)}</b>: {_e(first['tuned'])} vs {_e(first['untuned'])}; {_e(first.get('gain_kind') or '')}"
                     f". Not comparable: {_e(first['not_comparable'])}")
    base = _e(name(board, board.get("baseline")))
    return (f"<p>Mean over each category's tasks of (model &minus; {base}) / {base}, with a paired-bootstrap 95% CI "
            "(each task's samples resampled as in its paired difference) and p, the share of resamples where the mean "
            "gain is &le; 0. Bold and green (red) only where the CI excludes 0: a gain whose interval includes 0 is not "
            "shown as one. Rows marked reported are published numbers, not measured here.</p><table id=gains><tr><th>model</th>"
            + "".join(f"<th>{_e(c)}</th>" for c in cats) + f"</tr>{rows}{published}</table>"
            + ("<p class=meta>" + "<br>".join(notes) + "</p>" if notes else "")
            + sources_list(board, list(reported_gains(board))))


def _colour(gain, scale):
    if gain is None:
        return "#eeeeee"
    t = max(-1.0, min(1.0, gain / scale)) if scale else 0.0
    r, g, b = (255, int(255 * (1 + t)), int(255 * (1 + t))) if t < 0 else (int(255 * (1 - t * .8)), int(255 * (1 - t * .35)), int(255 * (1 - t * .8)))
    return f"rgb({r},{g},{b})"


NEUTRAL = "#f4f4f4"  # a cell whose CI includes 0: no colour, whatever the sign of its gain


def heatmap(board):
    """SVG: rows the instruction categories an adapter was tuned on, columns the task
    categories, each cell the mean relative gain over the baseline with its CI and p (coloured,
    and bold, only where the CI excludes 0); below, a row per published headline gain (reported)."""
    transfer = board.get("transfer") or {}
    if not transfer:
        return ("<p id=heatmap-none>No category-transfer ablation in this run "
                "(<code>bioharness run --ablate-categories</code> tunes one adapter per category).</p>")
    rows = _ordered(transfer)
    published = reported_gains(board)
    cols = _ordered({c for r in transfer.values() for c in r})
    gains = [cell.get("gain") for r in transfer.values() for cell in r.values()
             if cell.get("gain") is not None and significant(cell)]
    scale = max([abs(g) for g in gains] + [1e-9])
    cw, ch, left, top = 200, 54, 150, 28
    height = top + ch * (len(rows) + len(published)) + 10
    parts = [f'<svg id=heatmap width="{left + cw * len(cols) + 10}" height="{height}" role="img" '
             'aria-label="category transfer heatmap">']
    for j, c in enumerate(cols):
        parts.append(f'<text x="{left + cw * j + cw / 2}" y="18" text-anchor="middle" class=hl>{_e(c)} tasks</text>')
    for i, r in enumerate(rows):
        y = top + ch * i
        parts.append(f'<text x="{left - 8}" y="{y + ch / 2 + 4}" text-anchor="end" class=hl>tuned on {_e(r)}</text>')
        for j, c in enumerate(cols):
            cell = transfer[r].get(c) or {}
            gain, x = cell.get("gain"), left + cw * j
            sig = gain is not None and significant(cell)
            ci = fmt_ci(cell) if gain is not None else ""
            tip = "; ".join(f"{t}: {_num(v.get('diff'), '{:+.3f}')} [{_num(v.get('low'), '{:+.3f}')}, "
                            f"{_num(v.get('high'), '{:+.3f}')}] p={_num(v.get('p'))}"
                            for t, v in (cell.get("tasks") or {}).items())
            fill = _colour(gain, scale) if sig else ("#eeeeee" if gain is None else NEUTRAL)
            parts.append(f'<g class="cell{" sig" if sig else ""}" data-row="{_e(r)}" data-col="{_e(c)}" '
                         f'data-fill="{fill}"><title>tuned on {_e(r)}, {_e(c)} tasks: {_pct(gain)} {_e(ci)} '
                         f'{_e(tip)}</title><rect x="{x}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"/>'
                         f'<text x="{x + cw / 2}" y="{y + 22}" text-anchor="middle" class="v{" sig" if sig else ""}">'
                         f'{_pct(gain)}</text><text x="{x + cw / 2}" y="{y + 38}" text-anchor="middle" class=s>'
                         f'{_e(ci)}</text></g>')
    for i, (key, by_category) in enumerate(published.items()):
        y = top + ch * (len(rows) + i)
        parts.append(f'<text x="{left - 8}" y="{y + ch / 2 + 4}" text-anchor="end" class=rep>{_e(key)} (reported)</text>')
        for j, c in enumerate(cols):
            row, x = by_category.get(c), left + cw * j
            parts.append(f'<g class=reported-cell data-source="{_e(key)}" data-col="{_e(c)}"><rect x="{x}" y="{y}" '
                         f'width="{cw - 2}" height="{ch - 2}" class=rep />'
                         f'<text x="{x + cw / 2}" y="{y + 22}" text-anchor="middle" class=rep>'
                         f'{_pct(row["gain"]) if row else "-"}</text><text x="{x + cw / 2}" y="{y + 38}" '
                         f'text-anchor="middle" class=s>{_e(row["metric"]) if row else ""}</text></g>')
    parts.append("</svg>")
    return ("<p>Rows: the instructions an adapter was tuned on; columns: task categories; cells: mean relative gain "
            "over the baseline with its paired-bootstrap 95% CI and p (the gains per category above, one adapter "
            "each). Green (red) only where the CI excludes 0; grey where it includes 0. Hover for the tasks. The "
            "last rows are published headline gains, reported (not measured, other tasks and models).</p>"
            + "".join(parts))


def task_plot(task, entry, models, names=None):
    """SVG bars: one per model (shown by its name in ``names``) with its 95% CI whisker; values
    on the metric's own scale."""
    names = names or {}
    scores = [(names.get(m, m), entry["scores"].get(m)) for m in models]
    known = [v for _, s in scores if s for v in [s["value"], *(s.get("ci95") or [])] if v is not None]
    top = max(known + [1.0]) if known and max(known) > 1 else 1.0
    width, row, left = 240, 20, 8
    parts = [f'<figure class=plot data-task="{_e(task)}"><figcaption>{_e(task)} · {_e(entry["metric"])}</figcaption>'
             f'<svg width="{width + 60 + 7 * max(len(m) for m, _ in scores)}" height="{row * len(models) + 6}" role="img">']
    for i, (m, s) in enumerate(scores):
        y = i * row + 3
        if not s or s["value"] is None:
            parts.append(f'<text x="{left}" y="{y + 12}" class=s>{_e(m)}: {_e(incomplete(s) or "n/a")}</text>')
            continue
        w = width * s["value"] / top
        parts.append(f'<rect class=bar x="{left}" y="{y}" width="{w:.1f}" height="{row - 6}"><title>{_e(m)}: '
                     f'{_num(s["value"])}</title></rect>')
        low, high = (s.get("ci95") or [None, None])[:2]
        if low is not None and high is not None:
            parts.append(f'<line class=ci x1="{left + width * low / top:.1f}" x2="{left + width * high / top:.1f}" '
                         f'y1="{y + (row - 6) / 2}" y2="{y + (row - 6) / 2}"/>')
        parts.append(f'<text x="{left + width + 6}" y="{y + 11}" class=s>{_num(s["value"])} {_e(m)}</text>')
    return "".join(parts) + "</svg></figure>"


def find_decontamination(out):
    """The decontamination report of the run: ``decontamination.json`` in the run folder or
    a stage folder, else a stage manifest's ``result.decontamination``; None if none."""
    out = Path(out)
    for path in [out / "decontamination.json", *sorted(out.glob("*/decontamination.json"))]:
        if path.is_file():
            return read_json(path)
    for path in sorted(out.glob("*/manifest.json")):
        found = (read_json(path).get("result") or {}).get("decontamination")
        if isinstance(found, dict) and "tasks" in found:
            return found
    return None


def decontamination(report):
    if not report:
        return "<p>No decontamination report in this run folder.</p>"
    rows = "".join(f"<tr><td>{_e(t)}</td><td>{r.get('examples')}</td><td>{r.get('instructions')}</td>"
                   f"<td>{r.get('examples_overlapping')}</td></tr>" for t, r in report.get("tasks", {}).items())
    pairs = "".join(f"<tr><td>{_e(p['instruction'])}</td><td>{_e(p['task'])}</td><td>{_e(p['example'])}</td>"
                    f"<td><code>{_e(p['ngram'])}</code></td></tr>" for p in report.get("pairs", []))
    action = "dropped" if report.get("mode", "drop") == "drop" else "kept and flagged"
    return (f"<p id=decontamination-summary>{report.get('overlapping', 0)} of {report.get('instructions')} instructions "
            f"share a {report.get('n')}-gram with a task's test or dev data and were <b>{action}</b>.</p>"
            "<table><tr><th>task</th><th>examples checked</th><th>overlapping instructions</th>"
            f"<th>examples hit</th></tr>{rows}</table>"
            f"<details><summary>{len(report.get('pairs', []))} offending pairs</summary><table><tr><th>instruction</th>"
            f"<th>task</th><th>example</th><th>shared n-gram</th></tr>{pairs}</table></details>")


def _correct(values):
    """True/False where a sample is right or wrong as a whole, None where that is not
    defined (summaries): ``correct``, else an exact match of predicted and gold mentions."""
    if "correct" in values:
        return bool(values["correct"])
    if {"tp_strict", "npred", "ngold"} <= set(values):
        return values["tp_strict"] == values["npred"] == values["ngold"]
    return None


def _clip(value):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= PROMPT_CHARS else text[:PROMPT_CHARS] + f" … [{len(text) - PROMPT_CHARS} more characters]"


def _text(views):
    out = []
    for view in views or ():
        if view:
            out.append("\n".join(f"{k}: {_clip(v)}" if len(view) > 1 else _clip(v) for k, v in view.items()))
    return "\n---\n".join(out)


def samples(out, board):
    """Every sample of every model's complete tasks on the board as rows for the browser,
    with ``disagree`` set where the models evaluated on one example predicted different things."""
    rows, by_example = [], {}
    for m, model in enumerate(board["models"]):
        for task, entry in sorted(board["tasks"].items()):
            score = entry["scores"].get(model) or {}
            if not score.get("complete") or not score.get("samples"):
                continue
            with open(Path(out) / score["samples"], encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    r = json.loads(line)
                    row = {"m": m, "t": task, "id": r["id"], "c": _correct(r.get("values") or {}),
                           "p": _clip(r.get("prediction")), "r": _clip(r.get("reference")),
                           "v": r.get("values"), "in": _text(r.get("prompt")), "o": _text(r.get("output"))}
                    rows.append(row)
                    by_example.setdefault((task, r["id"]), []).append(row)
    for group in by_example.values():
        differ = len(group) > 1 and len({json.dumps(g["p"]) for g in group}) > 1
        for row in group:
            row["d"] = differ
    return rows


def _script_json(obj):
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def render(out, board):
    out = Path(out)
    models = board["models"]
    names = {m: name(board, m) for m in models}
    data = {"models": [names[m] for m in models], "tasks": list(board["tasks"]), "samples": samples(out, board)}
    css = (HERE / "report.css").read_text(encoding="utf-8")
    js = (HERE / "browser.js").read_text(encoding="utf-8")
    plots = "".join(task_plot(t, e, models, names) for t, e in board["tasks"].items())
    sections = [
        ("leaderboard-section", "Leaderboard", leaderboard(board)),
        ("reported-section", "Reported scores (published, not measured)", reported(board)),
        ("differences-section", "Paired differences to the baseline", differences(board)),
        ("gains-section", "Gains per task category", category_gains(board)),
        ("transfer-section", "Category transfer", heatmap(board)),
        ("plots-section", "Per task", f"<div class=plots>{plots}</div>"),
        ("decontamination-section", "Decontamination", decontamination(find_decontamination(out))),
        ("samples-section", "Samples", SAMPLE_BROWSER),
    ]
    nav = " · ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{_e(title)}</h2>{content}</section>' for sid, title, content in sections)
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>bioharness report: {_e(out.name)}</title>"
            f"<style>{css}</style></head><body><h1>bioharness report</h1><p class=meta>{_e(out)} · baseline: "
            f"{_e(name(board, board['baseline']) if board.get('baseline') else 'none')} · models: "
            f"{_e(', '.join(f'{names[m]} = {m}' if names[m] != m else m for m in models))} · written "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p><nav>{nav}</nav>{body}"
            f'<script type="application/json" id="report-data">{_script_json(data)}</script>'
            f"<script>{js}</script></body></html>")
    atomic_write_text(out / "report.html", page)
    return out / "report.html"


SAMPLE_BROWSER = """
<form id=filters onsubmit="return false">
 <label>task <select id=f-task><option value="">all</option></select></label>
 <label>model <select id=f-model><option value="">all</option></select></label>
 <label>result <select id=f-correct><option value="">all</option><option value=correct>correct</option>
  <option value=incorrect>incorrect</option></select></label>
 <label><input type=checkbox id=f-disagree> models disagree</label>
 <label>search <input type=search id=f-q placeholder="text in prompt, output, prediction"></label>
</form>
<p class=meta>result: correct or incorrect where a sample is right or wrong as a whole (an answer, a label, the exact
set of mentions); n/a for free text (summaries), which the correct/incorrect filters leave out. Models disagree: their
predictions on the same example differ.</p>
<p id=count></p>
<table id=samples><thead><tr><th>task</th><th>model</th><th>id</th><th>result</th><th>prediction</th>
<th>reference</th></tr></thead><tbody></tbody></table>
<p><button id=more type=button>show more</button></p>
"""
