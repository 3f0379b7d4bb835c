"""bioharness: generate -> tune -> evaluate -> compare, for biomedical LLMs.

The public API that plugins (built-in or third-party) use lives here and in the
modules it names; nothing in the core imports a plugin or a heavy engine at import time.
"""
import pluggy

__version__ = "0.1.0"

PROJECT = "bioharness"

#: Decorate plugin functions with this to implement a hook from :mod:`bioharness.hookspecs`.
hookimpl = pluggy.HookimplMarker(PROJECT)

from bioharness.errors import UsageError  # noqa: E402
from bioharness.modelspec import parse_model_spec  # noqa: E402  [runner: the selfinstruct teacher check]



def get_backend(spec_text, **options):
    """The backend a model spec names (``embedded``, ``hf:PATH``, ``vllm:PATH``, ``openai:MODEL``),
    built through the active plugin manager (the CLI's), else the default plugins.
    [runner: thin version until helper `surface`'s lands]"""
    from bioharness.manager import active_manager
    from bioharness.models import load_backend

    return load_backend(active_manager().hooks, spec_text, **options)


__all__ = ["__version__", "hookimpl", "UsageError", "PROJECT", "get_backend", "parse_model_spec"]
