"""What a stage wrote, kept honest: recorded when it finishes, checked before it is skipped.

When a stage finishes, the stage runner records each of its outputs in the stage manifest
(``stage.json``, key ``outputs``), as DVC's lock file does: a file's size and sha256, a
folder's files each so, and for a JSON-lines log also a short digest of every line, which
is what lets a damaged log be resumed from its last intact line instead of recomputed
whole. Before a complete stage is called "up to date", :func:`check_outputs` compares the
files with that record; a damaged output is repaired by :func:`repair` and the stage runs
again: a log is cut back to its last intact line (the stage resumes from there), any other
damaged file or folder is removed (the stage writes it anew). Nothing else is touched.

Outputs are recorded with paths relative to the stage folder, so a run folder copied
elsewhere verifies the same; an output outside the stage folder's parent (the built-in
seed pool a generator names) is not the stage's to keep and is not recorded.

Manifests written before outputs were recorded have no ``outputs``: their outputs are
checked for what can be checked without a record (present, JSON that parses, a log whose
lines parse and whose last line is complete), and they are recorded when the stage next
runs. :func:`verify_run` checks every stage of a run folder without running anything
(``bioharness verify``).
"""
import hashlib
import json
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from bioharness.store import sha256_file

#: hex characters of a line's sha256 kept per line of a JSON-lines output (48 bits: to find
#: where a log was damaged; the whole file's sha256 decides whether it was)
LINE_DIGEST = 12
LOG_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Damage:
    """One damaged output file (or a missing output)."""

    path: Path  # the damaged file, or the missing output
    problem: str  # what is wrong, one phrase: "is missing", "is cut short (...)"
    remove: Path | None = None  # what repair removes (the file, or the whole output folder)
    keep_bytes: int | None = None  # a log: its intact beginning, kept (the stage resumes after it)
    keep_lines: int = 0

    @property
    def remedy(self) -> str:
        if self.keep_bytes is not None:
            return (f"resuming after its last intact line ({self.keep_lines})" if self.keep_lines
                    else "recomputing it (no intact line)")
        if self.remove is not None and self.remove != self.path:
            return f"recomputing {self.remove.name}/"
        return "recomputing it"

    def describe(self) -> str:
        return f"{self.path} {self.problem}"


# -- recording ------------------------------------------------------------------------------


