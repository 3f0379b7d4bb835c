"""Run store: atomic writes, JSONL resume after a kill, manifests."""
import json
import os
import signal
import subprocess
import sys
import textwrap

from pathlib import Path

import pytest

from bioharness.errors import DataError
from bioharness.store import JsonlLog, RunDir, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "out" / "metrics.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(path.parent) == ["metrics.json"]  # no temp files left


def test_atomic_write_failure_keeps_old_content(tmp_path, monkeypatch):
    path = tmp_path / "keep.txt"
    atomic_write_text(path, "old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.txt"]


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from bioharness.store import JsonlLog
    path, total, die_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    log = JsonlLog(path)
    for i in range(total):
        if f"r{i}" in log:
            continue
        if i == die_after:
            # the first half of a record reaches the disk, then the process is killed
            log._fh.write(b'{"id": "r%d", "payload": "' % i)
            log._fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        log.append({"id": f"r{i}", "payload": "x" * (i % 7)})
    print(len(log))
    """
)


def test_jsonl_resume_after_kill_mid_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    first = subprocess.run([sys.executable, str(script), str(path), "200", "120"], capture_output=True, text=True)
    assert first.returncode == -signal.SIGKILL
    raw = path.read_bytes()
    assert not raw.endswith(b"\n")  # the torn line is really there
    second = subprocess.run([sys.executable, str(script), str(path), "200", "-1"], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    lines = path.read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert ids == [f"r{i}" for i in range(200)]  # nothing lost, nothing twice, in order
    assert json.loads(lines[120]) == {"id": "r120", "payload": "x" * (120 % 7)}


def test_jsonl_reports_dropped_tail_and_rejects_duplicates(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"id": 1}\n{"id": 2}\n{"id": 3, "x":')
    log = JsonlLog(path)
    assert [r["id"] for r in log.records] == [1, 2]
    assert log.dropped_tail == b'{"id": 3, "x":'
    with pytest.raises(ValueError, match="already written"):
        log.append({"id": 2})
    log.append({"id": 3})
    log.close()
    assert path.read_bytes() == b'{"id": 1}\n{"id": 2}\n{"id": 3}\n'


def test_jsonl_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": 1}\nnot json\n{"id": 3}\n')
    with pytest.raises(DataError, match=r"log.jsonl:2: corrupt JSON line"):
        JsonlLog(path)


def test_jsonl_complete_but_invalid_last_line_is_dropped(tmp_path):
    # killed between writing the bytes and the newline of a torn multi-byte write
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": 1}\n{"id": \n')
    log = JsonlLog(path)
    assert len(log) == 1 and path.read_text() == '{"id": 1}\n'


def test_manifest_key_follows_config_and_inputs(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("a\n")
    run = RunDir(tmp_path / "run")
    run.start("train", {"lr": 1e-4}, {"data": data})
    assert not run.is_complete({"lr": 1e-4}, {"data": data})
    run.finish({"loss": 1.5})
    manifest = run.manifest
    assert manifest["complete"] and manifest["result"] == {"loss": 1.5}
    assert manifest["inputs"]["data"]["sha256"] == "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"
    assert "python" in manifest["versions"] and "bioharness" in manifest["versions"]
    assert run.is_complete({"lr": 1e-4}, {"data": data})
    assert not run.is_complete({"lr": 2e-4}, {"data": data})
    data.write_text("b\n")
    assert not run.is_complete({"lr": 1e-4}, {"data": data})


# --- outputs recorded, checked before a skip, repaired (issue 22) ------------------------------

from bioharness.outputs import LINE_DIGEST, record_outputs, verify_run  # noqa: E402


def toy_stage(calls):
    """A well-behaved resumable stage: a JSON-lines log appended record by record (a record
    already there is not computed again), a summary, a note, a folder of weights and a board
    beside its folder; each written only when absent, as a stage resuming does."""
    from bioharness.stages import Stage
    from bioharness.store import atomic_write_text

    def work(run_dir, on_record):
        with JsonlLog(run_dir / "log.jsonl") as log:
            for i in range(6):
                if i not in log:
                    calls.append(i)
                    log.append({"id": i, "value": i * i, "text": "é" * i})
            total = sum(r["value"] for r in log.records)
        for path, text in ((run_dir / "summary.json", json.dumps({"n": 6, "sum": total}) + "\n"),
                           (run_dir / "notes.txt", "six squares\n"),
                           (run_dir / "weights" / "a.bin", "A" * 100),
                           (run_dir / "weights" / "b.bin", "B" * 50),
                           (run_dir.parent / "board.json", json.dumps({"best": 25}) + "\n")):
            if not path.exists():
                atomic_write_text(path, text)
        return {"outputs": {"board": str(run_dir.parent / "board.json")}}

    return Stage("eval", "toy", "toy", "1", {}, work, {},
                 {"log": "log.jsonl", "summary": "summary.json", "notes": "notes.txt", "weights": "weights"})


def snapshot(root):
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "stage.json"}


def cut_mid_line(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edit_line(path, number, edit):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[number - 1] = edit(lines[number - 1])
    path.write_text("".join(lines), encoding="utf-8")


DAMAGES = {  # name: (what is done to the folder, the line said, records computed again)
    "log cut mid-line": (lambda s: cut_mid_line(s / "log.jsonl"),
                         "s/log.jsonl is cut short (118 of 236 bytes; 3 of 6 lines intact, then a torn line); "
                         "resuming after its last intact line (3)", [3, 4, 5]),
    "log line edited, still valid": (lambda s: edit_line(s / "log.jsonl", 3, lambda t: t.replace('"value": 4',
                                                                                                 '"value": 5')),
                                     "s/log.jsonl was edited at line 3 (lines 1-2 intact; still valid JSON); "
                                     "resuming after its last intact line (2)", [2, 3, 4, 5]),
    "log line garbled": (lambda s: edit_line(s / "log.jsonl", 5, lambda t: "garbage{\n"),
                         "s/log.jsonl is damaged at line 5: not valid JSON (lines 1-4 intact); resuming after its "
                         "last intact line (4)", [4, 5]),
    "log with lines appended": (lambda s: (s / "log.jsonl").open("a").write('{"id": 9}\n'),
                                "s/log.jsonl has 10 bytes more than were written (246 of 236); resuming after its "
                                "last intact line (6)", []),
    "json that does not parse": (lambda s: (s / "summary.json").write_text("garbage{"),
                                 "s/summary.json does not parse (invalid JSON at line 1: Expecting value); "
                                 "recomputing it", []),
    "json edited, still valid": (lambda s: (s / "summary.json").write_text('{"n": 6, "sum": 56}\n'),
                                 "s/summary.json was changed since it was written (same size; sha256 differs; "
                                 "still valid JSON); recomputing it", []),
    "output deleted": (lambda s: (s / "notes.txt").unlink(), "s/notes.txt is missing; recomputing it", []),
    "file of an output folder changed": (lambda s: (s / "weights" / "a.bin").write_text("A" * 99),
                                         "s/weights/a.bin was changed since it was written (99 bytes, 100 written; "
                                         "sha256 differs); recomputing weights/", []),
    "output beside the stage folder deleted": (lambda s: (s.parent / "board.json").unlink(),
                                               "board.json is missing; recomputing it", []),
}


@pytest.mark.parametrize("case", DAMAGES)
def test_a_damaged_output_is_named_in_one_line_and_repaired_by_running_the_stage_again(tmp_path, monkeypatch, case):
    from bioharness.manager import load_plugins
    from bioharness.stages import run_stage

    monkeypatch.chdir(tmp_path)  # paths as the user typed them: relative
    hooks = load_plugins(env={}).hooks
    calls, said = [], []
    run_stage(hooks, toy_stage(calls), "s", say=said.append)
    assert calls == list(range(6)) and said == []
    (tmp_path / "unrelated.txt").write_text("not an output")
    before = snapshot(tmp_path)
    damage, line, recomputed = DAMAGES[case]
    damage(tmp_path / "s")
    calls.clear()
    run_stage(hooks, toy_stage(calls), "s", say=said.append)
    assert said == [f"toy: {line}"]
    assert calls == recomputed  # a log resumes from its last intact line
    after = snapshot(tmp_path)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}  # all as it was
    damaged = Path(line.split()[0])
    output = damaged.parent if damaged.parent.name == "weights" else damaged  # a folder is written anew whole
    rewritten = {k for k in after if after[k][1] != before[k][1]}
    assert rewritten <= {k for k in after if Path(k) == output or output in Path(k).parents}  # nothing else
    said.clear()
    run_stage(hooks, toy_stage(calls), "s", say=said.append)
    assert said == ["toy: up to date"]


def test_the_manifest_records_each_output_and_a_log_line_by_line(tmp_path):
    from bioharness.manager import load_plugins
    from bioharness.stages import run_stage

    run_stage(load_plugins(env={}).hooks, toy_stage([]), tmp_path / "s", say=lambda _: None)
    recorded = json.loads((tmp_path / "s" / "stage.json").read_text())["outputs"]
    assert list(recorded) == ["../board.json", "log.jsonl", "notes.txt", "summary.json", "weights"]
    log = recorded["log.jsonl"]
    assert log["size"] == (tmp_path / "s" / "log.jsonl").stat().st_size and len(log["sha256"]) == 64
    assert len(log["lines"]) == 6 * LINE_DIGEST
    assert recorded["weights"] == {"files": {"a.bin": {"size": 100, "sha256": sha("A" * 100)},
                                             "b.bin": {"size": 50, "sha256": sha("B" * 50)}}}
    # an output outside the stage folder's parent (a package's seed file) is not the stage's to keep
    outside = tmp_path.parent / f"{tmp_path.name}-seeds.jsonl"
    outside.write_text("{}\n")
    try:
        assert record_outputs(tmp_path / "s", {"seeds": outside, "log": tmp_path / "s" / "log.jsonl"}) == {
            "log.jsonl": log}
    finally:
        outside.unlink()


def sha(text):
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_verify_names_every_damaged_file_and_changes_nothing(tmp_path):
    from bioharness.manager import load_plugins
    from bioharness.stages import MANIFEST, run_stage

    hooks = load_plugins(env={}).hooks
    for name in ("a", "b", "c"):
        run_stage(hooks, toy_stage([]), tmp_path / "run" / name, say=lambda _: None)
    (tmp_path / "run" / "superseded" / "old").mkdir(parents=True)  # archived results are not checked
    (tmp_path / "run" / "superseded" / "old" / MANIFEST).write_text("{")
    cut_mid_line(tmp_path / "run" / "a" / "log.jsonl")
    (tmp_path / "run" / "a" / "summary.json").write_text("garbage{")
    (tmp_path / "run" / "c" / "weights" / "b.bin").unlink()
    before = snapshot(tmp_path)
    checks = {c.folder.name: c for c in verify_run(tmp_path / "run", MANIFEST)}
    assert snapshot(tmp_path) == before
    assert {k: c.state for k, c in checks.items()} == {"a": "damaged", "b": "intact", "c": "damaged"}
    assert [d.describe() for d in checks["a"].damages] == [
        f"{tmp_path}/run/a/log.jsonl is cut short (118 of 236 bytes; 3 of 6 lines intact, then a torn line)",
        f"{tmp_path}/run/a/summary.json does not parse (invalid JSON at line 1: Expecting value)"]
    assert [d.describe() for d in checks["c"].damages] == [f"{tmp_path}/run/c/weights/b.bin is missing"]
    assert checks["b"].files == 6


def test_a_manifest_from_before_records_is_checked_for_what_can_be_checked(tmp_path):
    from bioharness.manager import load_plugins
    from bioharness.stages import MANIFEST, run_stage

    hooks = load_plugins(env={}).hooks
    calls, said = [], []
    stage_dir = tmp_path / "s"
    run_stage(hooks, toy_stage(calls), stage_dir, say=said.append)
    manifest = json.loads((stage_dir / MANIFEST).read_text())
    del manifest["outputs"]  # as written before bioharness recorded outputs
    (stage_dir / MANIFEST).write_text(json.dumps(manifest))
    before = snapshot(tmp_path)
    run_stage(hooks, toy_stage(calls), stage_dir, say=said.append)
    assert said == ["toy: up to date"] and snapshot(tmp_path) == before  # nothing rewritten, not even the manifest
    assert "outputs" not in json.loads((stage_dir / MANIFEST).read_text())
    assert [c.state for c in verify_run(tmp_path, MANIFEST)] == ["unrecorded"]
    # what can be checked without a record: a torn last line, JSON that does not parse, a missing file
    with open(stage_dir / "log.jsonl", "ab") as fh:
        fh.write(b'{"id": 6, "val')
    (stage_dir / "summary.json").write_text("garbage{")
    (tmp_path / "board.json").unlink()
    (stage_dir / "weights" / "a.bin").write_text("edited: not checkable without a record")
    calls.clear()
    run_stage(hooks, toy_stage(calls), stage_dir, say=said.append)
    assert said[1:] == [
        f"toy: {stage_dir}/log.jsonl ends in a torn line (14 bytes after line 6); resuming after its last intact "
        "line (6)",
        f"toy: {stage_dir}/summary.json does not parse (invalid JSON at line 1: Expecting value); recomputing it",
        f"toy: {tmp_path}/board.json is missing; recomputing it"]
    assert calls == [] and snapshot(tmp_path)["s/log.jsonl"][0] == before["s/log.jsonl"][0]
    assert "outputs" in json.loads((stage_dir / MANIFEST).read_text())  # recorded from now on


def test_a_file_added_to_an_output_folder_is_kept_and_the_stage_stays_up_to_date(tmp_path):
    """A note or model card a user drops into a stage's folder output (an adapter) is theirs:
    the folder is not deleted and retrained for it; its own files are still checked."""
    from bioharness.manager import load_plugins
    from bioharness.stages import run_stage

    hooks = load_plugins(env={}).hooks
    calls, said = [], []
    run_stage(hooks, toy_stage(calls), tmp_path / "s", say=said.append)
    (tmp_path / "s" / "weights" / "README.md").write_text("tuned on the qa instructions\n")
    calls.clear()
    run_stage(hooks, toy_stage(calls), tmp_path / "s", say=said.append)
    assert said == ["toy: up to date"] and calls == []
    assert (tmp_path / "s" / "weights" / "README.md").read_text() == "tuned on the qa instructions\n"
    assert [(c.state, c.damages) for c in verify_run(tmp_path)] == [("intact", [])]
    (tmp_path / "s" / "weights" / "a.bin").write_text("A" * 99)  # its own file edited: still named
    assert [str(d.path) for c in verify_run(tmp_path) for d in c.damages] == [str(tmp_path / "s" / "weights" / "a.bin")]
