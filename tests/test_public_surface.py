"""The public surface: what plugins may import, the layering it keeps, and the model
resolution and backend building it offers (bioharness.resolve_model, get_backend)."""
import ast
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bioharness
from bioharness import DataError, UsageError
from bioharness.manager import load_plugins

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "vllm", "openai", "peft", "lm_eval", "submitit")
#: What `from bioharness import ...` offers: the names bioharness/__init__.py defines or imports.
PUBLIC = {name for name, value in vars(bioharness).items() if not name.startswith("_") and not inspect.ismodule(value)}
PUBLIC.add("__version__")  # the one dunder a plugin may read (lm-eval results record it)


def imports(path):
    """(line, module, names) for every import in a file, lazy ones (inside functions) too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module, tuple(alias.name for alias in node.names)))
    return out


def offenders(folder, bad):
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for line, module, names in imports(path):
            reason = bad(module, names)
            if reason:
                found.append(f"{path.relative_to(REPO)}:{line}: {reason}")
    return found


def test_plugins_import_only_the_public_surface():
    def bad(module, names):
        if module == "bioharness":
            private = sorted(set(names) - PUBLIC)
            return f"from bioharness import {', '.join(private)} (not public)" if private else None
        if module.startswith("bioharness.") and not module.startswith("bioharness.plugins"):
            return f"imports {module}"
        return None

    found = offenders("plugins", bad)
    assert not found, "built-in plugins must import only `from bioharness import ...`:\n" + "\n".join(found)


#: The built-in plugins a plugin builds on (imports modules of), each for a reason; no others.
#: The graph has no cycle, so any plugin can be read (and replaced) from the bottom up.
BUILDS_ON = {
    "vllm": {"hf"},  # vLLM loads the model's Hugging Face tokenizer: hf's encode_* make both engines see one input
    "lora": {"hf"},  # its attention for packed rows is registered with transformers as hf registers its own
}


def plugin_edges():
    """{(importing plugin, imported plugin): [file:line]} over plugins/."""
    edges = {}
    for path in sorted((REPO / "plugins").rglob("*.py")):
        rel = path.relative_to(REPO / "plugins").parts
        own = rel[0] if len(rel) > 1 else None
        for line, module, names in imports(path):
            parts = module.split(".")
            if parts[:2] != ["bioharness", "plugins"]:
                continue
            for target in ([parts[2]] if len(parts) > 2 else list(names)):
                if target != own:
                    edges.setdefault((own, target), []).append(f"{path.relative_to(REPO)}:{line}")
    return edges


def test_plugins_import_other_plugins_only_where_they_build_on_them():
    edges = plugin_edges()
    stray = [f"{where}: {a} imports {b}" for (a, b), wheres in edges.items()
             if b not in BUILDS_ON.get(a, ()) for where in wheres]
    assert not stray, "a plugin imports another one it does not build on (add it to BUILDS_ON with a reason):\n" \
        + "\n".join(stray)
    assert {a for a, _ in edges} <= set(BUILDS_ON) and all((a, b) in edges for a in BUILDS_ON for b in BUILDS_ON[a])
    done, order = set(), []
    while len(done) < len(BUILDS_ON):  # a topological order exists: no cycle
        ready = [a for a in BUILDS_ON if a not in done and all(b in done or b not in BUILDS_ON for b in BUILDS_ON[a])]
        assert ready, f"plugins import each other in a cycle: {sorted(set(BUILDS_ON) - done)}"
        done |= set(ready)


def test_the_plugin_edge_scan_sees_both_import_forms(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("from bioharness.plugins.hf.tokens import encode_pair\nfrom bioharness.plugins import lora\n")
    assert [(m, n) for _, m, n in imports(path)] == [("bioharness.plugins.hf.tokens", ("encode_pair",)),
                                                       ("bioharness.plugins", ("lora",))]


def test_no_plugin_imports_the_cli():
    found = offenders("plugins", lambda m, names: f"imports {m}" if m.split(".")[:2] == ["bioharness", "cli"]
                      or (m == "bioharness" and "cli" in names) else None)
    assert not found, "\n".join(found)


def test_the_core_imports_no_plugin_and_not_the_cli():
    def bad(module, names):
        parts = module.split(".")
        if parts[0] == "bioharness" and (parts[1:2] in (["plugins"], ["cli"])
                                         or (len(parts) == 1 and {"plugins", "cli"} & set(names))):
            return f"imports {module}"
        return None

    found = offenders("harness", bad)
    assert not found, "the core (harness/) never imports a plugin or the CLI:\n" + "\n".join(found)


def test_the_scan_sees_lazy_and_aliased_imports(tmp_path):
    """The checks above would catch what they look for (they are not vacuous)."""
    path = tmp_path / "sneaky.py"
    path.write_text("def f():\n    import bioharness.store as s\n    from bioharness.cli import main\n")
    assert [m for _, m, _ in imports(path)] == ["bioharness.store", "bioharness.cli"]


def test_the_surface_names_what_plugins_need():
    needed = {"hookimpl", "UsageError", "DataError", "MissingDependency", "Example", "Request", "Prediction",
              "LoglikelihoodRequest", "Loglikelihood", "Score", "Instruction", "CATEGORIES", "RunDir", "JsonlLog",
              "atomic_write_text", "atomic_write_json", "read_json", "read_jsonl", "sha256_file", "file_lock",
              "read_instructions", "write_instructions", "instructions_digest", "parse_model_spec", "ModelSpec",
              "get_backend", "resolve_model", "ResolvedModel", "split_trailing_space", "TaskSpec", "TaskKind", "Backend",
              # the stage workers and what the built-in stages need (run folder, task data, model checks)
              "get_stage", "Stage", "run_stage", "jsonable", "run_lock", "Incomplete", "model_name",
              "TaskCatalog", "load_examples", "choose_shots", "check_model", "load_backend",
              # executors (the slurm plugin): the run's graph, what is left of it, a step in a job
              "Graph", "Step", "Outcome", "pending_steps", "run_step_job", "step_state", "finished_since",
              "StageFailed", "RunLocked"}
    assert needed <= PUBLIC, needed - PUBLIC
    assert not PUBLIC & {"manager", "cli", "plugins", "store", "pluggy"}
    # moved out of the core into plugins: reached through get_stage, not the surface
    assert not PUBLIC & {"compare_models", "write_reports", "decontaminate", "task_texts", "check_adapter"}
    # Hugging Face tokenizer knowledge: the hf plugin's (vllm imports it from there)
    assert not PUBLIC & {"batched", "encode_prompt", "encode_pair", "render_prompt", "has_chat_template"}


def test_import_help_and_plugins_load_no_heavy_engine():
    code = textwrap.dedent(f"""
        import contextlib, io, sys
        import bioharness
        after_import = [m for m in {HEAVY!r} if m in sys.modules]
        from bioharness.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            codes = [main(['--help']), main(['plugins']), main(['models', 'embedded'])]
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print(after_import, heavy, codes)
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] [] [0, 0, 0]"


