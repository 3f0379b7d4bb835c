"""Reported files: a paper's table typed in as YAML (no code), found in a plugin's folder
(``reported_dirs``) or given with ``--reported``; checked key by key (bad input is one line);
shown by compare as "reported" rows, beside a measured task only when the setting is the same,
never in a measured cell, a difference or a gain."""
import json
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from bioharness.cli import build_cli, main
from measured import toy_manager, write_measured

USER_TABLE = textwrap.dedent(
    """
    source:
      key: smith2030
      cite: "Smith and Jones 2030, a results file written for this test"
      kind: result-file
      where: results/colours.json
      url: https://example.org/results/colours.json
      checked: "typed in for this test"
    setting: {shots: 0, scoring: loglikelihood, harness: lm-eval}
    scale: 100
    models:
      Colour-LM 7B: {size: 7B, tuning: none}
      Colour-LM 7B-instruct: {size: 7B, tuning: instruction tuning, untuned: Colour-LM 7B}
    rows:
      - dataset: Colours
        metric: accuracy (%)
        tasks: [colours]
        task_metric: accuracy
        values: {Colour-LM 7B: 55.0, Colour-LM 7B-instruct: 70.0}
      - dataset: Colours
        metric: accuracy (%), 5-shot
        tasks: [colours]
        task_metric: accuracy
        setting: {shots: 5}
        values: {Colour-LM 7B: 60.0}
      - dataset: Shapes
        metric: F1
        not_comparable: no bioharness task asks Shapes
        values: {Colour-LM 7B: 40.0}
    gains:
      - {category: qa, metric: mean accuracy, gain: 0.12, tuned: Colour-LM 7B-instruct, untuned: Colour-LM 7B,
         not_comparable: other tasks and models}
    """
)


@pytest.fixture
def measured(tmp_path):
    manager, plugin = toy_manager(tmp_path)
    out = tmp_path / "run"
    write_measured(out, "hf:a", "colours", [1, 0] * 10)
    write_measured(out, "hf:b", "colours", [1, 1, 0, 1] * 5)
    table = tmp_path / "smith.yaml"
    table.write_text(USER_TABLE)
    return {"out": out, "plugin": plugin, "table": table, "manager": manager}


def test_compare_shows_a_users_table_as_reported(measured, capsys):
    out, table = measured["out"], measured["table"]
    assert main(["compare", "--out", str(out), "--baseline", "hf:a", "--reported", str(table),
                 "--plugins", measured["plugin"]]) == 0
    printed = capsys.readouterr().out
    board = json.loads((out / "leaderboard.json").read_text())
    mine = {(r["model"], r["source_metric"]): r for r in board["reported"] if r["source"] == "smith2030"}
    same = mine[("Colour-LM 7B", "accuracy (%)")]
    assert same["value"] == 0.55 and same["beside"] and same["difference"] is None and same["task"] == "colours"
    assert same["checked"] == "typed in for this test" and same["kind"] == "result-file"
    assert mine[("Colour-LM 7B-instruct", "accuracy (%)")]["tuning"] == "instruction tuning"
    shots = mine[("Colour-LM 7B", "accuracy (%), 5-shot")]
    assert not shots["beside"] and shots["difference"] == "shots 5 reported vs ['0'] measured"
    assert ("Colour-LM 7B", "F1") not in mine  # maps to no task: not on the board
    # measured cells hold measured numbers only
    assert board["tasks"]["colours"]["scores"]["hf:a"]["value"] == 0.5
    assert set(board["tasks"]["colours"]["scores"]) == {"hf:a", "hf:b"}
    assert {(g["source"], g["category"], g["gain"]) for g in board["reported_gains"]} == {
        ("smith2030", "qa", 0.12), ("tran2024", "qa", 0.173)}  # the run has qa tasks only
    assert "Colour-LM 7B 0.550 (smith2030)" in printed  # the leaderboard's "reported, same setting" column
    assert "reported by smith2030 (result-file, not measured here): qa +12.0% (mean accuracy)" in printed
    assert "reported by tran2024 (abstract, not measured here): qa +17.3% (average accuracy)" in printed
    # the same file in the zoo, with --reported
    manager = measured["manager"]
    result = CliRunner().invoke(build_cli(manager), ["zoo", "--reported", str(table), "--model", "colour-lm 7b"],
                                obj=manager, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0.550 smith2030" in result.output and "0.600 smith2030" in result.output
    assert "1 more published value(s) map to no bioharness task (Shapes F1)" in result.output
    assert "smith2030: Smith and Jones 2030" in result.output and "checked: typed in for this test" in result.output


REPORTED_PLUGIN = textwrap.dedent(
    '''
    from pathlib import Path

    from bioharness import hookimpl


    @hookimpl
    def reported_dirs():
        return [Path(__file__).parent / "papers"]


    @hookimpl
    def reported_scores(board):
        return [{"model": "Computed-LM", "task": task, "metric": "accuracy", "value": 0.5, "shots": 0,
                 "scoring": "loglikelihood", "harness": None, "source": "computed", "cite": "computed by a plugin",
                 "kind": "result-file", "where": "computed", "url": None, "checked": "by this test",
                 "beside": False, "difference": "made up for this test"} for task in board["tasks"]]
    '''
)


@pytest.fixture
def reporting_plugin(measured, tmp_path):
    plugin = tmp_path / "papers_plugin.py"
    plugin.write_text(REPORTED_PLUGIN)
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "smith2030.yaml").write_text(USER_TABLE)
    return str(plugin)


