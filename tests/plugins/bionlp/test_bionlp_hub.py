"""Where a task's data comes from: the data directory, else the hub fallback (converted to
exactly what the local reader gives), else one error line saying what was looked for."""
import csv
import json
import sys
import types

import pytest

from bioharness.errors import UsageError
from bioharness.manager import load_plugins
from bioharness.plugins.bionlp import hub
from bioharness.plugins.bionlp.kinds import McqaKind
from bioharness.plugins.bionlp.readers import read_medmcqa, read_medqa, read_mmlu_medical
from bioharness.taskspec import TaskCatalog


@pytest.fixture(scope="module")
def specs():
    return TaskCatalog(load_plugins(entry_points=False, env={}).hooks).specs


def _jsonl(path, n):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def _same(a, b):
    assert [e.to_dict() | {"meta": None} for e in a] == [e.to_dict() | {"meta": None} for e in b]


def test_medqa_hub_rows_convert_to_the_local_examples(data_dir):
    rows = _jsonl(data_dir / "medqa_usmle_4opt" / "phrases_no_exclude_test.jsonl", 5)
    _same(hub.convert_medqa(rows, "test", "hf:x"), read_medqa(data_dir, "test")[:5])


def test_medmcqa_hub_cop_is_zero_based(data_dir):
    rows = _jsonl(data_dir / "medmcqa" / "dev.json", 8)
    hub_rows = [{**row, "cop": row["cop"] - 1} for row in rows]  # the hub's ClassLabel 0-3
    converted = hub.convert_medmcqa(hub_rows, "dev", "hf:x")
    _same(converted, read_medmcqa(data_dir, "dev")[:8])
    assert converted[0].meta["subject"] == rows[0]["subject_name"]


def test_mmlu_hub_rows_convert_per_subject(data_dir):
    rows = _mmlu_hub_rows(data_dir, "anatomy", 4)
    _same(hub.convert_mmlu(rows, "anatomy", "hf:x"), read_mmlu_medical(data_dir, "test", ["anatomy"])[:4])


def _mmlu_hub_rows(data_dir, subject, n):
    with open(data_dir / "mmlu_medical" / f"{subject}_test.csv", encoding="utf-8", newline="") as fh:
        raw = list(csv.reader(fh))[:n]
    return [{"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])} for r in raw]


def test_hub_fallback_through_load_with_a_stand_in_datasets_module(specs, data_dir, tmp_path, monkeypatch):
    medqa_rows = _jsonl(data_dir / "medqa_usmle_4opt" / "phrases_no_exclude_test.jsonl", 3)
    calls = []

    def load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        return medqa_rows if path.startswith("GBaker/") else _mmlu_hub_rows(data_dir, name, 2)

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("BIOHARNESS_DATA", raising=False)
    examples = McqaKind().load(specs["medqa"], tmp_path, "test")  # tmp_path holds no medqa file
    assert calls == [("GBaker/MedQA-USMLE-4-options", None, "test")]
    _same(examples, read_medqa(data_dir, "test")[:3])
    assert examples[0].meta["source"] == "hf:GBaker/MedQA-USMLE-4-options:row 0"
    # mmlu: one hub config per subject
    calls.clear()
    examples = McqaKind().load(specs["mmlu_medical"], tmp_path, "test")
    subjects = [name for _, name, _ in calls]
    assert subjects == ["anatomy", "clinical_knowledge", "college_biology", "college_medicine", "medical_genetics",
                        "professional_medicine"]
    local = read_mmlu_medical(data_dir, "test")
    _same(examples, [e for s in subjects for e in [x for x in local if x.meta["subject"] == s][:2]])
    # a hub copy whose schema changed: one line naming the dataset
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda *a, **k: [{"q": 1}]))
    with pytest.raises(UsageError, match=r"^task medqa: hub fallback GBaker/MedQA-USMLE-4-options failed: 'options'$"):
        McqaKind().load(specs["medqa"], tmp_path, "test")


def test_missing_data_is_one_line_naming_files_and_the_hub(specs, tmp_path, monkeypatch):
    monkeypatch.delenv("BIOHARNESS_DATA", raising=False)
    cache = tmp_path / "cache"  # nothing fetched: the data directory, then this cache, then the spec's folder
    monkeypatch.setenv("BIOHARNESS_CACHE", str(cache))
    kind = McqaKind()
    with pytest.raises(UsageError) as err:
        kind.load(specs["pubmedqa"], tmp_path, "test")
    message = str(err.value)
    assert "\n" not in message
    assert message == (f"task pubmedqa (test): data not found: looked for pubmedqa/ori_pqal.json, "
                       f"pubmedqa/test_ground_truth.json in the data directory {tmp_path}, the cache {cache / 'data'}, "
                       f"the task's folder {specs['pubmedqa'].path.parent}; no hub fallback for this task")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError, match=r"looked for medqa_usmle_4opt/phrases_no_exclude_test\.jsonl in the data directory .*; "
                                         r"hub fallback GBaker/MedQA-USMLE-4-options not tried: HF_HUB_OFFLINE is set"):
        kind.load(specs["medqa"], tmp_path, "test")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setitem(sys.modules, "datasets", None)  # not installed
    with pytest.raises(UsageError, match=r"hub fallback openlifescienceai/medmcqa needs the 'datasets' package"):
        kind.load(specs["medmcqa"], tmp_path, "dev")
    with pytest.raises(UsageError, match=r"no data directory given: set --data-dir or BIOHARNESS_DATA\)"):
        kind.load(specs["pubmedqa"], None, "test")


def test_the_data_directory_comes_from_the_environment_when_not_given(specs, data_dir, monkeypatch):
    monkeypatch.setenv("BIOHARNESS_DATA", str(data_dir))
    assert len(McqaKind().load(specs["pubmedqa"], None, "test")) == 500
