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
# lmeval: what the lm-eval bridge writes and sends (helper `surface` reconciles the full surface)
from bioharness.errors import DataError  # noqa: E402
from bioharness.modelspec import parse_model_spec  # noqa: E402
from bioharness.records import Example, LoglikelihoodRequest, Prediction, Request  # noqa: E402
from bioharness.store import RunDir, atomic_write_json, atomic_write_text, read_json, sha256_file  # noqa: E402
# lmeval: `export lm-eval` renders our tasks inside lm-eval (no CLI there): catalog, shots
from bioharness.taskspec import TaskCatalog  # noqa: E402
from bioharness.manager import load_plugins  # noqa: E402


def choose_shots(kind, spec, data_dir):
    """The few-shot examples ``bioharness eval`` shows for ``spec`` (imported on call: numpy)."""
    from bioharness.evaluate import choose_shots as choose

    return choose(kind, spec, data_dir)


__all__ = ["__version__", "hookimpl", "UsageError", "PROJECT", "DataError", "parse_model_spec", "Example",
           "LoglikelihoodRequest", "Prediction", "Request", "RunDir", "atomic_write_json", "atomic_write_text",
           "read_json", "sha256_file", "TaskCatalog", "load_plugins", "choose_shots"]
