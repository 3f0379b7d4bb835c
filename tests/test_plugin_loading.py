"""Plugin loading: defaults, entry points, modules, .py paths, and the errors."""
import json
import subprocess
import sys
import textwrap

import pytest

from bioharness.manager import DEFAULT_PLUGINS, load_plugins, split_plugin_names

PLUGIN_SRC = textwrap.dedent(
    """
    from bioharness import hookimpl

    __version__ = "9.9.{n}"

    @hookimpl
    def register_backends(register):
        register("{backend}", lambda spec, **kw: None, description="test backend {n}")
    """
)


def run_cli(*args, env_extra=None, cwd=None, pythonpath=None):
    import os

    env = dict(os.environ)
    env.pop("BIOHARNESS_PLUGINS", None)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([str(p) for p in pythonpath] + [env.get("PYTHONPATH", "")])
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def write_plugin(folder, module, backend, n=1, body=None):
    path = folder / f"{module}.py"
    path.write_text(body if body is not None else PLUGIN_SRC.format(n=n, backend=backend))
    return path


def make_entry_point_dist(folder, dist, ep_name, module):
    info = folder / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[bioharness]\n{ep_name} = {module}\n")


def plugins_json(result):
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)}


def test_split_plugin_names():
    assert split_plugin_names(["a,b", " c ", "", "a"]) == ["a", "b", "c"]


def test_builtins_listed_with_hooks():
    rows = plugins_json(run_cli("plugins", "--json"))
    for name in DEFAULT_PLUGINS:
        assert rows[name]["source"] == "builtin"
        assert rows[name]["hooks"], name
    assert "register_backends" in rows["bioharness.plugins.hf"]["hooks"]


def test_plugin_from_entry_point(tmp_path):
    write_plugin(tmp_path, "ep_plugin_mod", "epbackend", n=3)
    make_entry_point_dist(tmp_path, "bh_test_dist", "myep", "ep_plugin_mod")
    rows = plugins_json(run_cli("plugins", "--json", pythonpath=[tmp_path]))
    assert rows["myep"]["source"] == "entry point (bh_test_dist)"
    assert rows["myep"]["version"] == "1.2.3"
    assert rows["myep"]["hooks"] == ["register_backends"]
    models = json.loads(run_cli("models", "--json", pythonpath=[tmp_path]).stdout)
    assert {"name": "epbackend", "plugin": "myep", "description": "test backend 3"} in models["backends"]


def test_plugin_from_module_name(tmp_path):
    write_plugin(tmp_path, "mod_plugin_x", "modbackend", n=4)
    rows = plugins_json(run_cli("--plugins", "mod_plugin_x", "plugins", "--json", pythonpath=[tmp_path]))
    assert rows["mod_plugin_x"]["source"] == "module"
    assert rows["mod_plugin_x"]["version"] == "9.9.4"
    # the same through the environment variable, and --plugins after the command name
    rows = plugins_json(run_cli("plugins", "--json", pythonpath=[tmp_path],
                                env_extra={"BIOHARNESS_PLUGINS": "mod_plugin_x"}))
    assert "mod_plugin_x" in rows
    rows = plugins_json(run_cli("plugins", "--json", "--plugins=mod_plugin_x", pythonpath=[tmp_path]))
    assert "mod_plugin_x" in rows


def test_plugin_from_py_path(tmp_path):
    path = write_plugin(tmp_path, "path_plugin", "pathbackend", n=5)
    rows = plugins_json(run_cli("plugins", "--json", "--plugins", str(path)))
    (name,) = [n for n in rows if n.endswith("path_plugin.py")]
    assert rows[name]["source"] == f"path {path}"
    assert rows[name]["version"] == "9.9.5"


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_broken_plugin_one_line_exit_2(tmp_path):
    path = write_plugin(tmp_path, "broken_plugin", "", body="import not_a_real_module_xyz\n")
    result = run_cli("plugins", "--plugins", str(path))
    assert_one_line_error(result, "broken_plugin.py", "ModuleNotFoundError", "not_a_real_module_xyz")
    result = run_cli("plugins", "--plugins", "no_such_plugin_module_abc")
    assert_one_line_error(result, "no_such_plugin_module_abc", "failed to load")


def test_duplicate_registration_names_both_plugins(tmp_path):
    write_plugin(tmp_path, "dup_one", "samebackend", n=1)
    write_plugin(tmp_path, "dup_two", "samebackend", n=2)
    result = run_cli("--plugins", "dup_one,dup_two", "plugins", pythonpath=[tmp_path])
    assert_one_line_error(result, "'samebackend'", "dup_one", "dup_two")
    # and against a built-in
    write_plugin(tmp_path, "dup_hf", "hf")
    result = run_cli("plugins", "--plugins", "dup_hf", pythonpath=[tmp_path])
    assert_one_line_error(result, "'hf'", "bioharness.plugins.hf", "dup_hf")


def test_unknown_hook_name_is_an_error(tmp_path):
    body = "from bioharness import hookimpl\n\n@hookimpl\ndef register_backend(register):\n    pass\n"
    path = write_plugin(tmp_path, "typo_plugin", "", body=body)
    result = run_cli("plugins", "--plugins", str(path))
    assert_one_line_error(result, "typo_plugin.py", "unknown hook", "register_backend")


def test_load_plugins_in_process(tmp_path, monkeypatch):
    path = write_plugin(tmp_path, "inproc_plugin", "inprocbackend", n=7)
    manager = load_plugins([str(path)], env={})
    assert "inprocbackend" in manager.hooks.backends
    assert manager.hooks.backends.get("inprocbackend").plugin == str(path)
    with pytest.raises(Exception, match="unknown backend 'nope'"):
        manager.hooks.backends.get("nope")


