"""Every hook in hookspecs.py is exercised here (test_hook_<name>), and a meta-test
fails when a hook has no such test."""
import ast
import json
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bioharness import hookspecs
from bioharness.cli import build_cli, cli
from bioharness.errors import DataError, PluginError
from bioharness.manager import load_plugins

TESTS = Path(__file__).parent

OBSERVER_PLUGIN = textwrap.dedent(
    '''
    import json
    from pathlib import Path

    import click

    from bioharness import hookimpl

    EVENTS = []


    class CountingGenerator:
        def __init__(self, n):
            self.n = n

        def run(self, out_dir, on_record=None):
            done = []
            for i in range(self.n):
                record = {"id": f"g{i}", "instruction": f"instruction {i}"}
                done.append(record)
                if on_record:
                    on_record(record)
            (Path(out_dir) / "instructions.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in done))
            return {"accepted": self.n}


    class NoopTrainer:
        def __init__(self, base):
            self.base = base

        def run(self, out_dir, on_record=None):
            return {"base": self.base}


    class EchoKind:
        pass


    @hookimpl
    def register_generators(register):
        register("counting", CountingGenerator, description="counts",
                 options=[click.Option(["--n"], type=int, default=2)])


    @hookimpl
    def register_trainers(register):
        register("noop", NoopTrainer, options=[click.Option(["--base"], default="embedded")])


    @hookimpl
    def register_task_kinds(register):
        register("echo", EchoKind)


    @hookimpl
    def task_dirs():
        return [Path(__file__).parent / "tasks_here"]


    @hookimpl
    def register_commands(cli):
        @cli.command("hello")
        @click.argument("who")
        def hello(who):
            click.echo(f"hello {who}")


    @hookimpl
    def run_prefixed_tasks(prefix, names, model, settings):
        if prefix != "echo":
            return None
        EVENTS.append(("prefixed", names, model, settings.limit))
        return [{"task": f"echo:{n}", "category": "qa", "metrics": {"acc": {"value": 0.5, "ci95": [None, None]}},
                 "n": 2, "unparsed": 0, "backend_errors": 0} for n in names]


    @hookimpl
    def on_stage_start(stage, run_dir, config):
        EVENTS.append(("start", stage, run_dir.name, config))


    @hookimpl
    def on_stage_end(stage, run_dir, result):
        EVENTS.append(("end", stage, run_dir.name, result))


    @hookimpl
    def on_sample(stage, record):
        EVENTS.append(("sample", stage, record["id"]))
    '''
)


@pytest.fixture
def observer(tmp_path):
    path = tmp_path / "observer_plugin.py"
    path.write_text(OBSERVER_PLUGIN)
    manager = load_plugins([str(path)], env={})
    module = manager.pm.get_plugin(str(path))
    module.EVENTS.clear()
    return manager, module


def invoke(manager, *args):
    command = build_cli(manager)
    result = CliRunner().invoke(command, list(args), obj=manager, catch_exceptions=False)
    return result


def test_hook_register_commands(observer):
    manager, _ = observer
    result = invoke(manager, "hello", "world")
    assert result.exit_code == 0 and result.output == "hello world\n"


def test_hook_register_backends():
    manager = load_plugins(env={})
    reg = manager.hooks.backends.get("hf")
    assert reg.plugin == "bioharness.plugins.hf" and callable(reg.factory)


def test_hook_register_task_kinds(observer):
    manager, module = observer
    assert manager.hooks.task_kinds.get("echo").target is module.EchoKind


