"""The interfaces plugins implement. Nothing engine-specific lives here."""
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from bioharness.records import Example, Loglikelihood, LoglikelihoodRequest, Prediction, Request, Score

#: Called by long operations with the number of items just finished (drives progress bars).
Progress = Callable[[int], None]


@runtime_checkable
class Backend(Protocol):
    """An inference engine bound to one model (and optionally one adapter).

    Results come back in the order of the input, one per request. A request that fails is
    answered with an error record (``Prediction.error``), not an exception, unless the
    whole engine is unusable.
    """

    #: JSON-serialisable facts about the model: spec, backend, dtype, device, adapter.
    info: Mapping[str, Any]
    #: Optional: how many examples the evaluation hands over per call (and writes per step,
    #: the granularity of resume); default 16. An engine that schedules its own batches
    #: (vLLM) wants many at once.
    chunk_size: int

    def generate(self, requests: Sequence[Request], progress: Progress | None = None) -> list[Prediction]: ...

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], progress: Progress | None = None
    ) -> list[Loglikelihood]: ...

    def close(self) -> None: ...


@runtime_checkable
class TaskKind(Protocol):
    """How one kind of task (mcqa, ner, re, summarization) reads, prompts and scores.

    The evaluation loop (the ``eval`` stage) drives it:

    1. ``validate(spec)`` once when the spec is loaded: check ``spec.options`` and raise
       :class:`bioharness.errors.DataError` naming the spec file and key.
    2. ``load(spec, data_dir, split)`` reads the examples of ``split`` from the original
       files under ``data_dir`` (or the spec's hub fallback).
    3. ``requests(spec, example, shots)`` builds the backend requests for one example
       (several for log-likelihood scoring: one per option), ``shots`` being few-shot
       examples from ``spec.prompt['fewshot_split']``.
    4. ``score(spec, examples, outputs, judge)`` turns the backend's outputs (one list per
       example, in the order of its requests) into :class:`Score` records whose ``values``
       are per-sample numbers that can be *summed* (``correct``, ``tp``, ``rouge1``...).
       ``judge`` is a backend for LLM-judge scoring, or None. A judge request that failed
       is the Score's ``error`` (the sample then counts as failed, not scored).
    5. ``metrics(spec, sums, n)`` computes the task's metrics from column sums over any
       subset of samples, which is what makes bootstrap confidence intervals cheap. A
       metric that is undefined on those sums (nothing to divide by) is ``None``, never 0.

    Optional: ``strata(spec, example)`` -> the example's label (a string), its labels (a
    collection: several for a multi-label example, empty for none), or ``None``; what
    ``--limit N --sample stratified`` keeps in proportion (every label at least once where
    N allows). Without it (or with ``None``) the subset is random.
    """

    def validate(self, spec: Any) -> None: ...

    def load(self, spec: Any, data_dir: Path | None, split: str) -> list[Example]: ...

    def requests(self, spec: Any, example: Example, shots: Sequence[Example]) -> list[Request | LoglikelihoodRequest]: ...

    def score(self, spec: Any, examples: Sequence[Example], outputs: Sequence[Sequence[Prediction | Loglikelihood]],
              judge: "Backend | None") -> list[Score]: ...

    def metrics(self, spec: Any, sums: Mapping[str, float], n: int) -> Mapping[str, float]: ...


@runtime_checkable
class Reader(Protocol):
    """Reads the examples of one split from the files a task spec names.

    A spec says ``data: {reader: NAME, split: S, files: ..., options: {...}}``;
    ``data.files`` is a list (the files of ``split``) or a mapping split -> list, each path
    relative to the data directory or, failing that, to the spec's folder.

    * ``options``: option name -> (accepted type or tuple of types, one-line description);
      ``data.options`` may set only these (an unknown one or a wrong type is a one-line
      ``spec:data.options.KEY`` error). ``check(options)`` (optional) rejects bad values by
      raising ``ValueError("KEY: what was expected")``.
    * ``kinds``: the task kinds whose examples it yields (empty: any kind).
    * ``splits``: the splits it reads without ``data.files`` naming them (readers of one
      dataset with a known layout); empty for format readers.
    * ``default_files(split, **options)``: those files, relative to the data directory.
    * ``read(files, split, kind, root=None, **options)``: the examples for a task of
      ``kind``, ids unique and stable, every ``meta["source"]`` saying where the example
      came from (``file:line`` relative to ``root``, or a document id). Malformed input
      raises :class:`bioharness.DataError` naming the file and line.
    * ``needs_files`` (optional, default true): false for a reader of no files (a hub).
    """

    options: Mapping[str, tuple]
    kinds: tuple
    splits: tuple

    def default_files(self, split: str, **options) -> list[str]: ...

    def read(self, files: Sequence[Path], split: str, kind: str, root: Path | None = None,
             **options) -> list[Example]: ...


#: Called once per unit of work written (an instruction, a log entry): feeds ``on_sample``.
OnRecord = Callable[[Mapping[str, Any]], None]


@runtime_checkable
class Generator(Protocol):
    """Built by its factory from the command's options; writes ``instructions.jsonl`` (and
    its stats) into ``out_dir`` until the target count, resuming what is there. Its result
    says ``complete: false`` and why it ``stopped`` when it ended short of the target (a
    request budget spent, answers that held nothing usable): ``bioharness run`` goes on with
    what was kept and says so."""

    def run(self, out_dir: Path, on_record: OnRecord | None = None) -> Mapping[str, Any]: ...


@runtime_checkable
class Trainer(Protocol):
    """Built by its factory from the command's options; tunes a base model and writes an
    adapter directory (and its log and manifest) into ``out_dir``, resuming a killed run."""

    def run(self, out_dir: Path, on_record: OnRecord | None = None) -> Mapping[str, Any]: ...
