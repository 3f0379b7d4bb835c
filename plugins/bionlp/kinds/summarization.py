"""``summarization``: free-text generation (question summaries, clinical notes) scored
with ROUGE and, when the user names a judge model, the LLM judge.

ROUGE-1/2/L F-measures come from ``rouge-score`` with the Porter stemmer
(:func:`~bioharness.plugins.bionlp.metrics.rouge_scores`); the per-sample values
``rouge1``, ``rouge2``, ``rougeL`` average to the corpus metrics.

With a judge (``bioharness eval --judge SPEC``) every generation is also rated 1-10 by
:mod:`bioharness.plugins.bionlp.judge`, the judge seeing the task prompt as the model saw
it (few-shot blocks left out), the reference and the answer. Per-sample values
``judge_score`` (the score, 0 when unparsed), ``judge_scored`` (1 when parsed) and
``judge_unparsed`` (1 when not) give the metrics ``judge_score`` (mean over the parsed
ratings; ``None`` when none was parsed) and ``judge_unparsed`` (their count: replies with
no score in them); the judge's model, parsed score and full reply are kept in the sample's
meta (``judge_model``, ``judge_score``, ``judge_reply``). A judge *request* that failed
(connection, timeout, server error, unparseable body) is no reply at all: the sample's
Score carries ``error`` and the evaluation counts it as a failed sample, retried on the
next run, not as unparsed. Without a judge there are no judge values, and no judge request
is made.
"""
from __future__ import annotations

from bioharness import Score

from .. import judge as J
from .. import metrics as M
from .base import BionlpKind, output_error

ROUGE = ("rouge1", "rouge2", "rougeL")


class SummarizationKind(BionlpKind):
    name = "summarization"
    default_max_new_tokens = 256
    OPTIONS = {
        "judge_max_new_tokens": (int, f"length of the judge's reply (default {J.DEFAULT_MAX_NEW_TOKENS})"),
    }

    def validate_options(self, spec):
        from bioharness import DataError

        if spec.options.get("judge_max_new_tokens", 1) < 1:
            raise DataError(spec.path, "options.judge_max_new_tokens", "must be >= 1")

    def metric_names(self, spec):
        return {*ROUGE, "judge_score", "judge_unparsed"}

    def shot_answer(self, spec, example):
        return str(example.reference)

    def score(self, spec, examples, outputs, judge=None):
        errors = [output_error(outs[0]) for outs in outputs]
        texts = ["" if error else outs[0].text.strip() for outs, error in zip(outputs, errors)]
        rouge = M.rouge_scores([str(e.reference) for e in examples], texts, ROUGE)["per_sample"]
        judgements = [None] * len(examples)
        if judge is not None:
            items = [(str(e.id), self.render(spec, e), str(e.reference), text) for e, text in zip(examples, texts)]
            judgements = J.judge_answers(judge, items, spec.options.get("judge_max_new_tokens", J.DEFAULT_MAX_NEW_TOKENS))
        scores = []
        for example, text, error, values, judgement in zip(examples, texts, errors, rouge, judgements):
            values = dict(values)
            meta = {"error": error} if error else {}
            failed = None
            if judgement is not None and judgement.error:
                failed = f"judge: {judgement.error}"
            elif judgement is not None:
                parsed = judgement.score is not None
                values.update(judge_score=judgement.score or 0, judge_scored=int(parsed), judge_unparsed=int(not parsed))
                meta.update(judgement.to_meta())
            scores.append(Score(id=str(example.id), task=spec.name, prediction=None if error else text,
                                reference=example.reference, values=values, meta=meta, error=failed))
        return scores

    def metrics(self, spec, sums, n):
        out = {name: M.ratio(sums.get(name, 0.0), n) for name in ROUGE}
        if "judge_scored" in sums:
            out["judge_score"] = M.ratio(sums.get("judge_score", 0.0), sums["judge_scored"])  # None: no rating parsed
            out["judge_unparsed"] = sums.get("judge_unparsed", 0.0)
        return self.ordered(spec, out)
