"""``ner``: the model lists the entity mentions of a sentence; scored against the gold
mentions of the IOB2 annotation.

**Untyped** (no ``options.types``; the built-in tasks): the answer is parsed with
:func:`~bioharness.plugins.bionlp.metrics.parse_mentions` (one mention per line, or
separated by ``;`` / ``, ``; ``None`` for no mention) and compared with the gold mention
strings by :func:`~bioharness.plugins.bionlp.metrics.mention_counts`, as multisets:
``strict`` means equal after normalisation, ``lenient`` also accepts a shared content word
(one-to-one). Per-sample values: ``tp_strict``, ``tp_lenient``, ``npred`` (predicted
mentions) and ``ngold`` (gold mentions).

**Typed** (``options.types: [protein, DNA, RNA, cell_line, cell_type]``): every gold
mention's type must be one of ``types``. The template can name ``{types}`` (the types,
comma-separated) and should ask for ``type: mention`` lines; few-shot answers are such
lines. The answer is parsed with
:func:`~bioharness.plugins.bionlp.metrics.parse_typed_mentions`, whose vocabulary is the
types themselves plus ``options.entity_words`` (word -> type, e.g. ``{"cell lines":
cell_line, genes: DNA}``; plurals, case and ``_``/``-``/spaces do not matter); an answer
meaning none (``None``, ``N/A``, ``No cell types.``) gives no mention. Mentions are
matched within each type as above. Per-sample values, per type T: ``tp_strict__T``,
``tp_lenient__T``, ``npred__T``, ``ngold__T``; ``npred_untyped`` counts predicted
mentions of no type or of a type the task does not have (false positives of the micro
average only); the untyped totals ``tp_strict``... are the sums over types.

Metrics: entity-level micro averages over the corpus, ``precision``/``recall``/``f1`` in
their ``_strict`` and ``_lenient`` forms; typed tasks add ``f1_strict_T`` /
``f1_lenient_T`` per type and ``macro_f1_strict`` / ``macro_f1_lenient`` (mean over the
types whose F1 is defined, as seqeval's macro average over the types present). A metric
with nothing to divide by (no predicted and no gold mention) is ``None``, never 0.
A backend error counts as an empty answer (prediction ``null``).

``strata`` (for ``--sample stratified``): the sorted entity types of the example's gold
mentions (none for a sentence without entities).
"""
from __future__ import annotations

from bioharness import DataError, Score

from .. import metrics as M
from .base import BionlpKind, output_error

NONE_ANSWER = "None"
MODES = ("strict", "lenient")


