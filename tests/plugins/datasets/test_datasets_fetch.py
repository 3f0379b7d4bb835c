"""`bioharness data` and fetching on first use, against a real HTTP server on loopback that serves
../shared/data under the manifests' URL paths (tests/dataserver.py): fetch, verify, resume after a
cut, refuse a changed byte, a 404, a restricted licence; --no-fetch; a third-party manifest; and a
whole `bioharness run` from the mirror equal to one from the data directory."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bioharness.manager import load_plugins
from bioharness.plugins.datasets.manifest import DataCatalog, load_manifest
from dataserver import DataServer, build_tree

REPO = Path(__file__).resolve().parents[3]
PUBMEDQA = "/pubmedqa/pubmedqa/1cbae8e92f72f20c8d3747cbb3bf5bc53554d997/data/ori_pqal.json"


@pytest.fixture(scope="module")
def catalog():
    return DataCatalog(load_plugins(env={}).hooks)


@pytest.fixture(scope="module")
def served(tmp_path_factory, catalog, data_dir):
    """Every built-in dataset laid out under its source URLs' paths."""
    return build_tree(catalog.datasets.values(), data_dir, tmp_path_factory.mktemp("mirror"))


@pytest.fixture
def cache(tmp_path, embedded_dir):
    """An empty cache (the embedded model linked in, so that nothing converts it again)."""
    root = tmp_path / "cache"
    (root / "models").mkdir(parents=True)
    (root / "models" / embedded_dir.name).symlink_to(embedded_dir)
    return root


