"""Decontamination: 13-gram overlap between instructions and the tasks' test/dev data."""
import json
import random

import pytest

from bioharness.plugins.decontam.overlap import decontaminate, task_texts
from bioharness.cli import main
from bioharness.plugins.decontam.overlap import NgramIndex, normalize
from bioharness.instructions import read_instructions, write_instructions
from bioharness.manager import load_plugins
from bioharness.plugins.selfinstruct.seeds import DEFAULT_SEEDS
from bioharness.records import Instruction
from bioharness.taskspec import TaskCatalog


@pytest.fixture(scope="module")
def catalog():
    return TaskCatalog(load_plugins(env={}).hooks)


@pytest.fixture(scope="module")
def pubmedqa_gad(catalog, data_dir):
    return task_texts(["pubmedqa", "gad"], catalog, data_dir)


def test_normalisation_is_the_lm_eval_convention():
    assert normalize("The  BRCA1-gene, (it's) 'X'!\nNext") == ["the", "brca1gene", "its", "x", "next"]


def test_task_texts_reads_test_and_dev_splits(pubmedqa_gad):
    # pubmedqa: the 500 test questions (its few-shot split is training data: not checked);
    # gad: test 534 and dev 535 sentences
    assert {eid.split("/")[0] for eid, _ in pubmedqa_gad["pubmedqa"]} == {"test"}
    assert len({eid for eid, _ in pubmedqa_gad["pubmedqa"]}) == 500
    assert len({eid for eid, _ in pubmedqa_gad["gad"] if eid.startswith("test/")}) == 534
    assert len({eid for eid, _ in pubmedqa_gad["gad"] if eid.startswith("dev/")}) == 535


def _instructions(texts):
    """Instructions built from real task text: copied spans of 13+ words (case and
    punctuation changed), spans of 12 words (not an overlap), and shuffled words."""
    rng = random.Random(3)
    rows = [text for task in sorted(texts) for _, text in texts[task] if len(text.split()) >= 25]
    words = [w for text in rows for w in text.split()]
    out = []
    for i in range(300):
        text = rng.choice(rows).split()
        length = rng.choice([12, 13, 14, 20])
        start = rng.randrange(max(1, len(text) - length))
        span = " ".join(text[start:start + length])
        span = span.upper() if i % 3 == 0 else span.replace(" ", " , ") if i % 3 == 1 else span
        filler = " ".join(rng.choices(words, k=25))
        kind = i % 4
        if kind == 0:
            out.append(Instruction(id=f"i{i}", instruction="Summarise this.", input=f"{filler} {span}", output="ok"))
        elif kind == 1:
            out.append(Instruction(id=f"i{i}", instruction=span, input="", output=filler))
        else:
            out.append(Instruction(id=f"i{i}", instruction=filler, input=" ".join(rng.sample(words, 30)),
                                   output=filler[::-1]))
    return out


def _brute_force(instructions, texts, n):
    """Every (instruction, task, example) sharing an n-gram, by comparing sets of n-grams."""
    def grams(text):
        tokens = normalize(text)
        return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}

    examples = [(task, eid, grams(text)) for task, rows in texts.items() for eid, text in rows]
    found = {}
    for inst in instructions:
        mine = grams("\n".join((inst.instruction, inst.input, inst.output)))
        for task, eid, theirs in examples:
            shared = mine & theirs
            if shared:
                found.setdefault((inst.id, task, eid), set()).update(shared)
    return found


@pytest.mark.parametrize("n", [13, 8])
def test_index_agrees_with_brute_force_on_real_data(pubmedqa_gad, n):
    instructions = _instructions(pubmedqa_gad)
    expected = _brute_force(instructions, pubmedqa_gad, n)
    kept, report = decontaminate(instructions, pubmedqa_gad, n=n)
    got = {(p["instruction"], p["task"], p["example"]): p["ngram"] for p in report["pairs"]}
    assert set(got) == set(expected)
    assert all(got[key] in expected[key] for key in got)  # the n-gram reported is really shared
    overlapping = {key[0] for key in expected}
    assert len(overlapping) > 80 and report["overlapping"] == len(overlapping)
    assert [i.id for i in kept] == [i.id for i in instructions if i.id not in overlapping]
    for task in ("pubmedqa", "gad"):
        assert report["tasks"][task]["instructions"] == len({k[0] for k in expected if k[1] == task})
        assert report["tasks"][task]["examples_overlapping"] == len({k[2] for k in expected if k[1] == task})


