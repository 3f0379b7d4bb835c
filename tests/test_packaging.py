"""The distribution ships every plugin folder and every task spec, under the mapped names."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("bioharness-*.whl")
    return zipfile.ZipFile(path)


def test_every_plugin_folder_is_packaged(wheel):
    names = set(wheel.namelist())
    folders = sorted(p.parent.name for p in (REPO / "plugins").glob("*/__init__.py"))
    assert "hf" in folders
    for folder in folders:
        for source in (REPO / "plugins" / folder).rglob("*"):
            if source.suffix in (".py", ".jsonl", ".json", ".yaml", ".js", ".css") and "__pycache__" not in source.parts:
                rel = source.relative_to(REPO / "plugins").as_posix()
                assert f"bioharness/plugins/{rel}" in names, f"{rel} is not in the wheel"


def test_core_and_tasks_are_packaged(wheel):
    names = set(wheel.namelist())
    for source in (REPO / "harness").glob("*.py"):
        assert f"bioharness/{source.name}" in names
    for source in (REPO / "cli").glob("*.py"):
        assert f"bioharness/cli/{source.name}" in names
    specs = list((REPO / "tasks").glob("*.yaml")) + list((REPO / "tasks" / "datasets").glob("*.yaml"))
    assert len(specs) >= 24 + 15
    for spec in specs:
        assert f"bioharness/tasks/{spec.relative_to(REPO / 'tasks').as_posix()}" in names
    assert not any(n.startswith(("harness/", "plugins/", "tests/", "cli/")) for n in names)
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "bioharness = bioharness.cli:main" in entry_points


def test_editable_install_maps_the_folders():
    import bioharness
    import bioharness.plugins.hf

    assert Path(bioharness.__file__).parent == REPO / "harness"
    assert Path(bioharness.plugins.hf.__file__).parent == REPO / "plugins" / "hf"
