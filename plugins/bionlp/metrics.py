"""Metrics and answer parsers of the bionlp task kinds (pure Python).

Conventions
-----------
* A prediction of ``None`` means "the model's output could not be parsed". It never
  equals a label, so it counts as wrong for accuracy and as a miss for recall; it is not
  a false positive of any class.
* Corpus-level metrics (micro-F1 of NER and RE) are computed from per-sample count
  tuples ``(tp, n_pred, n_gold)``, which sum over samples; the task kinds store such
  counts per sample and the core (:mod:`bioharness.stats`) bootstraps the sums.
* Scores are fractions in [0, 1].
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence

from .spans import Span, iob2_spans, lenient_spans, spans_to_tags

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
]

Counts = tuple[int, int, int]  # (true positives, predicted, gold)


# --------------------------------------------------------------------------- classification

def accuracy(labels: Sequence[Hashable], preds: Sequence[Hashable | None]) -> float:
    """Fraction of ``preds`` equal to ``labels`` (``None`` is always wrong); 0.0 if empty."""
    _same_length(labels, preds)
    if not labels:
        return 0.0
    return sum(p is not None and p == g for g, p in zip(labels, preds)) / len(labels)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def prf_from_counts(counts: Iterable[Counts]) -> dict[str, float]:
    """Micro precision, recall and F1 from summed ``(tp, n_pred, n_gold)`` tuples.
    A ratio with a zero denominator is 0.0 (as sklearn's ``zero_division=0``)."""
    tp = n_pred = n_gold = 0
    for a, b, c in counts:
        tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": _f1(p, r), "tp": tp, "n_pred": n_pred, "n_gold": n_gold}


def micro_f1_from_counts(counts: Iterable[Counts]) -> float:
    """Micro-F1 from per-sample ``(tp, n_pred, n_gold)``; the bootstrap statistic for NER
    and RE."""
    tp = n_pred = n_gold = 0
    for a, b, c in counts:
        tp, n_pred, n_gold = tp + a, n_pred + b, n_gold + c
    # 2tp / (pred + gold) is the F1 of P = tp/pred and R = tp/gold, without the divisions
    return 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0


def per_class_prf(
    labels: Sequence[Hashable], preds: Sequence[Hashable | None], classes: Sequence[Hashable]
) -> dict[Hashable, dict[str, float]]:
    """Per class: precision, recall, f1 and support (gold count), one-vs-rest."""
    _same_length(labels, preds)
    out = {}
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(labels, preds))
        n_pred = sum(p == c for p in preds)
        n_gold = sum(g == c for g in labels)
        s = prf_from_counts([(tp, n_pred, n_gold)])
        out[c] = {"precision": s["precision"], "recall": s["recall"], "f1": s["f1"], "support": n_gold}
    return out


def macro_f1(labels: Sequence[Hashable], preds: Sequence[Hashable | None], classes: Sequence[Hashable]) -> float:
    """Unweighted mean of the per-class F1 over ``classes`` (a class never predicted nor in
    gold scores 0, as sklearn's ``f1_score(average="macro", labels=classes,
    zero_division=0)``)."""
    if not classes:
        raise ValueError("macro_f1 needs at least one class")
    per = per_class_prf(labels, preds, classes)
    return sum(v["f1"] for v in per.values()) / len(classes)


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"{len(a)} references but {len(b)} predictions")


# --------------------------------------------------------------------------- NER: mention strings

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}
_EDGE_PUNCT = " .,;:!?\"'`*()[]{}<>"
_STOPWORDS = frozenset("a an and as at by for from in of on or the to with".split())


def normalize_mention(text: str) -> str:
    """The form under which two mention strings are compared.

    In order: Unicode NFKC; every dash variant (en/em dash, minus, soft hyphen...) becomes
    ``-`` and curly quotes become straight; lowercase; runs of whitespace become one space;
    the spaces on either side of every character that is neither a letter/digit nor a space
    are removed (the gold text is tokens joined with spaces, so ``"5 - fluorouracil"`` and
    ``"interleukin ( IL ) - 2"`` must meet ``"5-fluorouracil"`` and ``"interleukin (IL)-2"``;
    both become ``5-fluorouracil`` / ``interleukin(il)-2``); finally the characters
    `` .,;:!?"'`*()[]{}<>`` are stripped from both ends. Predicted and gold strings go
    through the same function, so the rule only has to be consistent, not pretty.
    """
    s = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES).lower()
    s = " ".join(s.split())
    s = re.sub(r"\s*([^\w\s])\s*", r"\1", s)
    return s.strip(_EDGE_PUNCT)


