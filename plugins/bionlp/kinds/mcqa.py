"""``mcqa``: multiple-choice and yes/no/maybe question answering.

Two answer spaces:

* **option letters** (MedQA, MedMCQA, MMLU): the example's ``inputs["options"]`` maps a
  letter to its text; the reference is a letter. The template can use ``{options_text}``
  (``A. text`` lines) and ``{letters}`` (``A, B, C or D``).
* **fixed labels** (``options.labels``, e.g. PubMedQA's ``[yes, no, maybe]``): the
  reference is a label.

Two scoring modes (``options.scoring``):

* ``loglikelihood`` (default), the lm-evaluation-harness convention: the rendered prompt
  (raw text, no chat template; ``prompt.system`` and few-shot blocks first) is the context
  and each answer is a continuation after a space: `` A``/`` B``/... for letters (as
  lm-eval's ``medqa_4options``, ``medmcqa`` and ``mmlu`` tasks do), `` yes``/`` no``/
  `` maybe`` for labels (as its ``pubmedqa``). ``options.continuation: text`` scores the
  option texts instead of the letters. The answer with the highest summed log-probability
  wins (the first on a tie); ``Score.meta`` keeps ``choices`` and their ``logprobs``.
* ``generate``: one chat request; the answer is parsed from the text with
  :func:`~bioharness.plugins.bionlp.metrics.parse_choice` (letters),
  :func:`~bioharness.plugins.bionlp.metrics.parse_yes_no_maybe` (yes/no/maybe) or
  :func:`~bioharness.plugins.bionlp.metrics.parse_label` (other label sets, with
  ``options.aliases``). An unparseable answer is recorded as prediction ``null`` and
  counts as wrong.

Per-sample values: ``correct`` (0/1); with labels also ``tp_L``, ``fp_L``, ``fn_L`` per
label (an unparsed answer is a miss of the gold label, never a false positive); with
``options.group_by`` (a meta key, e.g. ``subject``) also ``correct_G`` and ``n_G``.

Metrics: ``accuracy``; with labels ``macro_f1`` (unweighted mean of the per-label F1 over
the labels whose F1 is defined) and ``f1_L`` (``null`` for a label neither predicted nor
in the gold); with ``group_by`` ``accuracy_G`` for every group present (``accuracy_anatomy``).
"""
from __future__ import annotations

from bioharness import DataError, LoglikelihoodRequest, Score

from .. import metrics as M
from .base import BionlpKind, output_error

SCORING = ("loglikelihood", "generate")
CONTINUATIONS = ("letter", "text")