def test_hook_register_readers(tmp_path):
    manager = load_plugins(env={})
    readers = manager.hooks.readers
    generic = {"conll", "pubtator", "bioc", "jsonl", "json", "csv", "tsv", "xlsx", "hf"}
    assert generic <= set(readers.names()) and {"medqa", "bc2gm", "ddi2013", "aci_bench"} <= set(readers.names())
    assert len(readers) == len(generic) + 18
    assert {r.plugin for r in readers} == {"bioharness.plugins.bionlp"}
    from bioharness.interfaces import Reader

    assert all(isinstance(r.factory(), Reader) for r in readers)
    reader = readers.get("pubtator").factory()
    assert reader.kinds == ("ner", "re") and "pairs" in reader.options and reader.splits == ()
    # a second plugin registering a taken name: one error naming both plugins
    clash = tmp_path / "clash.py"
    clash.write_text("from bioharness import hookimpl\n\n@hookimpl\ndef register_readers(register):\n"
                     "    register('conll', object)\n")
    with pytest.raises(Exception, match="reader 'conll' is registered by two plugins"):
        load_plugins([str(clash)], env={})


def test_hook_task_dirs(observer):
    manager, module = observer
    dirs = manager.hooks.task_dirs()
    assert (manager.pm.get_name(module), Path(module.__file__).parent / "tasks_here") in dirs


def test_hook_register_generators(observer, tmp_path):
    manager, module = observer
    assert manager.hooks.generators.get("counting").description == "counts"
    result = invoke(manager, "generate", "--generator", "counting", "--n", "3", "--out", str(tmp_path / "gen"))
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "gen" / "instructions.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["g0", "g1", "g2"]


def test_hook_register_trainers(observer, tmp_path):
    manager, module = observer
    result = invoke(manager, "train", "--trainer", "noop", "--base", "hf:x", "--out", str(tmp_path / "t"))
    assert result.exit_code == 0, result.output
    assert ("end", "train", "t", {"base": "hf:x", "outputs": {}}) in module.EVENTS


def test_hook_on_stage_start(observer, tmp_path):
    manager, module = observer
    invoke(manager, "generate", "--generator", "counting", "--n", "1", "--out", str(tmp_path / "run1"))
    # the stage runner's config: the plugin, its version, its options
    assert module.EVENTS[0] == ("start", "generate", "run1", {"plugin": "counting", "version": None, "options": {"n": 1}})


def test_hook_on_stage_end(observer, tmp_path):
    manager, module = observer
    invoke(manager, "generate", "--generator", "counting", "--n", "2", "--out", str(tmp_path / "run2"))
    assert module.EVENTS[-1] == ("end", "generate", "run2", {"accepted": 2, "outputs": {}})


def test_hook_on_sample(observer, tmp_path):
    manager, module = observer
    invoke(manager, "generate", "--generator", "counting", "--n", "2", "--out", str(tmp_path / "run3"))
    assert [e for e in module.EVENTS if e[0] == "sample"] == [("sample", "generate", "g0"), ("sample", "generate", "g1")]


RESOLVER_PLUGIN = textwrap.dedent(
    '''
    from bioharness import ResolvedModel, hookimpl

    CALLS = []


    @hookimpl
    def resolve_model(spec, prepare):
        CALLS.append((str(spec), prepare))
        if spec.model == "house-model":
            return ResolvedModel(spec, "/models/house", "house", "ready" if prepare else "described")
        return None
    '''
)


def test_hook_resolve_model(tmp_path):
    from bioharness import resolve_model

    path = tmp_path / "resolver_plugin.py"
    path.write_text(RESOLVER_PLUGIN)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    manager = load_plugins([str(path)], env={})  # becomes the active manager
    module = manager.pm.get_plugin(str(path))
    found = resolve_model(f"vllm:house-model+{adapter}", dtype="bf16")
    assert (found.path, found.source, found.status) == ("/models/house", "house", "ready")
    assert (found.adapter, found.dtype, str(found.spec)) == (str(adapter), "bfloat16", f"vllm:house-model+{adapter}")
    assert resolve_model("hf:house-model", prepare=False).status == "described"
    # None: the next plugin answers (the hf plugin resolves embedded without converting here) ...
    embedded = resolve_model("embedded", prepare=False)
    assert embedded.source == "embedded" and embedded.path.endswith("SmolLM2-135M-Instruct")
    # ... down to the hf plugin (trylast), answering last: an existing path is local, else a hub id
    assert resolve_model(f"hf:{tmp_path}").path == str(tmp_path) and resolve_model(f"hf:{tmp_path}").source == "local"
    assert resolve_model("hf:org/name").source == "hub"
    assert module.CALLS[:3] == [(f"vllm:house-model+{adapter}", True), ("hf:house-model", False),
                                ("hf:embedded", False)]


