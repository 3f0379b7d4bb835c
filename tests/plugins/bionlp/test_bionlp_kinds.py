"""The bionlp task kinds on real examples of the built-in tasks, with hand-constructed
model outputs: gold answers score 1.0, known wrong answers give known numbers, and the
numbers agree with the reference implementations in ``bionlp.metrics`` (which are
themselves checked against sklearn, seqeval and rouge-score)."""
import dataclasses
import random

import pytest

from bioharness.errors import DataError
from bioharness.interfaces import TaskKind
from bioharness.manager import load_plugins
from bioharness.plugins.bionlp import metrics as M
from bioharness.plugins.bionlp.kinds import KINDS, McqaKind, NerKind, ReKind, SummarizationKind
from bioharness.records import Example, Loglikelihood, LoglikelihoodRequest, Prediction, Request
from bioharness.taskspec import TaskCatalog


@pytest.fixture(scope="module")
def catalog():
    return TaskCatalog(load_plugins(entry_points=False, env={}).hooks)


def _column_sums(scores):
    sums = {}
    for score in scores:
        for key, value in score.values.items():
            sums[key] = sums.get(key, 0) + value
    return sums


def _run(kind, spec, examples, outputs, judge=None):
    """score() then metrics() over the column sums, as the core does."""
    scores = kind.score(spec, examples, outputs, judge)
    assert [s.id for s in scores] == [str(e.id) for e in examples]
    return scores, kind.metrics(spec, _column_sums(scores), len(scores))


def _texts(examples, texts):
    return [[Prediction(id=str(e.id), text=t)] for e, t in zip(examples, texts)]


def _load(catalog, data_dir, name, n=None):
    spec = catalog.specs[name]
    kind = KINDS[spec.kind]()
    examples = kind.load(spec, data_dir, spec.split)
    return spec, kind, examples[:n] if n else examples


def _with_options(spec, **options):
    return dataclasses.replace(spec, options={**spec.options, **options})


# ----------------------------------------------------------------------------- registration


def test_the_plugin_registers_four_kinds_and_every_builtin_task_validates(catalog, data_dir):
    hooks = load_plugins(entry_points=False, env={}).hooks
    assert hooks.task_kinds.names() == ["mcqa", "ner", "re", "summarization"]
    assert {r.plugin for r in hooks.task_kinds} == {"bioharness.plugins.bionlp"}
    expected = {"medqa", "medmcqa", "pubmedqa", "mmlu_medical", "bc5cdr_chem", "bc5cdr_disease", "ncbi_disease",
                "bc2gm", "ddi2013", "chemprot", "gad", "meqsum", "mediqa_qs", "mts_dialog", "aci_bench"}
    bionlp = {n: s for n, s in catalog.specs.items() if s.plugin == "bioharness.plugins.bionlp"}
    assert {n for n, s in bionlp.items() if not s.groups} == expected
    assert len(bionlp) == 24  # and the openmedllm suite's nine, in the same catalogue
    for spec in bionlp.values():
        kind = hooks.task_kinds.get(spec.kind).factory()
        assert isinstance(kind, TaskKind)
        kind.validate(spec)
        assert spec.version == 1 and spec.num_fewshot == 0
        assert spec.metrics[0] in kind.metric_names(spec)
        # every listed data file is there, relative to the data directory
        assert all(path.exists() for path in spec.data_files(data_dir)), spec.name


# ----------------------------------------------------------------------------- mcqa


def test_medqa_loglikelihood_requests_follow_the_lm_eval_convention(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "medqa", 3)
    example = examples[0]
    requests = kind.requests(spec, example, [])
    assert [type(r) for r in requests] == [LoglikelihoodRequest] * 4
    assert [r.continuation for r in requests] == [" A", " B", " C", " D"]
    context = requests[0].context
    assert len({r.context for r in requests}) == 1 and context.endswith("\nAnswer:")
    assert example.inputs["question"] in context
    for letter, text in example.inputs["options"].items():
        assert f"\n{letter}. {text}\n" in context
    assert "(A, B, C or D)" in context
    # option texts instead of letters
    by_text = kind.requests(_with_options(spec, continuation="text"), example, [])
    assert [r.continuation for r in by_text] == [" " + example.inputs["options"][k] for k in "ABCD"]


