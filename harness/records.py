"""What flows between stages, as small frozen dataclasses with a JSON round-trip.

``to_dict`` gives plain JSON types; ``from_dict`` rebuilds the record, turning lists back
into tuples where the field is a tuple, and rejects unknown keys (so a typo in a file is
an error, not a silently dropped field).
"""
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

CATEGORIES = ("qa", "ie", "gen", "other")


def _freeze(value):
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value):
    if isinstance(value, (dict, MappingProxyType)):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


class Record:
    """Base of every record: JSON round-trip and validation of keys."""

    def __post_init__(self):
        # Containers are frozen too, so a record is safe to share between stages.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (dict, list)):
                object.__setattr__(self, f.name, _freeze(value))

    def to_dict(self) -> dict:
        return {f.name: _thaw(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"{cls.__name__}: missing key(s) {', '.join(missing)}")
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for name, value in data.items():
            if isinstance(value, list) and "tuple" in str(hints.get(name, "")):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Instruction(Record):
    """One instruction-tuning example (generated, seeded or imported)."""

    id: str
    instruction: str
    input: str
    output: str
    category: str = "other"
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        if self.category not in CATEGORIES:
            raise ValueError(f"Instruction {self.id}: category {self.category!r} not in {CATEGORIES}")


@dataclass(frozen=True)
class Example(Record):
    """One evaluation item of a task, read from the original data."""

    id: str
    inputs: Mapping[str, Any]
    reference: Any
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request(Record):
    """A generation request. ``chat``: wrap ``prompt`` (and ``system``) in the model's chat
    template when it has one; otherwise the prompt is sent as raw text."""

    id: str
    prompt: str
    system: str | None = None
    chat: bool = True
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Prediction(Record):
    """A backend's answer to a :class:`Request` (same ``id``).

    ``finish_reason``: ``stop`` (end of sequence or a stop string), ``length``
    (``max_new_tokens`` reached) or ``error`` (then ``error`` says why and ``text`` is "").
    """

    id: str
    text: str
    finish_reason: str = "stop"
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class LoglikelihoodRequest(Record):
    """Log-probability of ``continuation`` following ``context`` (raw text, no template)."""

    id: str
    context: str
    continuation: str


def split_trailing_space(context, continuation) -> tuple[str, str]:
    """How every backend splits a :class:`LoglikelihoodRequest`: trailing whitespace of the
    context belongs to the continuation ("Answer: A" is "Answer:" + " A", the way the model
    saw such text in training)."""
    n = len(context) - len(context.rstrip())
    return (context[:-n], context[-n:] + continuation) if n else (context, continuation)


@dataclass(frozen=True)
class Loglikelihood(Record):
    """Answer to a :class:`LoglikelihoodRequest`: summed log-prob of the continuation's
    tokens, their count, and whether greedy decoding would have produced them."""

    id: str
    logprob: float
    num_tokens: int = 0
    is_greedy: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Score(Record):
    """One evaluated sample: the parsed prediction, the reference and per-sample metric values.

    ``error``: scoring needed a request of its own (an LLM judge) and it failed; the sample
    is then a failed request like any other, not a score (not written; retried next run)."""

    id: str
    task: str
    prediction: Any
    reference: Any
    values: Mapping[str, float] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
