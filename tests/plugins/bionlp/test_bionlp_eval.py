"""`bioharness eval` end to end on the tiny random Llama: one task of each kind, the files
it writes, resuming, the judge, and bad inputs (exit 2, one line naming file and line/key)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = ("medqa", "bc5cdr_chem", "ddi2013", "meqsum")


def bioharness(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("BIOHARNESS_DATA", "BIOHARNESS_PLUGINS")}
    # a tiny model on a shared machine: more threads only add contention
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tiny_llama_dir, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    # the tiny model judges too: its replies are never "Score: N", so they are recorded as unparsed
    args = ("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", ",".join(TASKS), "--limit", 5, "--out", out,
            "--data-dir", data_dir, "--bootstrap", 200, "--judge", f"hf:{tiny_llama_dir}")
    result = bioharness(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    return out / "eval" / f"hf__{tiny_llama_dir.name}", args, result


def test_eval_writes_samples_and_metrics_for_each_kind(run, tiny_llama_dir, data_dir):
    folder, _, result = run
    judge = tiny_llama_dir
    # one folder per task (and the run-folder lock, a hidden file)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(TASKS)
    headline = {"medqa": "accuracy", "bc5cdr_chem": "f1_strict", "ddi2013": "micro_f1", "meqsum": "rougeL"}
    for task in TASKS:
        rows = _read_jsonl(folder / task / "samples.jsonl")
        assert len(rows) == 5 and len({r["id"] for r in rows}) == 5
        for row in rows:
            assert {"id", "task", "prompt", "output", "prediction", "reference", "values"} <= set(row)
            assert row["task"] == task
            # the transcript says where the example came from: file:line (file:row N in a
            # spreadsheet), or file:pair id for DDI's XML
            path, _, where = row["example_meta"]["source"].rpartition(":")
            assert (Path(data_dir) / path).is_file()
            assert where == row["id"] if task == "ddi2013" else where.removeprefix("row ").isdigit()
        metrics = json.loads((folder / task / "metrics.json").read_text())
        assert metrics["task"] == task and metrics["n"] == 5 and metrics["headline"] == headline[task]
        assert headline[task] in metrics["metrics"]
        for name, value in metrics["metrics"].items():
            low, high = value["ci95"]
            if value["value"] is None:  # undefined (e.g. precision without a predicted mention): no interval
                assert low is high is None
            elif name != "judge_unparsed":
                assert 0.0 <= low <= high <= 1.0 and 0.0 <= value["value"] <= 1.0
        assert metrics["setting"]["limit"] == 5
        assert metrics["setting"]["judge"] == (f"hf:{judge}" if task == "meqsum" else None)
        assert headline[task] in result.stdout
    medqa = _read_jsonl(folder / "medqa" / "samples.jsonl")
    for row in medqa:
        assert [p["continuation"] for p in row["prompt"]] == [" A", " B", " C", " D"]
        assert [o["logprob"] for o in row["output"]] == row["meta"]["logprobs"]
        assert row["prediction"] == "ABCD"[row["output"].index(max(row["output"], key=lambda o: o["logprob"]))]
        assert row["values"] == {"correct": int(row["prediction"] == row["reference"])}
    accuracy = json.loads((folder / "medqa" / "metrics.json").read_text())["metrics"]["accuracy"]["value"]
    assert accuracy == sum(r["values"]["correct"] for r in medqa) / 5
    ner = _read_jsonl(folder / "bc5cdr_chem" / "samples.jsonl")
    for row in ner:
        assert set(row["values"]) == {"tp_strict", "tp_lenient", "npred", "ngold"}
        assert row["values"]["ngold"] == len(row["reference"])
        assert isinstance(row["prediction"], list)
    ddi = _read_jsonl(folder / "ddi2013" / "samples.jsonl")
    for row in ddi:
        assert "[E1]" in row["prompt"][0]["prompt"] and row["reference"].startswith("DDI-")
        assert row["values"]["correct"] == int(row["prediction"] == row["reference"])
    unparsed = json.loads((folder / "ddi2013" / "metrics.json").read_text())["unparsed"]
    assert unparsed == sum(r["prediction"] is None for r in ddi)
    meqsum = _read_jsonl(folder / "meqsum" / "samples.jsonl")
    for row in meqsum:
        assert set(row["values"]) == {"rouge1", "rouge2", "rougeL", "judge_score", "judge_scored", "judge_unparsed"}
        assert row["prediction"] == row["output"][0]["text"].strip()
        assert row["meta"]["judge_model"] == f"hf:{judge}"
        assert row["meta"]["judge_score"] is None and isinstance(row["meta"]["judge_reply"], str)
        assert (row["values"]["judge_unparsed"], row["values"]["judge_scored"]) == (1, 0)
    metrics = json.loads((folder / "meqsum" / "metrics.json").read_text())["metrics"]
    assert metrics["judge_unparsed"]["value"] == 5
    assert metrics["judge_score"] == {"value": None, "ci95": [None, None]}  # no rating parsed: undefined, not 0


def test_eval_resumes_after_the_last_lines_are_lost(run):
    folder, args, _ = run
    samples = folder / "medqa" / "samples.jsonl"
    before = samples.read_text().splitlines()
    metrics_before = json.loads((folder / "medqa" / "metrics.json").read_text())["metrics"]
    others = {t: (folder / t / "samples.jsonl").read_text() for t in TASKS if t != "medqa"}
    samples.write_text("\n".join(before[:3]) + "\n" + before[3][:20])  # two lines lost, a torn third
    stage = folder / "medqa" / "stage.json"  # killed before it finished: the stage is not complete
    stage.write_text(stage.read_text().replace('"complete": true', '"complete": false'))
    result = bioharness(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    after = samples.read_text().splitlines()
    assert after[:3] == before[:3]
    # the lost samples were scored again: the same choices; their batches have other shapes,
    # so log-probabilities agree up to float rounding
    key = lambda line: json.loads(line)["id"]  # noqa: E731
    assert len(after) == len(before)
    for new, old in zip(map(json.loads, sorted(after, key=key)), map(json.loads, sorted(before, key=key))):
        assert [o["logprob"] for o in new.pop("output")] == pytest.approx([o["logprob"] for o in old.pop("output")],
                                                                          abs=1e-5)
        assert new["meta"].pop("logprobs") == pytest.approx(old["meta"].pop("logprobs"), abs=1e-5)
        assert new == old
    assert json.loads((folder / "medqa" / "metrics.json").read_text())["metrics"] == metrics_before
    assert {t: (folder / t / "samples.jsonl").read_text() for t in others} == others


# ----------------------------------------------------------------------------- bad inputs


def _one_error_line(result):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _plugin_with_tasks(tmp_path, spec_text):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "variant.yaml").write_text(spec_text)
    plugin = tmp_path / "variant_plugin.py"
    plugin.write_text("from pathlib import Path\nfrom bioharness import hookimpl\n\n\n@hookimpl\ndef task_dirs():\n"
                      "    return [Path(__file__).parent / 'tasks']\n")
    return plugin, tasks / "variant.yaml"


def _medqa_variant():
    from importlib.resources import files

    return (Path(str(files("bioharness.tasks"))) / "medqa.yaml").read_text().replace("name: medqa", "name: medqa_variant")


def test_a_typo_in_a_task_yaml_key_names_file_and_key(tmp_path):
    plugin, spec = _plugin_with_tasks(tmp_path, _medqa_variant().replace("prompt:", "promt:"))
    line = _one_error_line(bioharness("tasks", "--plugins", plugin))
    assert line.startswith(f"Error: {spec}:promt: unknown key")


def test_a_typo_in_a_task_option_names_file_and_key(tmp_path, data_dir, tiny_llama_dir):
    plugin, spec = _plugin_with_tasks(tmp_path, _medqa_variant().replace("scoring: loglikelihood", "scorng: generate"))
    line = _one_error_line(bioharness("eval", "--plugins", plugin, "--model", f"hf:{tiny_llama_dir}", "--tasks",
                                      "medqa_variant", "--limit", 2, "--out", tmp_path / "out", "--data-dir", data_dir))
    assert line.startswith(f"Error: {spec}:options.scorng: unknown option for task kind 'mcqa'")


def test_an_unknown_task_is_named(tmp_path, data_dir, tiny_llama_dir):
    line = _one_error_line(bioharness("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "medqa,medqa_usmle",
                                      "--out", tmp_path, "--data-dir", data_dir))
    assert "unknown task 'medqa_usmle'" in line


def test_a_corrupt_data_file_names_file_and_line(tmp_path, data_dir, tiny_llama_dir):
    lines = (data_dir / "medqa_usmle_4opt" / "phrases_no_exclude_test.jsonl").read_text().splitlines()
    (tmp_path / "data" / "medqa_usmle_4opt").mkdir(parents=True)
    bad = tmp_path / "data" / "medqa_usmle_4opt" / "phrases_no_exclude_test.jsonl"
    bad.write_text("\n".join(lines[:6] + [lines[6][:40]] + lines[7:20]) + "\n")
    line = _one_error_line(bioharness("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "medqa", "--limit", 2,
                                      "--out", tmp_path / "out", "--data-dir", tmp_path / "data"))
    assert line.startswith(f"Error: {bad}:7: invalid JSON")


def test_tasks_lists_every_builtin_task_with_its_data(data_dir):
    result = bioharness("tasks", "--data-dir", data_dir, "--json")
    assert result.returncode == 0, result.stderr
    every = json.loads(result.stdout)
    assert all(r["data"] == "data dir" for r in every)  # the openmedllm suite reads the same files
    assert len(every) == 24 and {r["plugin"] for r in every} == {"bioharness.plugins.bionlp"}
    rows = {r["name"]: r for r in every if not r["name"].startswith("openmedllm_")}
    assert len(rows) == 15
    assert {r["kind"] for r in rows.values()} == {"mcqa", "ner", "re", "summarization"}
    assert rows["pubmedqa"]["metrics"][:2] == ["accuracy", "macro_f1"]