def test_mcqa_loglikelihood_picks_the_argmax(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "medqa", 4)
    golds = [e.reference for e in examples]
    assert golds == ["B", "D", "B", "D"]
    # examples 0 and 2: the gold option is the most likely; 1: option A; 3: a tie between
    # C and D goes to the first (C)
    table = [
        {"A": -3.0, "B": -0.5, "C": -2.0, "D": -9.0},
        {"A": -0.1, "B": -0.5, "C": -2.0, "D": -0.2},
        {"A": -3.0, "B": -1.0, "C": -1.5, "D": -4.0},
        {"A": -3.0, "B": -3.0, "C": -1.0, "D": -1.0},
    ]
    outputs = [[Loglikelihood(id="x", logprob=row[k]) for k in "ABCD"] for row in table]
    scores, metrics = _run(kind, spec, examples, outputs)
    assert [s.prediction for s in scores] == ["B", "A", "B", "C"]
    assert [s.values["correct"] for s in scores] == [1, 0, 1, 0]
    assert metrics == {"accuracy": 0.5}
    assert scores[1].meta["choices"] == ("A", "B", "C", "D")
    assert scores[1].meta["logprobs"] == (-0.1, -0.5, -2.0, -0.2)
    # a backend error on one option: no prediction, wrong
    broken = [outputs[0][:3] + [Loglikelihood(id="x", logprob=0.0, error="out of memory")]]
    [score], metrics = _run(kind, spec, examples[:1], broken)
    assert score.prediction is None and score.values["correct"] == 0 and score.meta["error"] == "out of memory"


def test_mcqa_generate_mode_parses_letters(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "medmcqa", 10)
    spec = _with_options(spec, scoring="generate")
    [request] = kind.requests(spec, examples[0], [])
    assert isinstance(request, Request) and request.chat and request.max_new_tokens == 32 and request.temperature == 0.0
    golds = [e.reference for e in examples]
    _, gold_metrics = _run(kind, spec, examples, _texts(examples, [f"Answer: {g}" for g in golds]))
    assert gold_metrics == {"accuracy": 1.0}
    wrong = {"A": "B", "B": "C", "C": "D", "D": "A"}
    texts = ([f"The answer is ({g})." for g in golds[:6]] + [f"{wrong[g]}. something" for g in golds[6:9]]
             + ["I am not sure which one."])
    scores, metrics = _run(kind, spec, examples, _texts(examples, texts))
    assert [s.prediction for s in scores] == golds[:6] + [wrong[g] for g in golds[6:9]] + [None]
    assert metrics == {"accuracy": pytest.approx(0.6)}
    assert scores[-1].values == {"correct": 0}
    # the option's own text is understood too
    text = examples[0].inputs["options"][golds[0]]
    [score], _ = _run(kind, spec, examples[:1], _texts(examples[:1], [text]))
    assert score.prediction == golds[0]


def test_pubmedqa_labels_macro_f1_and_loglikelihood(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "pubmedqa", 30)
    assert len(kind.load(spec, data_dir, "test")) == 500
    requests = kind.requests(spec, examples[0], [])
    assert [r.continuation for r in requests] == [" yes", " no", " maybe"]
    assert requests[0].context.startswith("Read the abstract") and requests[0].context.endswith("Answer:")
    labels = [e.reference for e in examples]
    rng = random.Random(0)
    preds = [rng.choice(["yes", "no", "maybe"]) for _ in examples]
    outputs = [[Loglikelihood(id="x", logprob=0.0 if lab == p else -1.0) for lab in ("yes", "no", "maybe")]
               for p in preds]
    scores, metrics = _run(kind, spec, examples, outputs)
    assert [s.prediction for s in scores] == preds
    assert list(metrics)[:2] == ["accuracy", "macro_f1"]
    assert metrics["accuracy"] == pytest.approx(M.accuracy(labels, preds))
    assert metrics["macro_f1"] == pytest.approx(M.macro_f1(labels, preds, ["yes", "no", "maybe"]))
    per = M.per_class_prf(labels, preds, ["yes", "no", "maybe"])
    for label in ("yes", "no", "maybe"):
        assert metrics[f"f1_{label}"] == pytest.approx(per[label]["f1"])
    # generate mode: parse_yes_no_maybe; an unparseable answer misses its gold label
    gen = _with_options(spec, scoring="generate")
    ex = examples[:4]
    texts = ["Yes.", "The answer is no", "maybe, it depends", "I cannot tell from the abstract."]
    scores, metrics = _run(kind, gen, ex, _texts(ex, texts))
    assert [s.prediction for s in scores] == ["yes", "no", "maybe", None]
    by_hand = M.macro_f1([e.reference for e in ex], ["yes", "no", "maybe", None], ["yes", "no", "maybe"])
    assert metrics["macro_f1"] == pytest.approx(by_hand)
    assert sum(s.values[f"fp_{lab}"] for s in scores for lab in ("yes", "no", "maybe")) == sum(
        1 for s, e in zip(scores[:3], ex) if s.prediction != e.reference)