# -- resolve_model: the one place for specs, adapters and dtypes ---------------------------


def adapter_dir(folder):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4}))
    return folder


def test_local_paths_hub_ids_and_missing_directories(tmp_path, monkeypatch):
    model = tmp_path / "my-model"
    model.mkdir()
    found = bioharness.resolve_model(f"vllm:{model}")
    assert (found.path, found.source, found.adapter, found.dtype) == (str(model), "local", None, "auto")
    monkeypatch.chdir(tmp_path)
    assert bioharness.resolve_model("hf:./my-model").path == str(model)  # relative: made absolute
    assert bioharness.resolve_model("my-model").path == str(model)  # an existing name is local first
    for hub_id in ("meta-llama/Llama-2-7b-hf", "gpt2", "HuggingFaceTB/SmolLM2-135M-Instruct"):
        found = bioharness.resolve_model(f"hf:{hub_id}")
        assert (found.path, found.source) == (hub_id, "hub")
    # local-looking paths that do not exist are not judged by hub-id rules
    for missing in ("./nope", "../models/nope", "/no/such/model", "~/no-such-model", "models/llama/7b"):
        with pytest.raises(UsageError, match=f"model '{missing}': no such directory"):
            bioharness.resolve_model(f"hf:{missing}")


def test_adapter_directory_is_checked_and_made_absolute(tmp_path, monkeypatch):
    adapter = adapter_dir(tmp_path / "runs" / "adapter")
    monkeypatch.chdir(tmp_path)
    assert bioharness.resolve_model("hf:gpt2+runs/adapter").adapter == str(adapter)
    with pytest.raises(UsageError, match="adapter 'runs/none': no such directory"):
        bioharness.resolve_model("hf:gpt2+runs/none")
    with pytest.raises(UsageError, match="adapter 'runs': no adapter_config.json there"):
        bioharness.resolve_model("hf:gpt2+runs")


@pytest.mark.parametrize("given, expected", [
    (None, "auto"), ("auto", "auto"), ("fp32", "float32"), ("float", "float32"), ("FP16", "float16"),
    ("half", "float16"), ("bf16", "bfloat16"), ("bfloat16", "bfloat16"),
])
def test_dtype_names_are_normalised(given, expected):
    assert bioharness.resolve_model("hf:gpt2", dtype=given).dtype == expected
    assert bioharness.normalise_dtype(given) == expected


def test_unknown_dtype_is_a_usage_error():
    with pytest.raises(UsageError, match="dtype 'float8' is not one of auto, float32"):
        bioharness.resolve_model("hf:gpt2", dtype="float8")


