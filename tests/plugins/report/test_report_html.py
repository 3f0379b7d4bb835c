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
    """The ``transfer`` entry `bioharness run --ablate-categories` adds (helper runner's shape:
    {tuned on: {task category: {gain, low, high, p}}}), made from this run's real differences."""
    cells = {}
    for entry in board["tasks"].values():
        d = entry["vs_baseline"][tuned]
        cells[entry["category"]] = {"gain": d["relative_gain"], "low": d["low"], "high": d["high"], "p": d["p_le_zero"]}
    return {**board, "transfer": {"qa": cells, "all": {c: {**v, "gain": None} for c, v in cells.items()}}}


def test_report_command_writes_html_and_markdown(report_run, capsys):
    out = report_run["out"]
    assert main(["report", "--out", str(out), "--plugins", report_run["plugin"]]) == 0
    assert capsys.readouterr().out.split() == [str(out / "report.html"), str(out / "summary.md")]
    page = (out / "report.html").read_text()
    board = json.loads((out / "leaderboard.json").read_text())
    assert "http://" not in page and "https://" not in page and "<link" not in page  # self-contained
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
    assert heatmap.count("<g class=cell") == 4  # 2 rows (qa, all) x 2 task categories (qa, gen)
    cell = board["transfer"]["qa"]["qa"]
    gain = "n/a" if cell["gain"] is None else f"{cell['gain']:+.1%}"
    assert f'data-row="qa" data-col="qa"><title>tuned on qa, qa tasks: {gain}' in heatmap
    assert re.search(r'data-row="all" data-col="gen">.*?class=v>n/a<', heatmap)  # null gain: n/a, grey
    assert '<td class="na">' not in page.split("id=\"leaderboard\"")[1].split("</table>")[0]
    assert "<td><b>n/a</b>" in page
    summary = (out / "summary.md").read_text()
    assert "## Category transfer" in summary and "| all | n/a | n/a |" in summary


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
