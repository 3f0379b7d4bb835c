"""NER metrics: mention strings (normalised, strict and lenient matching), token spans
(seqeval-equivalent), and the parsers of free-text mention lists."""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from typing import Callable, Iterable, Mapping, Sequence

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
    items = _json_items(text) if text.startswith("[") else None
    if isinstance(items, list):
        return [mention for _, mention in _json_mentions(items, {})]
    mentions = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.endswith(":"):
            continue
        line = _LABEL_PREFIX.sub("", line, count=1)
        line = _BULLET.sub("", line, count=1)
        if not line or _says_none(line):
            continue
        mentions += _split_mentions(line)
    return mentions


def _split_mentions(line: str) -> list[str]:
    """The mentions of one line: split on ``;`` and on ``, `` (a comma and a space), each
    stripped of quotes, backticks, asterisks and a final full stop."""
    parts = (part.strip().strip("\"'`*").rstrip(".").strip() for part in re.split(r";|,\s+", line))
    return [part for part in parts if part]


def _json_items(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


_TEXT_KEYS = ("text", "entity", "mention", "name")
_TYPE_KEYS = ("type", "entity_type", "label", "category")


def _json_mentions(items, vocabulary: Mapping[str, str], drop_none: bool = False) -> list[tuple[str | None, str]]:
    """``(type, mention)`` pairs of a JSON answer: a list of strings or of objects with a
    text field (``text``/``entity``/``mention``/``name``) and optionally a type field
    (``type``/``entity_type``/``label``/``category``), or an object ``{type: [mentions]}``.
    ``drop_none``: leave out a string that says "none" (``{"RNA": "none"}``)."""
    if isinstance(items, dict):
        items = [{"type": key, "text": value} for key, values in items.items()
                 for value in (values if isinstance(values, list) else [values])]
    out = []
    for item in items:
        type_ = None
        if isinstance(item, dict):
            label = next((item[k] for k in _TYPE_KEYS if isinstance(item.get(k), str)), None)
            type_ = None if label is None else entity_type(label, vocabulary) or label.strip()
            item = next((item[k] for k in _TEXT_KEYS if k in item), None)
        if isinstance(item, (str, int, float)) and str(item).strip():
            if not (drop_none and isinstance(item, str) and _says_none(item)):
                out.append((type_, str(item).strip()))
    return out


# --------------------------------------------------------------------------- typed NER answers

_GENERIC_TAIL = frozenset("mention entity name found term".split())


def type_key(word: str) -> str:
    """The form under which a type word of an answer is looked up: lowercase, runs of
    punctuation/underscores/spaces become one space, the last word singular (``Cell
    lines`` / ``cell_line`` / ``cell-line`` → ``cell line``, ``DNAs`` → ``dna``,
    ``Entities`` → ``entity``)."""
    words = " ".join(re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", word).lower()).split()).split(" ")
    last = words[-1]
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        last = last[:-1]
    return " ".join(words[:-1] + [last])


def type_vocabulary(types: Sequence[str], entity_words: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{type_key(word): type}`` for every type name and every ``entity_words`` entry
    (word -> type, e.g. ``{"cell lines": "cell_line", "genes": "DNA"}``; these win over the
    type names)."""
    vocabulary = {type_key(t): t for t in types}
    vocabulary.update((type_key(word), t) for word, t in (entity_words or {}).items())
    vocabulary.pop("", None)
    return vocabulary


def entity_type(label: str, vocabulary: Mapping[str, str]) -> str | None:
    """The type a label of an answer names: its :func:`type_key` in ``vocabulary``, also
    after dropping a trailing generic word (``Protein mentions``, ``Cell line names``);
    ``None`` when it names none of the task's types."""
    key = type_key(label)
    while key:
        if key in vocabulary:
            return vocabulary[key]
        head, _, tail = key.rpartition(" ")
        if tail not in _GENERIC_TAIL:
            return None
        key = type_key(head) if head else ""
    return None


def _none_pattern(vocabulary: Mapping[str, str]) -> re.Pattern:
    words = [r"[\s_-]*".join(map(re.escape, key.split(" "))) for key in sorted(vocabulary, key=len, reverse=True)]
    return re.compile(r"\b(?:no|none|not\s+any|zero)\b.*\b(?:entit|mention|" + "|".join(words) + ")", re.I)


_TYPE_LABEL = re.compile(r"^[*_#\s]*([^\W\d][\w \-/]{0,40}?)[*_]*\s*:[*_]*(?:\s+|$)(.*)$")
_TYPE_SUFFIX = re.compile(r"^(.*?\S)\s*[(\[]\s*([^()\[\]]{1,40}?)\s*[)\]]\W*$")


def parse_typed_mentions(
    text: str, vocabulary: Mapping[str, str], default: str | None = None
) -> list[tuple[str | None, str]]:
    """``(type, mention)`` pairs listed in a model's free-text answer to a typed NER prompt.

    ``vocabulary`` maps type words to the task's types (:func:`type_vocabulary`); a type
    the answer names that is not in it is kept as written (so it can count as a false
    positive); a mention without any type gets ``default`` (the task's type when it has
    only one, else ``None``). Rules, in order:

    1. Blank output, or a one-line output that says there is nothing → ``[]``: as for
       :func:`parse_mentions`, the negation also counting with the task's type words
       (``No cell types.``).
    2. JSON: a list of strings or objects (text in ``text``/``entity``/``mention``/
       ``name``, type in ``type``/``entity_type``/``label``/``category``), or an object
       ``{type: [mentions]}``.
    3. Otherwise line by line, bullets removed:

       * ``type: mentions`` (``Cell lines: Jurkat, HeLa``; markdown ``**Proteins:**``;
         ``Protein mentions:``): the mentions are of that type; with nothing after the
         colon the line is a heading for the lines that follow. A label that names no type
         but a generic word (``Entities:``, ``Answer:``) is dropped; any other short label
         (at most four words) is read as a type the task does not know.
       * ``mention (type)`` / ``mention [type]`` when the bracket names a known type.
       * otherwise the mentions belong to the last heading's type (or ``default``).

       A line (or the part after a label) that says "none" (``Proteins: None``,
       ``No cell types.``) gives no mention. Mentions are split on ``;`` and ``, `` as in
       :func:`parse_mentions`, and are a multiset.
    """
    text = (text or "").strip()
    none_sentence = _none_pattern(vocabulary)

    def says_none(s):
        s = s.strip()
        return _says_none(s) or (len(s.split()) <= 12 and bool(none_sentence.search(s)))

    if not text or ("\n" not in text and says_none(text)):  # a line of its own saying none is skipped below
        return []
    items = _json_items(text) if text[0] in "[{" else None
    if isinstance(items, (list, dict)):
        return [(default if t is None else t, m) for t, m in _json_mentions(items, vocabulary, drop_none=True)]
    out: list[tuple[str | None, str]] = []
    current = default
    for line in text.splitlines():
        line = _BULLET.sub("", line.strip(), count=1).strip()
        if not line:
            continue
        type_, labelled = current, False
        while (match := _TYPE_LABEL.match(line)) and len(match.group(1).split()) <= 4:
            label, line, labelled = match.group(1), match.group(2).strip(), True
            type_ = entity_type(label, vocabulary)
            if type_ is not None:
                break
            if not _LABEL_PREFIX.match(label + ":"):
                type_ = label.strip()  # a type this task does not know
                break
            type_ = current  # a generic label (Entities:, Answer:), maybe before a type label
        if labelled and not line:
            current = type_
            continue
        if line.endswith(":"):
            current = default  # a heading that names no type ("Here are the entities:")
            continue
        if says_none(line):
            continue
        for mention in _split_mentions(line):
            suffixed = _TYPE_SUFFIX.match(mention)
            suffix_type = entity_type(suffixed.group(2), vocabulary) if suffixed else None
            if suffix_type is not None:
                out.append((suffix_type, suffixed.group(1).strip()))
            else:
                out.append((type_, mention))
    return out
