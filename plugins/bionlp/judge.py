"""The LLM judge (the "GPT-4 score"): a judge model rates a generation against the
reference on a 1-10 rubric.

It runs only when the user names a judge (``bioharness eval --judge SPEC``, e.g.
``openai:gpt-4o`` or any other model spec); without one the core passes ``judge=None``
and no judge request is ever built. The judge is an ordinary backend: every generation of
a scoring call is rated in **one** ``judge.generate`` batch, greedy (temperature 0).

The rubric (:data:`RUBRIC`) shows the judge the task as the model saw it, the reference
and the model's answer, and asks for a short justification followed by a last line
``Score: N``. Parsing is strict (:func:`parse_judge_score`): exactly one line that reads
``Score: N`` (nothing else on it but surrounding spaces), N an integer from 1 to 10.
Anything else (no such line, two of them, ``Score: 7/10``, ``Score: 11``, ``**Score:
7**``) gives ``None``: the sample is left out of the mean judge score and counted as
unparsed, and the judge's full reply is kept with the sample either way. A judge request
that failed (the backend's error record) is a :class:`Judgement` with ``error``: no reply
to parse, so the sample is a failed request, not an unparsed one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from bioharness import Request

JUDGE_SYSTEM = (
    "You are an experienced physician and biomedical researcher who grades answers written by an AI "
    "assistant. You are strict, fair and consistent."
)

RUBRIC = """\
Grade the ASSISTANT ANSWER to the TASK below, using the REFERENCE ANSWER (written by a domain expert) as the standard of what a complete and correct answer contains.

Rubric, from 1 to 10:
- 10: as good as the reference: every key point of the reference is present and correct, and nothing wrong or made up is added.
- 8-9: minor omissions or awkward wording; no factual error.
- 6-7: most key points are present; some omissions, or a small inaccuracy that would not mislead a clinician.
- 4-5: partly useful: several key points are missing, or it contains an error that matters.
- 2-3: mostly missing, irrelevant or made up, with a little correct content.
- 1: empty, off-topic, or wrong or unsafe throughout.

Judge medical correctness and completeness against the reference first, then relevance and clarity. Wording that differs from the reference is fine when the meaning is the same. Do not reward length for its own sake.

[TASK]
{task}

[REFERENCE ANSWER]
{reference}

[ASSISTANT ANSWER]
{answer}

Explain your grade in at most three sentences. Then write a last line of exactly this form, where N is a whole number from 1 to 10:
Score: N"""

#: The judge's reply length, enough for three sentences and the score line.
DEFAULT_MAX_NEW_TOKENS = 256

_SCORE_LINE = re.compile(r"Score: (\d+)")


def judge_prompt(task: str, reference: str, answer: str) -> str:
    return RUBRIC.format(task=task.strip(), reference=(reference or "").strip(), answer=(answer or "").strip())


def judge_request(request_id: str, task: str, reference: str, answer: str,
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> Request:
    return Request(id=request_id, prompt=judge_prompt(task, reference, answer), system=JUDGE_SYSTEM, chat=True,
                   max_new_tokens=max_new_tokens, temperature=0.0)


def parse_judge_score(text: str | None) -> int | None:
    """N from the single line ``Score: N`` (1 <= N <= 10) of a judge's reply, else None."""
    if not text:
        return None
    hits = [m for m in (_SCORE_LINE.fullmatch(line.strip()) for line in text.splitlines()) if m]
    if len(hits) != 1:
        return None
    value = int(hits[0].group(1))
    return value if 1 <= value <= 10 else None


@dataclass(frozen=True)
class Judgement:
    score: int | None
    reply: str
    judge: str | None
    error: str | None = None

    def to_meta(self) -> dict:
        """Flat ``judge_*`` keys for a sample's meta."""
        out = {"judge_model": self.judge, "judge_score": self.score, "judge_reply": self.reply}
        if self.error:
            out["judge_error"] = self.error
        return out


def judge_answers(judge, items: Sequence[tuple[str, str, str, str]],
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> list[Judgement]:
    """Rate ``(id, task prompt, reference, answer)`` items with one ``judge.generate`` batch."""
    if judge is None:
        raise ValueError("the LLM judge runs only with an explicit judge model")
    if not items:
        return []
    requests = [judge_request(f"judge:{i}", task, reference, answer, max_new_tokens)
                for i, task, reference, answer in items]
    replies = judge.generate(requests)
    name = (getattr(judge, "info", None) or {}).get("spec")
    out = []
    for reply in replies:
        if reply is None or reply.error:
            out.append(Judgement(None, "", name, (reply.error if reply is not None else "no reply")))
        else:
            out.append(Judgement(parse_judge_score(reply.text), reply.text, name))
    return out
