"""Run folders that survive anything (issue 12): one writer per run folder, failed requests
are errors and not wrong answers, an adapter changed in place is a new setting, and every
bad input is one line naming the file, key or path, with nothing written outside --out."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from bioharness.cli import main
from bioharness.errors import UsageError
from bioharness.store import LOCK_NAME, RunLocked, run_lock

ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600)


def one_line_error(capsys, argv, expected_code=2):
    """Run the CLI in this process; return its only stderr line (asserting there is one)."""
    capsys.readouterr()  # what earlier commands printed
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


def tree(path):
    """Every file under ``path`` with its bytes (what a failed command must leave alone)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} \
        if path.exists() else None


def eval_args(model_dir, data_dir, out, limit=24, *extra):
    # one example per batch: the first process still holds the folder when the second arrives
    return ["eval", "--model", f"hf:{model_dir}", "--tasks", "medqa", "--limit", str(limit), "--data-dir",
            str(data_dir), "--out", str(out), "--bootstrap", "200", "--batch-size", "1", *extra]


def results_of(out, model="hf__tiny-llama0", task="medqa"):
    folder = out / "eval" / model / task
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    metrics = json.loads((folder / "metrics.json").read_text())
    return samples, metrics


def comparable(samples, metrics):
    metrics = {k: v for k, v in metrics.items() if k != "written"}
    return sorted(samples, key=lambda s: s["id"]), metrics


# --- 1. the run-folder lock ------------------------------------------------------------------


