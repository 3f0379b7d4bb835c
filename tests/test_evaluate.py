"""The core evaluation loop with a toy task kind (the BioNLP kinds have their own tests)."""
import json
import textwrap

import pytest
from click.testing import CliRunner

from bioharness.cli import build_cli
from bioharness.errors import DataError, UsageError
from bioharness.manager import load_plugins
from bioharness.taskspec import TaskCatalog, load_spec

TOY_PLUGIN = textwrap.dedent(
    '''
    from pathlib import Path
    from bioharness import hookimpl
    from bioharness.records import Example, LoglikelihoodRequest, Request, Score

    FOLDER = Path(__file__).parent / "toy_tasks"


    class ToyKind:
        """Is the word a colour? Scored by log-likelihood of ' yes' vs ' no', or generation."""
        words = {"red": "yes", "blue": "yes", "green": "yes", "cat": "no", "river": "no", "stone": "no",
                 "violet": "yes", "table": "no", "amber": "yes", "engine": "no"}

        def validate(self, spec):
            pass

        def load(self, spec, data_dir, split):
            return [Example(id=f"w{i}", inputs={"word": w}, reference=a, meta={"source": f"words.txt:{i + 1}"})
                    for i, (w, a) in enumerate(self.words.items())]

        def strata(self, spec, example):
            return example.reference

        def requests(self, spec, example, shots):
            prompt = spec.prompt["template"].format(**example.inputs)
            if spec.options.get("scoring") == "generate":
                return [Request(id=example.id, prompt=prompt, max_new_tokens=3, chat=False)]
            return [LoglikelihoodRequest(id=f"{example.id}-{c}", context=prompt, continuation=f" {c}") for c in ("yes", "no")]

        def score(self, spec, examples, outputs, judge):
            scores = []
            for example, outs in zip(examples, outputs):
                if spec.options.get("scoring") == "generate":
                    pred = outs[0].text.strip() or None
                else:
                    pred = "yes" if outs[0].logprob > outs[1].logprob else "no"
                scores.append(Score(id=example.id, task=spec.name, prediction=pred, reference=example.reference,
                                    values={"correct": float(pred == example.reference)}))
            return scores

        def metrics(self, spec, sums, n):
            return {"accuracy": sums.get("correct", 0.0) / n}


    @hookimpl
    def register_task_kinds(register):
        register("toy", ToyKind)


    @hookimpl
    def task_dirs():
        return [FOLDER]
    '''
)

TOY_TASK = textwrap.dedent(
    """
    name: colours
    version: 1
    category: qa
    kind: toy
    description: is it a colour?
    data: {reader: toy, split: test}
    prompt: {template: "Is {word} a colour? Answer:"}
    metrics: [accuracy]
    options: {scoring: loglikelihood}
    """
)


@pytest.fixture
def toy(tmp_path):
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text(TOY_PLUGIN)
    (tmp_path / "toy_tasks").mkdir()
    (tmp_path / "toy_tasks" / "colours.yaml").write_text(TOY_TASK)
    return load_plugins([str(plugin)], env={}), tmp_path


def run(manager, *args):
    return CliRunner().invoke(build_cli(manager), list(args), obj=manager, catch_exceptions=False)


