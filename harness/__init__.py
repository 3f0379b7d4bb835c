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
#: Marks a hook a plugin declares for others (see the ``add_hookspecs`` hook).
hookspec = pluggy.HookspecMarker(PROJECT)

# The public names, grouped. The modules below import the names above, so they come last.
from bioharness.errors import (  # noqa: E402  (one line: exit 2; Incomplete, StageFailed: exit 1)
    DataError, Incomplete, MissingDependency, StageFailed, UsageError,
)
from bioharness.records import (  # noqa: E402  (what flows between stages)
    CATEGORIES, Example, Instruction, Loglikelihood, LoglikelihoodRequest, Prediction, Request, Score,
    split_trailing_space,
)
from bioharness.interfaces import Backend, Generator, TaskKind, Trainer  # noqa: E402
#: TASK_CATEGORIES: a task's category (qa, ie, gen), in the paper's order
from bioharness.taskspec import (  # noqa: E402
    CATEGORIES as TASK_CATEGORIES, TaskCatalog, TaskSpec, choose_shots, load_examples,
)
# where data files are found: the data directory, the cache of fetched datasets, beside the spec
from bioharness.datafiles import (  # noqa: E402
    cache_dir, data_cache, data_root, data_roots, find_data_file, found_in, places_searched,
)
from bioharness.store import (  # noqa: E402  (the run store)
    JsonlLog, RunDir, atomic_write_bytes, atomic_write_json, atomic_write_text, file_lock, read_json, read_jsonl, run_lock,
    sha256_file,
)
#: open_text / read_text / read_yaml: a user's text file as it comes (a byte-order mark, CRLF line ends)
from bioharness.textfiles import open_text, read_text, read_yaml  # noqa: E402
from bioharness.instructions import instructions_digest, read_instructions, write_instructions  # noqa: E402
from bioharness.modelspec import ModelSpec, bool_option, model_name, parse_model_args, parse_model_spec  # noqa: E402
#: resolve_model: the one place resolving a spec, its adapter and dtype; get_backend builds one
from bioharness.models import (  # noqa: E402
    ResolvedModel, check_model, get_backend, load_backend, normalise_dtype, resolve_model,
)
# stages (the runner, and the workers plugins registered), readers, plugin loading
from bioharness.stages import MANIFEST as STAGE_MANIFEST, Stage, jsonable, run_stage  # noqa: E402
#: check_stage: a stage folder's outputs against what it recorded (damage_error: the one line to stop on)
from bioharness.outputs import check_stage, damage_error  # noqa: E402
from bioharness.manager import get_reader, get_stage, load_plugins  # noqa: E402
# where a run's steps execute (executors), and the lock that holds across hosts
from bioharness.lock import RunLocked  # noqa: E402
from bioharness.executors import (  # noqa: E402
    Graph, Outcome, Step, finished_since, pending_steps, run_step_job, step_state,
)