def _content_words(normalized: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"\w+", normalized) if w not in _STOPWORDS)


def _max_matching(n_left: int, n_right: int, edge: Callable[[int, int], bool]) -> int:
    """Size of a maximum one-to-one matching (Kuhn's augmenting paths; the inputs are the
    mentions of one sentence, so tiny)."""
    adj = [[j for j in range(n_right) if edge(i, j)] for i in range(n_left)]
    match_right = [-1] * n_right

    def augment(i: int, seen: list[bool]) -> bool:
        for j in adj[i]:
            if not seen[j]:
                seen[j] = True
                if match_right[j] < 0 or augment(match_right[j], seen):
                    match_right[j] = i
                    return True
        return False

    return sum(augment(i, [False] * n_right) for i in range(n_left))


def mention_counts(gold: Sequence[str], pred: Sequence[str], mode: str = "strict") -> Counts:
    """``(tp, n_pred, n_gold)`` for one sample's gold and predicted mention strings.

    Mentions are multisets: two gold ``aspirin`` need two predicted ``aspirin``; each
    predicted mention matches at most one gold mention and vice versa.

    ``strict``: equal after :func:`normalize_mention`.
    ``lenient``: equal after normalisation, or sharing at least one content word (word =
    run of letters/digits of the normalised string; content = not one of a few stopwords
    such as *of*, *the*, *and*). Whole-word containment of one mention in the other is a
    special case of sharing a word. The number of matches is a maximum one-to-one matching
    under that relation, so lenient is never below strict.
    """
    g = [normalize_mention(m) for m in gold]
    p = [normalize_mention(m) for m in pred]
    g = [m for m in g if m]
    p = [m for m in p if m]
    if mode == "strict":
        tp = sum((Counter(g) & Counter(p)).values())
    elif mode == "lenient":
        gw, pw = [_content_words(m) for m in g], [_content_words(m) for m in p]
        tp = _max_matching(len(p), len(g), lambda i, j: p[i] == g[j] or bool(pw[i] & gw[j]))
    else:
        raise ValueError(f"mode {mode!r}: choose 'strict' or 'lenient'")
    return tp, len(p), len(g)


def score_mentions(
    golds: Sequence[Sequence[str]], preds: Sequence[Sequence[str]], mode: str = "strict"
) -> dict[str, float]:
    """Corpus micro precision/recall/F1 (plus tp, n_pred, n_gold) over samples of mention
    strings; see :func:`mention_counts` for ``mode``."""
    _same_length(golds, preds)
    return prf_from_counts(mention_counts(g, p, mode) for g, p in zip(golds, preds))


# --------------------------------------------------------------------------- NER: token spans

def span_counts(gold: Iterable[Span], pred: Iterable[Span]) -> Counts:
    """``(tp, n_pred, n_gold)`` for one sentence's ``(type, start, end)`` spans; a match is
    the same type and the same boundaries. Spans are a set per sentence, as in seqeval."""
    g, p = set(map(tuple, gold)), set(map(tuple, pred))
    return len(g & p), len(p), len(g)


def score_spans(golds: Sequence[Iterable[Span]], preds: Sequence[Iterable[Span]]) -> dict[str, float]:
    """Entity-level micro precision/recall/F1 over token spans, the same numbers as
    ``seqeval.metrics.precision_score/recall_score/f1_score`` (default mode) on the
    equivalent IOB2 tags. For tags, pass ``iob2_spans(tags)`` (gold) and
    ``lenient_spans(tags)`` (predictions, read as seqeval reads invalid sequences)."""
    _same_length(golds, preds)
    return prf_from_counts(span_counts(g, p) for g, p in zip(golds, preds))


_NONE_WORDS = re.compile(r"^(?:none|nothing|n/?a|null|nil|not applicable|\[\s*\]|-+|no(?:ne)?\s+found)\W*$", re.I)
_NONE_SENTENCE = re.compile(
    r"\b(?:no|none|not\s+any|zero)\b.*\b(?:entit|mention|chemical|disease|gene|protein|drug|compound)", re.I
)


