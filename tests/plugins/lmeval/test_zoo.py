"""The zoo: published scores shown by compare as "reported" rows, beside measured ones only
when the setting matches, never mixed into measured cells."""
import json

from click.testing import CliRunner

from bioharness.cli import build_cli
from bioharness.plugins.evaluation.compare import compare, leaderboard_table
from bioharness.manager import load_plugins
from bioharness.plugins.lmeval.zoo import registry, reported_rows
from bioharness.taskspec import TaskCatalog


def _measured(out, model, task, shots, correct):
    folder = out / "eval" / model.replace(":", "_") / task
    folder.mkdir(parents=True)
    rows = [{"id": str(i), "values": {"correct": c}} for i, c in enumerate(correct)]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    value = sum(correct) / len(correct)
    (folder / "metrics.json").write_text(json.dumps({
        "task": task, "category": "qa", "kind": "mcqa", "model": model, "n": len(correct), "headline": "accuracy",
        "metrics": {"accuracy": {"value": value, "ci95": [0.0, 1.0]}},
        "setting": {"num_fewshot": shots, "scoring": "loglikelihood"}}))


def test_every_reported_score_names_its_source_and_status():
    rows = reported_rows()
    assert rows and all(r["source"] and r["status"] in ("unverified", "table") for r in rows)
    assert all(m["hub"] and m["base"] and m["licence"] and m["prompt_format"] for m in registry()["models"])
    mistral = {(r["task"], r["status"]): r["value"] for r in rows if r["model"] == "Mistral-7B-v0.1"}
    assert mistral[("openmedllm_medqa", "unverified")] == 0.508
    assert mistral[("lm_eval:pubmedqa", "unverified")] == 0.754


def test_hook_reported_scores(tmp_path):
    catalog = TaskCatalog(load_plugins(env={}).hooks)
    _measured(tmp_path, "hf:a", "openmedllm_medqa", 0, [1, 0, 1, 1])
    _measured(tmp_path, "hf:a", "openmedllm_medmcqa", 5, [1, 0])
    board = compare(tmp_path, catalog, resamples=100)
    # measured cells hold measured numbers only
    assert board["tasks"]["openmedllm_medqa"]["scores"]["hf:a"]["value"] == 0.75
    reported = {(r["model"], r["task"], r["status"]): r for r in board["reported"]}
    same = reported[("Mistral-7B-v0.1", "openmedllm_medqa", "unverified")]
    assert same["beside"] and same["difference"] is None and same["value"] == 0.508
    # a table without its setting never stands beside a measured row
    table = reported[("Mistral-7B-v0.1", "openmedllm_medqa", "table")]
    assert not table["beside"] and "does not state" in table["difference"]
    # 0-shot reported vs 5-shot measured: apart, the difference named
    shots = reported[("Mistral-7B-v0.1", "openmedllm_medmcqa", "unverified")]
    assert not shots["beside"] and shots["difference"] == "shots 0 reported vs ['5'] measured"
    # only tasks on the board
    assert {r["task"] for r in board["reported"]} == {"openmedllm_medqa", "openmedllm_medmcqa"}
    saved = json.loads((tmp_path / "leaderboard.json").read_text())
    assert saved["reported"] == board["reported"]
    from rich.console import Console

    console = Console(width=300, record=True)
    console.print(leaderboard_table(board))
    text = console.export_text()
    assert "reported, same setting" in text and "Mistral-7B-v0.1 0.508 (unverified)" in text


def test_zoo_command_lists_models_and_sources():
    manager = load_plugins(env={})
    result = CliRunner().invoke(build_cli(manager), ["zoo", "--model", "Meditron-70B"], obj=manager)
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("openmedllm_medqa: 0.571 [unverified; 0-shot loglikelihood, lm-eval]")
    result = CliRunner().invoke(build_cli(manager), ["zoo", "--model", "nope"], obj=manager)
    assert "no model 'nope' in the zoo (known: Mistral-7B-v0.1" in str(result.exception)  # main(): exit 2
