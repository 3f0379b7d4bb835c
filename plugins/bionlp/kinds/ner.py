"""``ner``: the model lists the entity mentions of a sentence; scored against the gold
mentions of the IOB2 annotation.

The answer is parsed with :func:`~bioharness.plugins.bionlp.metrics.parse_mentions` (one
mention per line, or separated by ``;`` / ``, ``; ``None`` for no mention) and compared
with the gold mention strings by
:func:`~bioharness.plugins.bionlp.metrics.mention_counts`, as multisets: ``strict`` means
equal after normalisation, ``lenient`` also accepts a shared content word (one-to-one).

Per-sample values: ``tp_strict``, ``tp_lenient``, ``npred`` (predicted mentions) and
``ngold`` (gold mentions). Metrics are entity-level micro averages over the corpus:
``precision``/``recall``/``f1`` in their ``_strict`` and ``_lenient`` forms. A backend
error counts as an empty answer (prediction ``null``).
"""
from __future__ import annotations

from bioharness import Score

from .. import metrics as M
from .base import BionlpKind, output_error, safe_div

NONE_ANSWER = "None"


class NerKind(BionlpKind):
    name = "ner"
    default_max_new_tokens = 128
    OPTIONS = {}

    def metric_names(self, spec):
        return {f"{m}_{mode}" for m in ("precision", "recall", "f1") for mode in ("strict", "lenient")}

    @staticmethod
    def gold_mentions(example) -> list[str]:
        return [m["text"] for m in example.reference]

    def shot_answer(self, spec, example):
        mentions = self.gold_mentions(example)
        return "\n".join(mentions) if mentions else NONE_ANSWER

    def score(self, spec, examples, outputs, judge=None):
        scores = []
        for example, outs in zip(examples, outputs):
            gold = self.gold_mentions(example)
            error = output_error(outs[0])
            prediction = None if error else M.parse_mentions(outs[0].text)
            tp_strict, npred, ngold = M.mention_counts(gold, prediction or [], "strict")
            tp_lenient, _, _ = M.mention_counts(gold, prediction or [], "lenient")
            scores.append(Score(
                id=str(example.id), task=spec.name, prediction=prediction, reference=gold,
                values={"tp_strict": tp_strict, "tp_lenient": tp_lenient, "npred": npred, "ngold": ngold},
                meta={"error": error} if error else {},
            ))
        return scores

    def metrics(self, spec, sums, n):
        out = {}
        npred, ngold = sums.get("npred", 0.0), sums.get("ngold", 0.0)
        for mode in ("strict", "lenient"):
            tp = sums.get(f"tp_{mode}", 0.0)
            p, r = safe_div(tp, npred), safe_div(tp, ngold)
            out[f"precision_{mode}"], out[f"recall_{mode}"] = p, r
            out[f"f1_{mode}"] = safe_div(2 * p * r, p + r)
        return self.ordered(spec, out)
