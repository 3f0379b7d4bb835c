"""What a model spec resolves to, for ``bioharness models``."""
from pathlib import Path

from bioharness.plugins.hf import embedded
from bioharness.errors import UsageError
from bioharness.modelspec import parse_model_spec


def describe_spec(text, backends) -> dict:
    spec = parse_model_spec(text)
    row = {"spec": str(spec), "backend": spec.backend, "model": spec.model, "adapter": spec.adapter}
    if spec.backend not in backends:
        row["status"] = f"no backend {spec.backend!r} installed (known: {', '.join(backends.names())})"
        return row
    if spec.is_embedded:
        row["resolves_to"] = str(embedded.model_dir())
        if embedded.is_converted():
            row["status"] = "converted (cached safetensors)"
        else:
            try:
                source = embedded.gguf_path()
                row["status"] = f"not converted yet: the first use converts {source}"
            except UsageError as exc:
                row["status"] = str(exc)
    elif spec.backend == "openai":
        row["resolves_to"] = f"model {spec.model!r} at the OpenAI-compatible endpoint"
    else:
        path = Path(spec.model).expanduser()
        if path.exists():
            row["resolves_to"] = str(path.resolve())
            row["status"] = "local directory"
        else:
            row["resolves_to"] = f"hub id {spec.model!r}"
            row["status"] = "not a local path: loaded from the Hugging Face hub cache or the hub"
    if spec.adapter:
        adapter = Path(spec.adapter).expanduser()
        ok = (adapter / "adapter_config.json").is_file()
        row["adapter"] = str(adapter.resolve()) + ("" if ok else "  (missing adapter_config.json!)")
    return row


def load_backend(hooks, text, **options):
    """Build the backend a model spec names, with the user's options."""
    spec = parse_model_spec(text)
    registration = hooks.backends.get(spec.backend)
    return registration.factory(spec, **{k: v for k, v in options.items() if v is not None})