def _says_none(s: str) -> bool:
    """Whether an output (or one line of it) says there is nothing to report. A bare
    ``NO`` in capitals is a mention (nitric oxide); ``No``/``no`` is an answer."""
    s = s.strip()
    if re.fullmatch(r"(?:No|no)\W*", s):
        return True
    return bool(_NONE_WORDS.match(s)) or (len(s.split()) <= 12 and bool(_NONE_SENTENCE.search(s)))


_BULLET = re.compile(r"^\s*(?:[-*\u2022\u25cf+>]+|\(?\d{1,3}[.)]|\(?[a-z][.)](?=\s))\s*")
_LABEL_PREFIX = re.compile(
    r"^\s*(?:[\w ]{0,30}?(?:entit(?:y|ies)|mentions?|chemicals?|diseases?|genes?|proteins?|drugs?|answer|output)"
    r"(?:\s+[\w ]{0,20})?)\s*:\s*",
    re.IGNORECASE,
)


def parse_mentions(text: str) -> list[str]:
    """Entity mentions listed in a model's free-text answer.

    Rules, in order:

    1. Blank output, or an output that as a whole says there is nothing → ``[]``: ``None``,
       ``N/A``, ``[]``, ``No``, or a sentence of at most 12 words with a negation (*no*,
       *none*, *not any*, *zero*) followed by an entity word (*entity*, *mention*,
       *chemical*, *disease*, *gene*, *protein*, *drug*, *compound*), such as ``There are
       no disease mentions.`` A bare ``NO`` in capitals is kept as a mention (nitric oxide).
    2. A JSON list (``["aspirin", "ibuprofen"]``, or objects with a ``text``/``entity``/
       ``mention``/``name`` field) is taken as is.
    3. Otherwise the output is read line by line. A line that is only a heading
       (ends with ``:``) is skipped; a leading label such as ``Entities:`` or
       ``Chemicals found:`` is removed; a line that on its own says "none" is skipped.
       Bullets (``-``, ``*``, ``•``, ``1.``, ``1)``) are removed. The line is then split on
       ``;`` and on commas followed by a space, so ``1,2-dimethylhydrazine`` stays whole
       while ``aspirin, ibuprofen`` gives two mentions. ``and`` is not a separator (it occurs
       inside mentions such as ``nausea and vomiting``).
    4. Surrounding quotes, backticks and asterisks are removed from each mention; empty
       mentions are dropped. Duplicates are kept: mentions are a multiset.
    """
    text = (text or "").strip()
    if not text or _says_none(text):
        return []
    if text.startswith("["):
        try:
            import json

            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            out = []
            for item in items:
                if isinstance(item, dict):
                    item = next((item[k] for k in ("text", "entity", "mention", "name") if k in item), None)
                if isinstance(item, (str, int, float)) and str(item).strip():
                    out.append(str(item).strip())
            return out
    mentions = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.endswith(":"):
            continue
        line = _LABEL_PREFIX.sub("", line, count=1)
        line = _BULLET.sub("", line, count=1)
        if not line or _says_none(line):
            continue
        for part in re.split(r";|,\s+", line):
            part = part.strip().strip("\"'`*").rstrip(".").strip()
            if part:
                mentions.append(part)
    return mentions


# --------------------------------------------------------------------------- RE

# Alias → label. Task specs can pass their own; these are the defaults of the built-in tasks.
DDI_ALIASES: dict[str, str] = {
    "mechanism": "DDI-mechanism",
    "effect": "DDI-effect",
    "advise": "DDI-advise",
    "advice": "DDI-advise",
    "int": "DDI-int",
    "interaction": "DDI-int",
    "false": "DDI-false",
    "none": "DDI-false",
    "no interaction": "DDI-false",
    "negative": "DDI-false",
}
CHEMPROT_ALIASES: dict[str, str] = {
    "cpr 3": "CPR:3", "cpr3": "CPR:3", "upregulator": "CPR:3", "activator": "CPR:3",
    "cpr 4": "CPR:4", "cpr4": "CPR:4", "downregulator": "CPR:4", "inhibitor": "CPR:4",
    "cpr 5": "CPR:5", "cpr5": "CPR:5", "agonist": "CPR:5",
    "cpr 6": "CPR:6", "cpr6": "CPR:6", "antagonist": "CPR:6",
    "cpr 9": "CPR:9", "cpr9": "CPR:9", "substrate": "CPR:9", "product of": "CPR:9",
    "false": "False", "none": "False", "no relation": "False", "negative": "False",
}
GAD_ALIASES: dict[str, str] = {
    "yes": "positive", "true": "positive", "1": "positive", "associated": "positive",
    "no": "negative", "false": "negative", "0": "negative", "not associated": "negative",
}


