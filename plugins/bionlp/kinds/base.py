"""What every bionlp task kind shares: option checking, data loading, prompt rendering.

A task kind here is a small object with no state of its own: everything a task needs is in
its spec (``bioharness.taskspec.TaskSpec``), so one instance serves every task of its kind.

Data loading (:meth:`BionlpKind.load`) looks in this order:

1. the files: the spec's ``data.reader`` (any registered reader, see
   :class:`bioharness.interfaces.Reader`) reads the files ``data.files`` lists for the split,
   or a dataset reader's default files, with the options in ``data.options``; each file is
   found by :func:`bioharness.find_data_file` (the data directory, ``--data-dir`` /
   ``BIOHARNESS_DATA``; the cache of fetched datasets; beside the spec);
2. the spec's ``data.hf`` fallback, for the readers that have a converter in
   :mod:`bioharness.plugins.bionlp.hub` (only when the ``datasets`` package is installed and
   ``HF_HUB_OFFLINE`` is not set);
3. otherwise one error line naming the files looked for, every place searched, the command
   that fetches them, and why the hub was not used.

Prompts: ``prompt.template`` is a :meth:`str.format` template over the example's inputs
plus the fields a kind adds (``options_text`` for mcqa, ...). Few-shot examples, when
``prompt.num_fewshot`` > 0, come first, each rendered with the same template followed by a
space and its answer (:meth:`BionlpKind.shot_answer`), joined by
``prompt.fewshot_separator`` (a blank line by default).
"""
from __future__ import annotations

import string
from pathlib import Path
from typing import Any, Mapping, Sequence

from bioharness import DataError, Request, UsageError, data_root, find_data_file, get_reader, places_searched

from .. import hub


def _type_name(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join({dict: "mapping", list: "list", str: "string", int: "integer", bool: "boolean",
                        float: "number"}.get(t, t.__name__) for t in types)


class BionlpKind:
    """Base of the four built-in kinds; see the module docstring for loading and prompts."""

    #: the registered name (``mcqa``, ``ner``, ...)
    name = ""
    #: option key -> (accepted type(s), description)
    OPTIONS: Mapping[str, tuple] = {}
    #: ``max_new_tokens`` when the spec's ``generation`` does not say
    default_max_new_tokens = 256

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
        _check_types(path, "options", spec.options, self.OPTIONS, f"option for task kind {self.name!r}")
        reader = self._reader(spec)
        self._validate_reader(spec, reader)
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
        try:
            reader = get_reader(name)
        except UsageError as exc:
            raise DataError(spec.path, "data.reader", str(exc)) from None
        kinds = tuple(getattr(reader, "kinds", ()) or ())
        if kinds and self.name not in kinds:
            raise DataError(spec.path, "data.reader", f"reader {name!r} reads {' or '.join(kinds)} data, "
                                                      f"not data for task kind {self.name!r}")
        return reader

    def _validate_reader(self, spec, reader):
        """``data.options`` against the reader's options; every split read has files."""
        path, name = spec.path, spec.data["reader"]
        options = spec.data.get("options") or {}
        _check_types(path, "data.options", options, getattr(reader, "options", {}) or {}, f"option of reader {name!r}")
        try:
            getattr(reader, "check", lambda options: None)(options)
        except ValueError as exc:
            key, _, problem = str(exc).partition(": ")
            raise DataError(path, f"data.options.{key}", problem or key) from None
        splits = tuple(getattr(reader, "splits", ()) or ())
        for split_key, split in (("data.split", spec.split), ("prompt.fewshot_split", spec.prompt.get("fewshot_split"))):
            if split is None:
                continue
            if splits:
                try:
                    reader.default_files(split, **options)
                except UsageError:
                    raise DataError(path, split_key, f"reader {name!r} has no split {split!r} "
                                                     f"(choose from {', '.join(splits)})") from None
            elif not spec.listed_files(split) and getattr(reader, "needs_files", True) and (
                    split == spec.split or spec.num_fewshot):
                raise DataError(path, "data.files", f"no files for split {split!r}; list them "
                                                    f"(files: {{{split}: [...]}})")

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
        options = dict(spec.data.get("options") or {})
        listed = spec.listed_files(split)
        if listed:
            files = spec.data_files(data_dir, split)
        elif getattr(reader, "splits", ()):
            files = [find_data_file(f, data_dir) for f in reader.default_files(split, **options)]
        else:
            files = []
        found = bool(files) and len(files) >= len(listed) and all(f.exists() for f in files)
        # a split other than the task's own (few-shot) has no hub fallback: its reader names
        # a missing file itself
        if not getattr(reader, "needs_files", True) or found or (files and split != spec.split):
            root = data_root(files, data_dir) or spec.path.parent
            examples = reader.read(files, split, self.name, root=root, **options)
        else:
            problem = hub.unavailable(spec) if split == spec.split else "hub fallbacks serve the task's own split only"
            if problem:
                raise UsageError(self._missing_message(spec, data_dir, split, listed, files, problem))
            examples = hub.load(spec, options)
        if examples:
            self.render(spec, examples[0])  # an unknown template field fails now, naming the key
        return examples

    def _missing_message(self, spec, data_dir, split, listed, files, problem):
        names = [n for n, f in zip(listed, files) if not f.exists()] if len(files) == len(listed) else listed
        names = names or [str(f) for f in files if not f.exists()]
        return (f"task {spec.name} ({split}): data not found: looked for {', '.join(map(str, names))} in "
                f"{places_searched(data_dir, spec.path.parent if spec.path else None)}; {problem}")

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


def _check_types(path, prefix, values, known, what):
    """Every key of ``values`` is in ``known`` (key -> (types, description)) with a value of
    its type(s); else a DataError naming ``prefix.key``."""
    for name, value in values.items():
        if name not in known:
            raise DataError(path, f"{prefix}.{name}", f"unknown {what} (expected one of: {', '.join(known) or 'none'})")
        types = known[name][0]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            raise DataError(path, f"{prefix}.{name}", f"expected {_type_name(types)}, got {type(value).__name__}")


def output_error(output) -> str | None:
    """Why a backend output is unusable (missing, or an error record), else None."""
    if output is None:
        return "no output"
    return getattr(output, "error", None)
