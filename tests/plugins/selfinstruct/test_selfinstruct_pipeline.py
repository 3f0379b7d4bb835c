"""The generation pipeline on a scripted backend: sampling, stats, determinism, resume, import.

The real server (and kill -9 of a real process) is in test_selfinstruct_server.py; here the
backend is scripted so that every count is known exactly and a crash can be placed anywhere.
"""
import json
from collections import Counter

import pytest
from click.testing import CliRunner
from selfinstruct_fakes import ScriptedBackend

from bioharness.cli import build_cli
from bioharness.errors import DataError, UsageError
from bioharness.instructions import read_instructions
from bioharness.manager import load_plugins
from bioharness.plugins.selfinstruct.config import GenerateConfig
from bioharness.plugins.selfinstruct.filters import REJECT_REASONS
from bioharness.plugins.selfinstruct.generator import (
    INSTRUCTIONS, REQUESTS, STATS, EndpointFailing, SelfInstructGenerator, sample_examples,
)
from bioharness.plugins.selfinstruct.prompt import MALFORMED_REASONS
from bioharness.plugins.selfinstruct.seeds import DEFAULT_SEEDS, load_seeds
from bioharness.records import Instruction
from bioharness.store import JsonlLog


def generate(out, backend=None, on_record=None, **options):
    options.setdefault("model", "openai:scripted")
    backend = backend or ScriptedBackend()
    generator = SelfInstructGenerator(GenerateConfig.from_options(**options), backend=backend, progress=False)
    return generator.run(out, on_record=on_record), backend


def lines(path):
    return path.read_text().splitlines()


def records(out):
    return [json.loads(line) for line in lines(out / INSTRUCTIONS)]


def stats(out):
    return json.loads((out / STATS).read_text())


def assert_consistent(out):
    s = stats(out)
    recs = records(out)
    assert s["instructions"] == len(recs) == s["accepted"] + s["imported"]
    assert s["parsed"] == s["accepted"] + sum(s["rejected"].values())
    assert s["requested"] == s["responses"]["ok"] + s["responses"]["failed"]
    assert s["responses"]["failed"] == sum(s["responses"]["failure_reasons"].values())
    assert len({r["id"] for r in recs}) == len(recs)
    assert set(s["rejected"]) <= set(REJECT_REASONS) and set(s["malformed"]) <= set(MALFORMED_REASONS)
    for r in recs:
        Instruction.from_dict(r)
    return s


# --- sampling --------------------------------------------------------------------------


def test_same_seed_same_examples_for_each_request_index():
    seeds = load_seeds()
    first = [[s.id for s in sample_examples(seeds, 7, i)] for i in range(50)]
    assert first == [[s.id for s in sample_examples(seeds, 7, i)] for i in range(50)]
    assert first[::-1] == [[s.id for s in sample_examples(seeds, 7, i)] for i in reversed(range(50))]
    assert all(len(set(ids)) == 3 for ids in first)
    other = [[s.id for s in sample_examples(seeds, 8, i)] for i in range(50)]
    assert sum(a != b for a, b in zip(first, other)) >= 45
    assert len({tuple(ids) for ids in first}) == 50
    # over many requests every seed is shown
    assert {s for i in range(400) for s in (e.id for e in sample_examples(seeds, 0, i))} == {s.id for s in seeds}


def test_a_run_shows_the_sampled_seeds_and_sends_waves_of_concurrency(tmp_path):
    out = tmp_path / "run"
    result, backend = generate(out, n=7, concurrency=3, seed=11)
    seeds = load_seeds()
    requests = [json.loads(line) for line in lines(out / REQUESTS)]
    assert backend.waves == [[0, 1, 2], [3, 4, 5]]  # 2 accepted per request: 7 needs 4 requests, 2 waves
    assert [r["request_index"] for r in requests] == [0, 1, 2, 3, 4, 5]
    for r in requests:
        assert r["seed_ids"] == [s.id for s in sample_examples(seeds, 11, r["request_index"])]
    assert result["complete"] and result["instructions"] == 7 and result["requested"] == 6