def test_eval_writes_samples_and_metrics(toy, tiny_llama_dir):
    manager, tmp = toy
    out = tmp / "runs"
    result = run(manager, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--out", str(out),
                 "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    task_dir = out / "eval" / "hf__tiny-llama0" / "colours"
    samples = [json.loads(line) for line in (task_dir / "samples.jsonl").read_text().splitlines()]
    assert [s["id"] for s in samples] == [f"w{i}" for i in range(10)]
    first = samples[0]
    assert first["prompt"] == [{"context": "Is red a colour? Answer:", "continuation": " yes"},
                               {"context": "Is red a colour? Answer:", "continuation": " no"}]
    assert set(first["output"][0]) == {"logprob", "num_tokens", "is_greedy"}
    assert first["reference"] == "yes" and first["prediction"] in ("yes", "no")
    # each transcript line says where its example came from
    assert [s["example_meta"]["source"] for s in samples] == [f"words.txt:{i}" for i in range(1, 11)]
    metrics = json.loads((task_dir / "metrics.json").read_text())
    accuracy = sum(s["values"]["correct"] for s in samples) / 10
    assert metrics["n"] == 10 and metrics["metrics"]["accuracy"]["value"] == pytest.approx(accuracy)
    low, high = metrics["metrics"]["accuracy"]["ci95"]
    assert low <= accuracy <= high and high - low > 0
    assert metrics["setting"]["scoring"] == "loglikelihood" and len(metrics["setting"]["prompt_hash"]) == 16
    assert "colours" in result.output and f"{accuracy:.4f}" in result.output


def test_eval_resumes_without_redoing_samples(toy, tiny_llama_dir):
    manager, tmp = toy
    out = tmp / "runs"
    args = ("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--out", str(out))
    assert run(manager, *args).exit_code == 0
    samples = out / "eval" / "hf__tiny-llama0" / "colours" / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    # a kill: the last 3 records gone, the 4th-last torn, the stage not marked complete
    samples.write_text("".join(lines[:6]) + lines[6][:20])
    stage = samples.parent / "stage.json"
    stage.write_text(stage.read_text().replace('"complete": true', '"complete": false'))
    seen = []
    manager.pm.register(type("Spy", (), {"on_sample": staticmethod(
        __import__("bioharness").hookimpl(lambda stage, record: seen.append(record["id"])))}), name="spy")
    assert run(manager, *args).exit_code == 0
    assert seen == ["w6", "w7", "w8", "w9"]
    resumed = samples.read_text().splitlines(keepends=True)
    assert resumed[:6] == lines[:6]  # what was written is never rewritten
    # the resumed examples are scored in batches of other shapes: the same choices, and
    # log-probabilities equal up to float rounding
    for new, old in zip(map(json.loads, resumed[6:]), map(json.loads, lines[6:])):
        assert [o["logprob"] for o in new.pop("output")] == pytest.approx([o["logprob"] for o in old.pop("output")],
                                                                          abs=1e-5)
        assert new == old
    assert len(resumed) == len(lines)


def test_eval_limit_is_seeded_subset(toy, tiny_llama_dir):
    manager, tmp = toy
    for seed, name in ((1, "a"), (1, "b"), (2, "c")):
        assert run(manager, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--limit", "4",
                   "--seed", str(seed), "--out", str(tmp / name)).exit_code == 0
    ids = {name: [json.loads(line)["id"] for line in (tmp / name / "eval" / "hf__tiny-llama0" / "colours" /
                                                       "samples.jsonl").read_text().splitlines()]
           for name in "abc"}
    assert ids["a"] == ids["b"] and len(ids["a"]) == 4 and ids["a"] == sorted(ids["a"], key=lambda s: int(s[1:]))
    assert ids["a"] != ids["c"]


def test_changed_setting_is_refused(toy, tiny_llama_dir):
    manager, tmp = toy
    out = tmp / "runs"
    base = ("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--out", str(out))
    assert run(manager, *base, "--limit", "3").exit_code == 0
    with pytest.raises(UsageError, match="different setting \\(changed: limit\\)"):
        run(manager, *base, "--limit", "5")


def test_unknown_task_and_category_selection(toy):
    manager, _ = toy
    catalog = TaskCatalog(manager.hooks)
    # a suite's tasks (openmedllm) come by their group or name, not with their category
    assert [s.name for s in catalog.select("qa")] == [n for n, s in catalog.specs.items()
                                                     if s.category == "qa" and not s.groups]
    assert "openmedllm_medqa" in [s.name for s in catalog.select("openmedllm")]
    assert "colours" in [s.name for s in catalog.select("all")]
    with pytest.raises(UsageError, match="unknown task 'colors'"):
        catalog.select("colours,colors")


@pytest.mark.parametrize("edit, where", [
    (("metrics: [accuracy]", "metrics: [accuracy]\nmetrcs: [f1]"), "metrcs: unknown key"),
    (("version: 1\n", ""), "version: missing required key"),
    (("category: qa", "category: quiz"), "category: 'quiz' is not one of"),
    (("{reader: toy, split: test}", "{reader: toy}"), "data.split: missing required key"),
    (("{template:", "{templte:"), "prompt.templte: unknown key"),
    (("version: 1", "version: one"), "version: expected int"),
    (("kind: toy", "kind: [toy"), ":6: invalid YAML"),
])
def test_bad_task_yaml_names_file_and_key(tmp_path, edit, where):
    path = tmp_path / "bad.yaml"
    path.write_text(TOY_TASK.replace(*edit))
    with pytest.raises(DataError) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path))
    assert where in str(info.value)


