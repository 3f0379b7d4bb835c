"""Instruction sets on disk: read ours or anyone's, write ours.

An instruction set is a JSON array or a JSONL file of objects with ``instruction``,
``input`` and ``output`` (all three required; ``input`` may be empty or null), and
optionally ``id``, ``category`` (qa / ie / gen / other, any case; default ``other``) and
``provenance``. Other keys (a dataset's own metadata) are kept under
``provenance["extra"]`` rather than rejected, so any Alpaca-style file reads as is.

Every problem is a :class:`bioharness.errors.DataError` naming the file and the line of
the offending record.
"""
import json
from pathlib import Path

from bioharness.errors import DataError
from bioharness.records import CATEGORIES, Instruction
from bioharness.store import atomic_write_text, read_jsonl, sha256_json
from bioharness.textfiles import read_text

REQUIRED = ("instruction", "input", "output")
KNOWN = (*REQUIRED, "id", "category", "provenance")


def read_instructions(path) -> list[Instruction]:
    """Every instruction in ``path`` (JSON array or JSONL), in file order."""
    path = Path(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a directory, expected a JSON or JSONL file of instructions") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataError(path, line, "not UTF-8 text") from None
    if not text.strip():
        raise DataError(path, None, "empty file: no instructions")
    if text.lstrip().startswith("["):
        items = _json_array_items(path, text)
    else:
        items = _jsonl_items(path, text)
    if not items:
        raise DataError(path, None, "no instructions in the file")
    seen = {}
    out = []
    for number, (line, obj) in enumerate(items, start=1):
        inst = _instruction(path, line, obj, default_id=f"{path.stem}-{number:05d}")
        if inst.id in seen:
            raise DataError(path, line, f"duplicate id {inst.id!r} (first on line {seen[inst.id]})")
        seen[inst.id] = line
        out.append(inst)
    return out


def write_instructions(path, instructions):
    """Write ``instructions`` as JSONL, atomically (a reader never sees half a file)."""
    atomic_write_text(path, "".join(inst.to_json() + "\n" for inst in instructions))


def instructions_digest(instructions) -> str:
    """sha256 of the exact examples, in order: equal digests mean the same training data."""
    return sha256_json([inst.to_dict() for inst in instructions])


def _jsonl_items(path, text):
    try:
        return read_jsonl(path, text)
    except DataError as exc:
        first = next(i for i, line in enumerate(text.splitlines(), start=1) if line.strip())
        if exc.where == first and _is_one_object(text):
            raise DataError(path, None, "one JSON object; expected a JSON array of instructions or "
                                        "one object per line (JSONL)") from None
        raise


def _is_one_object(text):
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def _json_array_items(path, text):
    """The array's elements with the line each starts on (for error messages)."""
    decoder = json.JSONDecoder()
    items = []

    def line_of(pos):
        return text.count("\n", 0, pos) + 1

    def skip_ws(pos):
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    pos = skip_ws(text.index("[") + 1)
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise DataError(path, exc.lineno, f"malformed JSON ({exc.msg} at column {exc.colno})") from None
            items.append((line_of(pos), obj))
            pos = skip_ws(end)
            if pos < len(text) and text[pos] == ",":
                pos = skip_ws(pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise DataError(path, line_of(min(pos, len(text) - 1)), "malformed JSON (expected ',' or ']' in the array)")
    if skip_ws(pos) != len(text):
        raise DataError(path, line_of(skip_ws(pos)), "malformed JSON (extra data after the array)")
    return items


def _instruction(path, line, obj, default_id):
    if not isinstance(obj, dict):
        raise DataError(path, line, f"expected an object with {', '.join(REQUIRED)}, got {type(obj).__name__}")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise DataError(path, line, f"missing field(s) {', '.join(missing)}")
    fields = {}
    for key in REQUIRED:
        value = obj[key]
        if key == "input" and value is None:
            value = ""
        if not isinstance(value, str):
            raise DataError(path, line, f"field {key!r} must be a string, got {type(value).__name__}")
        if key != "input" and not value.strip():
            raise DataError(path, line, f"field {key!r} is empty")
        fields[key] = value
    raw_id = obj.get("id")
    if raw_id is None:
        inst_id = default_id
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and str(raw_id).strip():
        inst_id = str(raw_id)
    else:
        raise DataError(path, line, f"field 'id' must be a non-empty string or integer, got {raw_id!r}")
    category = obj.get("category")
    category = "other" if category in (None, "") else category
    if not isinstance(category, str) or category.strip().lower() not in CATEGORIES:
        raise DataError(path, line, f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    provenance = obj.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise DataError(path, line, f"field 'provenance' must be an object, got {type(provenance).__name__}")
    extra = {k: v for k, v in obj.items() if k not in KNOWN}
    if extra:
        provenance = {**provenance, "extra": {**provenance.get("extra", {}), **extra}}
    return Instruction(id=inst_id, category=category.strip().lower(), provenance=provenance, **fields)
