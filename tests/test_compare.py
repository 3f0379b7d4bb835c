"""compare: leaderboard and paired differences on the samples two models share."""
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bioharness.cli import build_cli
from bioharness.errors import UsageError
from bioharness.manager import load_plugins
from tinymodels import build_tiny_llama
from test_evaluate import TOY_PLUGIN, TOY_TASK


@pytest.fixture(scope="module")
def two_models(tokenizer, tiny_llama_dir, tmp_path_factory):
    other = tmp_path_factory.mktemp("tiny-llama-b")
    build_tiny_llama(tokenizer, seed=7).save_pretrained(other)
    tokenizer.save_pretrained(other)
    return f"hf:{tiny_llama_dir}", f"hf:{other}"


@pytest.fixture
def evaluated(tmp_path, two_models):
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text(TOY_PLUGIN)
    (tmp_path / "toy_tasks").mkdir()
    (tmp_path / "toy_tasks" / "colours.yaml").write_text(TOY_TASK)
    generate = tmp_path / "toy_tasks" / "colours_gen.yaml"
    generate.write_text(TOY_TASK.replace("name: colours", "name: colours_gen").replace("loglikelihood", "generate"))
    manager = load_plugins([str(plugin)], env={})
    out = tmp_path / "runs"
    for model in two_models:
        result = CliRunner().invoke(build_cli(manager), ["eval", "--model", model, "--tasks", "colours,colours_gen",
                                                         "--out", str(out)], obj=manager, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return manager, out


def read_samples(out, model_slug, task):
    path = out / "eval" / model_slug / task / "samples.jsonl"
    return {r["id"]: r["values"]["correct"] for r in map(json.loads, path.read_text().splitlines())}


def test_compare_leaderboard_and_paired_difference(evaluated, two_models):
    manager, out = evaluated
    base, other = two_models
    result = CliRunner().invoke(build_cli(manager), ["compare", "--out", str(out), "--baseline", base],
                                obj=manager, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["baseline"] == base and board["models"] == [base, other]  # the baseline first
    entry = board["tasks"]["colours"]
    a = read_samples(out, "hf__tiny-llama0", "colours")
    b = read_samples(out, "hf__tiny-llama-b0", "colours")
    assert entry["scores"][base]["value"] == pytest.approx(sum(a.values()) / 10)
    # a reporter finds each evaluation's samples from the board alone (relative to the run folder)
    assert entry["scores"][base]["samples"] == "eval/hf__tiny-llama0/colours/samples.jsonl"
    assert (out / entry["scores"][other]["samples"]).read_text() == (out / "eval/hf__tiny-llama-b0/colours/samples.jsonl").read_text()
    diff = entry["vs_baseline"][other]
    assert diff["diff"] == pytest.approx((sum(b.values()) - sum(a.values())) / 10)
    assert diff["low"] <= diff["diff"] <= diff["high"] and diff["n"] == 10
    assert set(board["gain_by_category"][other]) == {"qa"}
    assert "leaderboard (baseline:" in result.output and "colours_gen" in result.output


def test_a_board_from_before_sample_paths_is_recomputed(evaluated, two_models):
    """A compare stage of the version that wrote no ``samples`` paths is not "up to date": the
    reporters would find no samples. It is rerun, the old board archived."""
    from bioharness import Stage, get_stage, run_stage
    from bioharness.plugins.evaluation import BOARD_VERSION

    manager, out = evaluated
    base = two_models[0]
    options = {"baseline": base, "models": None, "bootstrap": 1000, "seed": 0}
    old = Stage("compare", "compare", "bioharness.compare", None, options,
                lambda run_dir, on_record: (out / "leaderboard.json").write_text('{"tasks": {}}') and
                {"board": {"tasks": {}}, "outputs": {"leaderboard": str(out / "leaderboard.json")}},
                {"eval": out / "eval"})
    run_stage(manager.hooks, old, out / "compare", say=lambda *a: None)
    said = []
    board = get_stage("compare")(out=out, baseline=base, say=said.append, archive=out / "superseded")
    assert BOARD_VERSION != "None" and "compare: version, labels, reported changed; rerunning" in said[0]
    assert board["tasks"]["colours"]["scores"][base]["samples"] == "eval/hf__tiny-llama0/colours/samples.jsonl"
    assert json.loads((out / "leaderboard.json").read_text())["tasks"]["colours"]["scores"][base]["samples"]
    assert len(list((out / "superseded").glob("compare-*"))) == 1


def test_compare_errors(evaluated, tmp_path):
    manager, out = evaluated
    from bioharness.plugins.evaluation.compare import compare
    from bioharness.taskspec import TaskCatalog

    catalog = TaskCatalog(manager.hooks)
    with pytest.raises(UsageError, match="baseline 'hf:nope' has no evaluation"):
        compare(out, catalog, baseline="hf:nope")
    with pytest.raises(UsageError, match="no evaluations under"):
        compare(tmp_path / "empty", catalog)


def test_embedded_and_hf_embedded_are_one_model(tmp_path, tiny_llama_dir, embedded_dir):
    """`--model embedded` is stored as hf:embedded; `compare --baseline embedded` finds it."""
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text(TOY_PLUGIN)
    (tmp_path / "toy_tasks").mkdir()
    (tmp_path / "toy_tasks" / "colours.yaml").write_text(TOY_TASK)
    manager = load_plugins([str(plugin)], env={})
    out = tmp_path / "runs"
    tiny = str(tiny_llama_dir)  # no backend prefix: the same model as hf:<path>
    for model in ("embedded", tiny):
        result = CliRunner().invoke(build_cli(manager), ["eval", "--model", model, "--tasks", "colours",
                                                         "--out", str(out)], obj=manager, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(build_cli(manager), ["compare", "--out", str(out), "--baseline", "embedded",
                                                     "--models", f"embedded,{tiny}"], obj=manager, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["baseline"] == "hf:embedded" and board["models"] == ["hf:embedded", f"hf:{tiny}"]
    base = read_samples(out, "hf__embedded", "colours")
    other = read_samples(out, "hf__tiny-llama0", "colours")
    diff = board["tasks"]["colours"]["vs_baseline"][f"hf:{tiny}"]
    assert diff["n"] == 10 and diff["diff"] == pytest.approx((sum(other.values()) - sum(base.values())) / 10)
    b, o = sum(base.values()), sum(other.values())
    gains = board["gain_by_category"][f"hf:{tiny}"]
    assert set(gains) == ({"qa"} if b else set())
    if b:
        assert gains["qa"]["gain"] == pytest.approx((o - b) / b) and gains["qa"]["tasks"] == ["colours"]



def test_tables_show_an_undefined_metric_as_na(tmp_path):
    from rich.console import Console

    from bioharness.plugins.evaluation.compare import leaderboard_table, relative_gain
    from bioharness.plugins.evaluation.progress import metrics_table
    from bioharness.plugins.report.html import render

    def rows(table):
        console = Console(width=200, record=True)
        console.print(table)
        return [[cell.strip() for cell in line.split("\u2502")[1:-1]] for line in console.export_text().splitlines()
                if "\u2502" in line]

    result = {"task": "typed", "category": "ie", "n": 3, "unparsed": 0, "backend_errors": 0,
              "metrics": {"f1_strict": {"value": 0.5, "ci95": [0.2, 0.8]},
                          "f1_strict_RNA": {"value": None, "ci95": [None, None]}}}
    assert rows(metrics_table([result])) == [["typed", "ie", "f1_strict", "0.5000", "[0.200, 0.800]", "3", "0", "0"],
                                            ["", "", "f1_strict_RNA", "n/a", "n/a", "", "", ""]]
    board = {"models": ["a", "b"], "baseline": "a", "tasks": {"typed": {
        "category": "ie", "metric": "f1_strict_RNA", "scores": {
            "a": {"value": None, "ci95": [None, None], "n": 3},
            "b": {"value": 0.25, "ci95": [0.0, 0.5], "n": 3}},
        "vs_baseline": {"b": {"diff": None, "low": None, "high": None, "p_le_zero": None, "n": 3}}}}}
    assert rows(leaderboard_table(board)) == [["typed", "f1_strict_RNA", "n/a", "0.250", "0"]]
    for model in ("a", "b"):
        folder = tmp_path / "eval" / model / "typed"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"model": model, "task": "typed", "n": 3}))
        (folder / "samples.jsonl").write_text("")
    page = Path(render(tmp_path, board)).read_text()
    assert ("<td><b>n/a</b><br><small>[n/a, n/a] n=3</small></td><td><b>0.250</b><br><small>[0.000, 0.500] n=3</small>"
            "</td>") in page
    assert relative_gain(0.5, None) is None and relative_gain(0.5, 0.0) is None and relative_gain(0.6, 0.5) == pytest.approx(0.2)


def test_labels_name_the_models_in_every_table(tmp_path, two_models, capsys):
    """`eval --label` names a model beside its results; compare shows the names (the specs in
    a models table and leaderboard.json), takes them for --baseline, and `compare --label`
    renames; a name given twice, or a spec that is not --model's, is one line."""
    from bioharness.cli import main

    from measured import toy_manager

    _, plugin = toy_manager(tmp_path)
    out = tmp_path / "runs"
    base, other = two_models
    common = ["--tasks", "colours", "--out", str(out), "--bootstrap", "100", "--plugins", plugin]
    assert main(["eval", "--model", base, "--label", "base", *common]) == 0
    assert main(["eval", "--model", other, "--label", f"other={other}", *common]) == 0
    assert json.loads((out / "eval" / "hf__tiny-llama0" / "label.json").read_text()) == {"model": base, "label": "base"}
    capsys.readouterr()
    assert main(["compare", "--out", str(out), "--baseline", "base", "--plugins", plugin]) == 0
    printed = capsys.readouterr().out
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["baseline"] == base and board["models"] == [base, other]  # the baseline first
    assert board["labels"] == {base: "base", other: "other"} and board["models_info"][other]["spec"] == other
    header = next(x for x in printed.splitlines() if "task" in x and "metric" in x)
    assert " base " in header and " other " in header and base not in header
    assert "leaderboard (baseline: base)" in printed and re.search(rf"│ other +│ {re.escape(other)} +│ - +│", printed)
    assert "mean relative gain of other over base:" in printed
    # --label renames; names never collide
    assert main(["compare", "--out", str(out), "--baseline", "base", "--label", f"tuned={other}",
                 "--plugins", plugin]) == 0
    assert json.loads((out / "leaderboard.json").read_text())["labels"][other] == "tuned"
    capsys.readouterr()
    for args, message in [
        (["--label", f"base={other}"], "the name 'base' is given to two models"),
        (["--label", f"x y={other}"], "the name 'x y' is not letters, digits"),
        (["--label", "tuned"], "expected NAME=SPEC"),
    ]:
        assert main(["compare", "--out", str(out), *args, "--plugins", plugin]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert json.loads((out / "leaderboard.json").read_text())["labels"][other] == "tuned"  # nothing archived or rerun
    assert main(["eval", "--model", base, "--label", f"base={other}", *common]) == 2
    assert f"--label 'base={other}': {other} is not the evaluated model ({base})" in capsys.readouterr().err