def test_hook_reported_dirs(measured, reporting_plugin, capsys):
    """A plugin ships a paper's table as a file in its folder: compare and the zoo find it."""
    out = measured["out"]
    assert main(["compare", "--out", str(out), "--plugins", measured["plugin"], "--plugins", reporting_plugin]) == 0
    board = json.loads((out / "leaderboard.json").read_text())
    assert {r["model"] for r in board["reported"] if r["source"] == "smith2030"} == {"Colour-LM 7B",
                                                                                     "Colour-LM 7B-instruct"}
    capsys.readouterr()
    assert main(["zoo", "--task", "colours", "--json", "--plugins", measured["plugin"], "--plugins", reporting_plugin]) == 0
    found = json.loads(capsys.readouterr().out)
    assert {v["value"] for v in found["values"]} == {0.55, 0.7, 0.6} and "smith2030" in found["sources"]
    assert found["models"]["Colour-LM 7B-instruct"]["untuned"] == "Colour-LM 7B"


def test_hook_reported_scores(measured, reporting_plugin):
    """Rows a plugin computes stand in the board's reported list, apart from the measured cells."""
    out = measured["out"]
    assert main(["compare", "--out", str(out), "--plugins", measured["plugin"], "--plugins", reporting_plugin]) == 0
    board = json.loads((out / "leaderboard.json").read_text())
    computed = [r for r in board["reported"] if r["source"] == "computed"]
    assert [(r["model"], r["task"], r["value"]) for r in computed] == [("Computed-LM", "colours", 0.5)]
    assert "Computed-LM" not in board["tasks"]["colours"]["scores"]


def _edited(edit):
    data = yaml.safe_load(USER_TABLE)
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["source"].update(url="https://github.com/org/bioharness/issues/13"),
     "source.url: https://github.com/org/bioharness/issues/13 is an issue tracker, not a primary source"),
    (lambda d: d["source"].update(kind="tracker"), "source.kind: expected table or result-file or abstract"),
    (lambda d: d["source"].pop("checked"), "source.checked: expected text, got None"),
    (lambda d: d["rows"][2].pop("not_comparable"), "rows[2].not_comparable: a row that maps to no task must say why"),
    (lambda d: d["rows"][0].update(tasks=["nope"]), "rows[0].tasks: unknown task 'nope'"),
    (lambda d: d["rows"][0].pop("task_metric"), "rows[0].task_metric: the metric of the mapped tasks"),
    (lambda d: d["rows"][0]["values"].update({"Colour-LM 7B": "high"}),
     "rows[0].values.Colour-LM 7B: expected a number, got 'high'"),
    (lambda d: d["rows"][0].update(colour="red"), "rows[0].colour: unknown key"),
    (lambda d: d["source"].update(kind="abstract"), "rows: task-level rows need a table or a result file"),
    (lambda d: d["gains"][0].update(category="other"), "gains[0].category: expected qa or ie or gen"),
    (lambda d: d.update(scale=0), "scale: expected a number > 0"),
])
def test_a_bad_reported_file_is_one_line_before_anything_runs(measured, tmp_path, edit, message, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(_edited(edit))
    assert main(["compare", "--out", str(measured["out"]), "--reported", str(bad), "--plugins", measured["plugin"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {bad}:") and message in err and len(err.strip().splitlines()) == 1, err
    assert not (measured["out"] / "leaderboard.json").exists() and not (measured["out"] / "compare").exists()


def test_two_files_with_one_source_key_are_refused(measured, tmp_path, capsys):
    twin = tmp_path / "twin.yaml"
    twin.write_text(USER_TABLE)
    args = ["compare", "--out", str(measured["out"]), "--plugins", measured["plugin"]]
    assert main([*args, "--reported", str(measured["table"]), "--reported", str(twin)]) == 2
    assert f"{twin}:source.key: 'smith2030' is also the key of {measured['table']}" in capsys.readouterr().err
    assert main([*args, "--reported", str(tmp_path / "missing.yaml")]) == 2
    assert "--reported" in capsys.readouterr().err


def test_the_readmes_example_is_a_valid_reported_file(tmp_path):
    """The format as the README documents it loads (and says what it maps to)."""
    import re
    from pathlib import Path

    from bioharness.manager import load_plugins
    from bioharness.plugins.evaluation.reported import gain_rows, load, task_rows
    from bioharness.taskspec import TaskCatalog

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = re.search(r"```yaml\n(# an example of the format.*?)```", readme, re.S).group(1)
    (tmp_path / "example.yaml").write_text(example)
    data = load(tmp_path / "example.yaml", tasks=set(TaskCatalog(load_plugins(env={}).hooks).specs))
    rows = task_rows(data)
    assert [(r["model"], r["task"], r["value"]) for r in rows] == [
        ("LLaMA 7B", "medqa", 0.25), ("LLaMA 7B-tuned", "medqa", 0.3), ("LLaMA 7B", None, 0.1)]
    assert rows[1]["untuned"] == "LLaMA 7B" and gain_rows(data)[0]["gain"] == 0.2
