"""`bioharness run`: the whole experiment on the tiny model over real data, up to date on a second
run, only downstream stages rerun after a change, one-line config errors, shipped configs."""
import json
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bioharness.cli import build_cli, main
from bioharness.cli.run import DEFAULT, Experiment, load_config
from bioharness.errors import DataError
from bioharness.manager import load_plugins

ROOT = Path(__file__).resolve().parent.parent
TASKS = "pubmedqa,bc5cdr_chem,meqsum"


def tiny_config(tmp_path, tiny_llama_dir, **extra):
    config = {
        "out": str(tmp_path / "run"), "base": f"hf:{tiny_llama_dir}", "teacher": f"hf:{tiny_llama_dir}",
        "tasks": TASKS, "limit": 3,
        "generate": {"n": 2, "per_request": 2, "max_tokens": 24, "concurrency": 2, "max_requests": 1},
        "train": {"max_steps": 2, "batch_size": 4, "micro_batch_size": 2, "cutoff_len": 64, "save_steps": 1},
        "eval": {"batch_size": 4, "bootstrap": 200}, "compare": {"bootstrap": 200},
        **extra,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def invoke(*args):
    manager = load_plugins(env={})
    result = CliRunner().invoke(build_cli(manager), list(args), obj=manager, catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, tiny_llama_dir, data_dir):
    tmp = tmp_path_factory.mktemp("run")
    config = tiny_config(tmp, tiny_llama_dir)
    result = invoke("run", str(config), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    return tmp, config, result


def test_run_writes_every_artifact(first_run, tiny_llama_dir):
    tmp, _, result = first_run
    run = tmp / "run"
    stage = json.loads((run / "generate" / "stage.json").read_text())
    assert stage["complete"] and stage["config"]["plugin"] == "selfinstruct"
    assert stage["config"]["options"]["model"] == f"hf:{tiny_llama_dir}"  # the teacher, offline
    assert stage["inputs"] == {}  # default seeds: no --seeds option given
    prepared = [json.loads(x) for x in (run / "instructions" / "instructions-all.jsonl").read_text().splitlines()]
    seeds = [x for x in prepared if x["id"].startswith("seed")]
    assert len(seeds) == 80 and len(prepared) >= 80
    train = json.loads((run / "train" / "stage.json").read_text())
    assert set(train["inputs"]) == {"data"} and train["inputs"]["data"]["path"].endswith("instructions-all.jsonl")
    adapter = run / "train" / "adapter"
    assert (adapter / "adapter_config.json").is_file() and train["result"]["outputs"]["adapter"] == str(adapter)
    for label in ("base", "tuned"):
        for task in TASKS.split(","):
            metrics = json.loads((run / "eval" / label / task / "metrics.json").read_text())
            assert metrics["n"] == 3 and metrics["setting"]["limit"] == 3
            assert len((run / "eval" / label / task / "samples.jsonl").read_text().splitlines()) == 3
    tuned = json.loads((run / "eval" / "tuned" / "pubmedqa" / "stage.json").read_text())
    assert tuned["inputs"]["adapter"]["path"] == str(adapter)
    board = json.loads((run / "leaderboard.json").read_text())
    base = f"hf:{tiny_llama_dir}"
    assert board["baseline"] == base and board["models"] == [base, f"{base}+{adapter}"]
    assert set(board["tasks"]) == set(TASKS.split(","))
    assert set(board["gain_by_category"][f"{base}+{adapter}"]) <= {"qa", "ie", "gen"}
    # the run's names for its models in every table, the full spec (and adapter) beside them
    assert board["labels"] == {base: "base", f"{base}+{adapter}": "tuned"}
    assert board["models_info"][f"{base}+{adapter}"]["adapter"] == str(adapter)
    assert (run / "report.html").is_file() and f"report: {run / 'report.html'}" in result.output
    assert "mean relative gain" in result.output and "tran2024 (reported, abstract)" in result.output


def test_a_generation_short_of_its_target_says_what_was_kept_and_that_the_run_went_on(first_run):
    """The tiny teacher writes nothing usable in its one request (max_requests: 1): the
    generate step says what its answers gave and what was kept, and the run goes on with it
    (issue 22: it said "Run the same command again to continue", which reads as a failure)."""
    tmp, _, result = first_run
    run = tmp / "run"
    kept = len((run / "generate" / "instructions.jsonl").read_text().splitlines())
    stats = json.loads((run / "generate" / "stats.json").read_text())
    assert stats["complete"] is False and stats["requested"] == 1
    assert "same command" not in result.output
    lines = result.output.splitlines()
    said = next(line for line in lines if line.startswith("selfinstruct: stopped at "))
    assert said.startswith(f"selfinstruct: stopped at {kept}/2 instructions: max_requests (1) reached; 1 answer(s) "
                           f"gave {stats['parsed']} well-formed candidate(s)")
    assert said.endswith(f"{kept} instruction(s) kept in {run / 'generate' / 'instructions.jsonl'} "
                         f"(see {run / 'generate' / 'stats.json'})")
    assert (f"generate: stopped short (max_requests (1) reached); the run goes on with the {kept} generated "
            "instruction(s) kept and the 80 seed(s)") in lines
    assert f"report: {run / 'report.html'}" in lines


def test_second_run_skips_every_stage(first_run, data_dir):
    tmp, config, _ = first_run
    before = {p: p.stat().st_mtime_ns for p in (tmp / "run").rglob("*") if p.is_file() and p.name != ".bioharness.lock"}
    result = invoke("run", str(config), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    for name in ("generate", "instructions", "train", "eval base/pubmedqa", "eval tuned/meqsum", "compare",
                 "report"):
        assert f"{name}: up to date" in result.output
    after = {p: p.stat().st_mtime_ns for p in (tmp / "run").rglob("*") if p.is_file() and p.name != ".bioharness.lock"}
    assert after == before  # nothing rewritten


def test_a_damaged_adapter_and_instruction_file_are_repaired_by_the_same_run(first_run, data_dir):
    """Outputs of the generate-side stages: the adapter folder (a file of it changed) is trained
    again, the instruction file (cut mid-line) written again, both as they were, so that
    everything downstream is still up to date."""
    tmp, config, _ = first_run
    run = tmp / "run"
    weights = run / "train" / "adapter" / "adapter_model.safetensors"
    prepared = run / "instructions" / "instructions-all.jsonl"
    intact = {p: p.read_bytes() for p in (weights, prepared)}
    damaged = bytearray(intact[weights])
    damaged[-8] ^= 0xFF
    weights.write_bytes(bytes(damaged))
    prepared.write_bytes(intact[prepared][: len(intact[prepared]) // 2])
    result = invoke("run", str(config), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"train: {weights} was changed since it was written (same size; sha256 differs); recomputing adapter/" \
        in lines
    assert any(line.startswith(f"instructions: {prepared} is cut short (") for line in lines), result.output
    assert {p: p.read_bytes() for p in intact} == intact  # the same adapter, bit for bit
    for name in ("generate", "eval base/pubmedqa", "eval tuned/meqsum", "compare", "report"):
        assert f"{name}: up to date" in result.output


def test_changed_option_reruns_only_downstream(first_run, data_dir):
    tmp, config, _ = first_run
    text = yaml.safe_load(config.read_text())
    text["train"]["lora_r"] = 4
    changed = tmp / "changed.yaml"
    changed.write_text(yaml.safe_dump(text))
    result = invoke("run", str(changed), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    for name in ("generate", "instructions", "eval base/pubmedqa", "eval base/meqsum"):
        assert f"{name}: up to date" in result.output
    assert "train: lora_r changed; rerunning" in result.output
    assert "eval tuned/pubmedqa: adapter_sha256, adapter changed; rerunning" in result.output
    assert "compare: up to date" not in result.output
    stage = json.loads((tmp / "run" / "train" / "stage.json").read_text())
    assert stage["config"]["options"]["lora_r"] == 4
    assert len(list((tmp / "run" / "superseded").glob("train-*"))) == 1  # the old adapter is kept


@pytest.mark.parametrize("edit, message", [
    ({"limit": "ten"}, "limit: expected a whole number >= 1, got 'ten'"),
    ({"seed": "abc"}, "seed: expected a whole number >= 0, got 'abc'"),
    ({"out": ["a"]}, "out: expected a folder path, got ['a']"),
    ({"eval": {"models": []}}, "eval.models: expected a non-empty list of model specs, got []"),
    ({"eval": {"batch_size": 0}}, "eval.batch_size: expected a whole number >= 1, got 0"),
    ({"train": {"batch_size": 0}}, "train.batch_size: lora trainer: --batch-size must be >= 1, got 0"),
    ({"train": {"lora_r": "four"}}, "train.lora_r: 'four' is not a valid integer"),
    ({"generate": {"n": 1, "nn": 2}}, "generate.nn: not an option of generator 'selfinstruct'"),
    ({"tasks": "pubmedqa,nope"}, "tasks: unknown task 'nope'"),
    ({"comprae": {}}, "comprae: unknown key"),
    ({"reported": ["no-such-paper.yaml"]}, "reported: no such file: no-such-paper.yaml"),
])
def test_bad_config_is_one_line_before_anything_runs(tmp_path, edit, message, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"out": str(tmp_path / "out"), **edit}))
    code = main(["run", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err == f"Error: {path}:{message}\n" or message in err, err
    assert err.startswith(f"Error: {path}:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["default.yaml", "bioinstruct-paper.yaml", "multi-gpu.yaml", "slurm.yaml"])
def test_shipped_configs_load_and_validate(name):
    path = ROOT / "examples" / "runs" / name
    manager = load_plugins(env={})
    config = load_config(path, sections=[r.name for r in manager.hooks.executors])
    experiment = Experiment(manager, config, path=path)  # builds every stage: checks every option
    assert experiment.trains and experiment.specs
    if name == "default.yaml":
        assert yaml.safe_load(path.read_text()) == DEFAULT and config == load_config(None)
    if name == "bioinstruct-paper.yaml":
        assert config["base"] == "meta-llama/Llama-2-7b-hf" and config["ablate_categories"] is True
    if name == "multi-gpu.yaml":  # one command: the stage runner starts accelerate launch itself
        assert experiment.executor.name == "local" and experiment.launch == {"num_processes": 4}
        assert all(stage.work.launch == {"num_processes": 4} for stage in experiment.trains.values())
    if name == "slurm.yaml":  # the ablation on a cluster: one job per step, resources per step kind
        assert experiment.executor.name == "slurm" and set(experiment.trains) == {"all", "qa", "ie", "gen"}
        graph = experiment.graph()
        settings = experiment.executor.settings
        assert settings.for_step(graph.step("train-qa"))["gpus_per_task"] == 4
        assert settings.for_step(graph.step("eval tuned-ie"))["gpus_per_task"] == 1
        assert graph.step("eval tuned-qa").needs == ("train-qa",) and graph.step("eval base").needs == ()
        assert graph.step("compare").needs == tuple(f"eval {m}" for m in experiment.models)
        assert set(experiment.trains) == {"all", "qa", "ie", "gen"}
        assert {s.category for s in experiment.specs} == {"qa", "ie", "gen"} and len(experiment.specs) == 15


def test_transfer_matrix_cells_are_the_gains_per_category():
    """Each cell of the transfer matrix is the tuned model's gain in that category as compare
    computed it (mean relative gain, its CI, p, significant), with the tasks behind it."""
    from bioharness.plugins.evaluation.compare import transfer_matrix

    def diff(d, rel, significant=False):
        return {"diff": d, "low": d - 0.1, "high": d + 0.1, "p_le_zero": 0.2, "relative_gain": rel,
                "significant": significant}

    def gain(g, low, high, p, significant):
        return {"gain": g, "low": low, "high": high, "p": p, "significant": significant, "tasks": [], "left_out": [],
                "resamples": 1000}

    board = {"tasks": {
        "a": {"category": "qa", "vs_baseline": {"m-qa": diff(0.1, 0.2), "m-ie": diff(0.0, 0.0)}},
        "b": {"category": "qa", "vs_baseline": {"m-qa": diff(0.2, 0.4, True), "m-ie": diff(-0.1, None)}},
        "c": {"category": "ie", "vs_baseline": {"m-qa": diff(0.05, 0.1)}},
    }, "gain_by_category": {"m-qa": {"qa": gain(0.3, 0.1, 0.5, 0.0, True), "ie": gain(0.1, -0.2, 0.4, 0.3, False)},
                            "m-ie": {"qa": gain(0.0, -0.3, 0.3, 0.5, False)}}}
    matrix = transfer_matrix(board, {"qa": "m-qa", "ie": "m-ie"})
    for group, model in (("qa", "m-qa"), ("ie", "m-ie")):
        for category, cell in matrix[group].items():
            expected = board["gain_by_category"][model][category]
            assert {k: cell[k] for k in ("gain", "low", "high", "p", "significant")} == {
                k: expected[k] for k in ("gain", "low", "high", "p", "significant")}
    assert "ie" not in matrix["ie"]  # no task of that category compared for m-ie
    assert matrix["qa"]["qa"]["tasks"]["b"] == {"diff": 0.2, "low": pytest.approx(0.1), "high": pytest.approx(0.3),
                                                "p": 0.2, "relative_gain": 0.4, "significant": True}


def test_ablation_builds_one_adapter_per_category(tmp_path, tiny_llama_dir, data_dir):
    items = [{"id": f"{c}{i}", "instruction": f"Do the {c} thing number {i}.", "input": "", "output": "ok",
              "category": c} for c in ("qa", "ie", "gen") for i in range(2)]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in items))
    config = load_config(tiny_config(tmp_path, tiny_llama_dir, ablate_categories=True, instructions=str(data)))
    experiment = Experiment(load_plugins(env={}), config, data_dir=data_dir)
    assert experiment.generate is None  # --instructions: nothing generated
    assert {g: s.name for g, s in experiment.trains.items()} == {"all": "train", "qa": "train-qa", "ie": "train-ie",
                                                                 "gen": "train-gen"}
    result = experiment.stage(experiment._instructions_stage({"instructions": str(data)}), "instructions")
    assert result["written"] == {"all": 6, "qa": 2, "ie": 2, "gen": 2}
    ie = [json.loads(x) for x in Path(result["outputs"]["instructions-ie"]).read_text().splitlines()]
    assert [x["id"] for x in ie] == ["ie0", "ie1"]
    assert experiment.trains["ie"].inputs == {"data": str(tmp_path / "run" / "instructions" / "instructions-ie.jsonl")}


def test_stage_in_a_folder_of_another_key_is_refused(tmp_path):
    from bioharness.errors import UsageError
    from bioharness.stages import Stage, run_stage

    hooks = load_plugins(env={}).hooks
    data = tmp_path / "adapter"
    data.mkdir()
    (data / "w.bin").write_bytes(b"1")
    calls = []

    def stage(r):
        def work(run_dir, on_record):
            calls.append(r)
            (run_dir / "out.txt").write_text(str(r))
            return {"r": r}
        return Stage("train", "toy", "toy", "1", {"r": r}, work, {"adapter": data}, {"text": "out.txt"})

    said = []
    assert run_stage(hooks, stage(1), tmp_path / "s", say=said.append)["outputs"] == {"text": str(tmp_path / "s" / "out.txt")}
    assert run_stage(hooks, stage(1), tmp_path / "s", say=said.append)["r"] == 1 and said == ["toy: up to date"]
    (data / "w.bin").write_bytes(b"2")  # changed in place: a new input
    with pytest.raises(UsageError, match="holds complete results of a different setting \\(changed: adapter\\)"):
        run_stage(hooks, stage(1), tmp_path / "s", say=said.append)
    run_stage(hooks, stage(2), tmp_path / "s", say=said.append, archive=tmp_path / "old")
    assert calls == [1, 2] and said[-1].startswith("toy: r, adapter changed; rerunning")
    assert (tmp_path / "old").iterdir().__next__().joinpath("out.txt").read_text() == "1"


def _kill_when(config, data_dir, ready, timeout=600):
    """Start `bioharness run CONFIG` in a child, kill -9 it once ``ready()`` holds."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1", "BIOHARNESS_PLUGINS": ""}
    child = subprocess.Popen([sys.executable, "-m", "bioharness.cli", "run", str(config), "--data-dir", str(data_dir)],
                             env=env, stdout=subprocess.DEVNULL, stderr=open(Path(config).with_suffix(".log"), "w"))
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert child.poll() is None, Path(config).with_suffix(".log").read_text()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_kill_9_in_training_and_in_evaluation_then_the_same_command_finishes(tmp_path, tiny_llama_dir, data_dir):
    config = tiny_config(tmp_path, tiny_llama_dir, limit=40, tasks="pubmedqa")
    text = yaml.safe_load(config.read_text())
    text["train"]["max_steps"] = 6
    config.write_text(yaml.safe_dump(text))
    run = tmp_path / "run"
    _kill_when(config, data_dir, lambda: list((run / "train" / "checkpoints").glob("checkpoint-*/trainer_state.json")))
    assert not (run / "train" / "adapter").exists()
    samples = run / "eval" / "base" / "pubmedqa" / "samples.jsonl"
    _kill_when(config, data_dir, lambda: samples.is_file() and samples.read_text().count("\n") >= 16)
    assert (run / "train" / "adapter").is_dir() and not (run / "eval" / "base" / "pubmedqa" / "metrics.json").exists()
    result = invoke("run", str(config), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "train: up to date" in result.output and "eval base/pubmedqa: resuming" in result.output
    steps = [json.loads(x)["step"] for x in (run / "train" / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))  # nothing lost or repeated across the kill
    for label in ("base", "tuned"):
        ids = [json.loads(x)["id"] for x in (run / "eval" / label / "pubmedqa" / "samples.jsonl").read_text().splitlines()]
        assert len(ids) == len(set(ids)) == 40
    assert json.loads((run / "eval" / "base" / "pubmedqa" / "metrics.json").read_text())["n"] == 40


def test_a_model_whose_requests_fail_is_reported_incomplete_and_the_rest_of_the_run_finishes(
        tmp_path, tiny_llama_dir, data_dir, monkeypatch, capsys):
    """A compared model behind an endpoint that refuses connections: base and tuned are still
    evaluated, compared and reported, the report says the third model's task is incomplete,
    and the run exits 1 naming it (the same command retries exactly those samples)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    items = [{"id": f"i{i}", "instruction": f"Say the number {i}.", "input": "", "output": str(i), "category": "qa"}
             for i in range(4)]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in items))
    config = tiny_config(tmp_path, tiny_llama_dir, tasks="pubmedqa", limit=2, instructions=str(data),
                         eval={"batch_size": 4, "bootstrap": 200, "models": ["openai:ghost"]})
    assert main(["run", str(config), "--data-dir", str(data_dir)]) == 1
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("Error: eval model-0: 1 task(s) incomplete (pubmedqa 2 failed); first error: connection error"), last
    assert "Traceback" not in captured.err
    out = tmp_path / "run"
    assert f"report: {out / 'report.html'}" in captured.out
    board = json.loads((out / "leaderboard.json").read_text())
    scores = board["tasks"]["pubmedqa"]["scores"]
    assert scores["openai:ghost"]["status"] == "incomplete (2 errors)" and scores["openai:ghost"]["value"] is None
    assert scores[f"hf:{tiny_llama_dir}"]["complete"] and scores[f"hf:{tiny_llama_dir}"]["n"] == 2
    assert "incomplete (2 errors)" in (out / "report.html").read_text()


def test_a_bad_reported_file_stops_the_run_before_anything_runs(tmp_path, capsys):
    paper = tmp_path / "paper.yaml"
    paper.write_text("source: {key: x, cite: y, kind: table, where: Table 1, url: 'https://example.org/t1', checked: z}\n"
                     "rows:\n  - {dataset: D, metric: acc, tasks: [nope], task_metric: accuracy, values: {M: 0.5}}\n")
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"out": str(tmp_path / "out"), "reported": [str(paper)]}))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"Error: {paper}:rows[0].tasks: unknown task 'nope'\n" and not (tmp_path / "out").exists()
