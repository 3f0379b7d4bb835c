"""Model specs: one string names a model everywhere.

``hf:<path-or-hub-id>``, ``vllm:<path-or-hub-id>``, ``openai:<model>``, optionally followed
by ``+<adapter-dir>`` for a LoRA adapter. ``embedded`` alone means ``hf:embedded``, the
embedded default model (a plugin resolves it: see :func:`bioharness.resolve_model`). A
spec with no ``backend:`` prefix is taken as ``hf:``.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from bioharness.errors import UsageError

EMBEDDED = "embedded"
DEFAULT_BACKEND = "hf"


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    model: str
    adapter: str | None = None

    def __str__(self):
        return f"{self.backend}:{self.model}" + (f"+{self.adapter}" if self.adapter else "")

    @property
    def is_embedded(self) -> bool:
        return self.model == EMBEDDED

    @property
    def slug(self) -> str:
        """A folder-safe name for the model's results (``eval/<slug>/<task>``)."""
        parts = [self.backend, Path(self.model.rstrip("/")).name or self.model]
        if self.adapter:
            parts.append(Path(self.adapter.rstrip("/")).name)
        return "__".join(p.replace(":", "_").replace("/", "_") for p in parts)


def parse_model_spec(text: str) -> ModelSpec:
    if not isinstance(text, str) or not text.strip():
        raise UsageError("model spec is empty; expected e.g. 'embedded', 'hf:PATH', 'vllm:PATH', 'openai:MODEL'")
    text = text.strip()
    backend, sep, rest = text.partition(":")
    # "C:\\..." or a bare path/id: no backend prefix
    if not sep or "/" in backend or "\\" in backend or len(backend) == 1:
        backend, rest = DEFAULT_BACKEND, text
    if not backend.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"model spec {text!r}: backend {backend!r} is not a name")
    model, plus, adapter = rest.partition("+")
    model, adapter = model.strip(), adapter.strip()
    if not model:
        raise UsageError(f"model spec {text!r}: no model after {backend + ':'!r}")
    if plus and not adapter:
        raise UsageError(f"model spec {text!r}: '+' must be followed by an adapter directory")
    return ModelSpec(backend, model, adapter or None)


def model_name(text):
    """The one name of a model spec: ``embedded`` and ``hf:embedded`` are the same model."""
    try:
        return str(parse_model_spec(text))
    except UsageError:
        return text


def parse_model_args(text, flag="--model-args") -> dict:
    """``key=value,key2=value2`` -> dict, values read as JSON where they parse (numbers,
    true/false), strings otherwise."""
    out = {}
    for part in [p for p in (text or "").split(",") if p.strip()]:
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag}: {part!r} is not key=value")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def bool_option(owner, name, value) -> bool:
    """A backend option that is a switch: a bool, or its text from ``--model-args``
    (``1/0``, ``true/false``, ``yes/no``, ``on/off``); anything else is one line naming it."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{owner}: {name} must be true or false, got {value!r}")
