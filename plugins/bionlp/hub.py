"""Hugging Face hub fallbacks for the datasets whose hub copy has a known, stable schema.

Used only when a task's files are not in the data directory, the spec names ``data.hf``,
the ``datasets`` package is installed and ``HF_HUB_OFFLINE`` is not set (``datasets``
itself reads its local cache before the network).

Converters exist for three datasets; every other reader has **no hub fallback** (their hub
copies are loading scripts, or lack the official split, e.g. PubMedQA's 500 test ids):

* ``medqa``: ``GBaker/MedQA-USMLE-4-options`` (``question``, ``options`` {A..D},
  ``answer_idx`` a letter): the same records as the local JSON-lines file.
* ``medmcqa``: ``openlifescienceai/medmcqa``, split ``validation`` (``opa``..``opd``,
  ``cop`` **0-based** there, unlike the 1-based local ``dev.json``).
* ``mmlu_medical``: ``cais/mmlu``, one config per subject (``question``, ``choices`` [4],
  ``answer`` 0-3).

Examples get the same ids and fields as the local readers give.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from bioharness import DataError, Example, UsageError

from .readers import MMLU_MEDICAL_SUBJECTS

_TRUE = ("1", "true", "yes", "on")


def convert_medqa(rows, split: str, source: str) -> list[Example]:
    out = []
    for i, row in enumerate(rows):
        options = dict(row["options"])
        if sorted(options) != ["A", "B", "C", "D"] or row["answer_idx"] not in options:
            raise DataError(source, f"row {i}", f"expected options A-D and answer_idx among them, got {row['answer_idx']!r}")
        out.append(Example(id=f"{split}-{i}", inputs={"question": row["question"], "options": {k: options[k] for k in "ABCD"}},
                           reference=row["answer_idx"],
                           meta={"answer_text": row.get("answer"), "meta_info": row.get("meta_info"),
                                 "source": f"{source}:row {i}"}))
    return out


def convert_medmcqa(rows, split: str, source: str) -> list[Example]:
    out = []
    for i, row in enumerate(rows):
        cop = row["cop"]
        if cop not in (0, 1, 2, 3):
            raise DataError(source, f"row {i}", f"cop={cop!r}, expected 0-3 (0-based on the hub)")
        out.append(Example(id=str(row["id"]),
                           inputs={"question": row["question"],
                                   "options": {k: row[f"op{k.lower()}"] for k in "ABCD"}},
                           reference="ABCD"[cop],
                           meta={"subject": row.get("subject_name"), "topic": row.get("topic_name"),
                                 "choice_type": row.get("choice_type"), "source": f"{source}:row {i}"}))
    return out


def convert_mmlu(rows, subject: str, source: str) -> list[Example]:
    out = []
    for i, row in enumerate(rows):
        choices, answer = list(row["choices"]), row["answer"]
        if len(choices) != 4 or answer not in (0, 1, 2, 3):
            raise DataError(source, f"row {i}", f"expected 4 choices and answer 0-3, got {len(choices)} and {answer!r}")
        out.append(Example(id=f"{subject}-{i}", inputs={"question": row["question"], "options": dict(zip("ABCD", choices))},
                           reference="ABCD"[answer], meta={"subject": subject, "source": f"{source}:row {i}"}))
    return out


def _load_simple(convert: Callable) -> Callable:
    def load(load_dataset, hf: Mapping[str, Any], split: str, reader_args: Mapping[str, Any]) -> list[Example]:
        ds = load_dataset(hf["path"], hf.get("name"), split=hf.get("split", split))
        return convert(ds, split, f"hf:{hf['path']}")

    return load


def _load_mmlu(load_dataset, hf, split, reader_args):
    out = []
    for subject in reader_args.get("subjects") or MMLU_MEDICAL_SUBJECTS:
        if subject not in MMLU_MEDICAL_SUBJECTS:
            raise UsageError(f"unknown MMLU medical subject {subject!r}; choose from {', '.join(MMLU_MEDICAL_SUBJECTS)}")
        ds = load_dataset(hf["path"], subject, split=hf.get("split", split))
        out += convert_mmlu(ds, subject, f"hf:{hf['path']}/{subject}")
    return out


#: reader name -> loader(load_dataset, hf settings, split, reader_args)
CONVERTERS: dict[str, Callable] = {
    "medqa": _load_simple(convert_medqa),
    "medmcqa": _load_simple(convert_medmcqa),
    "mmlu_medical": _load_mmlu,
}


def unavailable(spec) -> str | None:
    """Why the hub cannot serve ``spec`` now (one phrase), or None if it can be tried."""
    fallback = spec.data.get("hf")
    if not fallback or spec.data["reader"] not in CONVERTERS:
        return "no hub fallback for this task"
    what = f"hub fallback {fallback['path']}"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE:
        return f"{what} not tried: HF_HUB_OFFLINE is set"
    try:
        import datasets  # noqa: F401
    except ImportError:
        return f"{what} needs the 'datasets' package (pip install datasets)"
    return None


def load(spec, reader_args: Mapping[str, Any]) -> list[Example]:
    from datasets import load_dataset

    fallback = spec.data["hf"]
    try:
        return CONVERTERS[spec.data["reader"]](load_dataset, fallback, spec.split, reader_args)
    except (DataError, UsageError):
        raise
    except Exception as exc:  # network, missing dataset, schema change: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"task {spec.name}: hub fallback {fallback['path']} failed: {first}") from None