class McqaKind(BionlpKind):
    name = "mcqa"
    default_max_new_tokens = 32
    OPTIONS = {
        "scoring": (str, "loglikelihood (default) or generate"),
        "labels": (list, "a fixed answer set (e.g. [yes, no, maybe]) instead of the example's option letters"),
        "aliases": (dict, "answer word -> label, for parsing generated answers in label mode"),
        "continuation": (str, "log-likelihood continuation for letter tasks: letter (default) or text"),
        "group_by": (str, "a meta key (e.g. subject): accuracy per group as well"),
        "strip": (list, "input fields whose surrounding whitespace is removed before the prompt is filled in"),
    }

    # -- validation --------------------------------------------------------------------

    def validate_options(self, spec):
        opts = spec.options
        if opts.get("scoring", "loglikelihood") not in SCORING:
            raise DataError(spec.path, "options.scoring", f"{opts['scoring']!r} is not one of {', '.join(SCORING)}")
        if opts.get("continuation", "letter") not in CONTINUATIONS:
            raise DataError(spec.path, "options.continuation",
                            f"{opts['continuation']!r} is not one of {', '.join(CONTINUATIONS)}")
        if not all(isinstance(x, str) and x for x in opts.get("strip", ())):
            raise DataError(spec.path, "options.strip", "expected a list of input field names")
        labels = opts.get("labels")
        if labels is not None:
            if len(labels) < 2 or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
                raise DataError(spec.path, "options.labels", "expected at least two distinct non-empty strings")
            if "continuation" in opts:
                raise DataError(spec.path, "options.continuation", "only for option-letter tasks (this task has labels)")
        for alias, label in opts.get("aliases", {}).items():
            if labels is None:
                raise DataError(spec.path, "options.aliases", "only for tasks with options.labels")
            if label not in labels:
                raise DataError(spec.path, f"options.aliases.{alias}", f"maps to {label!r}, which is not a label")

    def metric_names(self, spec):
        names = {"accuracy"}
        labels = spec.options.get("labels")
        if labels:
            names |= {"macro_f1", *(f"f1_{label}" for label in labels)}
        return names

    # -- requests ----------------------------------------------------------------------

    @staticmethod
    def scoring(spec) -> str:
        return spec.options.get("scoring", "loglikelihood")

    def answers(self, spec, example) -> dict[str, str]:
        """answer key (letter or label) -> its log-likelihood continuation (no leading space)."""
        labels = spec.options.get("labels")
        if labels:
            return {label: label for label in labels}
        options = example.inputs.get("options")
        if not hasattr(options, "items"):
            raise DataError(spec.path, "options.labels",
                            f"example {example.id} has no 'options' mapping; a label task needs options.labels")
        by_text = spec.options.get("continuation", "letter") == "text"
        return {letter: (str(text) if by_text else letter) for letter, text in options.items()}

    def prompt_fields(self, spec, example):
        fields = dict(example.inputs)
        for name in spec.options.get("strip", ()):
            if isinstance(fields.get(name), str):
                fields[name] = fields[name].strip()
        options = example.inputs.get("options")
        if hasattr(options, "items"):
            letters = list(options)
            fields["options_text"] = "\n".join(f"{k}. {v}" for k, v in options.items())
            fields["letters"] = ", ".join(letters[:-1]) + f" or {letters[-1]}" if len(letters) > 1 else "".join(letters)
        labels = spec.options.get("labels")
        if labels:
            fields["labels"] = ", ".join(labels[:-1]) + f" or {labels[-1]}"
        return fields

    def shot_answer(self, spec, example):
        return str(example.reference)

    def strata(self, spec, example):
        return str(example.reference)  # the answer letter or label

    def requests(self, spec, example, shots):
        if self.scoring(spec) == "generate":
            return [self.generation_request(spec, example, shots)]
        system = spec.prompt.get("system")
        context = self.full_prompt(spec, example, shots)
        if system:
            context = f"{system}\n\n{context}"
        return [LoglikelihoodRequest(id=f"{example.id}:{key}", context=context, continuation=f" {cont}")
                for key, cont in self.answers(spec, example).items()]

    # -- scoring -----------------------------------------------------------------------

    def parse(self, spec, example, text: str) -> str | None:
        labels = spec.options.get("labels")
        if not labels:
            return M.parse_choice(text, dict(example.inputs["options"]))
        if sorted(labels) == ["maybe", "no", "yes"] and not spec.options.get("aliases"):
            return M.parse_yes_no_maybe(text)
        return M.parse_label(text, labels, spec.options.get("aliases"))

    def score(self, spec, examples, outputs, judge=None):
        labels = spec.options.get("labels") or ()
        group_by = spec.options.get("group_by")
        scores = []
        for example, outs in zip(examples, outputs):
            meta = {}
            errors = [output_error(o) for o in outs if output_error(o)]
            if errors:
                prediction = None
                meta["error"] = errors[0]
            elif self.scoring(spec) == "generate":
                prediction = self.parse(spec, example, outs[0].text)
            else:
                keys = list(self.answers(spec, example))
                logprobs = [out.logprob for out in outs]
                prediction = keys[logprobs.index(max(logprobs))]
                meta.update(choices=keys, logprobs=logprobs)
            gold = example.reference
            values = {"correct": int(prediction is not None and prediction == gold)}
            for label in labels:
                values[f"tp_{label}"] = int(prediction == label and gold == label)
                values[f"fp_{label}"] = int(prediction == label and gold != label)
                values[f"fn_{label}"] = int(prediction != label and gold == label)
            if group_by:
                group = example.meta.get(group_by)
                values[f"correct_{group}"] = values["correct"]
                values[f"n_{group}"] = 1
            scores.append(Score(id=str(example.id), task=spec.name, prediction=prediction, reference=gold,
                                values=values, meta=meta))
        return scores

    def metrics(self, spec, sums, n):
        out = {"accuracy": M.ratio(sums.get("correct", 0.0), n)}
        labels = spec.options.get("labels")
        if labels:
            per = {label: M.label_f1(sums, label) for label in labels}
            out["macro_f1"] = M.mean_defined(per.values())
            out.update((f"f1_{label}", value) for label, value in per.items())
        for column in sorted(sums):
            if column.startswith("n_") and sums[column] > 0:
                group = column[2:]
                out[f"accuracy_{group}"] = M.ratio(sums.get(f"correct_{group}", 0.0), sums[column])
        return self.ordered(spec, out)