def test_mmlu_medical_accuracy_per_subject(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "mmlu_medical")
    assert len(examples) == 1089
    anatomy = [e for e in examples if e.meta["subject"] == "anatomy"][:3]
    genetics = [e for e in examples if e.meta["subject"] == "medical_genetics"][:2]
    chosen = anatomy + genetics
    # right, right, wrong | right, wrong
    wrong = {"A": "B", "B": "C", "C": "D", "D": "A"}
    picks = [chosen[0].reference, chosen[1].reference, wrong[chosen[2].reference], chosen[3].reference,
             wrong[chosen[4].reference]]
    outputs = [[Loglikelihood(id="x", logprob=0.0 if k == p else -1.0) for k in "ABCD"] for p in picks]
    _, metrics = _run(kind, spec, chosen, outputs)
    assert metrics == {"accuracy": pytest.approx(3 / 5), "accuracy_anatomy": pytest.approx(2 / 3),
                       "accuracy_medical_genetics": pytest.approx(1 / 2)}


def test_fewshot_blocks_come_first_with_their_answers(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "pubmedqa", 1)
    shots = kind.load(spec, data_dir, "trainval")[:2]
    context = kind.requests(spec, examples[0], shots)[0].context
    blocks = context.split("\n\n")
    first = kind.render(spec, shots[0]).rstrip() + " " + shots[0].reference
    assert context.startswith(first + "\n\n")
    assert context.endswith(kind.render(spec, examples[0]))
    assert len(blocks) == 3 * 2  # two shots and the question, each an instruction and a body


# ----------------------------------------------------------------------------- ner


def test_ner_gold_mentions_score_one(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "bc5cdr_chem", 40)
    [request] = kind.requests(spec, examples[0], [])
    assert examples[0].inputs["text"] in request.prompt and request.max_new_tokens == 128
    texts = ["\n".join(m["text"] for m in e.reference) or "None" for e in examples]
    scores, metrics = _run(kind, spec, examples, _texts(examples, texts))
    n_gold = sum(len(e.reference) for e in examples)
    assert n_gold > 20 and any(not e.reference for e in examples)
    assert sum(s.values["ngold"] for s in scores) == n_gold
    assert metrics == {name: 1.0 for name in kind.metric_names(spec)}
    assert list(metrics)[0] == "f1_strict"


def test_ner_known_errors_give_known_numbers(catalog, data_dir):
    spec, kind, _ = _load(catalog, data_dir, "bc5cdr_disease", 1)
    ex = [Example(id="s1", inputs={"text": "t"}, reference=[{"text": "renal failure"}, {"text": "renal failure"},
                                                                  {"text": "hypertension"}]),
          Example(id="s2", inputs={"text": "t"}, reference=[{"text": "acute liver injury"}]),
          Example(id="s3", inputs={"text": "t"}, reference=[])]
    texts = [
        "- Renal failure\n- hypertension",  # one renal failure of two (multiset), hypertension
        "liver injury; seizures",           # lenient hit only; seizures is a false positive
        "There are no disease mentions.",   # correctly nothing
    ]
    scores, metrics = _run(kind, spec, ex, _texts(ex, texts))
    assert [list(s.prediction) for s in scores] == [["Renal failure", "hypertension"], ["liver injury", "seizures"], []]
    assert [dict(s.values) for s in scores] == [
        {"tp_strict": 2, "tp_lenient": 2, "npred": 2, "ngold": 3},
        {"tp_strict": 0, "tp_lenient": 1, "npred": 2, "ngold": 1},
        {"tp_strict": 0, "tp_lenient": 0, "npred": 0, "ngold": 0},
    ]
    assert metrics["precision_strict"] == pytest.approx(2 / 4)
    assert metrics["recall_strict"] == pytest.approx(2 / 4)
    assert metrics["f1_strict"] == pytest.approx(0.5)
    assert metrics["precision_lenient"] == pytest.approx(3 / 4)
    assert metrics["recall_lenient"] == pytest.approx(3 / 4)
    assert metrics["f1_lenient"] == pytest.approx(0.75)


