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

# helper `report` (issue 11): decontamination, comparison and reports for `run` and plugins/report
from bioharness.compare import collect as collect_results, compare as compare_models, model_name, write_reports  # noqa: E402,E501
from bioharness.decontam import decontaminate, task_texts  # noqa: E402
from bioharness.store import atomic_write_text, read_json  # noqa: E402  (also in surface's list)

__all__ = ["__version__", "hookimpl", "UsageError", "PROJECT", "collect_results", "compare_models", "model_name",
           "write_reports", "decontaminate", "task_texts", "atomic_write_text", "read_json"]
