"""Typed NER (``options.types``): the parser's vocabulary comes from the task, scoring is
per type, and the numbers equal seqeval's on the same tags."""
import random

import pytest
from seqeval.metrics import classification_report

from bioharness.errors import DataError
from bioharness.plugins.bionlp import metrics as M
from bioharness.plugins.bionlp.kinds import NerKind
from bioharness.records import Example, Prediction
from bioharness.taskspec import TaskSpec

TYPES = ["protein", "DNA", "RNA", "cell_line", "cell_type"]


def typed_spec(types=TYPES, **options):
    return TaskSpec(name="typed", version=1, category="ie", kind="ner", data={"reader": "bc2gm", "split": "test"},
                    prompt={"template": "List the {types} in: {text}"}, metrics=("f1_strict",),
                    options={"types": list(types), **options})


def example(i, tokens, tags):
    mentions = [{"text": " ".join(tokens[s:e]), "start_token": s, "end_token": e, "type": t}
                for t, s, e in M.iob2_spans(tags)]
    return Example(id=f"s{i}", inputs={"text": " ".join(tokens), "tokens": tokens}, reference=mentions,
                   meta={"source": f"corpus.tsv:{i + 1}"})


def sums_of(scores):
    sums = {}
    for score in scores:
        for key, value in score.values.items():
            sums[key] = sums.get(key, 0) + value
    return sums


def answer(tokens, spans):
    return "\n".join(f"{t}: {' '.join(tokens[s:e])}" for t, s, e in spans) or "None"


def random_corpus(rng, n_sentences):
    """Sentences of unique tokens (so a mention string says where it is) with gold IOB2
    tags, and predicted spans made by editing the gold: kept, dropped, retyped, a boundary
    moved, or a spurious span added."""
    golds, preds, examples = [], [], []
    for i in range(n_sentences):
        n = rng.randint(4, 14)
        tokens = [f"t{i}x{j}" for j in range(n)]
        spans, j = [], 0
        while j < n:
            if rng.random() < 0.35:
                end = min(n, j + rng.randint(1, 3))
                spans.append((rng.choice(TYPES), j, end))
                j = end + 1
            else:
                j += 1
        tags = M.spans_to_tags(n, spans)
        predicted = []
        for t, s, e in spans:
            r = rng.random()
            if r < 0.5:
                predicted.append((t, s, e))
            elif r < 0.65:
                predicted.append((rng.choice([x for x in TYPES if x != t]), s, e))
            elif r < 0.8 and e < n and all(not (ps <= e < pe) for _, ps, pe in spans):
                predicted.append((t, s, e + 1))
            # else: dropped
        free = [k for k in range(n) if all(not (ps <= k < pe) for _, ps, pe in spans + predicted)]
        if free and rng.random() < 0.3:
            k = rng.choice(free)
            predicted.append((rng.choice(TYPES), k, k + 1))
        golds.append(tags)
        preds.append(M.spans_to_tags(n, predicted))
        examples.append((example(i, tokens, tags), answer(tokens, sorted(predicted, key=lambda x: x[1]))))
    return golds, preds, examples


def test_typed_f1_equals_seqeval_per_type_micro_and_macro():
    rng = random.Random(7)
    golds, preds, pairs = random_corpus(rng, 120)
    spec, kind = typed_spec(), NerKind()
    kind.validate_options(spec)
    examples = [e for e, _ in pairs]
    scores = kind.score(spec, examples, [[Prediction(id=e.id, text=text)] for e, text in pairs])
    metrics = kind.metrics(spec, sums_of(scores), len(scores))
    report = classification_report(golds, preds, output_dict=True, zero_division=0)
    assert set(TYPES) <= set(report)  # every type occurs, so seqeval's macro is over the same types
    for t in TYPES:
        assert metrics[f"f1_strict_{t}"] == pytest.approx(report[t]["f1-score"])
        assert metrics[f"f1_lenient_{t}"] >= metrics[f"f1_strict_{t}"]
    assert metrics["f1_strict"] == pytest.approx(report["micro avg"]["f1-score"])
    assert metrics["precision_strict"] == pytest.approx(report["micro avg"]["precision"])
    assert metrics["recall_strict"] == pytest.approx(report["micro avg"]["recall"])
    assert metrics["macro_f1_strict"] == pytest.approx(report["macro avg"]["f1-score"])
    # the metric names the kind reports are the ones a spec may list
    assert set(metrics) == kind.metric_names(spec)
    # and span-level scoring of the same tags agrees too
    spans = M.score_spans([M.iob2_spans(g) for g in golds], [M.lenient_spans(p) for p in preds])
    assert spans["f1"] == pytest.approx(report["micro avg"]["f1-score"])


