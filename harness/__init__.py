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

# isort: off  (the names above come first: the modules below import them)
from bioharness.errors import DataError, MissingDependency, UsageError  # noqa: E402
from bioharness.records import (  # noqa: E402
    CATEGORIES, Example, Instruction, Loglikelihood, LoglikelihoodRequest, Prediction, Request, Score,
)
from bioharness.interfaces import Backend, Generator, TaskKind, Trainer, batched  # noqa: E402
from bioharness.store import (  # noqa: E402
    JsonlLog, RunDir, atomic_write_json, atomic_write_text, file_lock, read_json, read_jsonl, sha256_file,
)
from bioharness.instructions import instructions_digest, read_instructions, write_instructions  # noqa: E402
from bioharness.modelspec import ModelSpec, parse_model_args, parse_model_spec  # noqa: E402
from bioharness.models import ResolvedModel, get_backend, normalise_dtype, resolve_model  # noqa: E402
from bioharness.tokens import (  # noqa: E402
    encode_pair, encode_prompt, has_chat_template, render_prompt, split_trailing_space,
)
from bioharness.taskspec import TaskSpec  # noqa: E402

__all__ = [
    "__version__", "PROJECT", "hookimpl",
    # errors: the CLI shows these as one line and exits 2
    "UsageError", "DataError", "MissingDependency",
    # records flowing between stages, and the protocols plugins implement
    "CATEGORIES", "Example", "Instruction", "Loglikelihood", "LoglikelihoodRequest", "Prediction", "Request",
    "Score", "Backend", "Generator", "TaskKind", "Trainer", "TaskSpec",
    # the run store
    "JsonlLog", "RunDir", "atomic_write_json", "atomic_write_text", "file_lock", "read_json", "read_jsonl",
    "sha256_file", "instructions_digest", "read_instructions", "write_instructions",
    # models: specs, resolution (one place for every backend), building a backend
    "ModelSpec", "parse_model_spec", "parse_model_args", "ResolvedModel", "resolve_model", "normalise_dtype",
    "get_backend",
    # prompts and tokens, shared by the backends so that they see identical inputs
    "batched", "encode_pair", "encode_prompt", "has_chat_template", "render_prompt", "split_trailing_space",
]