def _wait_for_holder(lock, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip():
            return json.loads(lock.read_text())
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail("the first eval never took the lock")


def test_second_eval_on_the_same_folder_is_refused_and_the_folder_stays_intact(tiny_llama_dir, data_dir, tmp_path):
    out = tmp_path / "shared"
    first = subprocess.Popen([sys.executable, "-m", "bioharness.cli", *eval_args(tiny_llama_dir, data_dir, out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    holder = _wait_for_holder(out / "eval" / "hf__tiny-llama0" / LOCK_NAME, first)
    assert holder["pid"] == first.pid and "eval" in holder["command"]
    second = cli(*eval_args(tiny_llama_dir, data_dir, out))
    assert first.wait(timeout=600) == 0, first.stderr.read()
    assert second.returncode == 2
    assert "Traceback" not in second.stderr
    line = second.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: {out / 'eval' / 'hf__tiny-llama0'}: in use by PID {first.pid} on ")
    assert line.endswith("; wait for it to finish, or add --wait to start when it does")
    # intact: each id once, and the same result as one run alone
    samples, metrics = results_of(out)
    assert len(samples) == 24 == len({s["id"] for s in samples}) == metrics["n"]
    assert cli(*eval_args(tiny_llama_dir, data_dir, tmp_path / "alone")).returncode == 0
    assert comparable(samples, metrics) == comparable(*results_of(tmp_path / "alone"))
    assert not (out / "eval" / "hf__tiny-llama0" / LOCK_NAME).exists()  # released


def test_with_wait_the_second_eval_waits_then_finds_the_work_done(tiny_llama_dir, data_dir, tmp_path):
    out = tmp_path / "shared"
    first = subprocess.Popen([sys.executable, "-m", "bioharness.cli", *eval_args(tiny_llama_dir, data_dir, out, 12)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    _wait_for_holder(out / "eval" / "hf__tiny-llama0" / LOCK_NAME, first)
    second = cli(*eval_args(tiny_llama_dir, data_dir, out, 12, "--wait"))
    assert first.wait(timeout=600) == 0
    assert second.returncode == 0, second.stderr
    samples, metrics = results_of(out)
    assert len(samples) == 12 == len({s["id"] for s in samples}) == metrics["n"]


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal, sys
        from bioharness.store import run_lock
        with run_lock({str(folder)!r}):
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV)
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(RunLocked, match=f"in use by PID {holder.pid} on "):
        with run_lock(folder):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    taken = []
    with run_lock(folder, on_takeover=taken.append):
        assert json.loads((folder / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert [t["pid"] for t in taken] == [holder.pid]


def test_lock_is_reentrant_in_one_process_and_cleans_up_a_folder_it_created(tmp_path):
    folder = tmp_path / "a" / "b"
    with run_lock(folder):
        with run_lock(folder):  # a stage inside `bioharness run`
            pass
        assert (folder / LOCK_NAME).exists()
    assert not (tmp_path / "a").exists()  # nothing was written: no empty folders left
    (tmp_path / "kept").mkdir()
    with run_lock(tmp_path / "kept"):
        (tmp_path / "kept" / "x").write_text("1")
    assert (tmp_path / "kept" / "x").exists()


# --- 2. failed requests are errors, not wrong answers -------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connection_fails_fast_and_leaves_the_task_incomplete(data_dir, tmp_path):
    out = tmp_path / "runs"
    port = free_port()  # bound then closed: nothing listens there
    start = time.monotonic()
    done = cli("eval", "--model", "openai:gpt-4o", "--base-url", f"http://127.0.0.1:{port}/v1", "--tasks", "medqa",
               "--limit", "4", "--data-dir", data_dir, "--out", out)
    elapsed = time.monotonic() - start
    assert done.returncode == 1
    assert elapsed < 30  # was 7 attempts with backoff per request: minutes
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: 1 task(s) incomplete (medqa 4 failed); first error: connection error: "
                           "ConnectionRefusedError: ")
    assert last.endswith("(after 2 attempts). Nothing failed was scored; run the same command again to retry "
                         "those samples")
    folder = out / "eval" / "openai__gpt-4o" / "medqa"
    assert not (folder / "metrics.json").exists() and not (folder / "samples.jsonl").exists()
    manifest = json.loads((folder / "stage.json").read_text())  # the stage runner's manifest
    assert manifest["complete"] is False and manifest["result"]["errors"] == 4
    # the eval's table: no value but what happened, and the errors column
    row = next(line for line in done.stdout.splitlines() if "medqa" in line)
    assert re.split(r"\s*[\u2502|]\s*", row.strip(" \u2502|")) == ["medqa", "qa", "accuracy", "incomplete (4 errors)",
                                                                      "n/a", "0", "0", "4"], row


def test_unknown_host_fails_fast(monkeypatch):
    from bioharness.modelspec import parse_model_spec
    from bioharness.plugins.openai import _factory
    from bioharness.records import Request

    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    backend = _factory(parse_model_spec("openai:m"), base_url="http://no-such-host.invalid/v1", max_retries=6,
                       backoff_base=0.2, timeout=5)
    start = time.monotonic()
    (out,) = backend.generate([Request(id="q", prompt="hi", max_new_tokens=2)])
    assert time.monotonic() - start < 5
    assert out.error.startswith("connection error: gaierror: ") and out.error.endswith("(after 2 attempts)")
    assert backend.usage.retries == 1


# --- 3. an adapter changed in place ----------------------------------------------------------


def save_adapter(model_dir, path, seed, **overrides):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    options = dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, init_lora_weights=False,
                   task_type="CAUSAL_LM")
    options.update(overrides)
    get_peft_model(model, LoraConfig(**options)).save_pretrained(path)
    return path


def test_adapter_changed_in_place_is_not_reused(tiny_llama_dir, data_dir, tmp_path, capsys):
    adapter = save_adapter(tiny_llama_dir, tmp_path / "adapter", seed=1)
    args = ["eval", "--model", f"hf:{tiny_llama_dir}+{adapter}", "--tasks", "medqa", "--limit", "4", "--data-dir",
            data_dir, "--bootstrap", "200"]
    assert main([*map(str, args), "--out", str(tmp_path / "runs")]) == 0
    first, _ = results_of(tmp_path / "runs", "hf__tiny-llama0__adapter")
    save_adapter(tiny_llama_dir, adapter, seed=2)  # retrained: new weights, same path
    line = one_line_error(capsys, [*args, "--out", tmp_path / "runs"])
    assert line == (f"Error: {tmp_path / 'runs' / 'eval' / 'hf__tiny-llama0__adapter' / 'medqa'} holds complete results of a "
                    "different setting (changed: adapter_sha256, adapter); use another --out or remove that folder")
    assert main([*map(str, args), "--out", str(tmp_path / "again")]) == 0
    second, metrics = results_of(tmp_path / "again", "hf__tiny-llama0__adapter")
    assert [s["output"] for s in first] != [s["output"] for s in second]  # really evaluated anew
    assert metrics["setting"]["adapter_sha256"] != json.loads(
        (tmp_path / "runs" / "eval" / "hf__tiny-llama0__adapter" / "medqa" / "metrics.json").read_text()
    )["setting"]["adapter_sha256"]


# --- 4. every bad input: one line, exit 2, nothing written ----------------------------------

BAD_NAME_PLUGIN = textwrap.dedent('''
    from pathlib import Path
    from bioharness import hookimpl

    @hookimpl
    def task_dirs():
        return [Path(__file__).parent / "evil_tasks"]
''')

FAILING_BACKEND_PLUGIN = textwrap.dedent('''
    from bioharness import hookimpl

    def broken(spec, **options):
        raise RuntimeError("cannot reach the accelerator")

    @hookimpl
    def register_backends(register):
        register("broken", broken, description="always fails to start")
''')


@pytest.fixture(scope="module")
def bad_inputs(tiny_llama_dir, data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    medqa = "medqa_usmle_4opt/phrases_no_exclude_test.jsonl"
    good = (data_dir / medqa).read_text(encoding="utf-8").splitlines(keepends=True)[:3]
    for name, content in (("latin1", "".join(good).encode() + '{"question": "caf\xe9"}\n'.encode("latin-1")),
                          ("empty", b"")):
        (root / name / medqa).parent.mkdir(parents=True)
        (root / name / medqa).write_bytes(content)
    ok = save_adapter(tiny_llama_dir, root / "adapter-ok", seed=1)
    for name, edit in (("adapter-garbage", lambda p: (p / "adapter_config.json").write_text("{r: 8,")),
                       ("adapter-empty", lambda p: (p / "adapter_config.json").write_text("")),
                       ("adapter-noweights", lambda p: (p / "adapter_model.safetensors").unlink()),
                       ("adapter-targets", lambda p: (p / "adapter_config.json").write_text(json.dumps(
                           {**json.loads((ok / "adapter_config.json").read_text()),
                            "target_modules": ["q_proj", "attn_qkv"]})))):
        import shutil

        shutil.copytree(ok, root / name)
        edit(root / name)
    (root / "afile").write_text("not a folder")
    (root / "evil_tasks").mkdir()
    (root / "evil_tasks" / "escape.yaml").write_text(textwrap.dedent("""
        name: ../../../escaped
        version: 1
        category: qa
        kind: mcqa
        data: {reader: medqa, split: test, files: [medqa_usmle_4opt/phrases_no_exclude_test.jsonl]}
        prompt: {template: "{question}"}
        metrics: [accuracy]
    """))
    (root / "evil.py").write_text(BAD_NAME_PLUGIN)
    (root / "broken.py").write_text(FAILING_BACKEND_PLUGIN)
    (root / "run.yaml").write_text(f"out: {root / 'out'}\nbase: hf:{tiny_llama_dir}\ntasks: medqa\neval:\n"
                                   "  batch_size: 0\n")
    return root


def bad_cases(root, model, data):
    """(argv, the exact line it prints). ``model``: the tiny Llama's folder."""
    out = root / "out"
    base = ["--tasks", "medqa", "--limit", "2", "--out", out]
    medqa = "medqa_usmle_4opt/phrases_no_exclude_test.jsonl"
    return [
        (["eval", "--model", f"hf:{model}", *base, "--data-dir", root / "latin1"],
         f"{root / 'latin1' / medqa}:4: not UTF-8 text (byte 17 of the line): expected UTF-8; re-encode the file"),
        (["eval", "--model", f"hf:{model}", *base, "--data-dir", root / "empty"],
         f"{root / 'empty' / medqa}: empty file: expected the 'test' examples of task medqa"),
        (["eval", "--model", f"hf:{model}", "--tasks", "medqa", "--data-dir", data, "--out", root / "afile" / "x"],
         f"{root / 'afile' / 'x' / 'eval' / 'hf__tiny-llama0'}: cannot create the run directory: {root / 'afile'} "
         "is a file, not a directory"),
        (["eval", "--model", "hf:/nonexistent", *base, "--data-dir", data],
         "--model hf:/nonexistent: /nonexistent: no such directory (expected a model folder with config.json)"),
        (["eval", "--model", f"hf:{model}", *base, "--data-dir", data, "--judge", "nosuch:judge-model"],
         "--judge nosuch:judge-model: unknown backend 'nosuch' (known: hf, openai, vllm)"),
        (["eval", "--model", f"hf:{model}+{root / 'adapter-garbage'}", *base, "--data-dir", data],
         f"{root / 'adapter-garbage' / 'adapter_config.json'}:1: invalid JSON (Expecting property name enclosed in "
         "double quotes): expected a JSON adapter config"),
        (["eval", "--model", f"hf:{model}+{root / 'adapter-empty'}", *base, "--data-dir", data],
         f"{root / 'adapter-empty' / 'adapter_config.json'}: empty file: expected a JSON adapter config"),
        (["eval", "--model", f"hf:{model}+{root / 'adapter-noweights'}", *base, "--data-dir", data],
         f"{root / 'adapter-noweights'}: no adapter weights (expected adapter_model.safetensors or "
         "adapter_model.bin)"),
        (["eval", "--model", f"hf:{model}+{root / 'adapter-targets'}", *base, "--data-dir", data],
         f"{root / 'adapter-targets' / 'adapter_config.json'}:target_modules: 'attn_qkv' names no module of the base "
         f"model {model} (it has down_proj, gate_proj, input_layernorm, k_proj, o_proj, post_attention_layernorm, "
         "q_proj, up_proj, v_proj)"),
        (["eval", "--model", f"hf:{model}+{root / 'missing-adapter'}", *base, "--data-dir", data],
         f"adapter {root / 'missing-adapter'}: no such directory (expected a PEFT adapter folder with "
         "adapter_config.json)"),
        (["tasks", "--plugins", root / "evil.py"],
         f"{root / 'evil_tasks' / 'escape.yaml'}:name: '../../../escaped' is not a safe name (letters, digits, '_', "
         "'-', '.'; starting with a letter or digit)"),
        (["eval", "--model", "broken:x", *base, "--data-dir", data, "--plugins", root / "broken.py"],
         f"plugin '{root / 'broken.py'}': building backend 'broken' failed: RuntimeError: cannot reach the "
         "accelerator"),
        (["run", root / "run.yaml", "--data-dir", data],
         f"{root / 'run.yaml'}:eval.batch_size: expected a whole number >= 1, got 0"),
    ]


CASE_NAMES = ["non-utf8-data", "empty-data", "out-under-a-file", "hf-nonexistent", "unknown-judge",
              "adapter-garbage-config", "adapter-empty-config", "adapter-no-weights", "adapter-unknown-targets",
              "adapter-missing", "task-name-escapes", "backend-factory-raises", "run-batch-size-0"]


@pytest.mark.parametrize("case", range(len(CASE_NAMES)), ids=CASE_NAMES)
def test_bad_input_is_one_line_and_writes_nothing(case, bad_inputs, tiny_llama_dir, data_dir, capsys, monkeypatch):
    argv, expected = bad_cases(bad_inputs, tiny_llama_dir, data_dir)[case]
    monkeypatch.chdir(bad_inputs)
    before = tree(bad_inputs)
    assert one_line_error(capsys, argv) == f"Error: {expected}"
    assert tree(bad_inputs) == before  # no run folder, no empty task folders, nothing elsewhere
    assert not (bad_inputs / "out").exists()


# --- 5. a damaged run folder: named, and repaired by the same command (issue 22) ---------------

TASKS4 = "medqa,pubmedqa,medmcqa,mmlu_medical"


def as_typed(monkeypatch, *argv):
    """``bioharness ARGV`` in this process, with the command line a user would have typed
    (each stage manifest records it: it is the command that repairs the stage)."""
    argv = [str(a) for a in argv]
    monkeypatch.setattr(sys, "argv", ["bioharness", *argv])
    return main(argv)


def files_of(root):
    """{relative path: (bytes, mtime)} of every file but the stage manifests and locks."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in ("stage.json", LOCK_NAME)}


@pytest.fixture(scope="module")
def finished_run(tiny_llama_dir, data_dir, tmp_path_factory):
    """A finished eval (four tasks), compare and report: copied by each test that damages it."""
    out = tmp_path_factory.mktemp("finished") / "R"
    patch = pytest.MonkeyPatch()
    try:
        eval_argv = ["eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", TASKS4, "--limit", "6", "--data-dir",
                     data_dir, "--out", out, "--bootstrap", "200", "--batch-size", "1"]
        assert as_typed(patch, *eval_argv) == 0
        assert as_typed(patch, "compare", "--out", out, "--bootstrap", "200") == 0
        assert as_typed(patch, "report", "--out", out) == 0
    finally:
        patch.undo()
    return out, [str(a) for a in eval_argv]


def copy_of(finished_run, tmp_path):
    import shutil

    out, argv = finished_run
    shutil.copytree(out, tmp_path / "R")
    return tmp_path / "R", [str(tmp_path / "R") if a == str(out) else a for a in argv], out


def test_a_damaged_eval_is_named_by_verify_and_repaired_by_the_same_command(finished_run, tmp_path, capsys,
                                                                            monkeypatch):
    out, eval_argv, original = copy_of(finished_run, tmp_path)
    evals = out / "eval" / "hf__tiny-llama0"
    intact = files_of(out)
    cut = evals / "pubmedqa" / "samples.jsonl"  # an interrupted copy: half its bytes, mid-line
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    (evals / "medqa" / "metrics.json").write_text("garbage{")  # does not parse
    (evals / "medmcqa" / "metrics.json").unlink()  # deleted
    edit_line = evals / "mmlu_medical" / "samples.jsonl"  # edited, still valid
    lines = edit_line.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[3])
    record["values"]["correct"] = 1.0 - record["values"]["correct"]
    lines[3] = json.dumps(record, ensure_ascii=False) + "\n"
    edit_line.write_text("".join(lines), encoding="utf-8")
    damaged = files_of(out)
    kept = cut.read_bytes().count(b"\n")
    # the command recorded where the folder was written (a copy names the original's --out)
    command = "`bioharness " + " ".join(finished_run[1]) + "` repairs it"

    capsys.readouterr()
    assert as_typed(monkeypatch, "verify", "--out", out) == 1
    said = capsys.readouterr().out.splitlines()
    assert files_of(out) == damaged  # verify writes nothing
    assert said[:-1] == [
        f"{evals / 'medmcqa' / 'metrics.json'} is missing [eval hf__tiny-llama0/medmcqa: {command}]",
        f"{evals / 'medqa' / 'metrics.json'} does not parse (invalid JSON at line 1: Expecting value) "
        f"[eval hf__tiny-llama0/medqa: {command}]",
        f"{edit_line} was edited at line 4 (lines 1-3 intact; still valid JSON) "
        f"[eval hf__tiny-llama0/mmlu_medical: {command}]",
        f"{cut} is cut short ({cut.stat().st_size:,} of {len(intact[str(cut.relative_to(out))][0]):,} bytes; "
        f"{kept} of 6 lines intact, then a torn line) "
        f"[eval hf__tiny-llama0/pubmedqa: {command}]"]
    assert said[-1] == "verify: 6 stage(s), 11 recorded file(s): 4 damaged in 4 stage(s)"
    assert as_typed(monkeypatch, "verify", "--out", out, "--json") == 1
    listed = json.loads(capsys.readouterr().out)
    assert listed["damaged"] == 4 and sorted(s["state"] for s in listed["stages"]) == ["damaged"] * 4 + ["intact"] * 2
    assert {d["path"]: d["repair"] for s in listed["stages"] for d in s["damaged"]}[str(cut)] == \
        f"resuming after its last intact line ({kept})"

    # compare will not compare numbers nobody measured: one line, nothing archived or started
    line = one_line_error(capsys, ["compare", "--out", out, "--bootstrap", "200"])
    assert line == (f"Error: {evals / 'medmcqa' / 'metrics.json'} is missing, since stage eval hf__tiny-llama0/medmcqa "
                    f"wrote it: {command}; `bioharness verify --out {out}` lists every damaged file")
    assert files_of(out) == damaged and not (out / "superseded").exists()

    # the same command: one line per repaired file, the stage run again over what is intact
    assert as_typed(monkeypatch, *eval_argv) == 0
    err = capsys.readouterr().err
    repairs = [line for line in err.splitlines() if line.startswith("eval ")]
    assert repairs == [
        f"eval hf__tiny-llama0/medqa: {evals / 'medqa' / 'metrics.json'} does not parse (invalid JSON at line 1: "
        "Expecting value); recomputing it",
        f"eval hf__tiny-llama0/pubmedqa: {cut} is cut short ({len(damaged[str(cut.relative_to(out))][0]):,} of "
        f"{len(intact[str(cut.relative_to(out))][0]):,} bytes; {kept} of 6 lines intact, then a torn line); resuming "
        f"after its last intact line ({kept})",
        f"eval hf__tiny-llama0/medmcqa: {evals / 'medmcqa' / 'metrics.json'} is missing; recomputing it",
        f"eval hf__tiny-llama0/mmlu_medical: {edit_line} was edited at line 4 (lines 1-3 intact; still valid JSON); "
        "resuming after its last intact line (3)"], err
    repaired = files_of(out)
    for name, (data, mtime) in intact.items():
        if name.endswith("metrics.json") and name.split("/")[-2] in ("medqa", "medmcqa"):  # written anew
            assert comparable([], json.loads(repaired[name][0])) == comparable([], json.loads(data))
        elif name.endswith(("pubmedqa/samples.jsonl", "mmlu_medical/samples.jsonl")):
            assert repaired[name][0] == data  # resumed: exactly the records of the uninterrupted run
        else:
            assert repaired[name] == (data, mtime), name  # nothing else rewritten (not even the metrics)
    assert as_typed(monkeypatch, "verify", "--out", out) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "verify: 6 stage(s), 11 recorded file(s): none damaged"


def test_a_damaged_leaderboard_or_report_is_named_and_repaired_by_its_own_command(finished_run, tmp_path, capsys,
                                                                                  monkeypatch):
    out, _, original = copy_of(finished_run, tmp_path)
    intact = files_of(out)
    board = json.loads((out / "leaderboard.json").read_text())
    board["baseline"] = "hf:someone-else"
    (out / "leaderboard.json").write_text(json.dumps(board, indent=2))  # still valid, not what compare wrote
    (out / "summary.md").unlink()
    capsys.readouterr()
    assert as_typed(monkeypatch, "verify", "--out", out) == 1
    said = capsys.readouterr().out.splitlines()
    assert [s.split(" [")[0] for s in said[:-1]] == [
        f"{out / 'leaderboard.json'} was changed since it was written "
        f"({(out / 'leaderboard.json').stat().st_size:,} bytes, {len(intact['leaderboard.json'][0]):,} written; "
        "sha256 differs; still valid JSON)",
        f"{out / 'summary.md'} is missing"]
    assert said[0].endswith(f"[compare: `bioharness compare --out {original} --bootstrap 200` repairs it]")
    line = one_line_error(capsys, ["report", "--out", out])  # a changed board is not reported
    assert line.startswith(f"Error: {out / 'leaderboard.json'} was changed since it was written (")
    changed = (out / "leaderboard.json").stat().st_size
    assert as_typed(monkeypatch, "compare", "--out", out, "--bootstrap", "200") == 0
    assert capsys.readouterr().err.splitlines()[0] == (
        f"compare: {out / 'leaderboard.json'} was changed since it was written ({changed:,} bytes, "
        f"{len(intact['leaderboard.json'][0]):,} written; sha256 differs; still valid JSON); recomputing it")
    assert (out / "leaderboard.json").read_bytes() == intact["leaderboard.json"][0]
    assert as_typed(monkeypatch, "report", "--out", out) == 0
    assert f"report: {out / 'summary.md'} is missing; recomputing it" in capsys.readouterr().err
    repaired = files_of(out)
    stamp = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC")  # the report stage writes all its reports again

    def written(data):  # ... in this folder, now (the copied ones name the original folder)
        return stamp.sub(b"", data.replace(str(original).encode(), str(out).encode()))

    assert {k: written(v[0]) for k, v in repaired.items()} == {k: written(v[0]) for k, v in intact.items()}
    assert all(repaired[k] == v for k, v in intact.items() if k.startswith("eval/"))  # the evaluations untouched
