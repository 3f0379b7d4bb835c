"""The lora trainer's settings: one validated dataclass, built from the CLI options.

Defaults follow alpaca-lora (tloen/alpaca-lora) where it has one: LoRA r 8, alpha 16,
dropout 0.05 on the q/v projections, learning rate 3e-4, 3 epochs, 128 examples per
optimizer step in micro-batches of 4, cutoff 256 tokens. Warmup is a ratio (5%) rather
than alpaca-lora's 100 steps, which would be the whole of a short run.
"""
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from bioharness import CATEGORIES, UsageError

TEMPLATES = ("alpaca", "chat")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PACKING_MODES = ("auto", "position-ids", "block-mask")

#: Settings that do not change the adapter: they may differ between a killed run and its
#: resumption, or between a finished run and a second call (which then only merges).
OPERATIONAL = ("save_steps", "save_total_limit", "merge", "sanity_prompts")


def split_list(value):
    """``"qa, ie"`` / ``("qa", "ie")`` / None -> ``("qa", "ie")`` / ``()``."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    return tuple(p.strip() for p in parts if p.strip())


def _coerce(name, kind, value, fail):
    flag = "--" + name.replace("_", "-")
    if type(value) is kind:
        return value
    if kind is bool:
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        fail(f"{flag}: expected true or false, got {value!r}")
    if isinstance(value, bool):
        fail(f"{flag}: expected a number, got {value!r}")
    try:
        coerced = kind(value)
    except (TypeError, ValueError):
        fail(f"{flag}: expected {'a whole number' if kind is int else 'a number'}, got {value!r}")
    if kind is int and isinstance(value, float) and coerced != value:
        fail(f"{flag}: expected a whole number, got {value!r}")
    return coerced


@dataclass(frozen=True)
class TrainConfig:
    data: str
    base: str = "embedded"
    categories: tuple = ()
    template: str = "alpaca"
    train_on_inputs: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple = ("q_proj", "v_proj")
    learning_rate: float = 3e-4
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 128
    micro_batch_size: int = 4
    cutoff_len: int = 256
    warmup: float = 0.05
    weight_decay: float = 0.0
    seed: int = 42
    save_steps: int = 50
    save_total_limit: int = 2
    packing: bool = True
    packing_mode: str = "auto"
    precision: str = "auto"
    gradient_checkpointing: bool = False
    merge: bool = False
    sanity_prompts: int = 4

    @classmethod
    def from_options(cls, **options):
        """Build from the CLI's keyword options (None means "use the default")."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise UsageError(f"lora trainer: unknown option(s) {', '.join(unknown)}")
        given = {k: v for k, v in options.items() if v is not None}
        if "data" not in given:
            raise UsageError("lora trainer: --data FILE is required (a JSON or JSONL instruction set)")
        for key in ("categories", "target_modules"):
            if key in given:
                given[key] = split_list(given[key])
        return cls(**given)

    def __post_init__(self):
        def fail(msg):
            raise UsageError(f"lora trainer: {msg}")

        # 0 and 0.0, "8" and 8 must give one manifest key: coerce to the declared types
        for f in dataclasses.fields(self):
            kind = f.type if f.type in (int, float, bool) else int if f.type == (int | None) else None
            value = getattr(self, f.name)
            if kind is not None and value is not None:
                object.__setattr__(self, f.name, _coerce(f.name, kind, value, fail))

        bad = [c for c in self.categories if c not in CATEGORIES]
        if bad:
            fail(f"--categories: {', '.join(bad)} not among {', '.join(CATEGORIES)}")
        if self.template not in TEMPLATES:
            fail(f"--template {self.template!r} is not one of {', '.join(TEMPLATES)}")
        if self.precision not in PRECISIONS:
            fail(f"--precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.packing_mode not in PACKING_MODES:
            fail(f"--packing-mode {self.packing_mode!r} is not one of {', '.join(PACKING_MODES)}")
        if not self.target_modules:
            fail("--target-modules is empty (e.g. q_proj,v_proj or all-linear)")
        positive = ("lora_r", "lora_alpha", "batch_size", "micro_batch_size", "cutoff_len", "save_steps")
        for name in positive:
            if getattr(self, name) < 1:
                fail(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.lora_dropout < 1:
            fail(f"--lora-dropout must be in [0, 1), got {self.lora_dropout}")
        if self.learning_rate <= 0:
            fail(f"--learning-rate must be > 0, got {self.learning_rate}")
        if self.max_steps is None and self.epochs <= 0:
            fail(f"--epochs must be > 0, got {self.epochs}")
        if self.max_steps is not None and self.max_steps < 1:
            fail(f"--max-steps must be >= 1, got {self.max_steps}")
        if self.warmup < 0:
            fail(f"--warmup must be >= 0 (a ratio below 1, else a number of steps), got {self.warmup}")
        if self.warmup >= 1 and self.warmup != int(self.warmup):
            fail(f"--warmup {self.warmup}: a value >= 1 is a number of steps and must be whole")
        if self.save_total_limit < 2:
            # the newest checkpoint may be half-written when the run is killed; the one
            # before it must still be there to resume from
            fail(f"--save-total-limit must be >= 2, got {self.save_total_limit}")
        if self.sanity_prompts < 0:
            fail(f"--sanity-prompts must be >= 0, got {self.sanity_prompts}")
        if self.cutoff_len < 2:
            fail("--cutoff-len must be >= 2")

    def gradient_accumulation(self, world_size=None) -> int:
        """Micro-batches per optimizer step on each process, so that one step sees
        ``batch_size`` examples over all processes."""
        world = int(world_size or os.environ.get("WORLD_SIZE", 1) or 1)
        per_step = self.micro_batch_size * world
        if self.batch_size % per_step:
            raise UsageError(
                f"lora trainer: --batch-size {self.batch_size} is not a multiple of --micro-batch-size "
                f"{self.micro_batch_size} x {world} process(es)"
            )
        return self.batch_size // per_step

    def to_json(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out["data"] = str(Path(self.data).expanduser().resolve())
        return out

    def key_config(self) -> dict:
        """What determines the adapter: everything but the operational settings."""
        return {k: v for k, v in self.to_json().items() if k not in OPERATIONAL}