def cli(*args, cache, mirror=None, data=None, timeout=600, **env):
    """`bioharness ARGS` in a fresh process: no data directory unless ``data``, fetching allowed."""
    environ = {k: v for k, v in os.environ.items() if k not in ("BIOHARNESS_DATA", "BIOHARNESS_DATA_MIRROR")}
    environ.update(BIOHARNESS_CACHE=str(cache), BIOHARNESS_OFFLINE="0", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    environ.update(**({"BIOHARNESS_DATA_MIRROR": mirror} if mirror else {}), **({"BIOHARNESS_DATA": str(data)} if data else {}),
                   **env)
    return subprocess.run([sys.executable, "-m", "bioharness.cli", *map(str, args)], capture_output=True, text=True,
                          env=environ, timeout=timeout)


def one_error_line(result):
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_fetch_all_then_verify_then_every_task_is_found_and_evaluated_from_the_cache(served, cache, catalog,
                                                                                     tiny_llama_dir, data_dir):
    with DataServer(served) as server:
        result = cli("data", "fetch", "all", "--accept-licence", "ddi2013", "--mirror", server.url, cache=cache)
    assert result.returncode == 0, result.stderr
    files = sum(len(d.files) for d in catalog.datasets.values())
    assert f"{files} files fetched and verified; {len(catalog.datasets)} datasets" in result.stdout
    assert not list((cache / "downloads").rglob("*.part")) and not list((cache / "downloads").rglob("*.zip*"))
    verified = cli("data", "verify", cache / "data", "--json", cache=cache)
    assert verified.returncode == 0, verified.stdout
    report = json.loads(verified.stdout)
    assert report["absent"] == [] and report["checked"] == {name: [] for name in catalog.datasets}

    tasks = json.loads(cli("tasks", "--json", cache=cache).stdout)
    assert len(tasks) == 24 and {t["data"] for t in tasks} == {"cache"}, [t for t in tasks if t["data"] != "cache"]

    # an evaluation reads the cache as it reads a data directory: same examples, same data hash
    args = ("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "pubmedqa,ddi2013", "--limit", "3", "--sample", "first",
            "--bootstrap", "100")
    cached = cli(*args, "--out", cache.parent / "from-cache", "--no-fetch", cache=cache)
    given = cli(*args, "--out", cache.parent / "from-data-dir", cache=cache, data=data_dir)
    assert cached.returncode == 0 and given.returncode == 0, cached.stderr + given.stderr
    for task in ("pubmedqa", "ddi2013"):
        a, b = (_metrics(cache.parent / out, task) for out in ("from-cache", "from-data-dir"))
        assert a["setting"]["data_hash"] == b["setting"]["data_hash"] and a["metrics"] == b["metrics"]
        assert _sources(cache.parent / "from-cache", task) == _sources(cache.parent / "from-data-dir", task)


def _metrics(out, task):
    (path,) = out.glob(f"eval/*/{task}/metrics.json")
    return json.loads(path.read_text())


def _sources(out, task):
    (path,) = out.glob(f"eval/*/{task}/samples.jsonl")
    return [json.loads(line)["example_meta"]["source"] for line in path.read_text().splitlines()]


def test_a_cut_download_is_kept_and_the_next_command_resumes_it_with_a_range_request(served, cache):
    with DataServer(served) as server:
        server.faults[PUBMEDQA] = ["cut"] * 3  # every attempt of the first command
        first = cli("data", "fetch", "pubmedqa", "--mirror", server.url, cache=cache)
        assert first.returncode == 1, first.stderr
        line = one_error_line(first)
        assert PUBMEDQA in line and "run the same command again to resume" in line
        part = cache / "downloads" / "pubmedqa" / "ori_pqal.json.part"
        kept = part.stat().st_size
        assert 0 < kept < 2584787 and not (cache / "data" / "pubmedqa" / "ori_pqal.json").exists()
        ranges = [r for p, r in server.log if p == PUBMEDQA]
        assert ranges[0] is None and ranges[1] and ranges[2]  # each retry continued from what it had

        server.log.clear()
        second = cli("data", "fetch", "pubmedqa", "--mirror", server.url, cache=cache)
    assert second.returncode == 0, second.stderr
    assert [r for p, r in server.log if p == PUBMEDQA] == [f"bytes={kept}-"]
    assert not part.exists()
    assert cli("data", "verify", cache / "data", cache=cache).stdout.startswith("pubmedqa: ok")


def test_a_server_without_ranges_sends_the_whole_file_again(served, cache):
    with DataServer(served, ranges=False) as server:
        server.faults[PUBMEDQA] = ["cut"]
        result = cli("data", "fetch", "pubmedqa", "--mirror", server.url, cache=cache)
    assert result.returncode == 0, result.stderr
    assert cli("data", "verify", cache / "data", cache=cache).returncode == 0


def test_a_changed_byte_is_refused_in_one_line_and_nothing_is_kept(served, cache, catalog):
    with DataServer(served) as server:
        server.faults[PUBMEDQA] = ["flip"]
        result = cli("data", "fetch", "pubmedqa", "--mirror", server.url, cache=cache)
    assert result.returncode == 2
    line = one_error_line(result)
    expected = next(f.sha256 for f in catalog.datasets["pubmedqa"].files if f.path == "pubmedqa/ori_pqal.json")
    assert f"{server.url}{PUBMEDQA}: checksum mismatch: expected sha256 {expected}" in line
    received = line.split("received ")[1].split()[0]
    assert len(received) == 64 and received != expected and "nothing kept" in line
    assert not (cache / "data" / "pubmedqa" / "ori_pqal.json").exists()
    assert not list((cache / "downloads").rglob("*.part"))


def test_a_404_is_one_line_naming_the_url(served, cache):
    with DataServer(served) as server:
        server.faults[PUBMEDQA] = ["404"]
        result = cli("data", "fetch", "pubmedqa", "--mirror", server.url, cache=cache)
    assert result.returncode == 2
    assert one_error_line(result) == f"Error: {server.url}{PUBMEDQA}: HTTP 404 Not Found; nothing kept"


def test_no_fetch_with_nothing_cached_is_one_line_naming_every_place_searched(cache, tiny_llama_dir, tmp_path):
    result = cli("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "pubmedqa", "--limit", "2", "--out",
                 tmp_path / "out", "--no-fetch", cache=cache)
    assert result.returncode == 2
    line = one_error_line(result)
    assert line == (f"Error: task pubmedqa: data not found: looked for pubmedqa/ori_pqal.json, "
                    f"pubmedqa/test_ground_truth.json in the cache {cache / 'data'}, the task's folder {REPO / 'tasks'} "
                    "(no data directory given: set --data-dir or BIOHARNESS_DATA); not fetched (--no-fetch): "
                    "`bioharness data fetch pubmedqa` fetches it")
    offline = cli("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "pubmedqa", "--out", tmp_path / "out",
                  cache=cache, BIOHARNESS_OFFLINE="1")
    assert offline.returncode == 2 and "not fetched (BIOHARNESS_OFFLINE is set)" in one_error_line(offline)


def test_a_restricted_licence_is_fetched_only_when_accepted(served, cache, tiny_llama_dir, tmp_path):
    with DataServer(served) as server:
        refused = cli("data", "fetch", "ddi2013", "--mirror", server.url, cache=cache)
        assert refused.returncode == 2
        assert one_error_line(refused) == ("Error: dataset ddi2013 is licensed CC-BY-NC-4.0: non-commercial use only "
                                           "(CC BY-NC 4.0); fetch it only if your use complies, with --accept-licence "
                                           "ddi2013")
        refused_eval = cli("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "ddi2013", "--limit", "2", "--out",
                           tmp_path / "out", cache=cache, mirror=server.url)
        assert refused_eval.returncode == 2
        assert "--accept-licence ddi2013" in one_error_line(refused_eval)
        assert not server.log and not (cache / "data").exists()  # nothing was asked for
        accepted = cli("data", "fetch", "ddi2013", "--accept-licence", "CC-BY-NC-4.0", "--mirror", server.url, cache=cache)
    assert accepted.returncode == 0, accepted.stderr
    assert "differs from the archive the manifest records; its members are checked one by one" in accepted.stderr
    folder = cache / "data" / "ddi2013" / "Test_DDI_Extraction"
    assert len(list(folder.rglob("*.xml"))) == 191
    # a folder with files missing (an extraction killed midway) is not found: it is completed
    for path in sorted(folder.rglob("*.xml"))[:3]:
        path.unlink()
    status = {t["name"]: t["data"] for t in json.loads(cli("tasks", "--json", cache=cache).stdout)}
    assert status["ddi2013"] == "missing (bioharness data fetch ddi2013)"
    with DataServer(served) as server:
        again = cli("data", "fetch", "ddi2013", "--accept-licence", "ddi2013", "--mirror", server.url, cache=cache)
    assert again.returncode == 0 and "data: fetching ddi2013 (3 files," in again.stderr
    assert len(list(folder.rglob("*.xml"))) == 191


def test_eval_fetches_on_first_use_and_says_so(served, cache, tiny_llama_dir, tmp_path):
    with DataServer(served) as server:
        result = cli("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "pubmedqa", "--limit", "2", "--out",
                     tmp_path / "out", "--bootstrap", "100", cache=cache, mirror=server.url)
        assert result.returncode == 0, result.stderr
        assert f"data: fetching pubmedqa (3 files, 2.6 MB) from 127.0.0.1:{server.url.rsplit(':', 1)[1]} into " \
               f"{cache / 'data'} (first use)" in result.stderr
        server.log.clear()
        again = cli("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "pubmedqa", "--limit", "2", "--out",
                    tmp_path / "out", "--bootstrap", "100", cache=cache, mirror=server.url)
    assert again.returncode == 0 and "data: fetching" not in again.stderr and not server.log


def test_verify_names_every_missing_truncated_and_edited_file(served, cache):
    with DataServer(served) as server:
        assert cli("data", "fetch", "mmlu_medical", "--mirror", server.url, cache=cache).returncode == 0
    root = cache / "data" / "mmlu_medical"
    (root / "anatomy_test.csv").unlink()
    body = (root / "college_biology_test.csv").read_bytes()
    (root / "college_biology_test.csv").write_bytes(body[:100])
    edited = bytearray((root / "medical_genetics_test.csv").read_bytes())
    edited[10] ^= 1
    (root / "medical_genetics_test.csv").write_bytes(bytes(edited))
    result = cli("data", "verify", cache / "data", cache=cache)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "mmlu_medical: 3 of 7 files damaged"
    assert f"  {root / 'anatomy_test.csv'}: missing" in lines
    assert f"  {root / 'college_biology_test.csv'}: truncated (100 of {len(body)} bytes)" in lines
    assert any(x.startswith(f"  {root / 'medical_genetics_test.csv'}: edited (") for x in lines)
    assert lines[-1].startswith(f"not in {cache / 'data'}: ")


def test_shared_data_verifies_against_the_manifests(data_dir, catalog):
    result = subprocess.run([sys.executable, "-m", "bioharness.cli", "data", "verify", str(data_dir)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [f"{name}: ok" for name in catalog.datasets]


THIRD_PARTY = """\
dataset: notes_mini
title: three made-up clinical questions
licence: CC0-1.0
citation: written for this test
sources: [https://example.org/notes]
files:
  - path: notes_mini/test.jsonl
    url: https://example.org/notes/v1/test.jsonl
    bytes: {size}
    sha256: {sha256}
"""
TASK = """\
name: notes_mini
version: 1
category: qa
kind: mcqa
data:
  reader: jsonl
  split: test
  files: [notes_mini/test.jsonl]
prompt:
  template: "{question}\\n{options_text}\\nAnswer:"
metrics: [accuracy]
"""


def test_a_third_party_manifest_is_fetched_and_verified_like_a_built_in_one(tmp_path, cache, tiny_llama_dir):
    import hashlib

    rows = [{"id": f"q{i}", "question": f"Which organ is affected in case {i}?", "options": ["heart", "liver"],
             "answer": "AB"[i % 2]} for i in range(3)]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    plugin = tmp_path / "notes_plugin"
    (plugin / "tasks" / "datasets").mkdir(parents=True)
    (plugin / "__init__.py").write_text("from pathlib import Path\nfrom bioharness import hookimpl\n\n\n@hookimpl\n"
                                        "def task_dirs():\n    return [Path(__file__).parent / 'tasks']\n")
    (plugin / "tasks" / "notes_mini.yaml").write_text(TASK)
    (plugin / "tasks" / "datasets" / "notes_mini.yaml").write_text(
        THIRD_PARTY.format(size=len(body), sha256=hashlib.sha256(body).hexdigest()))
    served = tmp_path / "served" / "notes" / "v1"
    served.mkdir(parents=True)
    (served / "test.jsonl").write_bytes(body)
    with DataServer(tmp_path / "served") as server:
        listed = cli("data", "list", "--json", "--plugins", plugin, cache=cache)
        row = next(r for r in json.loads(listed.stdout) if r["dataset"] == "notes_mini")
        assert row["url"] == "https://example.org/notes/v1/test.jsonl" and row["tasks"] == ["notes_mini"]
        result = cli("eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "notes_mini", "--out", tmp_path / "out",
                     "--bootstrap", "100", "--plugins", plugin, cache=cache, mirror=server.url)
    assert result.returncode == 0, result.stderr
    assert (cache / "data" / "notes_mini" / "test.jsonl").read_bytes() == body
    assert _metrics(tmp_path / "out", "notes_mini")["n"] == 3


def test_a_manifest_mistake_is_one_line_naming_the_key(tmp_path):
    from bioharness import DataError

    path = tmp_path / "bad.yaml"
    path.write_text(THIRD_PARTY.format(size=3, sha256="abc"))
    with pytest.raises(DataError, match=r"bad.yaml:files\[0\].sha256: expected a sha256"):
        load_manifest(path)
    path.write_text(THIRD_PARTY.format(size=3, sha256="a" * 64).replace("    url:", "    link:"))
    with pytest.raises(DataError, match=r"bad.yaml:files\[0\].link: unknown key"):
        load_manifest(path)


def test_run_from_the_mirror_equals_run_from_the_data_directory(served, cache, tiny_llama_dir, data_dir, tmp_path):
    from test_run import tiny_config

    config = yaml.safe_load(tiny_config(tmp_path, tiny_llama_dir).read_text())
    boards = {}
    with DataServer(served) as server:
        for name, data in (("mirror", None), ("data-dir", data_dir)):
            path = tmp_path / f"{name}.yaml"
            path.write_text(yaml.safe_dump({**config, "out": str(tmp_path / name)}))
            result = cli("run", path, cache=cache, mirror=server.url, data=data)
            assert result.returncode == 0, result.stderr
            assert ("data: fetching" in result.stderr) == (data is None)
            boards[name] = json.loads((tmp_path / name / "leaderboard.json").read_text())
    a, b = boards["mirror"], boards["data-dir"]
    assert len(a["models"]) == len(b["models"]) == 2
    assert sorted(a["tasks"]) == sorted(b["tasks"]) == sorted(config["tasks"].split(","))
    for task in a["tasks"]:
        for model_a, model_b in zip(a["models"], b["models"]):
            sa, sb = a["tasks"][task]["scores"][model_a], b["tasks"][task]["scores"][model_b]
            assert sa["setting"]["data_hash"] == sb["setting"]["data_hash"]
            assert (sa["value"], sa["ci95"], sa["n"]) == (sb["value"], sb["ci95"], sb["n"])