# --- stats and records -----------------------------------------------------------------


def test_stats_and_provenance(tmp_path):
    out = tmp_path / "run"
    seen = []
    result, backend = generate(out, n=7, concurrency=3, on_record=seen.append)
    s = assert_consistent(out)
    assert backend.closed is False  # an injected backend belongs to the caller
    assert s["requested"] == 6 and s["responses"] == {"ok": 6, "failed": 0, "failure_reasons": {},
                                                      "without_candidates": 0}
    assert s["parsed"] == 24 and s["malformed"] == {"missing_output": 6}
    # request 3's first task is the 7th: its other three and all of requests 4 and 5 are surplus
    assert s["rejected"] == {"blacklisted": 3, "too_similar": 3, "target_reached": 11}
    assert s["accepted"] == 7 and s["complete"] is True and s["stopped"] == "target reached"
    assert s["tokens"]["prompt"] > 0 and s["tokens"]["completion"] > 0
    assert s["next_request_index"] == 6
    recs = records(out)
    assert seen == recs
    assert [r["id"] for r in recs] == ["si-000000-00", "si-000000-03", "si-000001-00", "si-000001-03",
                                       "si-000002-00", "si-000002-03", "si-000003-00"]
    assert [r["category"] for r in recs] == ["qa", "ie"] * 3 + ["qa"]
    p = recs[3]["provenance"]
    assert p["source"] == "selfinstruct" and p["model"] == "openai:scripted"
    assert p["request_id"] == "req-000001" and p["request_index"] == 1
    assert p["seed_ids"] == [s.id for s in sample_examples(load_seeds(), 0, 1)]
    assert 0.0 <= p["nearest_score"] <= 0.7
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["config"]["seed"] == 0
    assert result == {"target": 7, "instructions": 7, "imported": 0, "requested": 6, "accepted": 7,
                      "complete": True, "stopped": "target reached", "responses_failed": 0,
                      "outputs": {"seeds": str(DEFAULT_SEEDS.resolve())}}  # the pool it drew from: an output


def test_the_accepted_set_does_not_depend_on_concurrency(tmp_path):
    outputs = []
    for concurrency in (1, 2, 5, 8):
        out = tmp_path / f"c{concurrency}"
        generate(out, n=9, concurrency=concurrency, seed=3)
        outputs.append((out / INSTRUCTIONS).read_bytes())
        assert stats(out)["accepted"] == 9
    assert len(set(outputs)) == 1


def test_a_finished_run_is_not_run_again_and_a_larger_n_continues_it(tmp_path):
    out = tmp_path / "run"
    generate(out, n=4, concurrency=2)
    before = (out / INSTRUCTIONS).read_bytes()
    _, backend = generate(out, n=4, concurrency=2)
    assert backend.waves == [] and (out / INSTRUCTIONS).read_bytes() == before
    _, backend = generate(out, n=9, concurrency=2)
    assert backend.waves == [[2, 3], [4, 5]]  # continues the request sequence
    assert (out / INSTRUCTIONS).read_bytes().startswith(before)
    assert assert_consistent(out)["instructions"] == 9


def test_changing_what_is_generated_is_refused_on_resume(tmp_path):
    out = tmp_path / "run"
    generate(out, n=3, concurrency=2, seed=1)
    with pytest.raises(UsageError, match="seed 1 -> 2"):
        generate(out, n=5, seed=2)
    with pytest.raises(UsageError, match="threshold"):
        generate(out, n=5, seed=1, threshold=0.5)
    generate(out, n=5, seed=1, concurrency=4, max_requests=10)  # operational settings may change
    assert assert_consistent(out)["instructions"] == 5


# --- failures --------------------------------------------------------------------------


