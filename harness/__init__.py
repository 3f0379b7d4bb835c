"""bioharness: generate -> tune -> evaluate -> compare, for biomedical LLMs.

This module is the public surface: everything a plugin (built-in or third-party) may use
is importable from here, and built-in plugins import nothing else from the core (a test
checks). Nothing here imports a plugin or a heavy engine.
"""
import pluggy

__version__ = "0.1.0"

PROJECT = "bioharness"

#: Decorate plugin functions with this to implement a hook from :mod:`bioharness.hookspecs`.
hookimpl = pluggy.HookimplMarker(PROJECT)

# The public names, grouped. The modules below import the names above, so they come last.
from bioharness.errors import DataError, MissingDependency, UsageError  # noqa: E402  (one line, exit 2)
from bioharness.records import (  # noqa: E402  (what flows between stages)
    CATEGORIES, Example, Instruction, Loglikelihood, LoglikelihoodRequest, Prediction, Request, Score,
)
from bioharness.interfaces import Backend, Generator, TaskKind, Trainer, batched  # noqa: E402
from bioharness.taskspec import TaskSpec  # noqa: E402
from bioharness.store import (  # noqa: E402  (the run store)
    JsonlLog, RunDir, atomic_write_json, atomic_write_text, file_lock, read_json, read_jsonl, run_lock, sha256_file,
)
from bioharness.instructions import instructions_digest, read_instructions, write_instructions  # noqa: E402
from bioharness.modelspec import ModelSpec, bool_option, parse_model_args, parse_model_spec  # noqa: E402
#: resolve_model: the one place resolving a spec, its adapter and dtype; get_backend builds one
from bioharness.models import ResolvedModel, get_backend, normalise_dtype, resolve_model  # noqa: E402
from bioharness.tokens import (  # noqa: E402  (shared by the backends: identical inputs)
    encode_pair, encode_prompt, has_chat_template, render_prompt, split_trailing_space,
)
# decontamination, comparison and reports (for `run` and the report plugin)
from bioharness.compare import collect as collect_results, compare as compare_models, model_name, write_reports  # noqa: E402,E501
from bioharness.decontam import decontaminate, task_texts  # noqa: E402
from bioharness.manager import get_reader  # noqa: E402  (readers: plugins build a registered reader by name)
from bioharness.checks import check_adapter  # noqa: E402  (an adapter checked before a model loads)
# the task catalogue and plugin loading (`export lm-eval` renders our tasks inside lm-eval, with no CLI)
from bioharness.taskspec import TaskCatalog  # noqa: E402
from bioharness.manager import load_plugins  # noqa: E402


def choose_shots(kind, spec, data_dir):
    """The few-shot examples ``bioharness eval`` shows for ``spec``."""
    from bioharness.evaluate import choose_shots as choose

    return choose(kind, spec, data_dir)
