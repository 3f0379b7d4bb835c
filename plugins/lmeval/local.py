"""lm-eval's own medical task definitions, pointed at the local data directory.

lm-eval's ``medqa_4options``, ``medmcqa``, ``pubmedqa`` and the six medical ``mmlu_*``
tasks read Hugging Face hub datasets. :func:`local_task_config` takes lm-eval's own YAML
config of such a task (its prompt functions, choices, target and metrics unchanged) and
replaces only where the documents come from: ``custom_dataset`` reads the files named in
``dataset_kwargs.data_files`` (under ``BIOHARNESS_DATA``) and turns each row into the
fields of the hub dataset that lm-eval's prompt functions expect:

* ``medqa_4options`` (hub ``GBaker/MedQA-USMLE-4-options-hf``): ``sent1``, ``ending0-3``,
  ``label`` (0-based) from the MedQA JSONL ``question``, ``options``, ``answer_idx``;
* ``medmcqa`` (hub ``openlifescienceai/medmcqa``, split validation): the dev file's rows,
  with ``cop`` made 0-based (the local file counts from 1);
* ``pubmedqa`` (hub ``bigbio/pubmed_qa`` fold 0, whose test split is the official 500):
  the PQA-L entries of the official test PMIDs, fields as in ``ori_pqal.json``;
* ``mmlu_<subject>`` (hub ``cais/mmlu``): ``question``, ``choices`` (list), ``answer``
  (0-based) from the headerless CSV.

Only the test split is served; these tasks are evaluated zero-shot, as the Open
Medical-LLM Leaderboard does. Nothing here imports lm-eval at module import time.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from bioharness import UsageError, find_data_file, open_text, places_searched, read_text

MMLU_MEDICAL = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine", "medical_genetics",
                "professional_medicine")

#: lm-eval task -> (data files relative to the data directory, row converter name)
LOCAL_TASKS = {
    "medqa_4options": (("medqa_usmle_4opt/phrases_no_exclude_test.jsonl",), "medqa"),
    "medmcqa": (("medmcqa/dev.json",), "medmcqa"),
    "pubmedqa": (("pubmedqa/ori_pqal.json", "pubmedqa/test_ground_truth.json"), "pubmedqa"),
    **{f"mmlu_{s}": ((f"mmlu_medical/{s}_test.csv",), "mmlu") for s in MMLU_MEDICAL},
}
#: lm-eval's group of the nine (``multimedqa`` in lm-eval 0.4.13)
GROUPS = {"multimedqa": ("pubmedqa", "medmcqa", "medqa_4options", *(f"mmlu_{s}" for s in MMLU_MEDICAL))}


def _jsonl(path):
    with open_text(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _medqa(paths):
    letters = "ABCD"
    return [{"sent1": r["question"], **{f"ending{i}": r["options"][k] for i, k in enumerate(letters)},
             "label": letters.index(r["answer_idx"])} for r in _jsonl(paths[0])]


def _medmcqa(paths):
    return [{**r, "cop": r["cop"] - 1} for r in _jsonl(paths[0])]


def _pubmedqa(paths):
    data = json.loads(read_text(paths[0]))
    truth = json.loads(read_text(paths[1]))
    return [{"pubid": pmid, **{k: v for k, v in data[pmid].items() if k in ("QUESTION", "CONTEXTS", "LABELS",
                                                                            "MESHES", "YEAR", "LONG_ANSWER",
                                                                            "final_decision")}}
            for pmid in truth]


def _mmlu(paths):
    subject = Path(paths[0]).name.rsplit("_", 1)[0]
    with open_text(paths[0], newline="") as fh:
        rows = list(csv.reader(fh))
    return [{"question": q, "subject": subject, "choices": [a, b, c, d], "answer": "ABCD".index(ans.strip())}
            for q, a, b, c, d, ans in rows]


CONVERTERS = {"medqa": _medqa, "medmcqa": _medmcqa, "pubmedqa": _pubmedqa, "mmlu": _mmlu}


class LocalDataset:
    """lm-eval's ``custom_dataset`` callable: ``{"test": Dataset}`` from the local files."""

    def __init__(self, converter):
        self.converter = converter

    def __call__(self, data_files=None, **_metadata):
        import datasets

        rows = CONVERTERS[self.converter](list(data_files["test"]))
        return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def expand(names):
    """Task names with lm-eval groups we serve (``multimedqa``) expanded."""
    out = []
    for name in names:
        out += GROUPS.get(name, (name,))
    return list(dict.fromkeys(out))


def local_task_config(name, task_manager, data_root=None) -> dict | str:
    """lm-eval's config of task ``name`` (an inline dict ``TaskManager.load`` accepts), reading
    the local data. Any other lm-eval task is returned by name (lm-eval reads the hub) unless
    ``HF_HUB_OFFLINE`` is set: then, or for an unknown name, a one-line UsageError."""
    # lm-eval has no public loader of one task's YAML with its !function tags resolved
    from lm_eval.tasks._yaml_loader import load_yaml

    if name not in LOCAL_TASKS:
        if name not in task_manager.all_tasks:
            raise UsageError(f"lm_eval:{name} is not a task of lm-eval (`lm_eval ls tasks` lists them)")
        if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
            raise UsageError(f"lm_eval:{name} needs the Hugging Face hub and HF_HUB_OFFLINE is set; tasks with "
                             f"local data: {', '.join([*LOCAL_TASKS, *GROUPS])}")
        return name
    files, converter = LOCAL_TASKS[name]
    paths = [find_data_file(f, data_root) for f in files]
    missing = [f for f, p in zip(files, paths) if not p.is_file()]
    if missing:
        raise UsageError(f"lm_eval:{name}: data not found: looked for {', '.join(missing)} in "
                         f"{places_searched(data_root)}; `bioharness data list` names the dataset to fetch")
    cfg = load_yaml(task_manager.task_index[name].yaml_path, resolve_func=True)
    for key in ("tag", "group", "dataset_name", "training_split", "validation_split", "fewshot_split",
                "fewshot_config"):
        cfg.pop(key, None)
    cfg.update(task=name, dataset_path=None, custom_dataset=LocalDataset(converter), test_split="test",
               dataset_kwargs={"data_files": {"test": [str(p) for p in paths]}})
    return cfg
