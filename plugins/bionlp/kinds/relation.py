"""``re``: relation classification of one marked entity pair per example.

The model answers with a word; :func:`~bioharness.plugins.bionlp.metrics.parse_label`
maps it to one of ``options.labels`` through the labels themselves, ``options.label_words``
(label -> the word the prompt asks for, also the answer shown after few-shot examples)
and ``options.aliases`` (a mapping alias -> label, or the name of a built-in table:
``ddi``, ``chemprot``, ``gad``). Unparseable answers are recorded as prediction ``null``.

Per-sample values: ``correct`` and, per label L, ``tp_L``/``fp_L``/``fn_L`` (an
unparsed answer is a miss of the gold label and a false positive of nothing).

Metrics (the BLURB convention): ``micro_f1``, ``micro_precision``, ``micro_recall`` over
the positive labels (all but ``options.negative``: predicting the negative label is never a
true or false positive), ``macro_f1`` over the positive labels, ``accuracy`` over all
examples, and ``f1_L`` for every label including the negative one (``f1_DDI-effect``).
A label neither predicted nor in the gold has an undefined F1 (``null``) and is left out
of ``macro_f1`` (as sklearn's ``zero_division=np.nan``).
"""
from __future__ import annotations

from bioharness import DataError, Score

from .. import metrics as M
from .base import BionlpKind, output_error

BUILTIN_ALIASES = {"ddi": M.DDI_ALIASES, "chemprot": M.CHEMPROT_ALIASES, "gad": M.GAD_ALIASES}


class ReKind(BionlpKind):
    name = "re"
    default_max_new_tokens = 16
    OPTIONS = {
        "labels": (list, "every label, the negative one included"),
        "negative": (str, "the label meaning 'no relation', left out of the micro average"),
        "label_words": (dict, "label -> the word the prompt asks the model to answer with"),
        "aliases": ((dict, str), "alias -> label, or a built-in table: " + ", ".join(BUILTIN_ALIASES)),
    }

    def validate_options(self, spec):
        opts = spec.options
        labels = opts.get("labels")
        if labels is None:
            raise DataError(spec.path, "options.labels", "missing (a relation task lists its labels)")
        if len(labels) < 2 or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
            raise DataError(spec.path, "options.labels", "expected at least two distinct non-empty strings")
        if "negative" in opts and opts["negative"] not in labels:
            raise DataError(spec.path, "options.negative", f"{opts['negative']!r} is not one of the labels")
        for label, word in opts.get("label_words", {}).items():
            if label not in labels:
                raise DataError(spec.path, f"options.label_words.{label}", "is not one of the labels")
            if not isinstance(word, str) or not word.strip():
                raise DataError(spec.path, f"options.label_words.{label}", "expected a non-empty string")
        aliases = opts.get("aliases")
        if isinstance(aliases, str) and aliases not in BUILTIN_ALIASES:
            raise DataError(spec.path, "options.aliases",
                            f"unknown alias table {aliases!r} (built-in: {', '.join(BUILTIN_ALIASES)})")
        for alias, label in self.aliases(spec).items():
            if label not in labels:
                raise DataError(spec.path, "options.aliases", f"alias {alias!r} maps to {label!r}, which is not a label")

    def metric_names(self, spec):
        labels = spec.options.get("labels", [])
        return {"micro_f1", "micro_precision", "micro_recall", "macro_f1", "accuracy", *(f"f1_{x}" for x in labels)}

    def load(self, spec, data_dir, split):
        """The examples, each gold label one of ``options.labels`` (a generic reader's
        ``negative`` label included), else one line naming the example's source."""
        examples = super().load(spec, data_dir, split)
        labels = spec.options["labels"]
        for example in examples:
            if example.reference not in labels:
                where = example.meta.get("source", f"example {example.id}")
                raise DataError(spec.path, "options.labels", f"{where} has label {example.reference!r}, "
                                                             f"not one of {list(labels)}")
        return examples

    @staticmethod
    def aliases(spec) -> dict[str, str]:
        table = spec.options.get("aliases") or {}
        table = dict(BUILTIN_ALIASES[table]) if isinstance(table, str) else dict(table)
        table.update((word, label) for label, word in spec.options.get("label_words", {}).items())
        return table

    @staticmethod
    def positive_labels(spec) -> list[str]:
        negative = spec.options.get("negative")
        return [x for x in spec.options["labels"] if x != negative]

    def strata(self, spec, example):
        return example.reference  # the relation label

    def shot_answer(self, spec, example):
        return spec.options.get("label_words", {}).get(example.reference, example.reference)

    def score(self, spec, examples, outputs, judge=None):
        labels = spec.options["labels"]
        aliases = self.aliases(spec)
        scores = []
        for example, outs in zip(examples, outputs):
            error = output_error(outs[0])
            prediction = None if error else M.parse_label(outs[0].text, labels, aliases)
            gold = example.reference
            values = {"correct": int(prediction is not None and prediction == gold)}
            for label in labels:
                values[f"tp_{label}"] = int(prediction == label and gold == label)
                values[f"fp_{label}"] = int(prediction == label and gold != label)
                values[f"fn_{label}"] = int(prediction != label and gold == label)
            scores.append(Score(id=str(example.id), task=spec.name, prediction=prediction, reference=gold,
                                values=values, meta={"error": error} if error else {}))
        return scores

    def metrics(self, spec, sums, n):
        labels = spec.options["labels"]
        positive = self.positive_labels(spec)

        def total(prefix, which):
            return sum(sums.get(f"{prefix}_{x}", 0.0) for x in which)

        tp, fp, fn = total("tp", positive), total("fp", positive), total("fn", positive)
        per = {x: M.label_f1(sums, x) for x in labels}
        out = {
            "micro_f1": M.f1_from_counts(tp, tp + fp, tp + fn),
            "micro_precision": M.ratio(tp, tp + fp),
            "micro_recall": M.ratio(tp, tp + fn),
            "macro_f1": M.mean_defined(per[x] for x in positive),
            "accuracy": M.ratio(sums.get("correct", 0.0), n),
            **{f"f1_{x}": v for x, v in per.items()},
        }
        return self.ordered(spec, out)
