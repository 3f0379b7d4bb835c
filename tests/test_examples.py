"""The plugins under examples/ are complete: each is pip-installed (into a temporary
target, found through its entry point) and its task listed and evaluated on the tiny model."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    for name in ("yaml_task_plugin", "task_kind_plugin"):
        # a copy, so the build leaves nothing behind in the repository
        source = tmp_path_factory.mktemp("src") / name
        subprocess.run(["cp", "-r", str(EXAMPLES / name), str(source)], check=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                 "--no-build-isolation", "--target", str(target), str(source)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    return target


def bioharness(site, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("BIOHARNESS_DATA", "BIOHARNESS_PLUGINS")}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def test_both_example_plugins_load_through_their_entry_points(site, data_dir):
    result = bioharness(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["medqa_cot"]["source"] == "entry point (bioharness-medqa-cot)"
    assert plugins["medqa_cot"]["hooks"] == ["task_dirs"]
    assert plugins["abbrev"]["hooks"] == ["register_task_kinds", "task_dirs"]
    result = bioharness(site, "tasks", "--json", "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    tasks = {t["name"]: t for t in json.loads(result.stdout)}
    assert tasks["medqa_cot"]["plugin"] == "medqa_cot" and tasks["medqa_cot"]["kind"] == "mcqa"
    assert tasks["clinical_abbrev"]["plugin"] == "abbrev" and tasks["clinical_abbrev"]["kind"] == "abbreviation"
    assert len(tasks) == 26  # 24 built in + 2


@pytest.fixture(scope="module")
def evaluated(site, tiny_llama_dir, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    result = bioharness(site, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "medqa_cot,clinical_abbrev",
                        "--limit", 3, "--out", out, "--bootstrap", 100, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr[-2000:]

    def files(task):
        folder = out / "eval" / f"hf__{tiny_llama_dir.name}" / task
        rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        return rows, json.loads((folder / "metrics.json").read_text())

    return files


def test_the_yaml_only_task_runs(evaluated):
    rows, metrics = evaluated("medqa_cot")
    assert len(rows) == 3
    for row in rows:
        assert row["prompt"][0]["system"] == "You are a careful physician taking a licensing exam."
        assert row["prompt"][0]["prompt"].endswith('where X is one of A, B, C or D.')
        assert row["values"]["correct"] == int(row["prediction"] == row["reference"])
    assert metrics["n"] == 3 and metrics["headline"] == "accuracy"
    assert metrics["setting"]["scoring"] == "generate"
    assert metrics["unparsed"] == sum(r["prediction"] is None for r in rows)


def test_the_new_task_kind_runs_on_its_own_data(evaluated):
    # its data file is found next to its YAML: the data directory has no such file
    rows, metrics = evaluated("clinical_abbrev")
    assert len(rows) == 3 and all(r["id"].startswith("ab") for r in rows)
    for row in rows:
        assert set(row["values"]) == {"exact", "f1"}
        assert isinstance(row["reference"], list) and row["reference"]
    assert metrics["headline"] == "exact_match" and set(metrics["metrics"]) == {"exact_match", "token_f1"}
    assert metrics["metrics"]["exact_match"]["value"] == sum(r["values"]["exact"] for r in rows) / 3


def test_the_new_task_kind_scores_by_hand():
    sys.path.insert(0, str(EXAMPLES / "task_kind_plugin"))
    try:
        from bioharness_abbrev.kind import AbbreviationKind, normalize, token_f1
    finally:
        sys.path.pop(0)
    assert normalize("It stands for: Shortness-of-breath.") == "shortness of breath"
    assert token_f1("deep vein clot", "deep vein thrombosis") == pytest.approx(2 / 3)
    from bioharness.records import Example, Prediction

    kind = AbbreviationKind()
    examples = [Example(id="a", inputs={}, reference=["twice a day", "twice daily"]),
                Example(id="b", inputs={}, reference=["deep vein thrombosis"])]
    outputs = [[Prediction(id="a", text="Twice daily.\nTake with food")], [Prediction(id="b", text="deep vein clot")]]
    scores = kind.score(SimpleNamespace(name="t"), examples, outputs, None)
    assert [s.prediction for s in scores] == ["Twice daily.", "deep vein clot"]
    assert [dict(s.values) for s in scores] == [{"exact": 1, "f1": 1.0}, {"exact": 0, "f1": pytest.approx(2 / 3)}]
    assert kind.metrics(None, {"exact": 1, "f1": 5 / 3}, 2) == {"exact_match": 0.5, "token_f1": pytest.approx(5 / 6)}


# --------------------------------------------------------------------------- YAML-only tasks in generic formats
# Each installed into a target of its own, so that one example's failure does not hide the other's.

NEW_EXAMPLES = {  # example folder -> (entry point, task, examples, headline)
    "conll_ner_plugin": ("jnlpba_mini", "jnlpba_mini", 10, "f1_strict"),
    "pubtator_re_plugin": ("cdr_mini", "cdr_mini", 14, "micro_f1"),
}
_sites = {}


def installed(name, tmp_path_factory):
    if name not in _sites:
        target = tmp_path_factory.mktemp(f"site-{name}")
        source = tmp_path_factory.mktemp("src") / name
        subprocess.run(["cp", "-r", str(EXAMPLES / name), str(source)], check=True)
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                 "--no-build-isolation", "--target", str(target), str(source)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        _sites[name] = target
    return _sites[name]


def _tasks(site, *args):
    result = bioharness(site, *args, "tasks", "--json")
    assert result.returncode == 0, result.stderr
    return {t["name"]: t for t in json.loads(result.stdout)}


@pytest.mark.parametrize("name", sorted(NEW_EXAMPLES))
def test_generic_format_example_runs_installed_and_from_its_path(name, tmp_path_factory, tiny_llama_dir, tmp_path):
    entry, task, total, headline = NEW_EXAMPLES[name]
    site = installed(name, tmp_path_factory)
    plugins = {p["name"]: p for p in json.loads(bioharness(site, "plugins", "--json").stdout)}
    assert plugins[entry]["hooks"] == ["task_dirs"]
    # no data directory: the data ships beside the YAML
    tasks = _tasks(site)
    assert tasks[task]["plugin"] == entry and tasks[task]["data"] == "beside the spec"
    # the same plugin from its path, not installed
    init = EXAMPLES / name / f"bioharness_{entry}" / "__init__.py"
    from_path = _tasks(tmp_path, "--plugins", init)
    assert from_path[task]["data"] == "beside the spec" and from_path[task]["kind"] == tasks[task]["kind"]
    out = tmp_path / "runs"
    result = bioharness(site, "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", task, "--limit", 10, "--out", out,
                        "--bootstrap", 100)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = out / "eval" / f"hf__{tiny_llama_dir.name}" / task
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert len(rows) == min(10, total) and metrics["n"] == len(rows) and metrics["headline"] == headline
    if name == "conll_ner_plugin":
        # the full corpus is a manifest, installed with the package: listed, not shipped, fetched on first use
        listed = [r for r in json.loads(bioharness(site, "data", "list", "--json").stdout) if r["dataset"] == "jnlpba"]
        assert [(r["path"], r["bytes"], r["found"]) for r in listed] == [("jnlpba/test.tsv", 996475, None),
                                                                          ("jnlpba/devel.tsv", 464143, None)]
        assert all(r["url"].startswith("https://raw.githubusercontent.com/cambridgeltl/") for r in listed)
        assert tasks["jnlpba"]["data"] == "missing (bioharness data fetch jnlpba)"
        # all 10 sentences, 21 gold mentions of 5 types; the shot is a dev sentence, in 'type: mention' lines
        assert sum(len(r["reference"]) for r in rows) == 21
        assert {f"f1_strict_{t}" for t in ("protein", "DNA", "RNA", "cell_line", "cell_type")} <= set(metrics["metrics"])
        shot = ("Sentence: The THP-1 cell line expresses the CD14 receptor .\nEntities: cell_line: THP-1 cell line\n"
                "protein: CD14 receptor\n\n")
        assert all(shot in r["prompt"][0]["prompt"] for r in rows)
    else:
        # 10 of the 14 chemical-disease concept pairs (5 of them CID), chosen with the seed
        assert all(r["reference"] in ("CID", "none") for r in rows)
        assert all(r["id"].count("|") == 2 for r in rows)
        assert "[E1]" in rows[0]["prompt"][0]["prompt"] and "[E2]" in rows[0]["prompt"][0]["prompt"]
