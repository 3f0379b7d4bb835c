"""Dataset manifests: where each file of a dataset comes from, and whether a copy is intact.

A manifest is a YAML file in a ``datasets/`` folder inside a plugin's task folder (the built-in
ones: ``tasks/datasets/*.yaml``). It lists every file of one dataset: ``path``, where it lands
under a data directory (the name task specs use in ``data.files``); ``url``, its source pinned to
a commit, or ``archive`` + ``member``, a file inside a pinned archive; ``bytes`` and ``sha256``;
and the dataset's ``licence``, ``citation`` and ``sources``. A ``restricted`` dataset (a
non-commercial licence, say) is fetched only when the user accepts it by name.
"""
from dataclasses import dataclass, field
from pathlib import Path


from bioharness import DataError, find_data_file, found_in, read_yaml, sha256_file

MANIFEST_FOLDER = "datasets"
HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: where it lands, where it comes from, what it must hash to."""

    dataset: str
    path: str  # relative to a data directory
    bytes: int
    sha256: str
    url: str | None = None  # a file fetched on its own
    archive: str | None = None  # or: a member of this archive (a key of Dataset.archives)
    member: str | None = None

    def source(self, dataset) -> str:
        return self.url or f"{dataset.archives[self.archive]['url']}#{self.member}"


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    licence: str
    citation: str
    files: tuple
    sources: tuple = ()
    licence_note: str = ""
    restricted: str = ""  # why the licence restricts use; fetched only with --accept-licence NAME
    homepage: str = ""
    note: str = ""
    archives: dict = field(default_factory=dict)  # name -> {url, bytes?, sha256?}
    path: Path | None = None  # the manifest
    plugin: str | None = None

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def covering(self, names) -> list:
        """The files of this dataset that ``names`` (data-directory names: files or folders) name."""
        names = [n.rstrip("/") for n in names]
        return [f for f in self.files if any(f.path == n or f.path.startswith(n + "/") for n in names)]

    def accepted(self, accept) -> bool:
        """Not restricted, or accepted by its name or its licence (``--accept-licence``)."""
        wanted = {a.strip().lower() for a in accept or () if a.strip()}
        return not self.restricted or bool(wanted & {self.name.lower(), self.licence.lower()})

    def missing(self, data_dir=None) -> list:
        """The files found in no data root."""
        return [f for f in self.files if not find_data_file(f.path, data_dir).exists()]

    def where(self, data_dir=None) -> str:
        """``data dir``, ``cache``, ``data dir + cache``, ``partial (k of n files)`` or ``missing``."""
        found = [find_data_file(f.path, data_dir) for f in self.files]
        have = sum(1 for f in found if f.exists())
        if have == 0:
            return "missing"
        if have < len(self.files):
            return f"partial ({have} of {len(self.files)} files)"
        return " + ".join(sorted({found_in(f, data_dir) for f in found}))


FIELDS = {  # key -> (required, type)
    "dataset": (True, str), "title": (True, str), "licence": (True, str), "citation": (True, str),
    "files": (True, list), "sources": (True, list), "licence_note": (False, str), "restricted": (False, str),
    "homepage": (False, str), "note": (False, str), "archives": (False, dict),
}
FILE_FIELDS = {"path": (True, str), "bytes": (True, int), "sha256": (True, str), "url": (False, str),
               "archive": (False, str), "member": (False, str)}


def _checked(where, key, mapping, fields):
    if not isinstance(mapping, dict):
        raise DataError(where, key or "top level", "expected a mapping")
    prefix = f"{key}." if key else ""
    for name in mapping:
        if name not in fields:
            raise DataError(where, prefix + str(name), f"unknown key (expected one of: {', '.join(fields)})")
    for name, (required, typ) in fields.items():
        if name not in mapping:
            if required:
                raise DataError(where, prefix + name, "missing required key")
            continue
        value = mapping[name]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise DataError(where, prefix + name, f"expected {typ.__name__}, got {type(value).__name__}")
    return mapping


def _url(where, key, value):
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise DataError(where, key, f"expected an http(s) URL, got {value!r}")
    return value


def _sha256(where, key, value):
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= HEX:
        raise DataError(where, key, "expected a sha256 (64 lowercase hex digits)")
    return value


def load_manifest(path, plugin=None) -> Dataset:
    """A dataset manifest, every key checked: one line naming the file and key otherwise."""
    path = Path(path)
    raw = read_yaml(path, "a dataset manifest (YAML)")
    _checked(path, "", raw, FIELDS)
    name = raw["dataset"]
    archives = {}
    for key, spec in (raw.get("archives") or {}).items():
        _checked(path, f"archives.{key}", spec, {"url": (True, str), "bytes": (False, int), "sha256": (False, str)})
        _url(path, f"archives.{key}.url", spec["url"])
        if "sha256" in spec:
            _sha256(path, f"archives.{key}.sha256", spec["sha256"])
        archives[key] = dict(spec)
    files, seen = [], set()
    for i, entry in enumerate(raw["files"]):
        where = f"files[{i}]"
        _checked(path, where, entry, FILE_FIELDS)
        rel = entry["path"]
        if rel.startswith("/") or ".." in Path(rel).parts or not rel.strip():
            raise DataError(path, f"{where}.path", f"{rel!r}: expected a path relative to the data directory")
        if rel in seen:
            raise DataError(path, f"{where}.path", f"{rel!r} is listed twice")
        seen.add(rel)
        _sha256(path, f"{where}.sha256", entry["sha256"])
        if ("url" in entry) == ("archive" in entry):
            raise DataError(path, where, "expected either url or archive + member")
        if "url" in entry:
            _url(path, f"{where}.url", entry["url"])
        elif entry["archive"] not in archives or not entry.get("member"):
            raise DataError(path, f"{where}.archive", f"expected a key of archives ({', '.join(archives) or 'none'}) "
                                                      "and a member")
        files.append(DataFile(name, rel, entry["bytes"], entry["sha256"], entry.get("url"), entry.get("archive"),
                              entry.get("member")))
    if not files:
        raise DataError(path, "files", "expected at least one file")
    return Dataset(name=name, title=raw["title"], licence=raw["licence"], citation=raw["citation"], files=tuple(files),
                   sources=tuple(raw["sources"]), licence_note=raw.get("licence_note", ""),
                   restricted=raw.get("restricted", ""), homepage=raw.get("homepage", ""), note=raw.get("note", ""),
                   archives=archives, path=path, plugin=plugin)


class DataCatalog:
    """Every dataset manifest of the loaded plugins (``<task folder>/datasets/*.yaml``)."""

    def __init__(self, hooks):
        self.datasets = {}
        owner = {}
        for plugin, folder in hooks.task_dirs():
            for path in sorted((Path(folder) / MANIFEST_FOLDER).glob("*.yaml")):
                dataset = load_manifest(path, plugin)
                if dataset.name in self.datasets:
                    raise DataError(path, "dataset", f"{dataset.name!r} is already defined in "
                                                     f"{self.datasets[dataset.name].path}")
                for f in dataset.files:
                    if f.path in owner:
                        raise DataError(path, "files", f"{f.path!r} is already a file of dataset {owner[f.path]!r}")
                    owner[f.path] = dataset.name
                self.datasets[dataset.name] = dataset

    def covering(self, names) -> list:
        """The datasets with files that ``names`` name."""
        return [d for d in self.datasets.values() if d.covering(names)]

    def for_spec(self, spec) -> list:
        """The datasets a task reads: those holding the files its spec lists, any split."""
        return self.covering(spec_files(spec))


def check_file(path, entry) -> str | None:
    """What is wrong with ``path`` as the manifest's ``entry``: missing, truncated, edited; else None."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size < entry.bytes:
        return f"truncated ({size} of {entry.bytes} bytes)"
    digest = sha256_file(path)
    if size != entry.bytes or digest != entry.sha256:
        return f"edited ({size} bytes, sha256 {digest[:12]}..., expected {entry.bytes} bytes, {entry.sha256[:12]}...)"
    return None


def verify(root, datasets) -> dict:
    """{dataset: [(file, problem)]} for every dataset with at least one file under ``root``
    (re-hashed); a dataset with no file there is not checked (``absent``)."""
    root = Path(root)
    report = {"checked": {}, "absent": []}
    for dataset in datasets:
        if not any((root / f.path).exists() for f in dataset.files):
            report["absent"].append(dataset.name)
            continue
        problems = []
        for f in dataset.files:
            problem = check_file(root / f.path, f)
            if problem:
                problems.append((f.path, problem))
        report["checked"][dataset.name] = problems
    return report


def missing_files(spec, catalog, data_dir=None) -> list:
    """The names ``spec`` lists (any split) that no data root, nor the spec's folder, has; a
    folder counts as found only with every file a manifest lists in it (a fetch that was
    killed while extracting an archive leaves a partial folder)."""
    beside = spec.path.parent if spec.path is not None else None
    missing = []
    for name in spec_files(spec):
        found = find_data_file(name, data_dir, beside)
        root = found.parents[len(Path(name).parts) - 1]
        inside = [f for d in catalog.covering([name]) for f in d.covering([name]) if f.path != name]
        if not found.exists() or (found.is_dir() and not all((root / f.path).is_file() for f in inside)):
            missing.append(name)
    return missing


def spec_files(spec) -> list:
    files = spec.data.get("files") or ()
    return [n for v in files.values() for n in v] if isinstance(files, dict) else list(files)


def missing_data(specs, catalog, data_dir=None) -> dict:
    """{dataset name: Dataset} of the datasets holding files that ``specs`` list and that are
    found nowhere (fetching one fetches all its missing files: the few-shot split's too)."""
    out = {}
    for spec in specs:
        for dataset in catalog.covering(missing_files(spec, catalog, data_dir)):
            out[dataset.name] = dataset
    return out