def test_failed_requests_are_counted_and_the_run_still_reaches_n(tmp_path):
    out = tmp_path / "run"
    result, _ = generate(out, n=8, concurrency=4, backend=ScriptedBackend(fail=lambda i: i % 3 == 1))
    s = assert_consistent(out)
    assert s["responses"]["failed"] == 3 and s["responses"]["failure_reasons"] == {"HTTP 503": 3}
    assert s["requested"] == 8 and s["accepted"] == 8 and result["complete"]
    failed = [json.loads(line) for line in lines(out / REQUESTS) if json.loads(line)["status"] != "ok"]
    assert [(f["request_index"], f["error"]) for f in failed] == [(i, "HTTP 503: service unavailable")
                                                                  for i in (1, 4, 7)]
    assert {r["provenance"]["request_index"] for r in records(out)} == {0, 2, 3, 5}


def test_an_endpoint_that_always_fails_stops_the_run_honestly(tmp_path):
    out = tmp_path / "run"
    backend = ScriptedBackend(fail=lambda i: True)
    with pytest.raises(EndpointFailing, match=r"stopped at 0/5 instructions: every request failed in 3 waves in a "
                                              r"row \(last error: HTTP 503: service unavailable\)") as raised:
        generate(out, n=5, concurrency=2, backend=backend)
    assert len(backend.waves) == 3
    result = raised.value.result
    assert result["complete"] is False and result["instructions"] == 0 and result["responses_failed"] == 6
    s = assert_consistent(out)
    assert s["complete"] is False and s["responses"]["failure_reasons"] == {"HTTP 503": 6}
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    # when the endpoint is back, the same command continues
    result, backend = generate(out, n=5, concurrency=2)
    assert backend.waves == [[6, 7], [8, 9]] and result["complete"]


def test_max_requests_stops_and_says_so(tmp_path):
    out = tmp_path / "run"
    result, backend = generate(out, n=50, concurrency=4, max_requests=6)
    assert backend.waves == [[0, 1, 2, 3], [4, 5]]
    assert result["complete"] is False and result["stopped"] == "max_requests (6) reached"
    assert assert_consistent(out)["instructions"] == 12


