"""Reported scores of well-known biomedical LLMs (``zoo.yaml``) and where they may stand.

:func:`reported_rows` flattens the registry into one row per (model, task, source);
:func:`place` decides, for a compare board, which rows sit beside the measured ones (the
same task, shots and scoring as every measured model of that task) and which are shown
apart, naming the difference. Reported rows never enter a measured cell, a baseline
difference or a gain.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

ZOO = Path(__file__).with_name("zoo.yaml")


@functools.lru_cache(maxsize=1)
def registry() -> dict:
    return yaml.safe_load(ZOO.read_text(encoding="utf-8"))


def reported_rows() -> list[dict]:
    data = registry()
    rows = []
    for model in data["models"]:
        for entry in model.get("scores", ()):
            setting = data["settings"][entry["setting"]]
            for key, value in entry.items():
                if key in ("source", "setting", "status"):
                    continue
                for task in data["tasks"][key]:
                    rows.append({"model": model["name"], "hub": model["hub"], "task": task, "metric": "accuracy",
                                 "value": value, "shots": setting["shots"], "scoring": setting["scoring"],
                                 "harness": setting["harness"], "status": entry["status"],
                                 "source": data["sources"][entry["source"]]})
    return rows


def _measured_setting(score):
    setting = score.get("setting", {})
    return setting.get("num_fewshot"), setting.get("scoring")


def place(board) -> list[dict]:
    """Reported rows for the tasks on ``board``, each with ``beside`` (True when its setting
    is that of every measured model there) and ``difference`` (why not, or None)."""
    out = []
    for row in reported_rows():
        entry = board["tasks"].get(row["task"])
        if not entry:
            continue
        measured = {_measured_setting(s) for s in entry["scores"].values()}
        differences = []
        if row["shots"] is None or row["scoring"] is None:
            differences.append("the source does not state shots and scoring")
        else:
            if any(shots != row["shots"] for shots, _ in measured):
                differences.append(f"shots {row['shots']} reported vs {sorted(str(s) for s, _ in measured)} measured")
            if any(scoring not in (row["scoring"], "lm-eval") for _, scoring in measured):
                differences.append(f"scoring {row['scoring']} reported vs {sorted(str(s) for _, s in measured)} measured")
        out.append({**row, "beside": not differences, "difference": "; ".join(differences) or None})
    return out
