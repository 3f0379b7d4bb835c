"""``bioharness report``: one self-contained HTML page from leaderboard.json and the samples.

Models side by side with 95% CIs, the difference to the baseline, mean relative gain per
category, the category-transfer matrix (adapters tuned on one category, evaluated on
every category), and each task's first samples as transcripts.
"""
import html
import json
from pathlib import Path

from bioharness.compare import collect
from bioharness.stats import fmt_metric
from bioharness.store import atomic_write_text

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}
.sig{font-weight:bold}.pos{color:#176d2c}.neg{color:#a11}details{margin:.4em 0}pre{white-space:pre-wrap;
background:#f8f8f8;padding:6px;max-height:20em;overflow:auto}.bar{fill:#4a78b5}.ci{stroke:#222}
"""


def _e(value):
    return html.escape(str(value))


def _bars(entry, models):
    """An inline SVG: one bar per model with its CI whisker (values in [0, 1] or rescaled)."""
    scores = [s if s and s["value"] is not None and s["ci95"][0] is not None else None
              for s in (entry["scores"].get(m) for m in models)]
    top = max([s["ci95"][1] for s in scores if s] + [1e-9])
    scale = 1.0 if top <= 1.0 else top
    width, row = 320, 18
    parts = [f'<svg width="{width + 10}" height="{row * len(models) + 4}" role="img">']
    for i, s in enumerate(scores):
        if not s:
            continue
        y = i * row + 2
        w = width * s["value"] / scale
        lo, hi = (width * v / scale for v in s["ci95"])
        parts.append(f'<rect class="bar" x="0" y="{y}" width="{w:.1f}" height="{row - 6}"><title>{_e(models[i])}: '
                     f'{s["value"]:.3f}</title></rect>')
        parts.append(f'<line class="ci" x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + (row - 6) / 2}" y2="{y + (row - 6) / 2}"/>')
    parts.append("</svg>")
    return "".join(parts)


def transfer_matrix(board):
    """{training categories: {task category: mean relative gain}} for adapters whose training
    manifest records the categories they were tuned on."""
    rows = {}
    for model, gains in board.get("gain_by_category", {}).items():
        if "+" not in model:
            continue
        manifest = Path(model.split("+", 1)[1]).parent / "manifest.json"
        categories = "all"
        if manifest.is_file():
            config = json.loads(manifest.read_text()).get("config", {})
            categories = config.get("categories") or "all"
            if isinstance(categories, list):
                categories = ",".join(categories)
        rows[f"{categories}  ({model})"] = gains
    return rows


def render(out, board, samples_per_task=5):
    results = collect(out)
    models = board["models"]
    h = [f"<!doctype html><meta charset=utf-8><title>bioharness report</title><style>{CSS}</style>",
         f"<h1>bioharness report</h1><p>{_e(out)} &middot; baseline: {_e(board.get('baseline') or 'none')}</p>",
         "<h2>Leaderboard</h2><table><tr><th>task</th><th>cat</th><th>metric</th>"
         + "".join(f"<th>{_e(m)}</th>" for m in models) + "<th>chart</th></tr>"]
    for task, entry in board["tasks"].items():
        cells = []
        for m in models:
            s = entry["scores"].get(m)
            if not s:
                cells.append("<td>-</td>")
                continue
            ci = "n/a" if s["ci95"][0] is None else f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
            text = f"{fmt_metric(s['value'])}<br><small>{ci} n={s['n']}</small>"
            d = entry["vs_baseline"].get(m)
            if d and d["diff"] is not None and d["low"] is not None:
                sig = d["low"] > 0 or d["high"] < 0
                cls = ("pos" if d["diff"] > 0 else "neg") + (" sig" if sig else "")
                text += f'<br><span class="{cls}">{d["diff"]:+.3f} [{d["low"]:+.3f}, {d["high"]:+.3f}]</span>'
            cells.append(f"<td>{text}</td>")
        h.append(f"<tr><td>{_e(task)}</td><td>{_e(entry['category'])}</td><td>{_e(entry['metric'])}</td>"
                 + "".join(cells) + f"<td>{_bars(entry, models)}</td></tr>")
    h.append("</table><p>Differences: paired bootstrap over shared samples, 95% CI; bold = the CI excludes 0.</p>")
    if board.get("gain_by_category"):
        cats = sorted({c for g in board["gain_by_category"].values() for c in g})
        h.append("<h2>Mean relative gain over the baseline, by task category</h2><table><tr><th>model</th>"
                 + "".join(f"<th>{_e(c)}</th>" for c in cats) + "</tr>")
        for model, gains in board["gain_by_category"].items():
            h.append(f"<tr><td>{_e(model)}</td>" + "".join(
                f"<td>{gains[c]:+.1%}</td>" if c in gains else "<td>-</td>" for c in cats) + "</tr>")
        h.append("</table>")
        matrix = transfer_matrix(board)
        if matrix:
            h.append("<h2>Category transfer</h2><p>Rows: categories the adapter was tuned on; columns: task "
                     "category; cells: mean relative gain over the baseline.</p><table><tr><th>tuned on</th>"
                     + "".join(f"<th>{_e(c)}</th>" for c in cats) + "</tr>")
            for label, gains in matrix.items():
                h.append(f"<tr><td>{_e(label)}</td>" + "".join(
                    f"<td>{gains[c]:+.1%}</td>" if c in gains else "<td>-</td>" for c in cats) + "</tr>")
            h.append("</table>")
    h.append("<h2>Samples</h2>")
    for model in models:
        for task, data in sorted(results.get(model, {}).items()):
            path = Path(data["_dir"]) / "samples.jsonl"
            with open(path, encoding="utf-8") as fh:
                rows = [json.loads(line) for _, line in zip(range(samples_per_task), fh)]
            h.append(f"<details><summary>{_e(model)} &middot; {_e(task)} ({data['n']} samples, showing "
                     f"{len(rows)}; all in {_e(path)})</summary>")
            for r in rows:
                h.append(f"<h4>{_e(r['id'])}: prediction {_e(r.get('prediction'))} &middot; reference "
                         f"{_e(r.get('reference'))} &middot; {_e(json.dumps(r.get('values')))}</h4>"
                         f"<pre>{_e(json.dumps(r['prompt'], indent=1, ensure_ascii=False))}</pre>"
                         f"<pre>{_e(json.dumps(r['output'], indent=1, ensure_ascii=False))}</pre>")
            h.append("</details>")
    page = "\n".join(h)
    atomic_write_text(Path(out) / "report.html", page)
    return Path(out) / "report.html"