def test_typed_scores_by_hand():
    spec, kind = typed_spec(entity_words={"cells": "cell_type"}), NerKind()
    tokens = "IL-2 gene expression in Jurkat T cells requires NF-kappa B".split()
    tags = ["B-DNA", "I-DNA", "O", "O", "B-cell_line", "B-cell_type", "I-cell_type", "O", "B-protein", "I-protein"]
    ex = example(0, tokens, tags)
    text = ("Proteins: NF-kappa B, IL-2\n"           # IL-2 is DNA in the gold: a false positive of protein
            "DNA: IL-2 gene\n"
            "Cell lines: Jurkat\n"
            "cells: Jurkat T cells\n"                # lenient only (shares 'cells' with 'T cells')
            "RNA: None\n"
            "Organism: human")                      # a type the task lacks: a false positive of the micro average
    [score] = kind.score(spec, [ex], [[Prediction(id="s0", text=text)]])
    assert [dict(p) for p in score.prediction] == [
        {"type": "protein", "text": "NF-kappa B"}, {"type": "protein", "text": "IL-2"},
        {"type": "DNA", "text": "IL-2 gene"}, {"type": "cell_line", "text": "Jurkat"},
        {"type": "cell_type", "text": "Jurkat T cells"}, {"type": "Organism", "text": "human"},
    ]
    v = score.values
    assert (v["tp_strict__protein"], v["npred__protein"], v["ngold__protein"]) == (1, 2, 1)
    assert (v["tp_strict__cell_type"], v["tp_lenient__cell_type"]) == (0, 1)
    assert v["npred__RNA"] == v["ngold__RNA"] == 0
    assert v["npred_untyped"] == 1
    assert (v["tp_strict"], v["tp_lenient"], v["npred"], v["ngold"]) == (3, 4, 6, 4)
    m = kind.metrics(spec, v, 1)
    assert m["precision_strict"] == pytest.approx(3 / 6) and m["recall_strict"] == pytest.approx(3 / 4)
    assert m["f1_strict"] == pytest.approx(2 * 3 / (6 + 4))
    assert m["f1_strict_protein"] == pytest.approx(2 / 3)
    assert m["f1_strict_DNA"] == m["f1_strict_cell_line"] == 1.0
    assert m["f1_strict_cell_type"] == 0.0 and m["f1_lenient_cell_type"] == 1.0
    assert m["f1_strict_RNA"] is None  # no RNA in the gold nor in the answer: undefined, not 0
    assert m["macro_f1_strict"] == pytest.approx((2 / 3 + 1 + 1 + 0) / 4)
    # few-shot answers and the prompt's {types}
    assert kind.shot_answer(spec, ex).splitlines() == ["DNA: IL-2 gene", "cell_line: Jurkat", "cell_type: T cells",
                                                        "protein: NF-kappa B"]
    assert kind.render(spec, ex).startswith("List the protein, DNA, RNA, cell_line, cell_type in: IL-2 gene")
    assert kind.strata(spec, ex) == ["DNA", "cell_line", "cell_type", "protein"]


@pytest.mark.parametrize("text, expected", [
    ("Cell lines: Jurkat", [("cell_line", "Jurkat")]),
    ("No cell types.", []),
    ("None", []),
    ("N/A", []),
    ("There are no proteins or cell lines in this sentence.", []),
    ("Proteins: None\nCell types: none", []),
    ("**Proteins:** p50; p65", [("protein", "p50"), ("protein", "p65")]),
    ("DNA:\n- IL-2 promoter\n- kappa B site", [("DNA", "IL-2 promoter"), ("DNA", "kappa B site")]),
    ("Jurkat (cell line)\nIL-2 [protein]", [("cell_line", "Jurkat"), ("protein", "IL-2")]),
    ("Protein mentions: p53", [("protein", "p53")]),
    ("Answer: cell-type: monocytes", [("cell_type", "monocytes")]),
    ("Entities: IL-2", [(None, "IL-2")]),
    ("genes: c-fos", [("DNA", "c-fos")]),                     # entity_words
    ('[{"type": "cell lines", "text": "Jurkat"}, "p53"]', [("cell_line", "Jurkat"), (None, "p53")]),
    ('{"protein": ["p50"], "RNA": "none"}', [("protein", "p50")]),
    ("Organism: human", [("Organism", "human")]),
])
def test_parse_typed_mentions(text, expected):
    vocabulary = M.type_vocabulary(TYPES, {"genes": "DNA"})
    assert M.parse_typed_mentions(text, vocabulary) == expected


def test_single_type_task_gives_untyped_lines_its_type():
    assert M.parse_typed_mentions("IL-2\nNo genes.", M.type_vocabulary(["gene"]), "gene") == [("gene", "IL-2")]


