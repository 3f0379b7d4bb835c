"""From a model spec to a model: the one place resolving specs, adapters and dtypes, for
every backend and trainer (plugins take part through the ``resolve_model`` hook)."""
from dataclasses import dataclass, replace
from pathlib import Path

from bioharness.errors import UsageError
from bioharness.modelspec import ModelSpec, parse_model_spec

#: Every dtype name accepted anywhere (--dtype, model args, --precision) -> its one name.
DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "float": "float32", "float16": "float16",
          "fp16": "float16", "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    path: str  # what an engine loads: an absolute local path, or a hub id
    source: str  # "local", "hub", or what the resolving plugin calls it ("embedded", "endpoint")
    status: str = ""  # one line for `bioharness models`
    adapter: str | None = None  # absolute PEFT adapter directory, adapter_config.json checked
    dtype: str = "auto"  # a value of DTYPES


def normalise_dtype(name) -> str:
    """``bf16`` / ``bfloat16`` / None ... -> ``bfloat16`` / ``auto``; unknown names are a UsageError."""
    try:
        return DTYPES[str(name or "auto").strip().lower()]
    except KeyError:
        raise UsageError(f"dtype {name!r} is not one of {', '.join(DTYPES)}") from None


def _adapter_dir(text) -> str:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise UsageError(f"adapter {text!r}: no such directory")
    if not (path / "adapter_config.json").is_file():
        raise UsageError(f"adapter {text!r}: no adapter_config.json there (expected a PEFT adapter directory)")
    return str(path.resolve())


def resolve_model(spec, *, dtype=None, prepare=True) -> ResolvedModel:
    """What ``spec`` (a string or :class:`ModelSpec`) loads, with its adapter and dtype checked.

    The plugins' ``resolve_model`` hook answers (the ``hf`` plugin: the embedded model, a
    local folder or a hub id); ``prepare=False`` only describes (``bioharness models``):
    nothing is converted or downloaded.
    """
    from bioharness.manager import active_hooks

    spec = parse_model_spec(spec) if isinstance(spec, str) else spec
    adapter = _adapter_dir(spec.adapter) if spec.adapter else None
    dtype = normalise_dtype(dtype)
    found = active_hooks().resolve_model(spec, prepare)
    if found is None:
        raise UsageError(f"model {spec.model!r}: no such directory, and no installed plugin resolves {str(spec)!r}")
    return replace(found, spec=spec, adapter=adapter, dtype=dtype)


def check_model(spec, what="--model", hooks=None):
    """Check what a spec names before any model loads: a model written as a path (``/x``,
    ``./x``, ``~/x``) must be a folder; an adapter is checked by the ``check_adapter`` hook.
    Returns the adapter's content digest (None without an adapter)."""
    from bioharness.manager import active_hooks

    spec = parse_model_spec(spec) if isinstance(spec, str) else spec
    if spec.model.startswith(("/", "./", "../", "~")) and not Path(spec.model).expanduser().is_dir():
        raise UsageError(f"{what} {spec}: {spec.model}: no such directory (expected a model folder with config.json)")
    return (hooks or active_hooks()).check_adapter(spec.adapter, spec.model) if spec.adapter else None


def load_backend(hooks, text, **options):
    """Build the backend a model spec names with ``hooks``' plugins; None options are dropped."""
    spec = parse_model_spec(text) if isinstance(text, str) else text
    return hooks.backends.get(spec.backend).factory(spec, **{k: v for k, v in options.items() if v is not None})


def get_backend(spec_text, **options):
    """The backend ``spec_text`` names (``embedded``, ``hf:PATH+ADAPTER``, ``openai:MODEL``...),
    built with ``options`` through the active plugin manager (the CLI's, else the defaults)."""
    from bioharness.manager import active_hooks

    return load_backend(active_hooks(), spec_text, **options)