def test_models_need_a_plugin_that_resolves_them():
    """The core knows no kind of model: without plugins neither the embedded model nor a
    local folder resolves (the hf plugin knows both, and hub ids)."""
    load_plugins(defaults=False, entry_points=False, env={})
    for text in ("embedded", f"hf:{REPO}"):
        with pytest.raises(UsageError, match="no such directory, and no installed plugin resolves 'hf:"):
            bioharness.resolve_model(text)
    load_plugins(env={})
    found = bioharness.resolve_model("vllm:embedded", prepare=False)  # described, not converted
    assert found.source == "embedded" and found.path.endswith("SmolLM2-135M-Instruct")


# -- get_backend: through the active plugin manager ----------------------------------------

RECORDING = textwrap.dedent(
    """
    from bioharness import hookimpl, resolve_model

    class Recorded:
        def __init__(self, spec, **options):
            self.spec, self.options = spec, options
            self.resolved = resolve_model(spec, dtype=options.get("dtype"))

    @hookimpl
    def register_backends(register):
        register("recording", Recorded)
    """
)


def test_get_backend_builds_through_the_active_manager(tmp_path):
    path = tmp_path / "recording_plugin.py"
    path.write_text(RECORDING)
    adapter = adapter_dir(tmp_path / "adapter")
    load_plugins([str(path)], env={})
    backend = bioharness.get_backend(f"recording:org/model+{adapter}", dtype="bf16", batch_size=4, device=None)
    assert str(backend.spec) == f"recording:org/model+{adapter}"
    assert backend.options == {"dtype": "bf16", "batch_size": 4}  # None means "not given"
    assert (backend.resolved.path, backend.resolved.adapter, backend.resolved.dtype) == (
        "org/model", str(adapter), "bfloat16")
    load_plugins([], env={})
    with pytest.raises(UsageError, match="unknown backend 'recording'"):
        bioharness.get_backend("recording:org/model")


def test_parse_model_args_reads_json_values():
    assert bioharness.parse_model_args("a=1,b=true,c=text,d=0.5") == {"a": 1, "b": True, "c": "text", "d": 0.5}
    with pytest.raises(UsageError, match="'oops' is not key=value"):
        bioharness.parse_model_args("a=1,oops")


def test_read_jsonl_gives_line_numbers_and_names_a_bad_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"a": 1}\n\n[2]\n')
    assert bioharness.read_jsonl(path) == [(1, {"a": 1}), (3, [2])]
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataError, match=r"data.jsonl:2: malformed JSON"):
        bioharness.read_jsonl(path)


def test_bool_option_reads_switches_from_model_args():
    from bioharness import UsageError, bool_option

    assert [bool_option("hf backend", "fast", v) for v in (True, "1", "yes", " On ", False, "0", "no", "off")] == \
        [True] * 4 + [False] * 4
    with pytest.raises(UsageError, match=r"^hf backend: fast must be true or false, got 'maybe'$"):
        bool_option("hf backend", "fast", "maybe")


# -- register_stages: the stage workers the commands and `run` call ----------------------

STAGE_PLUGIN = textwrap.dedent(
    """
    from bioharness import hookimpl

    def my_compare(hooks, **options):
        return {"compared by": "a third party", "options": sorted(options)}

    def my_stage(hooks, *, value):
        return value * 2

    @hookimpl
    def register_stages(register):
        register("compare", my_compare, description="a replacement", replace=True)
        register("double", my_stage)
    """
)


def test_hook_register_stages(tmp_path):
    """A third-party plugin adds a stage and replaces the built-in `compare`; the command runs it."""
    manager = load_plugins(env={})
    assert {"eval", "compare", "report", "decontaminate"} <= set(manager.hooks.stages.names())
    assert manager.hooks.stages.get("compare").plugin == "bioharness.plugins.evaluation"
    path = tmp_path / "stage_plugin.py"
    path.write_text(STAGE_PLUGIN)
    manager = load_plugins([str(path)], env={})
    assert manager.hooks.stages.get("compare").plugin == str(path)
    assert bioharness.get_stage("double")(value=21) == 42
    assert bioharness.get_stage("compare")(out="runs", baseline=None) == {
        "compared by": "a third party", "options": ["baseline", "out"]}
    # the command goes through the registry: the replacement runs, not the built-in
    from click.testing import CliRunner

    from bioharness.cli import build_cli

    (tmp_path / "runs").mkdir()
    result = CliRunner().invoke(build_cli(manager), ["compare", "--out", str(tmp_path / "runs")], obj=manager)
    assert result.exit_code == 0 and "leaderboard" not in result.output
    # without replace=True, a second stage of one name is an error naming both plugins
    path.write_text(STAGE_PLUGIN.replace(", replace=True", ""))
    with pytest.raises(UsageError, match="stage 'compare' is registered by two plugins"):
        load_plugins([str(path)], env={})  # collected at load: a duplicate fails there
    load_plugins(env={})
