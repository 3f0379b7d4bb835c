"""Package layout: harness/ -> bioharness (the core), cli/ -> bioharness.cli (the command
line, above the core and the plugins), plugins/<name>/ -> bioharness.plugins.<name>, tasks/ ->
bioharness.tasks (the task catalogue and dataset manifests, package data). Plugin packages are discovered, so adding a folder under
plugins/ is enough to ship it (tests/test_packaging.py checks the built wheel)."""
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent


def plugin_packages():
    found = []
    for init in sorted((ROOT / "plugins").rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT / "plugins")
        if "__pycache__" in rel.parts:
            continue
        found.append(".".join(("bioharness", "plugins") + rel.parts).rstrip("."))
    return found


DATA_SUFFIXES = (".jsonl", ".json", ".yaml", ".tsv", ".txt", ".csv", ".xml", ".js", ".css")


def plugin_data():
    """Data files of each plugin package, those in plain sub-folders (``tasks/*.yaml``) too."""
    data = {}
    for name in plugin_packages():
        folder = ROOT.joinpath("plugins", *name.split(".")[2:])
        files = []
        for path in folder.rglob("*"):
            if path.suffix not in DATA_SUFFIXES or "__pycache__" in path.parts:
                continue
            owner = path.parent
            while owner != folder and not (owner / "__init__.py").is_file():
                owner = owner.parent
            if owner == folder:
                files.append(path.relative_to(folder).as_posix())
        if files:
            data[name] = sorted(files)
    return data


setup(
    packages=["bioharness", "bioharness.cli", "bioharness.tasks", *plugin_packages()],
    package_dir={
        "bioharness": "harness",
        "bioharness.plugins": "plugins",
        "bioharness.cli": "cli",
        "bioharness.tasks": "tasks",
    },
    package_data={"": ["py.typed"], "bioharness.tasks": ["*.yaml", "datasets/*.yaml"], **plugin_data()},
    include_package_data=True,
)
