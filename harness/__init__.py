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
from bioharness.checks import check_adapter  # noqa: E402  (reliability: adapter checked before a model loads)

__all__ = ["__version__", "hookimpl", "UsageError", "PROJECT", "check_adapter"]
