"""Fuzzing what users hand us (issue 12): task YAML, run configs, data files of the readers,
instruction files and adapter folders. The property everywhere: a correct result, or one
line (a UsageError naming the file, exit 2 from the CLI) and never a traceback; and what
was written before is unchanged. Bounded examples, no model loaded (the eval-level test uses
a deterministic test backend registered by a plugin file)."""
import json
import random
import shutil
import struct
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bioharness.plugins.hf.adapters import check_adapter
from bioharness.cli import main
from bioharness.errors import UsageError
from bioharness import load_examples
from bioharness.instructions import read_instructions
from bioharness.manager import load_plugins
from bioharness.cli.run import load_config
from bioharness.taskspec import SAFE_NAME, TaskCatalog, load_spec

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def one_line(exc, *paths):
    message = str(exc)
    assert isinstance(exc, UsageError), repr(exc)
    assert message and "\n" not in message and "Traceback" not in message, message
    if paths:
        assert message.startswith(tuple(str(p) for p in paths)), message


def mutate_bytes(data: bytes, ops, rng):
    """Crash- and hand-edit-like damage: cut, drop/duplicate/swap lines, splice junk."""
    for op in ops:
        lines = data.splitlines(keepends=True)
        if op == "truncate" and data:
            data = data[: rng.randrange(len(data))]
        elif op == "drop" and lines:
            del lines[rng.randrange(len(lines))]
            data = b"".join(lines)
        elif op == "duplicate" and lines:
            i = rng.randrange(len(lines))
            data = b"".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])
        elif op == "junk":
            at = rng.randrange(len(data) + 1)
            data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))) + data[at:]
        elif op == "blank":
            data = b"\n\n" + data
        elif op == "empty":
            data = b""
        elif op == "latin1":
            data = data.replace(b"e", b"\xe9", 1)
        elif op == "field" and lines:  # a value of the wrong type or a missing key in a JSON record
            i = rng.randrange(len(lines))
            try:
                record = json.loads(lines[i])
            except ValueError:
                continue
            if isinstance(record, dict) and record:
                key = rng.choice(sorted(record))
                if rng.random() < 0.5:
                    del record[key]
                else:
                    record[key] = rng.choice([None, 7, [], {"x": 1}, ""])
                lines[i] = (json.dumps(record) + "\n").encode()
                data = b"".join(lines)
    return data


byte_ops = st.lists(st.sampled_from(["truncate", "drop", "duplicate", "junk", "blank", "empty", "latin1", "field"]),
                    min_size=1, max_size=3)


# --- task YAML -------------------------------------------------------------------------------

BASE_TASK = {
    "name": "fuzzed", "version": 1, "category": "qa", "kind": "mcqa", "description": "d",
    "data": {"reader": "medqa", "split": "test", "files": ["medqa_usmle_4opt/phrases_no_exclude_test.jsonl"]},
    "prompt": {"template": "Question: {question}\n{options_text}\nAnswer:", "num_fewshot": 0},
    "metrics": ["accuracy"], "options": {"scoring": "loglikelihood"}, "generation": {"max_new_tokens": 8},
}
TASK_PATHS = [("name",), ("version",), ("category",), ("kind",), ("data",), ("data", "reader"), ("data", "split"),
              ("data", "files"), ("prompt",), ("prompt", "template"), ("prompt", "num_fewshot"), ("metrics",),
              ("options",), ("options", "scoring"), ("generation",), ("generation", "max_new_tokens"), ("extra",)]


def apply_edits(base, edits):
    doc = json.loads(json.dumps(base))
    for path, value, delete in edits:
        target = doc
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                break
            target = target[key]
        else:
            if delete:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
    return doc


edits = st.lists(st.tuples(st.sampled_from(TASK_PATHS), json_values | st.sampled_from(
    ["../../escaped", "a/b", ".hidden", "ok-name", "ner", "qa", "gen", "quiz", "", "{nope}"]), st.booleans()),
    max_size=4)


@pytest.fixture(scope="module")
def catalog():
    return TaskCatalog(load_plugins([], env={}).hooks)


@FAST
@given(edits=edits, raw=st.none() | st.text(max_size=40))
def test_task_yaml(tmp_path_factory, catalog, edits, raw):
    path = tmp_path_factory.mktemp("task") / "fuzzed.yaml"
    text = yaml.safe_dump(apply_edits(BASE_TASK, edits)) if raw is None else raw
    path.write_text(text, encoding="utf-8")
    try:
        spec = load_spec(path)
        if spec.kind not in catalog.hooks.task_kinds:
            return
        catalog.kind(spec.kind).validate(spec)
    except UsageError as exc:
        one_line(exc, path)
        return
    assert SAFE_NAME.fullmatch(spec.name) and isinstance(spec.version, int)
    assert path.read_text(encoding="utf-8") == text