def test_ner_metrics_equal_the_corpus_reference_on_perturbed_outputs(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "ncbi_disease", 60)
    rng = random.Random(4)
    golds = [[m["text"] for m in e.reference] for e in examples]
    preds = []
    for gold in golds:
        pred = [g for g in gold if rng.random() < 0.7]
        pred += [g.split()[-1] for g in gold if rng.random() < 0.2]  # partial mentions
        pred += ["aspirin"] if rng.random() < 0.2 else []
        preds.append(pred)
    texts = ["\n".join(p) or "None" for p in preds]
    scores, metrics = _run(kind, spec, examples, _texts(examples, texts))
    for mode in ("strict", "lenient"):
        ref = M.score_mentions(golds, preds, mode)
        for name in ("precision", "recall", "f1"):
            assert metrics[f"{name}_{mode}"] == pytest.approx(ref[name])
    assert metrics["f1_lenient"] > metrics["f1_strict"] > 0.5
    # a backend error is an empty answer, recorded
    broken = [[Prediction(id="x", text="", error="timeout")]]
    [score], _ = _run(kind, spec, examples[:1], broken)
    assert score.prediction is None and score.meta["error"] == "timeout"
    assert score.values["npred"] == 0 and score.values["ngold"] == len(golds[0])


# ----------------------------------------------------------------------------- re


def test_ddi_prompt_marks_the_pair_and_gold_words_score_one(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "ddi2013")
    positives = [e for e in examples if e.reference != "DDI-false"]
    chosen = positives[:12] + [e for e in examples if e.reference == "DDI-false"][:8]
    assert {e.reference for e in chosen} >= {"DDI-mechanism", "DDI-effect", "DDI-advise"}
    [request] = kind.requests(spec, chosen[0], [])
    e1, e2 = chosen[0].inputs["e1"]["text"], chosen[0].inputs["e2"]["text"]
    assert f"[E1]{e1}[/E1]" in request.prompt and f"[E2]{e2}[/E2]" in request.prompt
    assert f"Drug 1: {e1}\nDrug 2: {e2}\nAnswer:" in request.prompt
    words = spec.options["label_words"]
    scores, metrics = _run(kind, spec, chosen, _texts(chosen, [words[e.reference] for e in chosen]))
    assert [s.prediction for s in scores] == [e.reference for e in chosen]
    assert metrics["micro_f1"] == metrics["accuracy"] == metrics["f1_DDI-false"] == 1.0
    assert list(metrics)[:5] == ["micro_f1", "micro_precision", "micro_recall", "macro_f1", "accuracy"]
    # a chatty answer that merely mentions an interaction names no label
    texts = ["The sentence describes the interaction between the two drugs.", "There is no interaction.",
             "Advice: avoid the combination.", "int"]
    scores = kind.score(spec, chosen[:4], _texts(chosen[:4], texts))
    assert [s.prediction for s in scores] == [None, "DDI-false", "DDI-advise", "DDI-int"]


def test_re_known_errors_give_known_numbers(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "chemprot")
    pick = {label: [e for e in examples if e.reference == label][:2] for label in ("CPR:4", "CPR:9", "False")}
    chosen = pick["CPR:4"] + pick["CPR:9"] + pick["False"]
    texts = [
        "inhibitor",                    # CPR:4 right
        "Answer: agonist",              # CPR:4 -> CPR:5: fn CPR:4, fp CPR:5
        "substrate",                    # CPR:9 right
        "none",                         # CPR:9 -> False: a miss, not a false positive
        "The chemical is an antagonist of it.",  # False -> CPR:6: fp CPR:6
        "I do not know",                # False -> unparsed
    ]
    scores, metrics = _run(kind, spec, chosen, _texts(chosen, texts))
    assert [s.prediction for s in scores] == ["CPR:4", "CPR:5", "CPR:9", "False", "CPR:6", None]
    # positives: tp 2 (CPR:4, CPR:9), fp 2 (CPR:5, CPR:6), fn 2 (CPR:4, CPR:9)
    assert metrics["micro_precision"] == pytest.approx(0.5)
    assert metrics["micro_recall"] == pytest.approx(0.5)
    assert metrics["micro_f1"] == pytest.approx(0.5)
    assert metrics["accuracy"] == pytest.approx(2 / 6)
    assert metrics["f1_CPR:4"] == pytest.approx(2 / 3)
    assert metrics["f1_CPR:9"] == pytest.approx(2 / 3)
    assert metrics["f1_CPR:5"] == metrics["f1_CPR:6"] == 0.0
    assert metrics["f1_CPR:3"] is None  # neither predicted nor in the gold: undefined, not 0
    assert metrics["f1_False"] == 0.0  # tp 0, fp 1 (the CPR:9 miss), fn 2 (CPR:6 and the unparsed)
    # macro over the positive labels whose F1 is defined (CPR:4, CPR:9, CPR:5, CPR:6)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 4)
    ref = M.score_relations([e.reference for e in chosen], [s.prediction for s in scores],
                            spec.options["labels"], "False")
    assert metrics["micro_f1"] == pytest.approx(ref["micro_f1"])
    import numpy as np
    import sklearn.metrics as sk

    gold, pred = [e.reference for e in chosen], [s.prediction or "<none>" for s in scores]
    positive = [x for x in spec.options["labels"] if x != "False"]
    assert metrics["macro_f1"] == pytest.approx(sk.f1_score(gold, pred, labels=positive, average="macro",
                                                            zero_division=np.nan))


