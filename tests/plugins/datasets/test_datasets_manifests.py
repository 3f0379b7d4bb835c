"""The task catalogue (tasks/) and its dataset manifests: every manifest entry is the file in
../shared/data (same size, same sha256), every file a built-in task reads is in a manifest, every
built-in spec is in tasks/, and the README's dataset table lists every manifest."""
import hashlib
import re
from pathlib import Path

import pytest

from bioharness import TaskCatalog, data_root, find_data_file, get_reader, places_searched
from bioharness.manager import load_plugins
from bioharness.plugins.datasets.manifest import DataCatalog

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def hooks():
    return load_plugins(env={}).hooks


@pytest.fixture(scope="module")
def catalog(hooks):
    return DataCatalog(hooks)


def test_every_manifest_entry_is_the_file_in_the_shared_data(catalog, data_dir):
    assert len(catalog.datasets) == 15
    checked = 0
    for dataset in catalog.datasets.values():
        assert dataset.path.parent == REPO / "tasks" / "datasets" and dataset.licence and dataset.citation
        assert dataset.sources and all(re.fullmatch(r"https://github\.com/[^/]+/[^/]+/tree/[0-9a-f]{40}", s)
                                       for s in dataset.sources)
        for f in dataset.files:
            path = data_dir / f.path
            assert path.is_file(), f"{dataset.name}: {f.path} is not in {data_dir}"
            data = path.read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (f.bytes, f.sha256), f.path
            url = f.url or dataset.archives[f.archive]["url"]
            assert re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/\S+", url), url
            checked += 1
    # every file of the shared data is in a manifest (their SOURCE.md files aside)
    on_disk = {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file()
               and p.name not in ("SOURCE.md", "INDEX.md")}
    listed = {f.path for d in catalog.datasets.values() for f in d.files}
    assert on_disk == listed and checked == len(listed)


def _files_read(spec):
    """Every data-directory file a built-in task reads: its split's and its few-shot split's."""
    reader = get_reader(spec.data["reader"])
    options = spec.data.get("options") or {}
    names = []
    for split in dict.fromkeys([spec.split, spec.prompt.get("fewshot_split") or spec.split]):
        names += spec.listed_files(split) or reader.default_files(split, **options)
    return names


def test_every_file_a_built_in_task_reads_is_in_a_manifest(hooks, catalog):
    tasks = TaskCatalog(hooks)
    assert len(tasks.specs) == 24
    for spec in tasks.specs.values():
        names = _files_read(spec)
        assert names, spec.name
        for name in names:
            covered = catalog.covering([name])
            assert covered, f"{spec.name} reads {name}, which no manifest lists"
            assert all(covered[0].covering([name])), name
        assert catalog.for_spec(spec), spec.name


def test_the_catalogue_is_at_the_top_level(hooks):
    tasks = TaskCatalog(hooks)
    assert {spec.path.parent for spec in tasks.specs.values()} == {REPO / "tasks"}
    assert sorted(p.stem for p in (REPO / "tasks").glob("*.yaml")) == sorted(tasks.specs)
    assert not list((REPO / "plugins").glob("*/tasks"))  # plugins keep kinds, readers, metrics and scorers


def test_the_readme_lists_every_dataset_with_its_licence(catalog):
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Data\n", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9_]+)` \|.*$", section, re.M)}
    assert set(rows) == set(catalog.datasets)
    for dataset in catalog.datasets.values():
        assert dataset.name in rows, f"README's dataset table lacks {dataset.name}"
        assert dataset.licence.split(" ")[0] in rows[dataset.name], dataset.name


def test_lookup_order_is_data_dir_then_cache_then_beside_the_spec(tmp_path, monkeypatch):
    data, cache, beside = tmp_path / "data", tmp_path / "cache", tmp_path / "plugin"
    monkeypatch.setenv("BIOHARNESS_CACHE", str(cache))
    monkeypatch.delenv("BIOHARNESS_DATA", raising=False)
    for root in (data, cache / "data", beside):
        (root / "d").mkdir(parents=True)
    (beside / "d" / "f.txt").write_text("beside")
    assert find_data_file("d/f.txt", data, beside) == beside / "d" / "f.txt"
    (cache / "data" / "d" / "f.txt").write_text("cache")
    assert find_data_file("d/f.txt", data, beside) == cache / "data" / "d" / "f.txt"
    (data / "d" / "f.txt").write_text("data")
    assert find_data_file("d/f.txt", data, beside) == data / "d" / "f.txt"
    assert find_data_file("d/none.txt", data, beside) == data / "d" / "none.txt"  # where it was looked for first
    assert find_data_file("d/none.txt", None, None) == cache / "data" / "d" / "none.txt"
    monkeypatch.setenv("BIOHARNESS_DATA", str(data))  # the environment's data dir when none is given
    assert find_data_file("d/f.txt") == data / "d" / "f.txt"
    assert data_root([cache / "data" / "d" / "f.txt"]) == cache / "data"
    assert data_root([beside / "d" / "f.txt"]) is None
    assert places_searched(None, beside) == (f"the data directory {data}, the cache {cache / 'data'}, "
                                             f"the task's folder {beside}")
