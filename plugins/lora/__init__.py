"""The ``lora`` trainer: LoRA instruction tuning of a causal LM (peft + transformers Trainer).

``bioharness train --base SPEC --data FILE [--categories qa,ie] --out RUN`` writes a PEFT
adapter directory, the step log and the manifest into RUN; see :mod:`.trainer` for the
layout, resuming and multi-GPU runs with ``accelerate launch``. torch, transformers and
peft are imported when the trainer runs, not when this plugin loads.
"""
import click

from bioharness import hookimpl
from bioharness.plugins.lora.config import PACKING_MODES, PRECISIONS, TEMPLATES, TrainConfig

_D = TrainConfig.__dataclass_fields__


def _default(name):
    return _D[name].default


OPTIONS = [
    click.Option(["--base"], default=_default("base"), show_default=True,
                 help="Base model spec: embedded, hf:<path-or-hub-id>."),
    # Not required=True for click: the option is shared by every trainer's `train` command,
    # and another trainer must not need it; the lora factory insists on it instead.
    click.Option(["--data"], type=click.Path(dir_okay=False),
                 help="[required] Instruction set: JSON array or JSONL with instruction, input, output "
                      "(category, id optional)."),
    click.Option(["--categories"], default=None,
                 help="Train only on these categories, comma-separated (qa,ie,gen,other). Default: all."),
    click.Option(["--template"], type=click.Choice(TEMPLATES), default=_default("template"), show_default=True,
                 help="Prompt template: Alpaca-style, or the base model's chat template."),
    click.Option(["--train-on-inputs/--no-train-on-inputs"], default=False, show_default=True,
                 help="Put loss on the prompt tokens too (default: on the response only)."),
    click.Option(["--lora-r"], type=int, default=_default("lora_r"), show_default=True, help="LoRA rank."),
    click.Option(["--lora-alpha"], type=int, default=_default("lora_alpha"), show_default=True, help="LoRA alpha."),
    click.Option(["--lora-dropout"], type=float, default=_default("lora_dropout"), show_default=True,
                 help="LoRA dropout."),
    click.Option(["--target-modules"], default=",".join(_default("target_modules")), show_default=True,
                 help="Modules to adapt, comma-separated, or all-linear."),
    click.Option(["--learning-rate", "--lr", "learning_rate"], type=float, default=_default("learning_rate"),
                 show_default=True, help="Peak learning rate (linear decay)."),
    click.Option(["--epochs"], type=float, default=_default("epochs"), show_default=True,
                 help="Passes over the data (ignored with --max-steps)."),
    click.Option(["--max-steps"], type=int, default=None, help="Stop after this many optimizer steps."),
    click.Option(["--batch-size"], type=int, default=_default("batch_size"), show_default=True,
                 help="Examples per optimizer step (over all processes), via gradient accumulation."),
    click.Option(["--micro-batch-size"], type=int, default=_default("micro_batch_size"), show_default=True,
                 help="Examples per forward pass on each process."),
    click.Option(["--cutoff-len"], type=int, default=_default("cutoff_len"), show_default=True,
                 help="Longest example in tokens (longer ones are cut)."),
    click.Option(["--warmup"], type=float, default=_default("warmup"), show_default=True,
                 help="Warmup: a ratio of the steps if below 1, else a number of steps."),
    click.Option(["--weight-decay"], type=float, default=_default("weight_decay"), show_default=True,
                 help="AdamW weight decay."),
    click.Option(["--seed"], type=int, default=_default("seed"), show_default=True,
                 help="Seed of the LoRA initialisation, data order and dropout."),
    click.Option(["--save-steps"], type=int, default=_default("save_steps"), show_default=True,
                 help="Checkpoint every N optimizer steps (a killed run resumes from the last one)."),
    click.Option(["--save-total-limit"], type=int, default=_default("save_total_limit"), show_default=True,
                 help="Checkpoints kept (at least 2)."),
    click.Option(["--packing/--no-packing"], default=True, show_default=True,
                 help="Pack each micro-batch into one padding-free sequence (examples kept apart)."),
    click.Option(["--packing-mode"], type=click.Choice(PACKING_MODES), default="auto", show_default=True,
                 help="How packed examples are kept apart: restarting position ids, or an explicit "
                      "block-diagonal mask (the fallback); auto tests the model."),
    click.Option(["--precision"], type=click.Choice(PRECISIONS), default="auto", show_default=True,
                 help="auto: bf16 on GPUs that support it, fp32 on CPU."),
    click.Option(["--gradient-checkpointing/--no-gradient-checkpointing"], default=False, show_default=True,
                 help="Trade compute for memory."),
    click.Option(["--merge/--no-merge"], default=False, show_default=True,
                 help="Also write the base model with the adapter merged in (RUN/merged)."),
    click.Option(["--sanity-prompts"], type=int, default=_default("sanity_prompts"), show_default=True,
                 help="Held-out prompts on which base and adapted greedy outputs are compared (0: skip)."),
]


def _factory(**options):
    config = TrainConfig.from_options(**options)  # bad settings fail here, before torch loads
    from bioharness.plugins.lora.trainer import LoraTrainer

    return LoraTrainer(config)


@hookimpl
def register_trainers(register):
    register(
        "lora",
        _factory,
        description="LoRA instruction tuning (peft + transformers Trainer; accelerate launch for many GPUs)",
        options=OPTIONS,
        inputs={"data": "instructions"},
        outputs={"adapter": "adapter"},
    )
