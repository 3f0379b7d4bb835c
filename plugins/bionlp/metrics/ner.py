"""NER metrics: mention strings (normalised, strict and lenient matching), token spans
(seqeval-equivalent), and the parsers of free-text mention lists."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Callable, Iterable, Sequence

from ..spans import Span
from .common import Counts, _same_length, prf_from_counts


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
