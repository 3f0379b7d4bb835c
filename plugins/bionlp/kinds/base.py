"""What every bionlp task kind shares: option checking, data loading, prompt rendering.

A task kind here is a small object with no state of its own: everything a task needs is in
its spec (``bioharness.taskspec.TaskSpec``), so one instance serves every task of its kind.

Data loading (:meth:`BionlpKind.load`) looks in this order:

1. the data directory (``--data-dir`` / ``BIOHARNESS_DATA``): the spec's ``data.reader``
   (a name of :data:`bioharness.plugins.bionlp.readers.READERS`) reads the original files;
2. the spec's ``data.hf`` fallback, for the readers that have a converter in
   :mod:`bioharness.plugins.bionlp.hub` (only when the ``datasets`` package is installed and
   ``HF_HUB_OFFLINE`` is not set);
3. otherwise one error line naming the files looked for, where, and why the hub was not used.

Prompts: ``prompt.template`` is a :meth:`str.format` template over the example's inputs
plus the fields a kind adds (``options_text`` for mcqa, ...). Few-shot examples, when
``prompt.num_fewshot`` > 0, come first, each rendered with the same template followed by a
space and its answer (:meth:`BionlpKind.shot_answer`), joined by
``prompt.fewshot_separator`` (a blank line by default).
"""
from __future__ import annotations

import inspect
import os
import string
from pathlib import Path
from typing import Any, Mapping, Sequence

from bioharness import DataError, Request, UsageError

from .. import hub
from ..readers import READERS, _resolve_split

ENV_DATA = "BIOHARNESS_DATA"


