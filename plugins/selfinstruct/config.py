"""The selfinstruct generator's settings: one validated dataclass, built from the CLI options.

Defaults follow self-instruct / BioInstruct where they have one: 3 seed examples per
request, a ROUGE-L novelty threshold of 0.7, instructions of 4 to 150 words, temperature
0.7, GPT-4-class model (``openai:gpt-4o``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bioharness import CATEGORIES, UsageError, parse_model_args

#: Seed examples shown in each request.
EXAMPLES_PER_REQUEST = 3

#: Settings that decide *what* is generated. A run directory that already holds generated
#: instructions resumes only with the same values (anything else would mix two different
#: runs in one file); the others (target, endpoint, concurrency...) may change freely.
IDENTITY = ("model", "seed", "per_request", "temperature", "max_tokens", "threshold", "min_words", "max_words",
            "default_category")


@dataclass(frozen=True)
class GenerateConfig:
    n: int | None = None
    model: str = "openai:gpt-4o"
    base_url: str | None = None
    concurrency: int = 8
    seeds: str | None = None
    seed: int = 0
    import_path: str | None = None
    dedup: bool = False
    temperature: float = 0.7
    max_tokens: int = 2048
    per_request: int = 5
    threshold: float = 0.7
    min_words: int = 4
    max_words: int = 150
    default_category: str | None = None
    max_requests: int | None = None
    model_args: tuple = ()  # (key, value) pairs for the backend (timeouts, retries...)

    def __post_init__(self):
        def bad(flag, why):
            raise UsageError(f"--{flag}: {why}")

        if self.n is None and self.import_path is None:
            bad("n", "give the number of instructions to generate (or --import FILE to use an existing set)")
        if self.n is not None and self.n < 1:
            bad("n", f"must be at least 1, got {self.n}")
        if self.concurrency < 1:
            bad("concurrency", f"must be at least 1, got {self.concurrency}")
        if self.per_request < 1:
            bad("per-request", f"must be at least 1, got {self.per_request}")
        if self.max_tokens < 16:
            bad("max-tokens", f"must be at least 16, got {self.max_tokens}")
        if not 0.0 <= self.temperature <= 2.0:
            bad("temperature", f"must be between 0 and 2, got {self.temperature}")
        if not 0.0 <= self.threshold <= 1.0:
            bad("threshold", f"must be between 0 and 1, got {self.threshold}")
        if self.min_words < 1 or self.max_words < self.min_words:
            bad("min-words", f"need 1 <= --min-words <= --max-words, got {self.min_words} and {self.max_words}")
        if self.default_category is not None and self.default_category not in CATEGORIES:
            bad("default-category", f"must be one of {', '.join(CATEGORIES)}, got {self.default_category!r}")
        if self.max_requests is not None and self.max_requests < 1:
            bad("max-requests", f"must be at least 1, got {self.max_requests}")
        from bioharness import parse_model_spec

        parse_model_spec(self.model)  # any model spec: embedded, hf:, vllm:, openai:
        for path, flag in ((self.seeds, "seeds"), (self.import_path, "import")):
            if path is not None and not Path(path).is_file():
                bad(flag, f"no such file {str(path)!r}")

    @classmethod
    def from_options(cls, **options) -> "GenerateConfig":
        """From the click options (None means "not given": the default applies)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise UsageError(f"selfinstruct: unknown option(s) {', '.join(unknown)}")
        values = {k: v for k, v in options.items() if v is not None}
        if isinstance(values.get("model_args"), str):
            values["model_args"] = tuple(sorted(parse_model_args(values["model_args"]).items()))
        elif isinstance(values.get("model_args"), dict):
            values["model_args"] = tuple(sorted(values["model_args"].items()))
        for key in ("seeds", "import_path"):
            if key in values:
                values[key] = str(values[key])
        return cls(**values)

    def identity(self) -> dict:
        return {name: getattr(self, name) for name in IDENTITY}
