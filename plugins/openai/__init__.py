"""The ``openai`` backend: any OpenAI-compatible endpoint (OpenAI, ``vllm serve``, llama.cpp).

Model spec: ``openai:<model>``; the endpoint comes from ``--base-url`` or
``OPENAI_BASE_URL``, the key from ``OPENAI_API_KEY`` only. The openai client is imported
when a backend is built, not when this plugin loads.
"""
from bioharness import MissingDependency, ResolvedModel, hookimpl


def _factory(spec, **options):
    try:
        import openai  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != "openai":
            raise
        raise MissingDependency("the openai backend", "openai", module="openai") from None
    from bioharness.plugins.openai.backend import OpenAIBackend

    return OpenAIBackend.from_spec(spec, **options)


@hookimpl
def register_backends(register):
    register(
        "openai",
        _factory,
        description="OpenAI-compatible HTTP API: bounded concurrency, retries with backoff, per-request "
                    "failures, prompt log-probs where the server offers them, token and cost counters",
    )


@hookimpl
def resolve_model(spec, prepare):
    # a model name at an endpoint: no path, no hub id, nothing to prepare
    if spec.backend == "openai":
        return ResolvedModel(spec, spec.model, "endpoint", f"model {spec.model!r} at the OpenAI-compatible endpoint")
    return None