def test_gad_binary_f1_of_the_positive_class(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "gad", 40)
    rng = random.Random(2)
    preds = [rng.choice(["positive", "negative", None]) for _ in examples]
    say = {"positive": "Yes, it is.", "negative": "No.", None: "Unclear."}
    scores, metrics = _run(kind, spec, examples, _texts(examples, [say[p] for p in preds]))
    assert [s.prediction for s in scores] == preds
    labels = [e.reference for e in examples]
    per = M.per_class_prf(labels, preds, ["positive", "negative"])
    assert metrics["micro_f1"] == pytest.approx(per["positive"]["f1"])
    assert metrics["micro_precision"] == pytest.approx(per["positive"]["precision"])
    assert metrics["micro_recall"] == pytest.approx(per["positive"]["recall"])
    assert metrics["accuracy"] == pytest.approx(M.accuracy(labels, preds))


# ----------------------------------------------------------------------------- summarization


def test_summarization_rouge_gold_and_known_outputs(catalog, data_dir):
    spec, kind, examples = _load(catalog, data_dir, "meqsum", 6)
    [request] = kind.requests(spec, examples[0], [])
    assert request.max_new_tokens == 64 and examples[0].inputs["question"] in request.prompt
    _, metrics = _run(kind, spec, examples, _texts(examples, [e.reference for e in examples]))
    assert metrics == {"rougeL": 1.0, "rouge1": 1.0, "rouge2": 1.0}
    texts = ["  " + examples[0].reference + "  ", "", "What is the dose of aspirin?", *(e.reference for e in examples[3:])]
    scores, metrics = _run(kind, spec, examples, _texts(examples, texts))
    assert scores[0].prediction == examples[0].reference and scores[1].values["rouge1"] == 0.0
    ref = M.rouge_scores([e.reference for e in examples], [t.strip() for t in texts])["mean"]
    assert metrics == {k: pytest.approx(ref[k]) for k in ("rougeL", "rouge1", "rouge2")}
    assert "judge_score" not in scores[0].values and not scores[0].meta


# ----------------------------------------------------------------------------- validation


def _spec_file(tmp_path, text):
    from bioharness.taskspec import load_spec

    path = tmp_path / "task.yaml"
    path.write_text(text)
    return load_spec(path), path


BASE = """\
name: t
version: 1
category: qa
kind: mcqa
data: {{reader: pubmedqa, split: test, files: [pubmedqa/ori_pqal.json]}}
prompt: {{template: "Q: {{question}}"}}
metrics: [accuracy]
options: {options}
"""


@pytest.mark.parametrize("options,where,words", [
    ('{scorng: generate}', "options.scorng", "unknown option for task kind 'mcqa'"),
    ('{scoring: sample}', "options.scoring", "'sample' is not one of loglikelihood, generate"),
    ('{labels: [yes, no, maybe]}', "options.labels", "at least two distinct non-empty strings"),
    ('{labels: "yes"}', "options.labels", "expected list, got str"),
    ('{labels: ["yes", "no"], aliases: {sure: perhaps}}', "options.aliases.sure", "not a label"),
])
def test_bad_options_name_the_file_and_key(tmp_path, options, where, words):
    spec, path = _spec_file(tmp_path, BASE.format(options=options))
    with pytest.raises(DataError) as err:
        McqaKind().validate(spec)
    assert err.value.where == where and words in str(err.value)
    assert str(err.value).startswith(f"{path}:{where}: ")