class NerKind(BionlpKind):
    name = "ner"
    default_max_new_tokens = 128
    OPTIONS = {
        "types": (list, "entity types scored separately; the answer lists 'type: mention' lines"),
        "entity_words": (dict, "word -> type: more words the answer may use for a type (typed tasks)"),
    }

    # -- options -------------------------------------------------------------------------

    def validate_options(self, spec):
        types = spec.options.get("types")
        words = spec.options.get("entity_words")
        if types is None:
            if words is not None:
                raise DataError(spec.path, "options.entity_words", "only for typed tasks (set options.types)")
            return
        if not types or not all(isinstance(t, str) and t.strip() for t in types):
            raise DataError(spec.path, "options.types", "expected a non-empty list of non-empty strings")
        keys = [M.type_key(t) for t in types]
        if len(set(keys)) != len(keys):
            raise DataError(spec.path, "options.types", "two types are the same word (case, plural and _/- ignored)")
        for word, type_ in (words or {}).items():
            if type_ not in types:
                raise DataError(spec.path, f"options.entity_words.{word}", f"{type_!r} is not one of the types")

    @staticmethod
    def types(spec) -> list[str] | None:
        return spec.options.get("types")

    def metric_names(self, spec):
        names = {f"{m}_{mode}" for m in ("precision", "recall", "f1") for mode in MODES}
        for type_ in self.types(spec) or ():
            names |= {f"f1_{mode}_{type_}" for mode in MODES}
        if self.types(spec):
            names |= {f"macro_f1_{mode}" for mode in MODES}
        return names

    # -- data and prompts ----------------------------------------------------------------

    def load(self, spec, data_dir, split):
        examples = super().load(spec, data_dir, split)
        types = self.types(spec)
        if types:
            for example in examples:
                unknown = sorted({m["type"] for m in example.reference} - set(types))
                if unknown:
                    where = example.meta.get("source", f"example {example.id}")
                    raise DataError(spec.path, "options.types", f"{where} has gold type(s) {unknown} "
                                                                f"not in {list(types)}")
        return examples

    def prompt_fields(self, spec, example):
        fields = dict(example.inputs)
        if self.types(spec):
            fields["types"] = ", ".join(self.types(spec))
        return fields

    def strata(self, spec, example):
        return sorted({m["type"] for m in example.reference})

    @staticmethod
    def gold_mentions(example) -> list[str]:
        return [m["text"] for m in example.reference]

    def shot_answer(self, spec, example):
        if self.types(spec):
            lines = [f"{m['type']}: {m['text']}" for m in example.reference]
        else:
            lines = self.gold_mentions(example)
        return "\n".join(lines) if lines else NONE_ANSWER

    # -- scoring -------------------------------------------------------------------------

    def score(self, spec, examples, outputs, judge=None):
        types = self.types(spec)
        vocabulary = M.type_vocabulary(types, spec.options.get("entity_words")) if types else None
        scores = []
        for example, outs in zip(examples, outputs):
            error = output_error(outs[0])
            meta = {"error": error} if error else {}
            if types:
                text = None if error else outs[0].text
                pairs = [] if error else M.parse_typed_mentions(text, vocabulary, types[0] if len(types) == 1 else None)
                values = self._typed_values(types, example.reference, pairs)
                prediction = None if error else [{"type": t, "text": m} for t, m in pairs]
                reference = [{"type": m["type"], "text": m["text"]} for m in example.reference]
            else:
                gold = self.gold_mentions(example)
                prediction = None if error else M.parse_mentions(outs[0].text)
                tp_strict, npred, ngold = M.mention_counts(gold, prediction or [], "strict")
                tp_lenient, _, _ = M.mention_counts(gold, prediction or [], "lenient")
                values = {"tp_strict": tp_strict, "tp_lenient": tp_lenient, "npred": npred, "ngold": ngold}
                reference = gold
            scores.append(Score(id=str(example.id), task=spec.name, prediction=prediction, reference=reference,
                                values=values, meta=meta))
        return scores

    @staticmethod
    def _typed_values(types, reference, pairs) -> dict[str, int]:
        gold = {t: [] for t in types}
        pred = {t: [] for t in types}
        for mention in reference:
            gold[mention["type"]].append(mention["text"])
        untyped = 0
        for type_, mention in pairs:
            if type_ in pred:
                pred[type_].append(mention)
            elif M.normalize_mention(mention):
                untyped += 1
        values = {"tp_strict": 0, "tp_lenient": 0, "npred": untyped, "ngold": 0, "npred_untyped": untyped}
        for t in types:
            for mode in MODES:
                tp, npred, ngold = M.mention_counts(gold[t], pred[t], mode)
                values[f"tp_{mode}__{t}"] = tp
                values[f"tp_{mode}"] += tp
            values[f"npred__{t}"], values[f"ngold__{t}"] = npred, ngold
            values["npred"] += npred
            values["ngold"] += ngold
        return values

    def metrics(self, spec, sums, n):
        out = {}
        npred, ngold = sums.get("npred", 0.0), sums.get("ngold", 0.0)
        for mode in MODES:
            tp = sums.get(f"tp_{mode}", 0.0)
            out[f"precision_{mode}"], out[f"recall_{mode}"] = M.ratio(tp, npred), M.ratio(tp, ngold)
            out[f"f1_{mode}"] = M.f1_from_counts(tp, npred, ngold)
        types = self.types(spec) or ()
        for mode in MODES:
            per = {t: M.f1_from_counts(sums.get(f"tp_{mode}__{t}", 0.0), sums.get(f"npred__{t}", 0.0),
                                       sums.get(f"ngold__{t}", 0.0)) for t in types}
            if types:
                out[f"macro_f1_{mode}"] = M.mean_defined(per.values())
            out.update((f"f1_{mode}_{t}", v) for t, v in per.items())
        return self.ordered(spec, out)