def test_typed_options_are_checked():
    kind = NerKind()
    with pytest.raises(DataError, match="options.entity_words.cells: 'cell' is not one of the types"):
        kind.validate_options(typed_spec(entity_words={"cells": "cell"}))
    with pytest.raises(DataError, match="options.types: two types are the same word"):
        kind.validate_options(typed_spec(types=["DNA", "dnas"]))
    with pytest.raises(DataError, match="options.entity_words: only for typed tasks"):
        spec = typed_spec(entity_words={"x": "protein"})
        kind.validate_options(TaskSpec(**{**spec.__dict__, "options": {"entity_words": {"x": "protein"}}}))


def test_an_empty_answer_and_an_empty_gold_are_undefined_not_zero():
    spec, kind = typed_spec(), NerKind()
    ex = example(0, ["nothing", "here"], ["O", "O"])
    scores = kind.score(spec, [ex], [[Prediction(id="s0", text="No entities.")]])
    assert list(scores[0].prediction) == []
    m = kind.metrics(spec, sums_of(scores), 1)
    assert all(v is None for v in m.values()), m


TYPED_TASK = """
name: typed_cdr
version: 1
category: ie
kind: ner
data: {reader: bc5cdr, split: test, files: [bc5cdr/BC5CDR-IOB/test.tsv]}
prompt:
  template: "List the {types} mentions of the sentence, one 'type: mention' per line, or None.\\n\\nSentence: {text}"
metrics: [f1_strict, macro_f1_strict, f1_strict_Chemical, f1_strict_Disease]
options: {types: [Chemical, Disease], entity_words: {drugs: Chemical}}
generation: {max_new_tokens: 8}
"""

SENTENCES = [  # our own small corpus: chemicals only, so every Disease metric is undefined
    [("Aspirin", "B-Chemical"), ("lowers", "O"), ("fever", "O"), (".", "O")],
    [("Sodium", "B-Chemical"), ("chloride", "I-Chemical"), ("was", "O"), ("given", "O"), (".", "O")],
    [("No", "O"), ("entities", "O"), ("here", "O"), (".", "O")],
]


def test_eval_of_a_typed_task_reports_undefined_as_null_and_na(tmp_path, tiny_llama_dir):
    import json
    import os
    import subprocess
    import sys

    data = tmp_path / "data" / "bc5cdr" / "BC5CDR-IOB"
    data.mkdir(parents=True)
    (data / "test.tsv").write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in SENTENCES) + "\n")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "typed_cdr.yaml").write_text(TYPED_TASK)
    plugin = tmp_path / "typed_tasks.py"
    plugin.write_text("from pathlib import Path\nfrom bioharness import hookimpl\n\n\n@hookimpl\ndef task_dirs():\n"
                      "    return [Path(__file__).parent / 'tasks']\n")
    env = {k: v for k, v in os.environ.items() if k not in ("BIOHARNESS_DATA", "BIOHARNESS_PLUGINS")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", COLUMNS="200")
    out = tmp_path / "runs"
    result = subprocess.run([sys.executable, "-m", "bioharness.cli", "eval", "--model", f"hf:{tiny_llama_dir}",
                             "--tasks", "typed_cdr", "--plugins", str(plugin), "--data-dir", str(tmp_path / "data"),
                             "--out", str(out), "--bootstrap", "100"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = out / "eval" / f"hf__{tiny_llama_dir.name}" / "typed_cdr"
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert [r["example_meta"]["source"] for r in rows] == [f"bc5cdr/BC5CDR-IOB/test.tsv:{n}" for n in (1, 6, 12)]
    assert [r["reference"] for r in rows] == [[{"type": "Chemical", "text": "Aspirin"}],
                                              [{"type": "Chemical", "text": "Sodium chloride"}], []]
    assert sum(r["values"]["ngold__Disease"] + r["values"]["npred__Disease"] for r in rows) == 0
    metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
    # no Disease in the gold nor in the answers: its F1 is null, not 0, and has no interval
    assert metrics["f1_strict_Disease"] == {"value": None, "ci95": [None, None]}
    assert '"f1_strict_Disease": {\n      "value": null' in (folder / "metrics.json").read_text()
    assert metrics["recall_strict"]["value"] == pytest.approx(
        sum(r["values"]["tp_strict"] for r in rows) / 2)
    table_line = next(line for line in result.stdout.splitlines() if "f1_strict_Disease" in line)
    assert "n/a" in table_line and "0.0000" not in table_line


def test_a_gold_type_the_task_does_not_list_is_one_error_line(data_dir):
    spec = typed_spec(types=["Chemical"])
    spec = TaskSpec(**{**spec.__dict__, "data": {"reader": "bc5cdr", "split": "test",
                                                 "files": ["bc5cdr/BC5CDR-IOB/test.tsv"]}})
    with pytest.raises(DataError, match=r"options\.types: bc5cdr/BC5CDR-IOB/test\.tsv:\d+ has gold type\(s\) "
                                        r"\['Disease'\] not in \['Chemical'\]"):
        NerKind().load(spec, data_dir, "test")