def _type_name(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join({dict: "mapping", list: "list", str: "string", int: "integer", bool: "boolean",
                        float: "number"}.get(t, t.__name__) for t in types)


class BionlpKind:
    """Base of the four built-in kinds; see the module docstring for loading and prompts."""

    #: the registered name (``mcqa``, ``ner``, ...)
    name = ""
    #: option key -> (accepted type(s), description); every kind also takes ``reader_args``
    OPTIONS: Mapping[str, tuple] = {}
    #: ``max_new_tokens`` when the spec's ``generation`` does not say
    default_max_new_tokens = 256

    COMMON_OPTIONS = {
        "reader_args": (dict, "keyword arguments for the reader (e.g. subjects for mmlu_medical)"),
    }

    def __init__(self):
        self._validated = set()

    # -- 1. validation ---------------------------------------------------------------

    def validate(self, spec) -> None:
        """Check the spec's data, options, generation settings and metric names; raise a
        :class:`DataError` naming the spec file and the key."""
        key = (str(spec.path), spec.name, spec.prompt_hash(), tuple(spec.metrics), repr(sorted(spec.data.items())))
        if key in self._validated:
            return
        path = spec.path
        known = {**self.COMMON_OPTIONS, **self.OPTIONS}
        for name, value in spec.options.items():
            if name not in known:
                raise DataError(path, f"options.{name}",
                                f"unknown option for task kind {self.name!r} (expected one of: {', '.join(known)})")
            types = known[name][0]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
                raise DataError(path, f"options.{name}", f"expected {_type_name(types)}, got {type(value).__name__}")
        reader = self._reader(spec)
        for split_key, split in (("data.split", spec.split), ("prompt.fewshot_split", spec.prompt.get("fewshot_split"))):
            if split is None:
                continue
            try:
                _resolve_split(reader.name, split, reader.splits)
            except UsageError:
                raise DataError(path, split_key, f"reader {reader.name!r} has no split {split!r} "
                                                 f"(choose from {', '.join(reader.splits)})") from None
        params = set(inspect.signature(reader.fn).parameters) - {"data_dir", "split"}
        for name in spec.options.get("reader_args", {}):
            if name not in params:
                raise DataError(path, f"options.reader_args.{name}", f"reader {reader.name!r} takes no argument "
                                                                     f"{name!r} (it takes: {', '.join(sorted(params)) or 'none'})")
        self._validate_hub(spec, reader)
        self._validate_template(spec)
        self._validate_generation(spec)
        self.validate_options(spec)
        allowed = self.metric_names(spec)
        for metric in spec.metrics:
            if metric not in allowed:
                raise DataError(path, "metrics", f"unknown metric {metric!r} for this task "
                                                 f"(known: {', '.join(sorted(allowed))})")
        self._validated.add(key)

    def validate_options(self, spec) -> None:
        """Kind-specific checks of ``spec.options`` (types are already checked)."""

    def strata(self, spec, example):
        """The label(s) ``--sample stratified`` keeps in proportion; ``None``: none (random)."""
        return None

    def metric_names(self, spec) -> set[str]:
        """The metric names this spec may list in ``metrics``."""
        raise NotImplementedError

    def _reader(self, spec):
        name = spec.data["reader"]
        if name not in READERS:
            raise DataError(spec.path, "data.reader", f"unknown reader {name!r} (known: {', '.join(sorted(READERS))})")
        reader = READERS[name]
        if reader.kind != self.name:
            raise DataError(spec.path, "data.reader", f"reader {name!r} reads {reader.kind} data, "
                                                      f"not data for task kind {self.name!r}")
        return reader

    def _validate_hub(self, spec, reader):
        fallback = spec.data.get("hf")
        if fallback is None:
            return
        if reader.name not in hub.CONVERTERS:
            raise DataError(spec.path, "data.hf", f"no hub converter for reader {reader.name!r} "
                                                  f"(hub fallbacks exist for: {', '.join(sorted(hub.CONVERTERS))})")
        for key in fallback:
            if key not in ("path", "name", "split"):
                raise DataError(spec.path, f"data.hf.{key}", "unknown key (expected one of: path, name, split)")
        if not isinstance(fallback.get("path"), str) or not fallback["path"]:
            raise DataError(spec.path, "data.hf.path", "missing the dataset id")

    def _validate_template(self, spec):
        template = spec.prompt["template"]
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise DataError(spec.path, "prompt.template", f"not a valid format string ({exc})") from None
        if any(f == "" or f.isdigit() for f in fields):
            raise DataError(spec.path, "prompt.template", "positional fields such as {} are not allowed; name a field")

    def _validate_generation(self, spec):
        gen = spec.generation
        if "max_new_tokens" in gen and gen["max_new_tokens"] < 1:
            raise DataError(spec.path, "generation.max_new_tokens", "must be >= 1")
        if "temperature" in gen and gen["temperature"] < 0:
            raise DataError(spec.path, "generation.temperature", "must be >= 0")
        if not all(isinstance(s, str) and s for s in gen.get("stop", ())):
            raise DataError(spec.path, "generation.stop", "expected a list of non-empty strings")

    # -- 2. loading ------------------------------------------------------------------

    def load(self, spec, data_dir: Path | None, split: str) -> list:
        """The examples of ``split``: from the data directory, else the hub fallback."""
        self.validate(spec)
        reader = self._reader(spec)
        if data_dir is None and os.environ.get(ENV_DATA):
            data_dir = Path(os.environ[ENV_DATA])
        args = dict(spec.options.get("reader_args", {}))
        files = spec.data_files(data_dir)
        # the listed files belong to the task's own split; another split (few-shot) is the
        # reader's business, which names a missing file itself
        local = data_dir is not None and (split != spec.split or all(f.exists() for f in files))
        if local:
            examples = reader(Path(data_dir), split, **args)
        else:
            problem = hub.unavailable(spec) if split == spec.split else "hub fallbacks serve the task's own split only"
            if problem:
                raise UsageError(self._missing_message(spec, data_dir, split, files, problem))
            examples = hub.load(spec, args)
        if examples:
            self.render(spec, examples[0])  # an unknown template field fails now, naming the key
        return examples

    def _missing_message(self, spec, data_dir, split, files, problem):
        if data_dir is None:
            where = "no data directory given (set --data-dir or BIOHARNESS_DATA)"
        else:
            missing = [str(f.relative_to(data_dir)) for f in files if not f.exists()]
            where = f"looked for {', '.join(missing)} under {data_dir}"
        return f"task {spec.name} ({split}): data not found: {where}; {problem}"

    # -- 3. prompts and requests -----------------------------------------------------

    def prompt_fields(self, spec, example) -> dict[str, Any]:
        """What ``prompt.template`` can name: the example's inputs (kinds add more)."""
        return dict(example.inputs)

    def render(self, spec, example) -> str:
        fields = self.prompt_fields(spec, example)
        try:
            return spec.prompt["template"].format(**fields)
        except KeyError as exc:
            raise DataError(spec.path, "prompt.template", f"unknown field {{{exc.args[0]}}} "
                                                          f"(this task's examples give: {', '.join(sorted(fields))})") from None
        except (IndexError, ValueError, AttributeError, TypeError) as exc:
            raise DataError(spec.path, "prompt.template", f"cannot be filled in ({exc})") from None

    def shot_answer(self, spec, example) -> str:
        """The answer shown after a few-shot example."""
        raise NotImplementedError

    def full_prompt(self, spec, example, shots: Sequence = ()) -> str:
        separator = spec.prompt.get("fewshot_separator", "\n\n")
        blocks = [f"{self.render(spec, shot).rstrip()} {self.shot_answer(spec, shot)}" for shot in shots]
        return separator.join(blocks + [self.render(spec, example)])

    def generation_request(self, spec, example, shots: Sequence = ()) -> Request:
        gen = spec.generation
        return Request(
            id=str(example.id),
            prompt=self.full_prompt(spec, example, shots),
            system=spec.prompt.get("system"),
            chat=spec.prompt.get("chat", True),
            max_new_tokens=int(gen.get("max_new_tokens", self.default_max_new_tokens)),
            temperature=float(gen.get("temperature", 0.0)),
            stop=tuple(gen.get("stop", ())),
        )

    def requests(self, spec, example, shots):
        return [self.generation_request(spec, example, shots)]

    # -- 5. metrics ------------------------------------------------------------------

    @staticmethod
    def ordered(spec, metrics: Mapping[str, float]) -> dict[str, float]:
        """The spec's metrics first, in its order (the headline first), then the rest."""
        out = {m: metrics[m] for m in spec.metrics if m in metrics}
        out.update((k, v) for k, v in metrics.items() if k not in out)
        return out


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def output_error(output) -> str | None:
    """Why a backend output is unusable (missing, or an error record), else None."""
    if output is None:
        return "no output"
    return getattr(output, "error", None)
