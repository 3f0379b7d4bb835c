"""A run folder with an incomplete task and published scores, evaluated for real: `compare`,
leaderboard.json, report.html and summary.md show the incomplete task as
``incomplete (N errors)`` with an ``errors`` column, and the published ("reported") scores
apart from the measured ones, with their source."""
import json
import re
import shutil
import socket

import pytest

from bioharness.cli import main

ERRORS = 10  # the toy generation task has 10 examples: every request of a model nobody serves fails


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mixed(report_run, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "run"
    shutil.copytree(report_run["out"] / "eval", out / "eval")
    plugin, base = report_run["plugin"], report_run["base"]
    # measured: the base model on a task with published scores (the leaderboard's PubMedQA prompt)
    assert main(["eval", "--model", base, "--tasks", "openmedllm_pubmedqa", "--limit", "4", "--data-dir", str(data_dir),
                 "--out", str(out), "--bootstrap", "100", "--plugins", plugin]) == 0
    # a model behind an endpoint where nothing listens: every request is refused
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
        assert main(["eval", "--model", "openai:ghost", "--base-url", f"http://127.0.0.1:{closed_port()}/v1",
                     "--tasks", "colours_gen", "--out", str(out), "--bootstrap", "100", "--plugins", plugin]) == 1
    # published: a results file in the leaderboard's setting (beside the measured row) and a table
    # that states no setting (apart), typed in for this test
    (out.parent / "published.yaml").write_text(PUBLISHED)
    return {**report_run, "out": out, "reported": str(out.parent / "published.yaml")}


PUBLISHED = """
source: {key: example2030, cite: "Example 2030, a results file written for this test", kind: result-file,
         where: results.json, url: "https://example.org/results.json", checked: typed in for this test}
setting: {shots: 0, scoring: loglikelihood, harness: lm-eval}
rows:
  - {dataset: PubMedQA, metric: acc, tasks: [openmedllm_pubmedqa], task_metric: accuracy, values: {Example-LM: 0.754}}
  - {dataset: PubMedQA, metric: acc, tasks: [openmedllm_pubmedqa], task_metric: accuracy, values: {Other-LM: 0.5},
     setting: {shots: null, scoring: null, harness: null}}
"""


def table_rows(text):
    return [[cell.strip() for cell in line.split("\u2502")[1:-1]] for line in text.splitlines() if "\u2502" in line]


def test_compare_shows_the_incomplete_task_and_an_errors_column(mixed, capsys):
    out, base, tuned = mixed["out"], mixed["base"], mixed["tuned"]
    assert main(["compare", "--out", str(out), "--baseline", base, "--plugins", mixed["plugin"],
                 "--reported", mixed["reported"]]) == 0
    printed = capsys.readouterr().out
    board = json.loads((out / "leaderboard.json").read_text())
    assert set(board["models"]) == {base, tuned, "openai:ghost"}
    ghost = board["tasks"]["colours_gen"]["scores"]["openai:ghost"]
    assert ghost == {**ghost, "value": None, "ci95": [None, None], "n": 0, "errors": ERRORS, "complete": False,
                     "status": "incomplete (10 errors)"}
    assert all(s["errors"] == 0 and s["complete"] for t in board["tasks"].values() for m, s in t["scores"].items()
               if m != "openai:ghost")
    # an incomplete task is in no paired difference and no gain
    assert "openai:ghost" not in board["tasks"]["colours_gen"]["vs_baseline"]
    assert "openai:ghost" not in board["gain_by_category"] or not board["gain_by_category"]["openai:ghost"]

    assert "incomplete (10 errors)" in printed
    assert "mean relative gain of openai:ghost over " in printed and ": n/a (no complete task in common)" in printed
    # the same table, wide enough that no cell wraps
    from rich.console import Console

    from bioharness.plugins.evaluation.compare import leaderboard_table

    console = Console(width=600, record=True)
    console.print(leaderboard_table(board))
    lines = table_rows(console.export_text().replace("\u2503", "\u2502"))
    rows = {row[0]: row for row in lines if row and row[0]}
    header = rows["task"]
    assert header[-2:] == ["errors", "reported, same setting (not measured)"]
    ghost_column = header.index("openai:ghost")
    assert rows["colours_gen"][ghost_column] == "incomplete (10 errors)"
    assert rows["colours_gen"][header.index("errors")] == "10"
    assert rows["colours"][ghost_column] == "-" and rows["colours"][header.index("errors")] == "0"
    assert rows["openmedllm_pubmedqa"][header.index("errors")] == "0"
    assert "Example-LM 0.754 (example2030)" in rows["openmedllm_pubmedqa"][-1]


def test_report_and_summary_show_incomplete_tasks_errors_and_reported_scores(mixed, capsys):
    out, base = mixed["out"], mixed["base"]
    assert main(["report", "--out", str(out), "--baseline", base, "--plugins", mixed["plugin"],
                 "--reported", mixed["reported"]]) == 0
    board = json.loads((out / "leaderboard.json").read_text())
    page = (out / "report.html").read_text()
    table = re.search(r'<table id="leaderboard">.*?</table>', page, re.S).group(0)
    assert "<th>errors</th>" in table
    row = re.search(r'<tr data-task="colours_gen">.*?</tr>', table, re.S).group(0)
    assert '<td class="incomplete neg">incomplete (10 errors)<br><small>0 scored</small></td>' in row
    assert "<td class=errors>10</td>" in row
    assert ">openai:ghost: incomplete (10 errors)</text>" in page  # its bar in the task's plot
    for task in ("colours", "openmedllm_pubmedqa"):
        assert "<td class=errors>0</td>" in re.search(rf'<tr data-task="{task}">.*?</tr>', table, re.S).group(0)
    # published scores: their own table, each row marked reported with its source; never a measured row,
    # a column of the leaderboard or a paired difference
    reported = re.search(r'<table id="reported">.*?</table>', page, re.S).group(0)
    published = board["reported"]
    assert published and reported.count("<tr class=reported>") == len(published)
    same = next(r for r in published if r["model"] == "Example-LM")
    assert (f"<td>openmedllm_pubmedqa</td><td>Example-LM</td><td>accuracy</td><td>0.754</td>"
            f"<td>reported, result-file</td><td>0-shot · scoring loglikelihood · lm-eval</td>"
            f"<td>same setting as measured</td><td>example2030</td>") in reported
    assert "<li><b>example2030</b>: Example 2030, a results file written for this test. results.json." in page
    unstated = next(r for r in published if r["model"] == "Other-LM")
    assert f"<td>not stated</td><td>not comparable: {unstated['difference']}</td>" in reported
    assert unstated["difference"] == "the source does not state shots and scoring"
    # the shipped published results for PubMedQA are there too, each marked not comparable
    shipped = [r for r in published if r["source"] in ("qiu2024", "xie2025")]
    assert shipped and not any(r["beside"] for r in shipped)
    differences = re.search(r"<table id=differences>.*?</table>", page, re.S).group(0)
    for name in {r["model"] for r in published}:
        assert name not in table and name not in differences
    # summary.md: the same cells
    summary = (out / "summary.md").read_text()
    line = next(x for x in summary.splitlines() if x.startswith("| colours_gen |"))
    assert line.endswith("| incomplete (10 errors) | 10 |")
    assert next(x for x in summary.splitlines() if x.startswith("| task | category | metric |")).endswith(
        "| openai:ghost | errors |")
    assert "## Reported scores (published, not measured)" in summary
    assert ("| openmedllm_pubmedqa | Example-LM | accuracy | 0.754 | reported, result-file | "
            "0-shot · scoring loglikelihood · lm-eval | same setting as measured | example2030 |") in summary
    assert "- example2030: Example 2030, a results file written for this test; results.json (https://example.org/results.json)" in summary
    leaderboard_md = summary.split("## Leaderboard")[1].split("##")[0]
    assert not any(r["model"] in leaderboard_md for r in published)
