"""Scores and parsers of free text: ROUGE for generation, the option-letter and
yes/no/maybe parsers of multiple-choice answers."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Mapping, Sequence

from .common import _same_length


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
