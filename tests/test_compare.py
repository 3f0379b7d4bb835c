"""compare: leaderboard and paired differences on the samples two models share."""
import json

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
    assert board["baseline"] == base and set(board["models"]) == {base, other}
    entry = board["tasks"]["colours"]
    a = read_samples(out, "hf__tiny-llama0", "colours")
    b = read_samples(out, "hf__tiny-llama-b0", "colours")
    assert entry["scores"][base]["value"] == pytest.approx(sum(a.values()) / 10)
    diff = entry["vs_baseline"][other]
    assert diff["diff"] == pytest.approx((sum(b.values()) - sum(a.values())) / 10)
    assert diff["low"] <= diff["diff"] <= diff["high"] and diff["n"] == 10
    assert set(board["gain_by_category"][other]) == {"qa"}
    assert "leaderboard (baseline:" in result.output and "colours_gen" in result.output


def test_compare_errors(evaluated, tmp_path):
    manager, out = evaluated
    from bioharness.compare import compare
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
    assert board["gain_by_category"][f"hf:{tiny}"] == ({"qa": pytest.approx((o - b) / b)} if b else {})