def test_cli_bad_yaml_exit_2(toy, tiny_llama_dir):
    import subprocess
    import sys

    manager, tmp = toy
    (tmp / "toy_tasks" / "colours.yaml").write_text(TOY_TASK.replace("description:", "descripton:"))
    result = subprocess.run([sys.executable, "-m", "bioharness.cli", "tasks", "--plugins", str(tmp / "toy_plugin.py")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp / 'toy_tasks' / 'colours.yaml'}:descripton: unknown key (expected one of: "
        "name, version, category, kind, description, data, prompt, metrics, options, generation, groups)"]


def _ids(out):
    rows = (out / "eval" / "hf__tiny-llama0" / "colours" / "samples.jsonl").read_text().splitlines()
    return [json.loads(line)["id"] for line in rows]


def test_eval_limit_sample_stratified_and_first(toy, tiny_llama_dir):
    manager, tmp = toy
    words = {f"w{i}": a for i, a in enumerate(["yes", "yes", "yes", "no", "no", "no", "yes", "no", "yes", "no"])}
    for seed in range(4):
        out = tmp / f"strat{seed}"
        assert run(manager, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--limit", "2",
                   "--sample", "stratified", "--seed", str(seed), "--out", str(out)).exit_code == 0
        assert sorted(words[i] for i in _ids(out)) == ["no", "yes"]  # one of each label, whatever the seed
        setting = json.loads((out / "eval" / "hf__tiny-llama0" / "colours" / "metrics.json").read_text())["setting"]
        assert setting["sample"] == "stratified" and setting["limit"] == 2
    out = tmp / "first"
    assert run(manager, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--limit", "3",
               "--sample", "first", "--out", str(out)).exit_code == 0
    assert _ids(out) == ["w0", "w1", "w2"]
    # another sampling of the same folder is another setting
    with pytest.raises(UsageError, match="changed: sample"):
        run(manager, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "colours", "--limit", "3", "--out", str(out))


def test_select_examples_without_strata_falls_back_to_random():
    from bioharness.plugins.evaluation.evaluate import select_examples

    items = list(range(20))
    assert select_examples(items, 5, 1, "stratified", None) == select_examples(items, 5, 1, "random")
    assert select_examples(items, 5, 1, "stratified", lambda x: None)[1] == "random"
    assert select_examples(items, 5, 1, "stratified", lambda x: ("odd" if x % 2 else "even"))[1] == "stratified"
    assert select_examples(items, 30, 1, "first") == (items, "first")
    with pytest.raises(UsageError, match="--sample 'all'"):
        select_examples(items, 5, 1, "all")


COUNTING_BACKEND = textwrap.dedent(
    '''
    from bioharness import Loglikelihood, ResolvedModel, hookimpl

    CALLS = []


    class Counting:
        """Answers ' yes' more likely for every question and records how many requests each call got."""

        def __init__(self, chunk):
            self.info = {"backend": "counting"}
            if chunk:
                self.chunk_size = chunk

        def loglikelihood(self, requests, progress=None):
            CALLS.append(len(requests))
            return [Loglikelihood(id=r.id, logprob=-1.0 if r.continuation == " yes" else -2.0, num_tokens=1,
                                  is_greedy=True) for r in requests]

        def generate(self, requests, progress=None):
            raise AssertionError("not asked")

        def close(self):
            pass


    @hookimpl
    def register_backends(register):
        register("counting", lambda spec, **options: Counting(int(spec.model)))


    @hookimpl
    def resolve_model(spec, prepare):
        if spec.backend == "counting":
            return ResolvedModel(spec, spec.model, "endpoint", "counts")
        return None
    '''
)


@pytest.mark.parametrize("chunk, calls", [(0, [20]), (4, [8, 8, 4]), (64, [20])])
def test_the_backend_chooses_how_many_examples_each_call_gets(toy, tmp_path, chunk, calls):
    """vLLM schedules its own batches and wants many examples per call; the loop asks the
    backend (``chunk_size``), 16 examples by default (10 here: one call)."""
    manager, tmp = toy
    plugin = tmp_path / "counting_backend.py"
    plugin.write_text(COUNTING_BACKEND)
    manager = load_plugins([str(tmp / "toy_plugin.py"), str(plugin)], env={})
    result = run(manager, "eval", "--model", f"counting:{chunk}", "--tasks", "colours", "--out", str(tmp / "runs"))
    assert result.exit_code == 0, result.output
    import sys

    (module,) = [m for name, m in sys.modules.items() if name.endswith("counting_backend")]
    assert module.CALLS == calls
    (task_dir,) = (tmp / "runs" / "eval").glob("*/colours")
    assert json.loads((task_dir / "metrics.json").read_text())["metrics"]["accuracy"]["value"] == 0.5