def test_other_spec_errors_name_the_key(tmp_path, data_dir):
    ok = BASE.format(options='{labels: ["yes", "no", "maybe"]}')
    cases = [
        (ok.replace("metrics: [accuracy]", "metrics: [acuracy]"), "metrics", "unknown metric 'acuracy'"),
        (ok.replace("split: test,", "split: train,"), "data.split", "has no split 'train'"),
        (ok.replace("reader: pubmedqa", "reader: pubmed"), "data.reader", "unknown reader 'pubmed'"),
        (ok.replace("split: test,", "split: test, options: {subject: x},"), "data.options.subject",
         "unknown option of reader 'pubmedqa' (expected one of: none)"),
        (ok.replace("reader: pubmedqa", "reader: bc2gm"), "data.reader", "reads ner data"),
        (ok.replace("files: [pubmedqa/ori_pqal.json]", "files: [pubmedqa/ori_pqal.json], hf: {path: qiaojin/PubMedQA}"),
         "data.hf", "no hub converter for reader 'pubmedqa'"),
    ]
    for text, where, words in cases:
        spec, path = _spec_file(tmp_path, text)
        with pytest.raises(DataError) as err:
            McqaKind().validate(spec)
        assert (err.value.where, str(err.value).startswith(f"{path}:{where}: ")) == (where, True)
        assert words in str(err.value)
    # a template field the examples lack fails at load, naming prompt.template
    spec, path = _spec_file(tmp_path, ok.replace("Q: {question}", "Q: {question} {abstract}"))
    with pytest.raises(DataError, match=r"task\.yaml:prompt\.template: unknown field \{abstract\}"):
        McqaKind().load(spec, data_dir, "test")
    # relation and summarization options
    spec = dataclasses.replace(spec, kind="re", options={"labels": ["a", "b"], "negative": "c"})
    with pytest.raises(DataError, match="options.negative"):
        ReKind().validate_options(spec)
    with pytest.raises(DataError, match="options.aliases: unknown alias table 'ddl'"):
        ReKind().validate_options(dataclasses.replace(spec, options={"labels": ["a", "b"], "aliases": "ddl"}))
    with pytest.raises(DataError, match="options.judge_max_new_tokens"):
        SummarizationKind().validate_options(dataclasses.replace(spec, options={"judge_max_new_tokens": 0}))
    assert set(NerKind().OPTIONS) == {"types", "entity_words"}


# ----------------------------------------------------------------------------- --sample stratified


def test_stratified_limit_keeps_rare_labels_of_builtin_tasks(catalog, data_dir):
    from collections import Counter

    from bioharness.plugins.evaluation.evaluate import select_examples

    spec, kind, examples = _load(catalog, data_dir, "chemprot")
    counts = Counter(e.reference for e in examples)
    assert min(counts.values()) / len(examples) < 0.02  # a rare label a random 12 would likely miss
    chosen, how = select_examples(examples, 12, 0, "stratified", lambda e: kind.strata(spec, e))
    assert how == "stratified" and {e.reference for e in chosen} == set(spec.options["labels"])
    assert Counter(e.reference for e in chosen)["False"] == max(Counter(e.reference for e in chosen).values())
    # NER: a sentence's stratum is the set of its entity types; sentences without any are kept too
    spec = dataclasses.replace(catalog.specs["bc5cdr_chem"], options={"types": ["Chemical", "Disease"]},
                               data={"reader": "bc5cdr", "split": "test", "files": ["bc5cdr/BC5CDR-IOB/test.tsv"]})
    kind = NerKind()
    examples = kind.load(spec, data_dir, "test")
    chosen, _ = select_examples(examples, 3, 0, "stratified", lambda e: kind.strata(spec, e))
    assert {t for e in chosen for t in kind.strata(spec, e)} == {"Chemical", "Disease"}
    assert any(not e.reference for e in chosen)
    # summarization has no strata: the subset is random, and says so
    spec, kind, examples = _load(catalog, data_dir, "meqsum")
    assert kind.strata(spec, examples[0]) is None
    assert select_examples(examples, 5, 0, "stratified", lambda e: kind.strata(spec, e))[1] == "random"
