"""The transformers Trainer, counting tokens per step, writing the step log and a progress bar."""
import math
import sys
import time
from pathlib import Path

from transformers import PrinterCallback, Trainer, TrainerCallback

from bioharness.plugins.lora.trainer import COMPLETE_MARKER
from bioharness import atomic_write_text


class TokenMeter:
    """Tokens in the micro-batches of the current optimizer step."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.tokens = self.nonpad = self.targets = 0

    def add(self, inputs):
        ids = inputs["input_ids"]
        mask = inputs.get("attention_mask")
        self.tokens += ids.numel()
        # a 4-D mask is the packed fallback's block mask: no padding there either
        self.nonpad += int(mask.sum()) if mask is not None and mask.dim() == 2 else ids.numel()
        self.targets += int((inputs["labels"][..., 1:] != -100).sum())


class CountingTrainer(Trainer):
    def __init__(self, *args, meter, target_loss=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.meter = meter
        self.target_loss = target_loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.meter.add(inputs)
        return super().training_step(model, inputs, num_items_in_batch)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.target_loss and "labels" in inputs:
            # the model's forward then projects only the target positions (see .loss)
            inputs = {**inputs, "target_loss": True}
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)


class StepLog(TrainerCallback):
    """One record per optimizer step (to ``log`` and ``on_record``), the progress bar, and
    the marker that says a checkpoint was written completely."""

    def __init__(self, meter, log=None, on_record=None):
        self.meter = meter
        self.log = log
        self.on_record = on_record
        self.bar = None
        self.step_start = None
        self.step_seconds = None
        self.started = time.time()

    def on_train_begin(self, args, state, control, **kw):
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            interval = 0.2 if sys.stderr.isatty() else 10.0
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="train", unit="step",
                            file=sys.stderr, dynamic_ncols=True, mininterval=interval)

    def on_step_begin(self, args, state, control, **kw):
        self.meter.reset()
        self.step_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.step_seconds = time.perf_counter() - self.step_start

    def on_log(self, args, state, control, logs=None, **kw):
        if not state.is_world_process_zero or not logs or "loss" not in logs or self.step_seconds is None:
            return
        m, secs = self.meter, self.step_seconds
        record = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0.0, 4),
            "loss": logs.get("loss"),
            "learning_rate": logs.get("learning_rate"),
            "grad_norm": _finite(logs.get("grad_norm")),
            "tokens": m.tokens,
            "nonpad_tokens": m.nonpad,
            "target_tokens": m.targets,
            "step_seconds": round(secs, 4),
            "tokens_per_s": round(m.tokens / secs, 1) if secs else None,
            "nonpad_tokens_per_s": round(m.nonpad / secs, 1) if secs else None,
            "elapsed_s": round(time.time() - self.started, 2),
        }
        if self.log is not None and record["step"] not in self.log:
            self.log.append(record)
            if self.on_record is not None:
                self.on_record(record)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", tok_s=f"{record['nonpad_tokens_per_s']:.0f}",
                                 refresh=False)
            self.bar.update(state.global_step - self.bar.n)

    def on_save(self, args, state, control, **kw):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                atomic_write_text(folder / COMPLETE_MARKER, f"{state.global_step}\n")

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.close()


def make_trainer(model, args, dataset, collator, log=None, on_record=None, target_loss=False):
    meter = TokenMeter()
    trainer = CountingTrainer(model=model, args=args, train_dataset=dataset, data_collator=collator,
                              callbacks=[StepLog(meter, log, on_record)], meter=meter, target_loss=target_loss)
    trainer.remove_callback(PrinterCallback)  # our log replaces its printed dicts
    return trainer


def _finite(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
