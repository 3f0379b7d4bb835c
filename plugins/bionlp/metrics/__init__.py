"""Metrics and answer parsers of the bionlp task kinds (pure Python), by responsibility:

* :mod:`.common`: count tuples, ratios (``None`` when undefined), accuracy, per-class and
  macro scores;
* :mod:`.ner`: mention strings and token spans, the mention-list parsers;
* :mod:`.relation`: the relation-label parser, alias tables, BLURB micro/macro F1;
* :mod:`.text`: ROUGE, the multiple-choice and yes/no/maybe parsers.

Everything is re-exported here, so ``from bioharness.plugins.bionlp import metrics as M``
and ``M.<name>`` work for every name.
"""
from ..spans import iob2_spans, lenient_spans, spans_to_tags
from .common import (Counts, accuracy, f1_from_counts, label_f1, macro_f1, mean_defined, micro_f1_from_counts,
                     per_class_prf, prf_from_counts, ratio)
from .ner import (entity_type, mention_counts, normalize_mention, parse_mentions, parse_typed_mentions, score_mentions,
                  score_spans, span_counts, type_key, type_vocabulary)
from .relation import (CHEMPROT_ALIASES, DDI_ALIASES, GAD_ALIASES, parse_label, relation_counts,
                       score_relations)
from .text import parse_choice, parse_yes_no_maybe, rouge_scores

__all__ = [
    "accuracy",
    "per_class_prf",
    "macro_f1",
    "prf_from_counts",
    "micro_f1_from_counts",
    "normalize_mention",
    "mention_counts",
    "score_mentions",
    "span_counts",
    "score_spans",
    "iob2_spans",
    "lenient_spans",
    "spans_to_tags",
    "parse_mentions",
    "parse_label",
    "relation_counts",
    "score_relations",
    "DDI_ALIASES",
    "CHEMPROT_ALIASES",
    "GAD_ALIASES",
    "rouge_scores",
    "parse_choice",
    "parse_yes_no_maybe",
    "Counts",
    "ratio",
    "f1_from_counts",
    "mean_defined",
    "label_f1",
    "parse_typed_mentions",
    "type_vocabulary",
    "type_key",
    "entity_type",
]
