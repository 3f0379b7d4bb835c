"""The seed pool: the curated instructions that self-instruct prompts are drawn from.

A pool is a JSONL file, one instruction per line::

    {"id": "seed-001", "instruction": "...", "input": "...", "output": "...", "category": "qa"}

``input`` may be ``""`` when the instruction stands alone; ``category`` is one of
``qa``, ``ie``, ``gen``, ``other``; an optional ``provenance`` object is kept as given.
The built-in pool (``seeds.jsonl`` next to this module) holds 80 biomedical seeds written
for bioharness; users pass their own pool in the same format.
"""
from __future__ import annotations

import json
from pathlib import Path

from bioharness import CATEGORIES, DataError, Instruction, read_text

#: The built-in seed pool.
DEFAULT_SEEDS = Path(__file__).with_name("seeds.jsonl")

_REQUIRED = ("id", "instruction", "input", "output", "category")
_OPTIONAL = ("provenance",)


def load_seeds(path: str | Path | None = None) -> list[Instruction]:
    """Read and validate a seed pool (the built-in one when ``path`` is None).

    Blank lines are skipped. Any other problem raises :class:`DataError` naming the file and
    line: invalid JSON, a line that is not an object, a missing or unknown field, a field of
    the wrong type, an empty id or instruction, an unknown category, a duplicate id. A file
    that cannot be read, or holds no instruction, is a :class:`DataError` too.
    """
    path = Path(path) if path is not None else DEFAULT_SEEDS
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise DataError(path, None, "seed file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, None, f"cannot read the seed file ({exc})") from None

    seeds: list[Instruction] = []
    first_line_of: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        seed = _parse_line(path, line_no, line)
        if seed.id in first_line_of:
            raise DataError(path, line_no, f"duplicate id {seed.id!r} (first used on line {first_line_of[seed.id]})")
        first_line_of[seed.id] = line_no
        seeds.append(seed)
    if not seeds:
        raise DataError(path, None, "no seed instructions found (expected one JSON object per line)")
    return seeds


def _parse_line(path: Path, line_no: int, line: str) -> Instruction:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(path, line_no, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise DataError(path, line_no, f"expected a JSON object, got {type(data).__name__}")

    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise DataError(path, line_no, f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise DataError(path, line_no, f"unknown field(s): {', '.join(unknown)}; expected {', '.join(_REQUIRED)} and optionally provenance")
    for name in _REQUIRED:
        if not isinstance(data[name], str):
            raise DataError(path, line_no, f"field {name!r} must be a string, got {type(data[name]).__name__}")
    provenance = data.get("provenance", {"source": "seed"})
    if not isinstance(provenance, dict):
        raise DataError(path, line_no, f"field 'provenance' must be an object, got {type(provenance).__name__}")

    if not data["id"].strip():
        raise DataError(path, line_no, "empty id")
    if not data["instruction"].strip():
        raise DataError(path, line_no, "empty instruction")
    if data["category"] not in CATEGORIES:
        raise DataError(path, line_no, f"unknown category {data['category']!r}; expected one of {', '.join(CATEGORIES)}")

    return Instruction(
        id=data["id"],
        instruction=data["instruction"],
        input=data["input"],
        output=data["output"],
        category=data["category"],
        provenance=provenance,
    )
