"""Every hook bioharness calls, grouped by the stage that calls it.

Registration hooks receive a ``register`` callback (the simonw/llm style)::

    @hookimpl
    def register_backends(register):
        register("mybackend", MyBackend, description="...")

``register(name, factory, *, description="", options=(), inputs=None, outputs=None, replace=False)``:
``name`` is unique across plugins (a second one is an error naming both, unless it says
``replace``); ``factory`` builds the object (signature per hook below; import heavy engines
inside it); ``options`` are click parameters the matching command gains, passed to the factory
as keywords; ``inputs`` (generators, trainers) ``{option: artifact}`` names the options that take
an input file or folder (hashed into the stage key; an upstream artifact of that name goes
there); ``outputs`` ``{artifact: path in the run folder}`` is what the worker writes.

A hook or factory that raises stops the command with one line naming the plugin; a
:class:`bioharness.UsageError` it raises is shown as it is.
"""
from bioharness import hookspec


# --- start-up -------------------------------------------------------------------------


@hookspec(historic=True)
def add_hookspecs(add):
    """Declare hooks of this plugin's own, for other plugins to implement (pytest's
    ``pytest_addhooks``): ``add(module_or_class)`` with functions marked
    :data:`bioharness.hookspec`. Called as the plugin is registered; implementations are
    checked against every spec once all plugins are loaded. The built-in ``evaluation``
    plugin declares ``run_prefixed_tasks``, ``reported_dirs`` and ``reported_scores`` this way.
    """


@hookspec
def register_commands(cli):
    """Add click commands or groups to the ``bioharness`` command group ``cli``.

    Called once, after all plugins are loaded and before the command line is parsed.
    """


# --- inference ---------------------------------------------------------------------


@hookspec
def register_backends(register):
    """Register inference backends; called once at start-up.

    ``factory(spec: bioharness.ModelSpec, **options) -> Backend`` where Backend follows
    :class:`bioharness.Backend`; it loads what :func:`bioharness.resolve_model` says
    (path, adapter, dtype). ``spec.backend`` equals the registered name; ``options`` are
    the user's ``--model-args`` and generic flags (dtype, device, batch_size, base_url...).
    A factory rejects options it does not know with :class:`bioharness.UsageError`.
    """


@hookspec(firstresult=True)
def resolve_model(spec, prepare):
    """Say what a :class:`bioharness.ModelSpec`'s model is, for every backend and trainer.

    Called by :func:`bioharness.resolve_model`; the first :class:`bioharness.ResolvedModel`
    returned wins, None leaves it to the next plugin. The built-in ``hf`` answers last
    (``trylast``): the embedded model, an existing path, else a hub id. ``prepare``: make
    the model loadable (e.g. convert it); false (``bioharness models``): only say where it
    would be and its status. The core sets the adapter and dtype.
    """


@hookspec(firstresult=True)
def check_adapter(path, base):
    """Check the adapter folder ``path`` before any model loads (``base``: the base model's
    folder or id); raise one line naming the file, or return a digest of its content."""


# --- stages ------------------------------------------------------------------------


@hookspec
def register_stages(register):
    """Register stage workers (``eval``, ``compare``, ``report``, ``decontaminate``): the commands
    and ``bioharness run`` call them through :func:`bioharness.get_stage`.

    ``factory(hooks, **options) -> result``. ``register(..., replace=True)`` replaces a stage
    of the same name registered by a plugin loaded earlier (a built-in one).
    """


@hookspec
def register_executors(register):
    """Register executors: where the steps of ``bioharness run`` execute (``--executor NAME``,
    or ``executor: NAME`` in the run config; ``local`` is the core's own).

    ``factory(options: dict, where: str) -> executor`` where ``options`` is the run config's
    section named like the executor (``slurm: {...}``), checked by the factory (a bad key: a
    :class:`bioharness.DataError` naming ``where`` and ``NAME.key``). The executor's
    ``run(graph, say) -> bioharness.Outcome`` runs the :class:`bioharness.Graph`'s steps
    (:func:`bioharness.pending_steps` says which are left; in another process,
    :func:`bioharness.run_step_job` runs one).
    """


# --- evaluation --------------------------------------------------------------------


@hookspec
def register_task_kinds(register):
    """Register task kinds (``mcqa``, ``ner``, ...); called once at start-up.

    ``factory() -> TaskKind`` following :class:`bioharness.interfaces.TaskKind`. A task
    spec's ``kind`` field names one of these.
    """


@hookspec
def register_readers(register):
    """Register data readers; called once at start-up.

    ``factory() -> Reader`` following :class:`bioharness.interfaces.Reader`. A task spec's
    ``data.reader`` names one of these; it reads the files the spec lists in ``data.files``
    (per split) with the options in ``data.options``.
    """


@hookspec
def task_dirs():
    """Return an iterable of folders holding task specs (``*.yaml``), or None.

    Every plugin's folders are searched; two specs with one task name are an error.
    """


# --- data generation ---------------------------------------------------------------


@hookspec
def register_generators(register):
    """Register instruction generators; called once at start-up.

    ``factory(**options) -> Generator`` following :class:`bioharness.interfaces.Generator`;
    ``options`` are the values of the click options given at registration, which
    ``bioharness generate`` offers as flags.
    """


# --- training ----------------------------------------------------------------------


@hookspec
def register_trainers(register):
    """Register trainers; called once at start-up.

    ``factory(**options) -> Trainer`` following :class:`bioharness.interfaces.Trainer`;
    ``options`` are the values of the click options given at registration, which
    ``bioharness train`` offers as flags.
    """


# --- reporting ---------------------------------------------------------------------


@hookspec
def register_reporters(register):
    """Register reports written at the end of every run and by ``bioharness report``.

    ``factory(out: Path, board: dict) -> Path | list[Path]`` writes its files into the run
    folder ``out`` (atomically) and returns their paths. ``board`` is ``leaderboard.json``
    as the ``compare`` stage wrote it: ``models`` (specs), ``labels`` (spec -> the name to
    show), ``models_info``, ``baseline``, ``tasks`` (per task: ``category``, ``metric``,
    ``scores``, ``vs_baseline``), ``gain_by_category`` (model -> category -> gain, CI, p,
    ``significant``), ``reported`` and ``reported_gains`` (published, never measured) and,
    after a category ablation, ``transfer``. ``scores[model]["samples"]`` is the path of
    that evaluation's ``samples.jsonl``, relative to ``out``.
    """


# --- observers (any stage) ---------------------------------------------------------


@hookspec
def on_stage_start(stage, run_dir, config):
    """A stage (``generate``, ``instructions``, ``train``, ``eval``, ``compare``, ``report``) is
    starting (:func:`bioharness.run_stage`; a stage that is up to date does not start).

    ``run_dir`` is the stage's output folder (a :class:`pathlib.Path`), ``config`` the
    JSON-serialisable ``{"plugin", "version", "options"}`` it runs with.
    """


@hookspec
def on_stage_end(stage, run_dir, result):
    """A stage finished. ``result`` is a JSON-serialisable summary (metrics, counts) with
    ``outputs``: ``{artifact: path}``."""


@hookspec
def on_sample(stage, record):
    """One unit of work was written: an evaluated sample, a generated instruction or a
    training log entry. ``record`` is the dict exactly as written to disk."""