def test_keep_mode_flags_instead_of_dropping(pubmedqa_gad):
    instructions = _instructions(pubmedqa_gad)[:40]
    dropped, report_drop = decontaminate(instructions, pubmedqa_gad, mode="drop")
    kept, report = decontaminate(instructions, pubmedqa_gad, mode="keep")
    assert len(kept) == 40 and report["dropped"] == 0 and report_drop["dropped"] == report["overlapping"] > 0
    flagged = {i.id: i.provenance["contamination"] for i in kept if "contamination" in i.provenance}
    assert len(flagged) == report["overlapping"]
    assert {p["instruction"] for p in report["pairs"]} == set(flagged)
    with pytest.raises(ValueError, match="mode must be"):
        decontaminate(instructions, pubmedqa_gad, mode="maybe")


def test_a_hash_collision_is_not_an_overlap():
    index = NgramIndex({"t": [("e1", " ".join(f"w{i}" for i in range(13)))]}, n=13)
    # plant a false entry: a different 13-gram whose hash points at e1's document
    other = tuple(f"v{i}" for i in range(13))
    index.table[hash(other)] = 0
    assert index.matches(" ".join(other)) == {}
    assert index.matches("x " + " ".join(f"w{i}" for i in range(13))) == {("t", "e1"): " ".join(f"w{i}" for i in range(13))}


def test_planted_test_question_is_found_and_dropped(tmp_path, catalog, data_dir, capsys):
    medqa = catalog.kind("mcqa").load(catalog.specs["medqa"], data_dir, "test")
    planted = medqa[17]
    seeds = read_instructions(DEFAULT_SEEDS)
    path = tmp_path / "instructions.jsonl"
    question = planted.inputs["question"].replace(".", " .").upper()  # reformatted, still the same words
    write_instructions(path, [*seeds[:30], Instruction(id="planted", instruction="Answer the question.",
                                                       input=question, output="B", category="qa"), *seeds[30:]])
    out = tmp_path / "clean.jsonl"
    code = main([
        "decontaminate", str(path), "--tasks", "medqa,pubmedqa", "--out", str(out), "--data-dir", str(data_dir)])
    assert code == 0
    kept = read_instructions(out)
    assert len(kept) == len(seeds) and "planted" not in {i.id for i in kept}
    report = json.loads((tmp_path / "decontamination.json").read_text())
    assert report["dropped"] == 1 and report["tasks"]["medqa"]["instructions"] == 1
    assert report["tasks"]["pubmedqa"]["instructions"] == 0
    (pair,) = report["pairs"]
    assert pair["instruction"] == "planted" and pair["task"] == "medqa" and pair["example"] == f"test/{planted.id}"
    assert len(pair["ngram"].split()) == 13 and pair["ngram"] in " ".join(normalize(planted.inputs["question"]))
    assert "1 of 81 instructions overlap" in capsys.readouterr().out

    code = main(["decontaminate", str(path), "--tasks", "medqa", "--out", str(out), "--contamination", "keep",
                 "--n", "50", "--data-dir", str(data_dir)])
    assert code == 0
    kept = {i.id: i for i in read_instructions(out)}
    assert len(kept) == len(seeds) + 1
    assert kept["planted"].provenance["contamination"][0]["example"] == f"test/{planted.id}"


def test_unknown_task_is_a_usage_error(tmp_path, data_dir, capsys):
    path = tmp_path / "i.jsonl"
    write_instructions(path, [Instruction(id="a", instruction="x", input="", output="y")])
    assert main(["decontaminate", str(path), "--tasks", "nope", "--out", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err.startswith("Error: unknown task 'nope'")