# -- packages: a directory or its __init__.py, imported as the package it is -------------

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def write_package(folder, name="bh_pkg_plugin"):
    """A multi-module plugin: an absolute and a relative intra-package import."""
    pkg = folder / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        from bioharness import hookimpl

        from {name}.names import BACKEND
        from .describe import DESCRIPTION

        __version__ = "2.0.1"

        @hookimpl
        def register_backends(register):
            register(BACKEND, lambda spec, **kw: None, description=DESCRIPTION)
        """))
    (pkg / "names.py").write_text("BACKEND = 'pkgbackend'\n")
    (pkg / "describe.py").write_text("from .names import BACKEND\n\n"
                                     "DESCRIPTION = f'backend {BACKEND} from a package'\n")
    return pkg


@pytest.mark.parametrize("form", ["directory", "init"])
def test_plugin_from_package_path(tmp_path, form):
    pkg = write_package(tmp_path)
    target = pkg if form == "directory" else pkg / "__init__.py"
    rows = plugins_json(run_cli("plugins", "--json", "--plugins", str(target), cwd=tmp_path.parent))
    assert rows["bh_pkg_plugin"] == {"name": "bh_pkg_plugin", "version": "2.0.1", "source": f"path {target}",
                                     "hooks": ["register_backends"]}
    models = json.loads(run_cli("models", "--json", env_extra={"BIOHARNESS_PLUGINS": str(target)}).stdout)
    assert {"name": "pkgbackend", "plugin": "bh_pkg_plugin",
            "description": "backend pkgbackend from a package"} in models["backends"]


def test_readme_task_kind_example_loads_from_its_init(tmp_path):
    """The README's own multi-module example, from a relative path as a user types it."""
    result = run_cli("tasks", "--json", "--plugins", "examples/task_kind_plugin/bioharness_abbrev/__init__.py",
                     cwd=REPO)
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in json.loads(result.stdout) if r["name"] == "clinical_abbrev"]
    assert (row["kind"], row["plugin"]) == ("abbreviation", "bioharness_abbrev")


def test_bad_package_paths_are_one_line(tmp_path):
    (tmp_path / "not_a_package").mkdir()
    result = run_cli("plugins", "--plugins", str(tmp_path / "not_a_package"))
    assert_one_line_error(result, "not_a_package", "has no __init__.py")
    # a package whose name another importable module already has
    clash = tmp_path / "elsewhere" / "json"
    clash.mkdir(parents=True)
    (clash / "__init__.py").write_text("")
    result = run_cli("plugins", "--plugins", str(clash))
    assert_one_line_error(result, "another module named 'json' is already importable")
    # an error inside one of the package's modules names the package path and the error
    pkg = write_package(tmp_path / "broken")
    (pkg / "names.py").write_text("BACKEND = undefined_name\n")
    result = run_cli("plugins", "--plugins", str(pkg))
    assert_one_line_error(result, str(pkg), "NameError", "undefined_name")


# -- a plugin that raises in a hook or a factory: one line naming it, exit 2 ---------------

RAISING = textwrap.dedent(
    """
    import click
    from bioharness import hookimpl

    WHERE = {where!r}

    def fail(*args, **kwargs):
        raise RuntimeError("plugin bug: " + WHERE)

    @hookimpl
    def register_backends(register):
        if WHERE == "register_backends":
            fail()
        register("raisingbackend", fail)

    @hookimpl
    def register_generators(register):
        register("raising", fail, options=[click.Option(["--n"], type=int, default=1)])

    @hookimpl
    def task_dirs():
        if WHERE == "task_dirs":
            fail()
        return []

    @hookimpl
    def register_commands(cli):
        if WHERE == "register_commands":
            fail()
    """
)


@pytest.mark.parametrize("where", ["register_backends", "task_dirs", "register_commands"])
def test_plugin_hook_that_raises_is_one_line(tmp_path, where):
    path = write_plugin(tmp_path, "raising_plugin", "", body=RAISING.format(where=where))
    command = ["tasks"] if where == "task_dirs" else ["plugins"]
    result = run_cli(*command, "--plugins", str(path))
    assert_one_line_error(result, f"plugin '{path}'", f"hook {where} failed", "RuntimeError: plugin bug: " + where)


def test_plugin_factory_that_raises_is_one_line(tmp_path):
    path = write_plugin(tmp_path, "raising_plugin", "", body=RAISING.format(where="factory"))
    result = run_cli("generate", "--generator", "raising", "--out", str(tmp_path / "run"), "--plugins", str(path))
    assert_one_line_error(result, f"plugin '{path}'", "building generator 'raising' failed",
                          "RuntimeError: plugin bug: factory")
    result = run_cli("eval", "--model", "raisingbackend:x", "--tasks", "medmcqa", "--limit", "1",
                     "--out", str(tmp_path / "eval"), "--plugins", str(path))
    assert_one_line_error(result, f"plugin '{path}'", "building backend 'raisingbackend' failed")


def test_get_backend_uses_the_active_manager_and_reports_a_raising_factory(tmp_path):
    import bioharness
    from bioharness.errors import PluginError

    path = write_plugin(tmp_path, "raising_plugin", "", body=RAISING.format(where="factory"))
    load_plugins([str(path)], env={})
    with pytest.raises(PluginError, match=r"building backend 'raisingbackend' failed: RuntimeError") as info:
        bioharness.get_backend("raisingbackend:anything", batch_size=None)
    assert isinstance(info.value.__cause__, RuntimeError)  # kept for a debugger, never printed
    # a UsageError from a factory is the plugin telling the user something: shown as it is
    load_plugins([], env={})
    with pytest.raises(bioharness.UsageError, match="unknown backend 'raisingbackend'"):
        bioharness.get_backend("raisingbackend:anything")