def test_hook_run_prefixed_tasks(observer, tmp_path):
    manager, module = observer
    (tmp_path / "tasks_here").mkdir()
    result = invoke(manager, "eval", "--model", "hf:m", "--tasks", "echo:a,echo:b", "--limit", "3",
                    "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert module.EVENTS == [("prefixed", ["a", "b"], "hf:m", 3)]
    assert "echo:a" in result.output and "echo:b" in result.output and "n/a" in result.output
    with pytest.raises(Exception, match="no plugin runs tasks named nope:<task>"):
        invoke(manager, "eval", "--model", "hf:m", "--tasks", "nope:a", "--out", str(tmp_path))


def hookspec_docs():
    """{hook: docstring} of every hook the core and the built-in plugins declare."""
    pm = load_plugins(entry_points=False, env={}).pm
    return {name: caller.spec.function.__doc__ or "" for name, caller in vars(pm.hook).items() if caller.has_spec()}


def hookspec_names():
    return sorted(hookspec_docs())


def test_hook_names_come_from_the_core_and_the_plugins():
    core = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "bioharness_spec")}
    assert {"add_hookspecs", "register_backends", "on_sample"} <= core
    # declared by the evaluation plugin, not the core
    assert not core & {"run_prefixed_tasks", "reported_scores", "reported_dirs"}
    assert set(hookspec_names()) == core | {"run_prefixed_tasks", "reported_scores", "reported_dirs"}


DECLARING_PLUGIN = textwrap.dedent(
    '''
    import sys

    from bioharness import hookimpl, hookspec


    @hookspec
    def house_metrics(task):
        """Extra metrics a plugin computes for ``task``: a dict, or None."""


    @hookimpl
    def add_hookspecs(add):
        add(sys.modules[__name__])
    '''
)


def test_hook_add_hookspecs(tmp_path):
    """A plugin declares a hook; a plugin loaded *before* it implements it (checked once all
    are loaded), and the declaring side calls it through the hooks facade, a crash in one
    implementation being one line naming its plugin."""
    (tmp_path / "declares.py").write_text(DECLARING_PLUGIN)
    (tmp_path / "implements.py").write_text(textwrap.dedent(
        """
        from bioharness import hookimpl

        @hookimpl
        def house_metrics(task):
            return {"len": len(task)}
        """))
    (tmp_path / "crashes.py").write_text("from bioharness import hookimpl\n\n@hookimpl\ndef house_metrics(task):\n"
                                         "    return 1 / 0\n")
    implements, declares, crashes = (str(tmp_path / f"{n}.py") for n in ("implements", "declares", "crashes"))
    manager = load_plugins([implements, declares], defaults=False, entry_points=False, env={})
    assert list(manager.hooks.each("house_metrics", task="medqa")) == [(implements, {"len": 5})]
    assert manager.hooks.first("house_metrics", task="ner") == {"len": 3}
    assert any(p.name == implements and p.hooks == ("house_metrics",) for p in manager.plugins())
    manager = load_plugins([crashes, declares], defaults=False, entry_points=False, env={})
    with pytest.raises(PluginError, match=r"crashes.py': hook house_metrics failed: ZeroDivisionError"):
        manager.hooks.first("house_metrics", task="x")
    # without the declaring plugin the hook is unknown: a typo, one line naming the plugin
    with pytest.raises(PluginError, match=r"implements.py' implements an unknown hook 'house_metrics'"):
        load_plugins([implements], defaults=False, entry_points=False, env={})
    # an implementation whose arguments the spec does not have
    (tmp_path / "wrong.py").write_text("from bioharness import hookimpl\n\n@hookimpl\ndef house_metrics(model):\n"
                                       "    return {}\n")
    with pytest.raises(PluginError, match=r"wrong.py' is invalid: .*hook 'house_metrics'.*Argument\(s\) \{'model'\}"):
        load_plugins([str(tmp_path / "wrong.py"), declares], defaults=False, entry_points=False, env={})
    # optionalhook: implementing a hook nobody loaded declares is fine when the plugin says so
    (tmp_path / "optional.py").write_text("from bioharness import hookimpl\n\n@hookimpl(optionalhook=True)\n"
                                          "def house_metrics(task):\n    return {}\n")
    manager = load_plugins([str(tmp_path / "optional.py")], defaults=False, entry_points=False, env={})
    with pytest.raises(PluginError, match="no loaded plugin declares the hook 'house_metrics'"):
        manager.hooks.first("house_metrics", task="x")
    # a fork of the declaring plugin beside it declares the same hooks again: kept, not an error ...
    (tmp_path / "fork.py").write_text(DECLARING_PLUGIN)
    manager = load_plugins([implements, declares, str(tmp_path / "fork.py")], defaults=False, entry_points=False,
                           env={})
    assert manager.hooks.first("house_metrics", task="abc") == {"len": 3}
    # ... but one hook name with other arguments is a conflict, in one line
    (tmp_path / "clash.py").write_text(DECLARING_PLUGIN.replace("def house_metrics(task)", "def house_metrics(model)"))
    with pytest.raises(PluginError, match=r"clash.py' is invalid: .*'house_metrics' is already declared with "
                                          r"arguments \('task',\)"):
        load_plugins([declares, str(tmp_path / "clash.py")], defaults=False, entry_points=False, env={})