def _label_key(s: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", s.lower()).split())


def parse_label(text: str, labels: Sequence[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """The label of ``labels`` that a model's free-text answer names, or ``None``.

    Matching is case-insensitive and treats runs of punctuation as spaces (``cpr-4``,
    ``CPR 4`` and ``CPR:4`` are the same). Each label is also known by its ``aliases``
    (``{"mechanism": "DDI-mechanism"}``; see :data:`DDI_ALIASES` and friends). If the whole
    answer (less a leading ``Answer:``/``Label:``/``Relation:``) is a label or alias, that
    is it; otherwise the earliest whole-word occurrence of any label or alias in the
    answer wins, the longest one at the same position (so ``DDI-false`` beats ``false``).
    No match → ``None`` (which scores as wrong).
    """
    names: dict[str, str] = {}
    for alias, label in (aliases or {}).items():
        if label not in labels:
            raise ValueError(f"alias {alias!r} maps to {label!r}, which is not one of {list(labels)}")
        names[_label_key(alias)] = label
    for label in labels:
        names[_label_key(label)] = label
    names.pop("", None)
    body = _label_key(re.sub(r"^\s*(?:the\s+)?(?:answer|label|relation(?:ship)?|class)\s*(?:is)?\s*:?", "", text or "", flags=re.I))
    if body in names:
        return names[body]
    whole = _label_key(text or "")
    best = None  # (position, -length, label)
    for key, label in names.items():
        m = re.search(rf"(?<!\w){re.escape(key)}(?!\w)", whole)
        if m:
            cand = (m.start(), -len(key), label)
            best = cand if best is None or cand < best else best
    return None if best is None else best[2]


def relation_counts(label: str, pred: str | None, positive: Sequence[str]) -> Counts:
    """``(tp, n_pred, n_gold)`` of one RE sample over the positive classes (BLURB: the
    negative class is left out of the micro average)."""
    pos = set(positive)
    return int(pred is not None and pred == label and label in pos), int(pred in pos), int(label in pos)


def score_relations(
    labels: Sequence[str],
    preds: Sequence[str | None],
    classes: Sequence[str],
    negative: str | None,
) -> dict[str, Any]:
    """RE scores: ``micro_precision``/``micro_recall``/``micro_f1`` over the positive
    classes (all of ``classes`` except ``negative``; predicting the negative class or
    ``None`` is never a false positive), ``macro_f1`` over the positive classes,
    ``accuracy`` over all samples, and ``per_class`` precision/recall/f1/support for every
    class including the negative one."""
    _same_length(labels, preds)
    if negative is not None and negative not in classes:
        raise ValueError(f"negative class {negative!r} is not in {list(classes)}")
    positive = [c for c in classes if c != negative]
    micro = prf_from_counts(relation_counts(g, p, positive) for g, p in zip(labels, preds))
    per = per_class_prf(labels, preds, classes)
    return {
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1"],
        "macro_f1": sum(per[c]["f1"] for c in positive) / len(positive) if positive else 0.0,
        "accuracy": accuracy(labels, preds),
        "per_class": per,
    }


# --------------------------------------------------------------------------- ROUGE

def rouge_scores(
    references: Sequence[str],
    predictions: Sequence[str],
    rouge_types: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
) -> dict[str, Any]:
    """ROUGE F-measures with ``rouge_score.rouge_scorer.RougeScorer(rouge_types,
    use_stemmer=True)``: ``{"per_sample": [{type: f}], "mean": {type: mean f}}``.
    ``rougeLsum`` is accepted too (it splits summaries on newlines)."""
    _same_length(references, predictions)
    try:
        from rouge_score import rouge_scorer
    except ImportError:  # pragma: no cover - the bionlp extra installs it
        from bioharness import MissingDependency

        raise MissingDependency("ROUGE", "bionlp", "rouge_score") from None
    scorer = rouge_scorer.RougeScorer(list(rouge_types), use_stemmer=True)
    per_sample = []
    for ref, pred in zip(references, predictions):
        scores = scorer.score(ref or "", pred or "")
        per_sample.append({t: scores[t].fmeasure for t in rouge_types})
    mean = {t: (sum(s[t] for s in per_sample) / len(per_sample) if per_sample else 0.0) for t in rouge_types}
    return {"per_sample": per_sample, "mean": mean}


# --------------------------------------------------------------------------- MCQA parsers

def _norm_text(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).lower()
    return " ".join(re.sub(r"[^\w%]+", " ", s).split())


def parse_choice(text: str, options: Mapping[str, str] | Sequence[str]) -> str | None:
    """The option letter a model's free-text answer picks, or ``None``.

    ``options`` is the ``{letter: text}`` mapping of the example (or just the letters).
    Tried in order, the first hit wins:

    1. An explicit statement: ``Answer: B``, ``answer is (B)``, ``The correct answer is
       option B``, ``correct option: B``, ``Option B is correct`` (the last such statement
       if there are several, since models often restate their final answer at the end).
    2. The whole output is a letter, with optional brackets/punctuation/markdown:
       ``B``, ``(B)``, ``B.``, ``B)``, ``**B**``; lowercase letters count only here.
    3. The output starts with a letter followed by ``.``, ``)``, ``:`` or `` -``:
       ``B. Metformin``, ``(B) Metformin``.
    4. Option text: the option whose (normalised) text equals the output, else the only
       option whose text occurs in the output (options whose text is part of another
       matching option's text are ignored).

    Anything else → ``None`` (which scores as wrong).
    """
    letters = list(options.keys()) if isinstance(options, Mapping) else list(options)
    if not text or not letters:
        return None
    cls = "".join(re.escape(x) for x in letters)
    t = text.strip()
    letter = rf"[\(\[*]*\s*([{cls}])(?![\w'\-])"
    statements = (
        rf"answer\s*(?:is|would\s+be|will\s+be|should\s+be)?\s*(?:option|choice)?\s*[:\-]?\s*{letter}",
        rf"correct\s+(?:option|choice)\s*(?:is|would\s+be)?\s*[:\-]?\s*{letter}",
        rf"(?:option|choice)\s*{letter}[)\]*]*\s+is\s+(?:the\s+)?(?:correct|right|best)",
    )
    hits = [
        (m.start(1), m.group(1))
        for pattern in statements
        for m in re.finditer(pattern, t, flags=re.IGNORECASE)
        if m.group(1) in letters
    ]
    if hits:
        return max(hits)[1]
    bare = re.fullmatch(rf"[\s*_`\"'(\[]*([{cls}{cls.lower()}])[\s*_`\"')\].:]*", t)
    if bare:
        return bare.group(1).upper() if bare.group(1).upper() in letters else bare.group(1)
    lead = re.match(rf"[\s*_`(\[]*([{cls}])\s*(?:[.):\]]|\s-\s)", t)
    if lead:
        return lead.group(1)
    if isinstance(options, Mapping):
        out = _norm_text(t)
        texts = {k: _norm_text(str(v)) for k, v in options.items()}
        exact = [k for k, v in texts.items() if v and v == out]
        if len(exact) == 1:
            return exact[0]
        found = [k for k, v in texts.items() if v and re.search(rf"(?<!\w){re.escape(v)}(?!\w)", out)]
        found = [k for k in found if not any(o != k and texts[k] in texts[o] for o in found)]
        if len(found) == 1:
            return found[0]
    return None


_YNM = ("yes", "no", "maybe")


def parse_yes_no_maybe(text: str) -> str | None:
    """``yes``/``no``/``maybe`` from a PubMedQA answer, or ``None``.

    In order: an explicit statement (``answer: yes``, ``the answer is no``, ``final
    decision: maybe``; the last one if several); else the first word of the output
    (``Yes, because...``); else the first whole-word ``yes``/``no``/``maybe`` anywhere.
    Case-insensitive.
    """
    if not text:
        return None
    t = text.lower()
    explicit = re.findall(r"(?:answer|decision|conclusion)\s*(?:is|would be|:)?\s*[:\-]?\s*[*\"'(]*\s*(yes|no|maybe)\b", t)
    if explicit:
        return explicit[-1]
    first = re.match(r"[\s*\"'(\[]*(yes|no|maybe)\b", t)
    if first:
        return first.group(1)
    anywhere = re.search(r"\b(yes|no|maybe)\b", t)
    return anywhere.group(1) if anywhere else None