def _visible_files(folder):
    return sorted(p for p in Path(folder).rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _line_digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()[:LINE_DIGEST]


def describe_file(path) -> dict:
    """``{size, sha256}`` of a file; for a JSON-lines log also ``lines``, the digests of its
    lines (without their newline) run together."""
    path = Path(path)
    if path.suffix != LOG_SUFFIX:
        return {"size": path.stat().st_size, "sha256": sha256_file(path)}
    whole = hashlib.sha256()
    size = 0
    lines = []
    with open(path, "rb") as fh:
        for line in fh:
            whole.update(line)
            size += len(line)
            lines.append(_line_digest(line.rstrip(b"\n")))
    return {"size": size, "sha256": whole.hexdigest(), "lines": "".join(lines)}


def describe_output(path) -> dict:
    """The record of one output: a file's (:func:`describe_file`), or a folder's ``files``
    (relative name -> record; hidden files, such as temporary ones, left out)."""
    path = Path(path)
    if path.is_dir():
        return {"files": {p.relative_to(path).as_posix(): describe_file(p) for p in _visible_files(path)}}
    return describe_file(path)


def _relative(path, stage_dir) -> str | None:
    """``path`` relative to the stage folder, or None when it lies outside the folder's parent."""
    here = Path(stage_dir).resolve()
    target = Path(path).resolve()
    if target != here.parent and here.parent not in target.parents:
        return None
    return Path(os.path.relpath(target, here)).as_posix()


def record_outputs(stage_dir, outputs) -> dict:
    """``{path relative to the stage folder: record}`` of ``outputs`` ({artifact: path}) for
    the stage manifest; an output that lies outside the stage folder's parent is left out."""
    recorded = {}
    for path in outputs.values():
        rel = _relative(path, stage_dir)
        if rel is not None and rel not in recorded and Path(path).exists():
            recorded[rel] = describe_output(path)
    return dict(sorted(recorded.items()))


# -- checking -------------------------------------------------------------------------------


def _json_problem(path) -> str | None:
    try:
        json.loads(Path(path).read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"does not parse (invalid JSON at line {exc.lineno}: {exc.msg})"
    return None


def _intact_lines(data: bytes, digests: str | None):
    """``(lines, bytes)``: how many complete lines at the start of ``data`` are intact, and
    where they end. With ``digests``, a line is intact when its digest is the recorded one;
    without (a manifest from before digests), when it parses as JSON."""
    count, end, pos = 0, 0, 0
    recorded = len(digests) // LINE_DIGEST if digests is not None else None
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl == -1:
            break  # torn: no newline at the end
        line = data[pos:nl]
        if digests is not None:
            if count >= recorded or _line_digest(line) != digests[count * LINE_DIGEST:(count + 1) * LINE_DIGEST]:
                break
        elif line.strip():
            try:
                json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
        count += 1
        pos = end = nl + 1
    return count, end


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def _log_damage(path, record, data) -> Damage:
    """How a log differs from its record, and how much of it is intact."""
    digests = record["lines"]
    recorded_lines = len(digests) // LINE_DIGEST
    kept, end = _intact_lines(data, digests)
    size, recorded_size = len(data), record["size"]
    rest = data[end:]
    next_line = rest.split(b"\n", 1)[0]
    torn = b"\n" not in rest and bool(rest)
    if kept == recorded_lines and rest:
        problem = f"has {len(rest):,} bytes more than were written ({size:,} of {recorded_size:,})"
    elif size < recorded_size and (torn or not rest):
        problem = (f"is cut short ({size:,} of {recorded_size:,} bytes; {kept} of {recorded_lines} lines intact"
                   + (", then a torn line)" if torn else ")"))
    elif not _parses(next_line):
        problem = f"is damaged at line {kept + 1}: not valid JSON (lines 1-{kept} intact)" if kept else \
            "is damaged at line 1: not valid JSON"
    else:
        problem = f"was edited at line {kept + 1} (lines 1-{kept} intact; still valid JSON)" if kept else \
            "was edited at line 1 (still valid JSON)"
    return Damage(Path(path), problem, keep_bytes=end, keep_lines=kept)


def _file_damage(path, record, remove=None) -> Damage | None:
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "is missing"
        return Damage(path, what, remove=remove or (path if path.is_dir() else None))
    size = path.stat().st_size
    if size == record["size"] and sha256_file(path) == record["sha256"]:
        return None
    if "lines" in record and remove is None:
        return _log_damage(path, record, path.read_bytes())
    if path.suffix in (".json", LOG_SUFFIX):
        parse = _json_problem(path) if path.suffix == ".json" else None
        if parse:
            return Damage(path, parse, remove=remove or path)
    detail = f"{size:,} bytes, {record['size']:,} written" if size != record["size"] else "same size"
    valid = "; still valid JSON" if path.suffix == ".json" else ""
    return Damage(path, f"was changed since it was written ({detail}; sha256 differs{valid})", remove=remove or path)


def _recorded_damage(stage_dir, rel, record) -> list:
    path = Path(os.path.normpath(Path(stage_dir) / rel))
    if "files" not in record:
        found = _file_damage(path, record)
        return [found] if found else []
    if not path.is_dir():
        return [Damage(path, "is missing" if not path.exists() else "is a file, not a folder",
                       remove=path if path.exists() else None)]
    found = []
    for name, sub in record["files"].items():
        damage = _file_damage(path / name, sub, remove=path)
        if damage:
            found.append(damage)
    return found  # a file added beside the stage's own (a note, a model card) is the user's: kept


def _unrecorded_damage(path) -> Damage | None:
    """What can be checked of an output without a record."""
    path = Path(path)
    if not path.exists():
        return Damage(path, "is missing")
    if path.is_dir() or path.suffix not in (".json", LOG_SUFFIX):
        return None
    if path.suffix == ".json":
        problem = _json_problem(path)
        return Damage(path, problem, remove=path) if problem else None
    data = path.read_bytes()
    kept, end = _intact_lines(data, None)
    if end == len(data):
        return None
    rest = data[end:]
    torn = b"\n" not in rest
    problem = (f"ends in a torn line ({len(rest):,} bytes after line {kept})" if torn
               else f"is damaged at line {kept + 1}: not valid JSON")
    return Damage(path, problem, keep_bytes=end, keep_lines=kept)


def _unrecorded_paths(stage_dir, manifest, declared):
    """The outputs a manifest without a record names: the stage's declared ones (relative to
    its folder) and those its result lists (as written then: relative to that command's
    working folder, or absolute; found again by their last parts when the run folder moved)."""
    stage_dir = Path(stage_dir)
    paths = {str(stage_dir / rel): stage_dir / rel for rel in (declared or {}).values()}
    for value in ((manifest.get("result") or {}).get("outputs") or {}).values():
        given = Path(value)
        if _relative(given, stage_dir) is not None:
            candidate = given  # where it was written, beside the stage folder: present or not
        elif given.exists():
            continue  # outside the run folder: not the stage's to keep
        else:
            tails = [Path(*given.parts[-k:]) for k in range(1, min(3, len(given.parts)) + 1)]
            candidate = next((base / tail for tail in tails for base in (stage_dir, stage_dir.parent)
                              if (base / tail).exists()), None)
            if candidate is None:
                continue  # not found here: nothing to check it against
        if _relative(candidate, stage_dir) is not None:
            paths.setdefault(str(candidate), candidate)
    return list(paths.values())


def check_outputs(stage_dir, manifest, declared=None) -> list:
    """The damaged outputs of a complete stage (its manifest given): every recorded output
    compared with its record; for a manifest from before records, what can be checked
    without one. ``declared``: the stage's own outputs ({artifact: path in its folder})."""
    recorded = manifest.get("outputs")
    if recorded is None:
        return [d for d in map(_unrecorded_damage, _unrecorded_paths(stage_dir, manifest, declared)) if d]
    return [d for rel, record in recorded.items() for d in _recorded_damage(stage_dir, rel, record)]


def repair(damages):
    """Cut each damaged log back to its intact lines and remove every other damaged file or
    folder, so that the stage, run again, resumes or writes them anew."""
    removed = set()
    for damage in damages:
        if damage.keep_bytes is not None and damage.path.is_file():
            with open(damage.path, "r+b") as fh:
                fh.truncate(damage.keep_bytes)
                fh.flush()
                os.fsync(fh.fileno())
        elif damage.remove is not None and damage.remove not in removed:
            removed.add(damage.remove)
            if damage.remove.is_dir():
                shutil.rmtree(damage.remove)
            elif damage.remove.exists():
                damage.remove.unlink()


# -- a whole run folder -----------------------------------------------------------------------


@dataclass
class StageCheck:
    folder: Path
    name: str
    state: str  # intact, damaged, unrecorded (complete, from before records), unfinished, unreadable
    damages: list
    files: int = 0
    command: str | None = None  # the command that wrote it (runs it again: repairs it)


def _command(argv) -> str | None:
    if not argv:
        return None
    program = Path(argv[0]).name
    if program == "bioharness" or (program == "__main__.py" and "bioharness" in argv[0]):
        return shlex.join(["bioharness", *argv[1:]])
    return None


def _count_files(manifest) -> int:
    return sum(len(r["files"]) if "files" in r else 1 for r in (manifest.get("outputs") or {}).values())


def check_stage(folder, manifest_name=None) -> StageCheck:
    """The :class:`StageCheck` of the stage in ``folder``; reads, never writes."""
    from bioharness.errors import DataError
    from bioharness.store import read_json

    if manifest_name is None:
        from bioharness.stages import MANIFEST as manifest_name
    folder = Path(folder)
    path = folder / manifest_name
    if not path.is_file():
        return StageCheck(folder, folder.name, "unfinished", [])
    try:
        manifest = read_json(path)
        if not isinstance(manifest, dict):
            raise DataError(path, "", "expected a JSON object")
    except (DataError, UnicodeDecodeError) as exc:
        problem = getattr(exc, "problem", None) or f"is not UTF-8 text ({exc})"
        return StageCheck(folder, folder.name, "unreadable", [Damage(path, f"(the stage's manifest): {problem}")])
    name = manifest.get("stage") or folder.name
    command = _command(manifest.get("argv"))
    if not manifest.get("complete"):
        return StageCheck(folder, name, "unfinished", [], command=command)
    damages = check_outputs(folder, manifest)
    state = "damaged" if damages else ("intact" if "outputs" in manifest else "unrecorded")
    return StageCheck(folder, name, state, damages, _count_files(manifest), command)


def verify_run(root, manifest_name=None, archive="superseded") -> list:
    """:class:`StageCheck` of every stage under ``root`` (every folder holding a stage
    manifest; the ``archive`` folder of superseded results left out); runs nothing."""
    if manifest_name is None:
        from bioharness.stages import MANIFEST as manifest_name
    root = Path(root)
    checks = []
    for path in sorted(root.rglob(manifest_name)):
        rel = path.relative_to(root).parts
        if archive in rel[:-1] or any(part.startswith(".") for part in rel[:-1]):
            continue
        checks.append(check_stage(path.parent, manifest_name))
    return checks


def damage_error(check, out=None) -> str:
    """One line for a reader that met a damaged stage output: the first damaged file, and
    what repairs it."""
    first = check.damages[0]
    more = f" (and {len(check.damages) - 1} more)" if len(check.damages) > 1 else ""
    if check.state == "unreadable":
        return f"{first.describe()}; remove {check.folder} and run the command that wrote it again"
    how = f"`{check.command}` repairs it" if check.command else f"running stage {check.name} again repairs it"
    listing = f"; `bioharness verify --out {out}` lists every damaged file" if out is not None else ""
    return f"{first.describe()}{more}, since stage {check.name} wrote it: {how}{listing}"