# --- crashes ---------------------------------------------------------------------------


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even except clauses for Exception."""


def crash_on_extend(monkeypatch, call, torn):
    """Make the ``call``-th JsonlLog.extend die: before writing, or after writing half a line."""
    original = JsonlLog.extend
    counter = {"n": 0}

    def extend(self, recs):
        recs = list(recs)
        counter["n"] += 1
        if counter["n"] == call:
            if torn and recs:
                data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode()
                self._fh.write(data[: len(data) // 2 + 1])
                self._fh.flush()
            raise Killed()
        return original(self, recs)

    monkeypatch.setattr(JsonlLog, "extend", extend)
    return lambda: monkeypatch.setattr(JsonlLog, "extend", original)


@pytest.mark.parametrize("call", range(1, 7))  # 3 waves of 2 requests, 2 appends each
@pytest.mark.parametrize("torn", [False, True])
def test_a_crash_anywhere_resumes_to_the_same_file(tmp_path, monkeypatch, call, torn):
    reference = tmp_path / "reference"
    generate(reference, n=10, concurrency=2)
    out = tmp_path / "run"
    restore = crash_on_extend(monkeypatch, call, torn)
    with pytest.raises(Killed):
        generate(out, n=10, concurrency=2)
    restore()
    before = [line for line in lines(out / INSTRUCTIONS) if line.endswith("}")] if (out / INSTRUCTIONS).exists() \
        else []
    complete_before = (out / INSTRUCTIONS).read_bytes().rsplit(b"\n", 1)[0] if before else b""
    generate(out, n=10, concurrency=2)
    after = (out / INSTRUCTIONS).read_bytes()
    assert after == (reference / INSTRUCTIONS).read_bytes()  # nothing lost, nothing twice, same order
    assert after.startswith(complete_before)
    # the same answer to the same request gave the same outcome; only how many surplus requests
    # the last wave sent may differ (waves after a resume start at the first uncommitted request)
    ref_requests = {json.loads(x)["request_index"]: json.loads(x) for x in lines(reference / REQUESTS)}
    run_requests = {json.loads(x)["request_index"]: json.loads(x) for x in lines(out / REQUESTS)}
    assert sorted(run_requests) == list(range(len(run_requests)))
    for index in set(ref_requests) & set(run_requests):
        assert run_requests[index] == ref_requests[index]
    assert assert_consistent(out)["accepted"] == 10


def test_a_corrupt_line_in_the_middle_is_an_error_not_a_silent_loss(tmp_path):
    out = tmp_path / "run"
    generate(out, n=4, concurrency=2)
    text = lines(out / INSTRUCTIONS)
    text[1] = text[1][:20]
    (out / INSTRUCTIONS).write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"instructions.jsonl:2: corrupt JSON line in the middle"):
        generate(out, n=6, concurrency=2)


# --- import ----------------------------------------------------------------------------


def write_bioinstruct_json(path, items):
    path.write_text(json.dumps([{"instruction": i, "input": inp, "output": o} for i, inp, o in items], indent=1))
    return path


BIOINSTRUCT = [
    ("Explain what HbA1c measures in a patient with diabetes.", "", "Average blood glucose over about 3 months."),
    ("Explain what HbA1c measures in patients with diabetes.", "", "Average glucose over 3 months."),
    ("List the symptoms of hypoglycemia.", "", "Sweating, tremor, confusion."),
    # a copy of seed-002 (too similar to the pool when deduplicating)
    ("Extract all disease and disorder mentions from the abstract. List each distinct one once, in order of first "
     "appearance, separated by commas.", "Patients with asthma.", "asthma"),
]


def test_import_writes_the_set_with_categories_and_provenance(tmp_path):
    source = write_bioinstruct_json(tmp_path / "bioinstruct.json", BIOINSTRUCT)
    out = tmp_path / "run"
    seen = []
    result, backend = generate(out, import_path=source, on_record=seen.append)
    assert backend.waves == [] and result["complete"] and result["imported"] == 4
    recs = read_instructions(out / INSTRUCTIONS)
    assert [(r.instruction, r.input, r.output) for r in recs] == BIOINSTRUCT
    assert {r.category for r in recs} == {"other"}
    assert recs[0].id == "bioinstruct-00001"
    assert recs[0].provenance["imported_from"] == str(source) and recs[0].provenance["source"] == "import"
    assert seen == records(out)
    s = assert_consistent(out)
    assert s["imported"] == 4 and s["accepted"] == 0 and s["requested"] == 0
    assert json.loads((out / "import.json").read_text())["written"] == 4
    # the same import again is a no-op; another one into a full run is refused
    generate(out, import_path=source)
    assert len(records(out)) == 4
    other = write_bioinstruct_json(tmp_path / "other.json", BIOINSTRUCT[:1])
    with pytest.raises(UsageError, match="already holds 4 instructions"):
        generate(out, import_path=other)


def test_import_with_dedup_drops_near_duplicates_and_keeps_categories(tmp_path):
    source = tmp_path / "mine.jsonl"
    source.write_text("".join(json.dumps({"instruction": i, "input": inp, "output": o, "category": c}) + "\n"
                              for (i, inp, o), c in zip(BIOINSTRUCT, ["QA", "qa", "gen", "ie"])))
    out = tmp_path / "run"
    result, _ = generate(out, import_path=source, dedup=True)
    assert [r["instruction"] for r in records(out)] == [BIOINSTRUCT[0][0], BIOINSTRUCT[2][0]]
    assert [r["category"] for r in records(out)] == ["qa", "gen"]
    assert json.loads((out / "import.json").read_text())["rejected"] == {"too_similar": 2}
    assert result["imported"] == 2


def test_import_then_generate_the_rest(tmp_path):
    source = write_bioinstruct_json(tmp_path / "bioinstruct.json", BIOINSTRUCT[:3])
    out = tmp_path / "run"
    result, backend = generate(out, import_path=source, n=7, concurrency=2)
    assert result["complete"] and backend.waves == [[0, 1]]
    s = assert_consistent(out)
    assert s["imported"] == 3 and s["accepted"] == 4 and s["instructions"] == 7
    assert [r["id"] for r in records(out)][:3] == ["bioinstruct-00001", "bioinstruct-00002", "bioinstruct-00003"]


def test_import_of_a_malformed_file_names_the_line(tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"instruction": "a", "input": "", "output": "b"}\n{"instruction": "a"}\n')
    with pytest.raises(DataError, match="bad.jsonl:2: missing field"):
        generate(tmp_path / "run", import_path=source)


# --- configuration and the command line ------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({}, "--n: give the number"),
    ({"n": 0}, "--n: must be at least 1"),
    ({"n": 5, "model": "hf:x+"}, "must be followed by an adapter directory"),  # any spec, but a valid one
    ({"n": 5, "default_category": "misc"}, "--default-category"),
    ({"n": 5, "seeds": "/nonexistent/seeds.jsonl"}, "--seeds: no such file"),
    ({"n": 5, "min_words": 9, "max_words": 3}, "--min-words"),
])
def test_bad_settings_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message):
        GenerateConfig.from_options(**options)


def test_model_args_are_parsed_for_the_backend():
    config = GenerateConfig.from_options(n=1, model_args="timeout=5,max_retries=2,organization=x")
    assert dict(config.model_args) == {"timeout": 5, "max_retries": 2, "organization": "x"}


def test_generate_command_is_registered_with_its_options(tmp_path):
    manager = load_plugins(env={})
    registration = manager.hooks.generators.get("selfinstruct")
    assert registration.plugin == "bioharness.plugins.selfinstruct"
    names = {opt.name for opt in registration.options}
    assert {"n", "model", "base_url", "concurrency", "seeds", "seed", "import_path", "dedup", "temperature",
            "max_tokens", "per_request", "threshold", "max_requests"} <= names
    runner = CliRunner()
    help_text = runner.invoke(build_cli(manager), ["generate", "--help"], obj=manager).output
    for flag in ("--n", "--model", "--base-url", "--concurrency", "--seeds", "--import", "--dedup", "--out"):
        assert flag in help_text
    source = write_bioinstruct_json(tmp_path / "bioinstruct.json", BIOINSTRUCT)
    result = runner.invoke(build_cli(manager), ["generate", "--import", str(source), "--out", str(tmp_path / "run")],
                           obj=manager, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(records(tmp_path / "run")) == 4
    bad = runner.invoke(build_cli(manager), ["generate", "--out", str(tmp_path / "x")], obj=manager)
    assert isinstance(bad.exception, UsageError) and "--n" in str(bad.exception)


def test_loading_the_plugin_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, bioharness.plugins.selfinstruct\n"
            "print(','.join(m for m in ('numpy', 'rouge_score', 'openai', 'rich', 'torch') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""


def test_rejected_and_malformed_counts_add_up_over_requests(tmp_path):
    out = tmp_path / "run"
    generate(out, n=12, concurrency=3)
    per_request = [json.loads(line) for line in lines(out / REQUESTS)]
    total = Counter()
    for line in per_request:
        assert line["parsed"] == len(line["accepted"]) + sum(line["rejected"].values())
        total.update(line["rejected"])
    assert dict(sorted(total.items())) == stats(out)["rejected"]


def test_an_instruction_file_cut_back_into_its_import_is_restored_as_it_was(tmp_path):
    """The stage runner cuts a damaged instructions.jsonl back to its intact lines (issue 22):
    imported instructions lost that way are imported again, generated ones come back from
    their commit records, and the file is the one written before, byte for byte."""
    source = write_bioinstruct_json(tmp_path / "bioinstruct.json", BIOINSTRUCT[:3])
    out = tmp_path / "run"
    generate(out, import_path=source, n=7, concurrency=2)
    before = (out / INSTRUCTIONS).read_bytes()
    cut = before[: before.index(b"\n", before.index(b"\n") + 1) + 1]  # two imported lines of three are left
    (out / INSTRUCTIONS).write_bytes(cut)
    result, backend = generate(out, import_path=source, n=7, concurrency=2)
    assert backend.waves == [] and result["complete"]
    assert (out / INSTRUCTIONS).read_bytes() == before
    assert_consistent(out)