def test_every_hook_has_a_test():
    """datasette style: a hook without a test_hook_<name> function fails here."""
    names = hookspec_names()
    assert len(names) >= 9
    defined = set()
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        defined |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    missing = [name for name in names if f"test_hook_{name}" not in defined]
    assert not missing, f"hooks with no test_hook_<name> test: {missing}"


def test_hooks_are_documented():
    for name, doc in hookspec_docs().items():
        assert len(doc.split()) >= 8, f"hook {name} needs a docstring saying when it is called and what it returns"


ADAPTER_POLICY_PLUGIN = textwrap.dedent(
    '''
    from bioharness import UsageError, hookimpl

    CALLS = []


    @hookimpl
    def check_adapter(path, base):
        CALLS.append((path, base))
        if path.endswith("unsigned"):
            raise UsageError(f"adapter {path}: house rule: adapters must be signed")
        return None  # not ours to judge: the next plugin (hf) checks it
    '''
)


def test_hook_check_adapter(tmp_path, tiny_llama_dir, capsys):
    """A plugin's check_adapter runs before any model loads (firstresult: the later-registered
    plugin first); None passes the folder on to the hf plugin's PEFT check."""
    from bioharness.cli import main

    path = tmp_path / "policy_plugin.py"
    path.write_text(ADAPTER_POLICY_PLUGIN)
    for name in ("unsigned", "empty"):
        (tmp_path / name).mkdir()
    base = ["--plugins", str(path), "eval", "--tasks", "pubmedqa", "--limit", "1", "--out", str(tmp_path / "runs")]
    assert main([*base, "--model", f"hf:{tiny_llama_dir}+{tmp_path / 'unsigned'}"]) == 2
    assert capsys.readouterr().err.strip() == f"Error: adapter {tmp_path / 'unsigned'}: house rule: adapters must be signed"
    assert main([*base, "--model", f"hf:{tiny_llama_dir}+{tmp_path / 'empty'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"Error: {tmp_path / 'empty' / 'adapter_config.json'}") and "PEFT adapter" in err, err
    module = next(m for n, m in __import__("sys").modules.items() if n.endswith("policy_plugin"))  # the last load's
    assert module.CALLS == [(str(tmp_path / "empty"), str(tiny_llama_dir))]
    assert not (tmp_path / "runs" / "eval").exists() or not list((tmp_path / "runs" / "eval").rglob("samples.jsonl"))


def test_a_factory_takes_any_option_names():
    """The one-line crash wrapper passes every keyword on, even ones named like its own
    parameters (a trainer option ``call`` or ``what``)."""
    from bioharness.registry import Registry

    registry = Registry("backend")
    registry.add("house", "echo", lambda spec, **options: options)
    registry.add("house", "broken", lambda: 1 / 0)
    assert registry.get("echo").factory(None, call=1, what=2) == {"call": 1, "what": 2}
    with pytest.raises(PluginError, match="plugin 'house': building backend 'broken' failed: ZeroDivisionError"):
        registry.get("broken").factory()


def test_a_trylast_resolver_still_answers_before_the_hf_fallback(tmp_path):
    """hf resolves last (trylast) and passes on names that are neither a folder nor a hub id:
    a third-party resolver, trylast too, gets them."""
    from bioharness import resolve_model

    (tmp_path / "registry_plugin.py").write_text(textwrap.dedent(
        """
        from bioharness import ResolvedModel, hookimpl

        @hookimpl(trylast=True)
        def resolve_model(spec, prepare):
            if spec.model.startswith("registry/"):
                return ResolvedModel(spec, "/models/" + spec.model, "registry", "from the house registry")
        """))
    load_plugins([str(tmp_path / "registry_plugin.py")], env={})
    assert resolve_model("hf:registry/team/model").path == "/models/registry/team/model"
    with pytest.raises(Exception, match="model 'other/team/model': no such directory"):
        resolve_model("hf:other/team/model")
    load_plugins(env={})


EXECUTOR_PLUGIN = textwrap.dedent(
    '''
    from bioharness import DataError, Outcome, hookimpl, pending_steps

    SEEN = {}


    class Planner:
        """Runs nothing: says what is left to do, and where it would run."""

        name = "planner"

        def __init__(self, options):
            self.options = options

        def run(self, graph, say):
            SEEN.update(options=self.options, steps={s.name: s.needs for s in graph.steps},
                        pending=pending_steps(graph), rebuild=graph.rebuild)
            say(f"planned {len(graph.steps)} steps")
            return Outcome()  # nothing ran, nothing failed


    def factory(options, where):
        if set(options) - {"queue"}:
            raise DataError(where, "planner." + sorted(set(options) - {"queue"})[0], "unknown key")
        return Planner(options)


    @hookimpl
    def register_executors(register):
        register("planner", factory, description="says what is left to do")
    '''
)


def test_hook_register_executors(tmp_path):
    """An executor from a plugin: chosen by --executor, its options from the config section of its
    name, given the run's graph (the same one the local executor runs)."""
    path = tmp_path / "executor_plugin.py"
    path.write_text(EXECUTOR_PLUGIN)
    manager = load_plugins([str(path)], env={})
    module = manager.pm.get_plugin(str(path))
    data = tmp_path / "mine.jsonl"
    data.write_text(json.dumps({"id": "a", "instruction": "Say hi.", "input": "", "output": "hi", "category": "qa"})
                    + "\n")
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"out": str(tmp_path / "run"), "base": "hf:/no/such/model", "tasks": "pubmedqa",
                                  "instructions": str(data), "planner": {"queue": "short"}}))
    result = invoke(manager, "run", str(config), "--executor", "planner")
    assert result.exit_code == 0, result.output
    assert "planned 6 steps" in result.output
    assert module.SEEN["options"] == {"queue": "short"}
    assert module.SEEN["steps"] == {"instructions": (), "train": ("instructions",), "eval base": (),
                                    "eval tuned": ("train",), "compare": ("eval base", "eval tuned"),
                                    "report": ("compare",)}
    assert module.SEEN["pending"] == list(module.SEEN["steps"])  # nothing has run: every step is left
    assert module.SEEN["rebuild"][0] == "bioharness.cli.run:graph_for_job"
    assert not (tmp_path / "run" / "instructions").exists()  # planning wrote nothing
    config.write_text(json.dumps({"out": str(tmp_path / "run"), "planner": {"queues": 1}}))
    with pytest.raises(DataError, match=r"run.yaml:planner\.queues: unknown key"):  # the factory's one line
        invoke(manager, "run", str(config), "--executor", "planner")