# --- run configs -----------------------------------------------------------------------------

BASE_RUN = {"out": "runs/x", "base": "embedded", "tasks": "qa", "limit": 5, "eval": {"batch_size": 4},
            "compare": {"seed": 0}}
RUN_PATHS = [("out",), ("base",), ("tasks",), ("limit",), ("seed",), ("judge",), ("eval",), ("eval", "models"),
             ("eval", "batch_size"), ("eval", "bootstrap"), ("eval", "bogus"), ("compare",), ("compare", "bootstrap"),
             ("generate",), ("train",), ("unknown",)]


@FAST
@given(edits=st.lists(st.tuples(st.sampled_from(RUN_PATHS), json_values, st.booleans()), max_size=4))
def test_run_config(tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("run") / "run.yaml"
    path.write_text(yaml.safe_dump(apply_edits(BASE_RUN, edits)), encoding="utf-8")
    try:
        config = load_config(path)
    except UsageError as exc:
        one_line(exc, path)
        return
    assert isinstance(config["out"], str)
    for value in (config.get("limit"), (config.get("eval") or {}).get("batch_size")):
        assert value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


# --- data files of the readers ------------------------------------------------------------------

READER_TASKS = ["medqa", "medmcqa", "gad", "ncbi_disease", "bc2gm", "chemprot", "aci_bench"]


class DataHeads(dict):
    """The first lines of each task's real data file (what the fuzzer damages)."""

    def __repr__(self):  # hypothesis prints its arguments; the bytes would be hundreds of kB
        return "DataHeads(...)"


@pytest.fixture(scope="module")
def samples_of_data(data_dir, catalog):
    out = DataHeads()
    for name in READER_TASKS:
        spec = catalog.specs[name]
        (file,) = spec.data_files(data_dir)
        with open(file, "rb") as fh:
            head = b"".join(line for _, line in zip(range(60), fh))
        out[name] = (spec, file.relative_to(data_dir), head)
    return out


@FAST
@given(task=st.sampled_from(READER_TASKS), ops=byte_ops, seed=st.integers(0, 10**6))
def test_data_readers(tmp_path_factory, catalog, samples_of_data, task, ops, seed):
    spec, relative, head = samples_of_data[task]
    if task == "medmcqa":  # one JSON object per line although named .json
        head = b"".join(head.splitlines(keepends=True)[:20])
    data = mutate_bytes(head, ops, random.Random(seed))
    root = tmp_path_factory.mktemp("data")
    (root / relative).parent.mkdir(parents=True)
    (root / relative).write_bytes(data)
    try:
        examples = load_examples(catalog.kind(spec.kind), spec, root, spec.split)
    except UsageError as exc:
        one_line(exc, root / relative, spec.path)
        return
    assert examples and len({e.id for e in examples}) == len(examples)
    assert (root / relative).read_bytes() == data  # a reader never writes


# --- instruction files -------------------------------------------------------------------------

GOOD_INSTRUCTIONS = "".join(json.dumps(r) + "\n" for r in [
    {"instruction": "Name a beta blocker.", "input": "", "output": "Metoprolol.", "category": "qa"},
    {"id": "x2", "instruction": "Extract the drugs.", "input": "Took aspirin.", "output": "aspirin", "category": "ie"},
    {"instruction": "Summarise.", "input": "Chest pain for two hours.", "output": "Acute chest pain.",
     "provenance": {"source": "seed"}},
]).encode()


@FAST
@given(ops=byte_ops, seed=st.integers(0, 10**6), as_array=st.booleans())
def test_instruction_files(tmp_path_factory, ops, seed, as_array):
    good = GOOD_INSTRUCTIONS
    if as_array:
        good = ("[\n" + ",\n".join(good.decode().splitlines()) + "\n]\n").encode()
    data = mutate_bytes(good, ops, random.Random(seed))
    path = tmp_path_factory.mktemp("inst") / ("set.json" if as_array else "set.jsonl")
    path.write_bytes(data)
    try:
        instructions = read_instructions(path)
    except UsageError as exc:
        one_line(exc, path)
        return
    assert instructions and len({i.id for i in instructions}) == len(instructions)
    assert all(i.instruction.strip() and i.output.strip() for i in instructions)


# --- adapter folders ---------------------------------------------------------------------------

def safetensors_bytes(names):
    header = json.dumps({n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
                         for i, n in enumerate(names)}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * (4 * len(names))


BASE_MODEL_NAMES = [f"model.layers.0.self_attn.{m}.weight" for m in ("q_proj", "k_proj", "v_proj", "o_proj")] + \
    ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"]


@FAST
@given(config=st.dictionaries(st.sampled_from(["r", "lora_alpha", "target_modules", "peft_type", "base_model_name_or_path"]),
                              json_values | st.lists(st.sampled_from(["q_proj", "v_proj", "up_proj", "qkv", "x"]),
                                                     max_size=3) | st.sampled_from([".*proj", "q_proj|v_proj"]),
                              max_size=5),
       raw=st.none() | st.binary(max_size=20), weights=st.sampled_from(["ok", "none", "garbage", "empty", "bin"]))
def test_adapter_folders(tmp_path_factory, config, raw, weights):
    root = tmp_path_factory.mktemp("adapter")
    base = root / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(safetensors_bytes(BASE_MODEL_NAMES))
    adapter = root / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_bytes(json.dumps(config).encode() if raw is None else raw)
    if weights == "ok":
        (adapter / "adapter_model.safetensors").write_bytes(safetensors_bytes(["base_model.model.lora_A.weight"]))
    elif weights in ("garbage", "empty"):
        (adapter / "adapter_model.safetensors").write_bytes(b"\x07garbage" if weights == "garbage" else b"")
    elif weights == "bin":
        (adapter / "adapter_model.bin").write_bytes(b"PK\x03\x04torch")
    before = {p.name: p.read_bytes() for p in adapter.iterdir()}
    try:
        digest = check_adapter(adapter, base=base)
    except UsageError as exc:
        one_line(exc, adapter)
        return
    assert len(digest) == 16 and raw is None and weights in ("ok", "bin")
    targets = config.get("target_modules")
    if isinstance(targets, list):
        assert set(targets) <= {"q_proj", "v_proj", "up_proj"}
    assert {p.name: p.read_bytes() for p in adapter.iterdir()} == before


# --- the whole command: eval on fuzzed data, with what was written before kept -------------------

FIXED_BACKEND = textwrap.dedent('''
    from bioharness import hookimpl
    from bioharness.records import Loglikelihood, Prediction


    class Fixed:
        """Deterministic answers without a model: a continuation's log-prob is minus its length."""

        def loglikelihood(self, requests, progress=None):
            return [Loglikelihood(id=r.id, logprob=-float(len(r.continuation)), num_tokens=1) for r in requests]

        def generate(self, requests, progress=None):
            return [Prediction(id=r.id, text="A") for r in requests]

        def close(self):
            pass


    @hookimpl
    def register_backends(register):
        register("fixed", lambda spec, **options: Fixed(), description="deterministic test backend")
''')


@pytest.fixture(scope="module")
def fixed_plugin(tmp_path_factory):
    path = tmp_path_factory.mktemp("fixed") / "fixed_backend.py"
    path.write_text(FIXED_BACKEND)
    return path


def snapshot(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@SLOW
@given(ops=byte_ops, seed=st.integers(0, 10**6))
def test_eval_on_fuzzed_data(tmp_path_factory, samples_of_data, catalog, fixed_plugin, capsys, ops, seed):
    spec, relative, head = samples_of_data["medqa"]
    root = tmp_path_factory.mktemp("eval")
    out = root / "out"
    (root / "good" / relative).parent.mkdir(parents=True)
    (root / "good" / relative).write_bytes(b"".join(head.splitlines(keepends=True)[:5]))
    common = ["eval", "--model", "fixed:x", "--tasks", "medqa", "--plugins", str(fixed_plugin), "--bootstrap", "100",
              "--out", str(out)]
    assert main([*common[:2], "fixed:earlier", *common[3:], "--data-dir", str(root / "good")]) == 0
    earlier = snapshot(out)
    data = mutate_bytes(head, ops, random.Random(seed))
    (root / "bad" / relative).parent.mkdir(parents=True)
    (root / "bad" / relative).write_bytes(data)
    capsys.readouterr()
    code = main([*common, "--data-dir", str(root / "bad")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    now = snapshot(out)
    assert {k: v for k, v in now.items() if k in earlier and not k.endswith(".lock")} == \
        {k: v for k, v in earlier.items() if not k.endswith(".lock")}
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("Error: "), err
        assert set(now) == set(earlier)  # nothing new
        return
    assert code == 0, err
    expected = load_examples(catalog.kind("mcqa"), spec, root / "bad", "test")
    metrics = json.loads((out / "eval" / "fixed__x" / "medqa" / "metrics.json").read_text())
    samples = [json.loads(line) for line in (out / "eval" / "fixed__x" / "medqa" / "samples.jsonl").open()]
    assert metrics["n"] == len(expected) == len(samples) and metrics["complete"] is True
    correct = sum(s["values"]["correct"] for s in samples)
    assert metrics["metrics"]["accuracy"]["value"] == pytest.approx(correct / len(samples))
