"""The report plugin: report.html and summary.md from a real (tiny) run folder."""
import json
import re

import pytest

from bioharness.plugins.report import write_reports
from bioharness.cli import main
from bioharness.plugins.report.html import find_decontamination


def _samples(out):
    rows = []
    for path in sorted((out / "eval").glob("*/*/samples.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _page_data(page):
    text = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


def transfer_board(board, tuned):
    """The ``transfer`` entry `bioharness run --ablate-categories` adds, made by compare's own
    ``transfer_matrix`` from this run's real differences (the tuned model as if tuned on qa), and
    a row "all" whose gains are undefined."""
    from bioharness.plugins.evaluation.compare import transfer_matrix

    cells = transfer_matrix(board, {"qa": tuned})["qa"]
    return {**board, "transfer": {"qa": cells, "all": {c: {**v, "gain": None} for c, v in cells.items()}}}


def test_report_command_writes_html_and_markdown(report_run, capsys):
    out = report_run["out"]
    assert main(["report", "--out", str(out), "--plugins", report_run["plugin"]]) == 0
    assert capsys.readouterr().out.split() == [str(out / "report.html"), str(out / "summary.md")]
    page = (out / "report.html").read_text()
    board = json.loads((out / "leaderboard.json").read_text())
    # self-contained: nothing is fetched (the sources of reported numbers are links to follow, <a href>)
    assert not re.search(r"<link|<img|<iframe|src=|@import|url\(", page)
    assert not re.search(r'(?<!<a href=")https?://', page)
    for task, entry in board["tasks"].items():
        for model, score in entry["scores"].items():
            low, high = score["ci95"]
            assert f"<b>{score['value']:.3f}</b><br><small>[{low:.3f}, {high:.3f}] n=10</small>" in page
            s = score["setting"]
            assert f"scoring {s['scoring']} · 0-shot · prompt {s['prompt_hash'][:8]} · data {s['data_hash'][:8]}" in page
    diff = board["tasks"]["colours"]["vs_baseline"][report_run["tuned"]]
    assert f"{diff['diff']:+.3f}</td><td>[{diff['low']:+.3f}, {diff['high']:+.3f}]</td><td>{diff['p_le_zero']:.3f}" in page
    assert page.count('<figure class=plot') == 2  # one plot per task
    assert 'id=heatmap-none' in page  # no ablation in this run
    # every sample of every model is in the browser's data, with its correctness
    data = _page_data(page)
    samples = _samples(out)
    assert len(data["samples"]) == len(samples) == 40
    wrong = sum(1 for r in samples if r["values"]["correct"] == 0)
    assert sum(1 for s in data["samples"] if s["c"] is False) == wrong
    assert data["models"] == board["models"]
    # the decontamination report of `bioharness decontaminate` is summarised
    assert "1 of 2 instructions share a 13-gram with a task's test or dev data and were <b>dropped</b>" in page
    summary = (out / "summary.md").read_text()
    value = board["tasks"]["colours"]["scores"][report_run["base"]]["value"]
    assert f"| colours | qa | accuracy | {value:.3f} [" in summary
    assert "1 of 2 instructions share a 13-gram" in summary


def test_transfer_heatmap_and_null_metrics(report_run):
    out = report_run["out"]
    board = json.loads((out / "leaderboard.json").read_text())
    board = transfer_board(board, report_run["tuned"])
    board["tasks"]["colours_gen"]["scores"][report_run["base"]]["value"] = None  # an undefined metric
    paths = write_reports(out, board, hooks=report_run["manager"].hooks)
    assert [p.name for p in paths] == ["report.html", "summary.md"]
    page = (out / "report.html").read_text()
    heatmap = re.search(r"<svg id=heatmap.*?</svg>", page, re.S).group(0)
    assert heatmap.count('<g class="cell') == 4  # 2 rows (qa, all) x 2 task categories (qa, gen)
    # and a row of published headline gains (BioInstruct's abstract), one cell per task category
    assert heatmap.count('<g class=reported-cell data-source="tran2024"') == 2 and "tran2024 (reported)" in heatmap
    cell = board["transfer"]["qa"]["qa"]
    gain = "n/a" if cell["gain"] is None else f"{cell['gain']:+.1%}"
    assert re.search(rf'data-row="qa" data-col="qa" data-fill="[^"]+"><title>tuned on qa, qa tasks: {re.escape(gain)}', heatmap)
    assert re.search(r'data-row="all" data-col="gen" data-fill="#eeeeee">.*?class="v">n/a<', heatmap)  # null gain: n/a, grey
    assert '<td class="na">' not in page.split("id=\"leaderboard\"")[1].split("</table>")[0]
    assert "<td><b>n/a</b>" in page
    summary = (out / "summary.md").read_text()
    assert "## Category transfer" in summary and "| all | n/a | n/a |" in summary
    # the transfer row of the tuned model is its gains per category, interval and p included
    gains = board["gain_by_category"][report_run["tuned"]]
    assert board["transfer"]["qa"]
    for category, cell in board["transfer"]["qa"].items():
        expected = gains.get(category) or {}  # a category without a defined gain: none in either
        assert [cell[k] for k in ("gain", "low", "high", "p")] == [expected.get(k) for k in ("gain", "low", "high", "p")]


def test_model_names_are_normalised_in_the_report(report_run):
    out = report_run["out"]
    board = json.loads((out / "leaderboard.json").read_text())
    assert all(m.startswith("hf:") for m in board["models"]) and board["baseline"] == report_run["base"]
    data = _page_data((out / "report.html").read_text())
    assert {data["models"][s["m"]] for s in data["samples"]} == set(board["models"])


def test_decontamination_is_found_in_a_stage_manifest(tmp_path):
    assert find_decontamination(tmp_path) is None
    (tmp_path / "instructions").mkdir()
    report = {"n": 13, "mode": "keep", "instructions": 5, "overlapping": 2, "tasks": {}, "pairs": []}
    (tmp_path / "instructions" / "manifest.json").write_text(json.dumps({"result": {"decontamination": report}}))
    assert find_decontamination(tmp_path) == report


@pytest.mark.parametrize("baseline", [None])
def test_report_without_leaderboard_compares_first(report_run, tmp_path, baseline, capsys):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(report_run["out"] / "eval", out / "eval")
    assert main(["report", "--out", str(out), "--plugins", report_run["plugin"]]) == 0
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["baseline"] is None and "No baseline was given: no paired differences." in (out / "report.html").read_text()


CSV_REPORTER = '''
from bioharness import atomic_write_text, hookimpl


def write_csv(out, board):
    rows = [f"{task},{model},{score['value']}" for task, entry in board["tasks"].items()
            for model, score in entry["scores"].items()]
    atomic_write_text(out / "scores.csv", "\\n".join(["task,model,value", *rows]) + "\\n")
    return out / "scores.csv"


@hookimpl
def register_reporters(register):
    register("csv", write_csv, description="scores.csv")
'''


def test_hook_register_reporters(report_run, tmp_path, capsys):
    """A third-party reporter is written beside the built-in ones, by `bioharness report`."""
    plugin = tmp_path / "csv_reporter.py"
    plugin.write_text(CSV_REPORTER)
    out = report_run["out"]
    assert main(["report", "--out", str(out), "--plugins", report_run["plugin"], "--plugins", str(plugin)]) == 0
    assert sorted(capsys.readouterr().out.split()) == [str(out / n) for n in ("report.html", "scores.csv", "summary.md")]
    board = json.loads((out / "leaderboard.json").read_text())
    lines = (out / "scores.csv").read_text().splitlines()
    assert lines[0] == "task,model,value" and len(lines) == 1 + 4
    assert f"colours,{report_run['base']},{board['tasks']['colours']['scores'][report_run['base']]['value']}" in lines
    # a second reporter named like a built-in one is an error naming both plugins
    plugin.write_text(CSV_REPORTER.replace('register("csv"', 'register("html"'))
    assert main(["report", "--out", str(out), "--plugins", str(plugin)]) == 2
    err = capsys.readouterr().err
    assert "reporter 'html' is registered by two plugins" in err and "bioharness.plugins.report" in err


def test_gains_are_bold_and_coloured_only_where_the_ci_excludes_zero(gains_run):
    """report.html and summary.md of a category ablation: every gain per category with its
    paired-bootstrap CI and p; bold/green (red) only where the CI excludes 0; the transfer
    matrix's cells are those gains; BioInstruct's published headline gains beside them."""
    out, board, specs = gains_run["out"], gains_run["board"], gains_run["specs"]
    page = (out / "report.html").read_text()
    gains = board["gain_by_category"]
    both = {g["significant"] for per in gains.values() for g in per.values()}
    assert both == {True, False}  # the run has gains of both kinds
    table = re.search(r"<table id=gains>.*?</table>", page, re.S).group(0)
    for name, spec in specs.items():
        for category, gain in gains.get(spec, {}).items():
            cell = re.search(rf'<td class="gain ([a-z ]*)" data-model="{re.escape(spec)}" data-category="{category}">'
                             rf"(.*?)</td>", table).groups()
            expected = ("pos sig" if gain["gain"] > 0 else "neg sig") if gain["significant"] else ""
            assert cell[0] == expected, (name, category, gain)
            assert cell[1] == (f"{gain['gain']:+.1%}<br><small>[{gain['low']:+.1%}, {gain['high']:+.1%}] "
                               f"p={gain['p']:.2f}</small>")
            assert gain["significant"] == (gain["low"] > 0 or gain["high"] < 0)
    # the CI of a gain that is noise includes 0: on 40 questions, +10% (4 right, 2 wrong more) is one
    noise = gains[specs["tuned"]]["ie"]
    assert noise["gain"] == pytest.approx(0.1) and noise["low"] < 0 < noise["high"] and not noise["significant"]
    assert '<tr class=reported data-source="tran2024">' in table and "+17.3%" in table and "+96.0%" in table
    # the transfer matrix: one row per adapter, each cell that adapter's gain per category
    heatmap = re.search(r"<svg id=heatmap.*?</svg>", page, re.S).group(0)
    for row, spec in (("all", specs["tuned"]), ("qa", specs["tuned-qa"]), ("ie", specs["tuned-ie"]),
                      ("gen", specs["tuned-gen"])):
        for category, gain in gains[spec].items():
            cell = board["transfer"][row][category]
            assert [cell[k] for k in ("gain", "low", "high", "p", "significant")] == [
                gain[k] for k in ("gain", "low", "high", "p", "significant")]
            g = re.search(rf'<g class="(cell[a-z ]*)" data-row="{row}" data-col="{category}" data-fill="([^"]+)">.*?'
                          r'class="(v[a-z ]*)"', heatmap).groups()
            assert g[0] == ("cell sig" if gain["significant"] else "cell") and g[2] == g[0].replace("cell", "v")
            assert (g[1] == "#f4f4f4") == (not gain["significant"])
    # names, not specs, in every table and plot; the specs once, in the models table
    leaderboard = re.search(r'<table id="leaderboard">.*?</table>', page, re.S).group(0)
    assert '<th title="hf:tiny-base">base (baseline)</th>' in leaderboard and ">tuned-qa</th>" in leaderboard
    assert f"<td>tuned-ie</td><td><code>{specs['tuned-ie']}</code></td><td>{out}/train-tuned-ie/adapter</td>" in page
    assert ">0.800 tuned-ie</text>" in page  # its bar in colours_ie's plot (32 of 40)
    names = {spec: name for name, spec in specs.items()}
    assert _page_data(page)["models"] == [names[m] for m in board["models"]]  # the sample browser's model filter
    summary = (out / "summary.md").read_text()
    qa = gains[specs["tuned"]]["qa"]
    assert (f"| tuned | **{qa['gain']:+.1%}** [{qa['low']:+.1%}, {qa['high']:+.1%}] p={qa['p']:.2f} | "
            f"{noise['gain']:+.1%} [{noise['low']:+.1%}, {noise['high']:+.1%}] p={noise['p']:.2f} |") in summary
    assert "| tran2024 (reported, abstract; not measured) | +17.3% (average accuracy) | +5.7% (average F1) |" in summary
