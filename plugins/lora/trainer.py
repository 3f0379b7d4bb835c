"""LoRA instruction tuning with peft and the transformers Trainer.

The run directory (``--out``)::

    manifest.json        config, data hash, the exact examples (count, sha256), versions, result
    example_ids.txt      the ids of the examples trained on, in file order
    train_log.jsonl      one record per optimizer step: loss, learning rate, tokens/s, ...
    checkpoints/         checkpoint-N/ every --save-steps (removed when the run completes)
    adapter/             the PEFT adapter (adapter_config.json + adapter_model.safetensors)
    merged/              with --merge: the base model with the adapter merged in
    sanity.json          greedy outputs on held-out prompts, base vs adapted

A killed run (even ``kill -9``) restarts from its newest complete checkpoint: the Trainer
restores optimizer, scheduler and RNG states and skips the batches already seen, so the
data order and the final adapter are those of an uninterrupted run.

Because it is the stock transformers Trainer, ``accelerate launch`` runs it on many GPUs,
with DDP, FSDP or DeepSpeed as the accelerate config says; the stage runner starts the
launcher (``bioharness train --num-processes 8 [--accelerate-config fsdp.yaml]``, or
``train.launch`` in a run config) and every process runs :meth:`LoraTrainer.run`::

    bioharness train --base hf:meta-llama/Llama-2-7b-hf --data instructions.jsonl --out runs/lora-7b \\
        --num-processes 8

``--batch-size`` stays the number of examples per optimizer step over all processes.
"""
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from bioharness import (
    RunDir, UsageError, atomic_write_text, instructions_digest, parse_model_spec, read_instructions, resolve_model,
)
from bioharness.plugins.lora.config import OPERATIONAL, TrainConfig

LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"
MERGED = "merged"
SANITY = "sanity.json"
EXAMPLE_IDS = "example_ids.txt"
#: Written into a checkpoint once the Trainer has finished saving it.
COMPLETE_MARKER = "bioharness-checkpoint-complete"


def base_model(spec_text, precision="auto"):
    """The :class:`bioharness.ResolvedModel` of the ``--base`` spec (its dtype: ``--precision``)."""
    spec = parse_model_spec(spec_text)
    if spec.backend != "hf":
        raise UsageError(f"lora trainer: --base {spec_text!r}: only transformers models "
                         "(hf:<path-or-id>, embedded) can be tuned")
    if spec.adapter:
        raise UsageError(f"lora trainer: --base {spec_text!r}: the base must not carry an adapter (+{spec.adapter})")
    return resolve_model(spec, dtype=precision)


def base_model_path(spec_text) -> str:
    """The directory or hub id that transformers loads for the ``--base`` spec."""
    return base_model(spec_text).path


def select_examples(instructions, categories):
    """The instructions of ``categories`` (all when empty), in file order."""
    if not categories:
        return list(instructions)
    chosen = [i for i in instructions if i.category in categories]
    if not chosen:
        found = Counter(i.category for i in instructions)
        have = ", ".join(f"{c} {n}" for c, n in sorted(found.items()))
        raise UsageError(f"lora trainer: no instructions of categories {','.join(categories)} (the file has: {have})")
    return chosen


def last_complete_checkpoint(folder):
    """The newest ``checkpoint-N`` that was completely written, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    done = []
    for path in folder.glob("checkpoint-*"):
        step = path.name.rpartition("-")[2]
        if step.isdigit() and (path / COMPLETE_MARKER).is_file():
            done.append((int(step), path))
    return max(done)[1] if done else None


def save_merged(peft_model, tokenizer, target):
    """The base with the adapter merged in, saved as a plain transformers model directory."""
    target = Path(target)
    tmp = target.parent / f".{target.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    merged = peft_model.merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    _replace_dir(tmp, target)
    return target


def write_merged(base_path, adapter_dir, tokenizer, target):
    """Merge a saved adapter into its base (for a finished run asked for --merge later)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_path)
    return save_merged(PeftModel.from_pretrained(model, str(adapter_dir)), tokenizer, target)


def _replace_dir(tmp, target):
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)


class LoraTrainer:
    """The ``lora`` trainer: ``LoraTrainer(config).run(out_dir)``."""

    def __init__(self, config: TrainConfig):
        self.config = config

    @classmethod
    def from_options(cls, **options):
        return cls(TrainConfig.from_options(**options))

    # -- data --------------------------------------------------------------------------

    def read_examples(self):
        """The instructions of the chosen categories (bad data fails here, before any model loads)."""
        return select_examples(read_instructions(self.config.data), self.config.categories)

    def encode_examples(self, chosen, prompt_format):
        """(instructions used, their encodings, how many were dropped as too long)."""
        cfg = self.config
        used, encoded, dropped = [], [], 0
        for inst in chosen:
            enc = prompt_format.encode(inst, cfg.cutoff_len, cfg.train_on_inputs)
            if enc.num_targets == 0:  # the prompt alone fills --cutoff-len
                dropped += 1
                continue
            used.append(inst)
            encoded.append(enc)
        if not encoded:
            raise UsageError(f"lora trainer: every example's prompt is longer than --cutoff-len {cfg.cutoff_len}")
        return used, encoded, dropped

    # -- the run -----------------------------------------------------------------------

    def run(self, out_dir, on_record=None):
        chosen = self.read_examples()  # bad data: a one-line error before torch is even imported
        import transformers
        from accelerate import PartialState

        from bioharness.plugins.lora.prompts import PromptFormat

        cfg = self.config
        transformers.logging.set_verbosity_warning()
        transformers.utils.logging.disable_progress_bar()
        run_dir = RunDir(out_dir)
        base = base_model(cfg.base, cfg.precision)
        path = base.path
        precision, dtype, use_cuda = self._precision(base.dtype)
        accumulation = cfg.gradient_accumulation()  # from WORLD_SIZE, set by torchrun / accelerate launch
        # The arguments set up the (distributed) state, on CPU too: create them first.
        args = self._training_args(run_dir / CHECKPOINTS, accumulation, precision, use_cuda)
        state = PartialState()
        main = state.is_main_process
        tokenizer = self._tokenizer(path)
        prompt_format = PromptFormat(tokenizer, cfg.template)
        used, encoded, dropped = self.encode_examples(chosen, prompt_format)
        examples = {
            "count": len(used),
            "sha256": instructions_digest(used),
            "by_category": dict(sorted(Counter(i.category for i in used).items())),
            "dropped_too_long": dropped,
        }
        key_config = {**cfg.key_config(), "base_path": path, "examples": examples}
        inputs = {"data": Path(cfg.data)}
        previous = run_dir.manifest
        key = RunDir.stage_key(key_config, inputs)
        if previous.get("key") == key and previous.get("complete") and (run_dir / ADAPTER).is_dir():
            return self._already_done(run_dir, previous, path, tokenizer, main)
        started_before = (run_dir / CHECKPOINTS).exists() or (run_dir / ADAPTER).exists()
        if previous.get("key") not in (None, key) and started_before:
            raise UsageError(f"{run_dir.path} holds a training with another config or data; "
                             "use a new --out or remove it")
        if main:
            run_dir.start("train", key_config, inputs)
            manifest = run_dir.manifest
            manifest["settings"] = {k: getattr(cfg, k) for k in OPERATIONAL}
            run_dir.write_json(RunDir.MANIFEST, manifest)
            atomic_write_text(run_dir / EXAMPLE_IDS, "".join(i.id + "\n" for i in used))

        model, target_loss = self._model(path, dtype)
        if use_cuda:
            model.to(state.device)  # the packing probe runs where training will
        packing, collator = self._collator(model, tokenizer, dtype)
        attention = model.get_base_model().config._attn_implementation

        from bioharness.plugins.lora.steps import make_trainer

        resume = last_complete_checkpoint(run_dir / CHECKPOINTS)
        resumed_step = int(resume.name.rpartition("-")[2]) if resume else 0
        log = _open_log(run_dir / LOG, keep_up_to=resumed_step) if main else None
        dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in encoded]
        trainer = make_trainer(model, args, dataset, collator, log, on_record, target_loss=target_loss)
        if resume is not None and main:
            sys.stderr.write(f"resuming from {resume.name}\n")
        started = time.time()
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        train_seconds = time.time() - started

        # the adapter appears complete or not at all
        tmp_adapter = run_dir / f".{ADAPTER}.tmp"
        if main and tmp_adapter.exists():
            shutil.rmtree(tmp_adapter)
        trainer.save_model(str(tmp_adapter))
        state.wait_for_everyone()
        result = {}
        if main:
            (tmp_adapter / "training_args.bin").unlink(missing_ok=True)
            _replace_dir(tmp_adapter, run_dir / ADAPTER)
            log.close()
            kernels = {"packing": packing, "attention": attention,
                       "loss": "target tokens, chunked" if target_loss else "the model's own"}
            result = self._finish(run_dir, trainer, model, prompt_format, tokenizer, examples, kernels,
                                  train_seconds, resumed_step, state.num_processes)
        state.wait_for_everyone()
        return result

    def _precision(self, dtype_name):
        """(dtype name, torch dtype of the base weights, whether training runs on CUDA) for
        the dtype that resolve_model normalised from ``--precision``."""
        import torch

        use_cuda = torch.cuda.is_available()
        if dtype_name == "auto":
            dtype_name = "bfloat16" if use_cuda and torch.cuda.is_bf16_supported() else "float32"
        if dtype_name != "float32" and not use_cuda:
            raise UsageError(f"lora trainer: --precision {self.config.precision} needs a GPU; use fp32 on CPU")
        return dtype_name, getattr(torch, dtype_name), use_cuda

    @staticmethod
    def _tokenizer(path):
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"lora trainer: could not load the tokenizer of {path!r}: {_first_line(exc)}") from None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def _model(self, path, dtype):
        """(the base model wrapped with fresh LoRA layers (seeded), whether its loss is the
        target-only one of :mod:`.loss`)."""
        import transformers
        from peft import LoraConfig, get_peft_model

        from bioharness.plugins.lora.loss import use_target_loss

        cfg = self.config
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise UsageError(f"lora trainer: could not load the base model {path!r}: {_first_line(exc)}") from None
        # A cache object would turn off the detection of packed sequences (and is useless in training).
        model.config.use_cache = False
        targets = "all-linear" if cfg.target_modules == ("all-linear",) else list(cfg.target_modules)
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=targets, bias="none", task_type="CAUSAL_LM")
        target_loss = use_target_loss(model)
        transformers.set_seed(cfg.seed)  # the LoRA A matrices are initialised at random
        try:
            return get_peft_model(model, lora), target_loss
        except ValueError as exc:
            modules = ",".join(cfg.target_modules)
            raise UsageError(f"lora trainer: --target-modules {modules}: {_first_line(exc)}") from None

    def _collator(self, model, tokenizer, dtype):
        """(packing mode or "off", the batch collator)."""
        from bioharness.plugins.lora.collate import POSITION_IDS, PackedCollator, PaddedCollator, probe_packing

        if not self.config.packing:
            return "off", PaddedCollator(tokenizer.pad_token_id)
        mode = probe_packing(model, len(tokenizer), self.config.packing_mode)
        if mode == POSITION_IDS:
            self._packed_attention(model, len(tokenizer))
        return mode, PackedCollator(mode, mask_dtype=dtype)

    @staticmethod
    def _packed_attention(model, vocab_size):
        """Attention one example at a time (:mod:`.attention`) where it applies and the
        probe finds it keeps packed examples apart; else the model's own is kept."""
        from bioharness.plugins.lora.attention import use_packed_attention
        from bioharness.plugins.lora.collate import POSITION_IDS, probe_packing

        base = model.get_base_model()
        before = use_packed_attention(base)
        if before is None:
            return
        try:
            probe_packing(model, vocab_size, POSITION_IDS)
        except UsageError:  # pragma: no cover - a model whose layers pass other arguments to attention
            base.set_attn_implementation(before)

    def _training_args(self, output_dir, accumulation, precision, use_cuda):
        import transformers

        cfg = self.config
        return transformers.TrainingArguments(
            output_dir=str(output_dir),
            per_device_train_batch_size=cfg.micro_batch_size,
            gradient_accumulation_steps=accumulation,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps if cfg.max_steps is not None else -1,
            warmup_steps=int(cfg.warmup) if cfg.warmup >= 1 else cfg.warmup,
            weight_decay=cfg.weight_decay,
            logging_steps=1,
            save_strategy="steps",
            save_steps=cfg.save_steps,
            save_total_limit=cfg.save_total_limit,
            seed=cfg.seed,
            data_seed=cfg.seed,
            bf16=precision == "bfloat16",
            fp16=precision == "float16",
            use_cpu=not use_cuda,
            gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
            ddp_find_unused_parameters=False,  # every LoRA weight takes part in every forward pass
            report_to="none",
            disable_tqdm=True,  # our own bar (loss, tokens/s, ETA) replaces the Trainer's
            remove_unused_columns=False,
        )

    def _already_done(self, run_dir, previous, path, tokenizer, main):
        """A finished run with this config and data: nothing to train; merge if now asked to."""
        result = previous.get("result", {})
        if main:
            sys.stderr.write(f"{run_dir.path}: already trained with this config and data\n")
            if self.config.merge and not (run_dir / MERGED).is_dir():
                result = {**result, "merged": str(write_merged(path, run_dir / ADAPTER, tokenizer, run_dir / MERGED))}
                run_dir.finish(result)
        return result

    def _finish(self, run_dir, trainer, peft_model, prompt_format, tokenizer, examples, kernels,
                train_seconds, resumed_step, world_size):
        from bioharness.plugins.lora import sanity

        cfg = self.config
        records = _read_log(run_dir / LOG)
        losses = [r["loss"] for r in records if r.get("loss") is not None]
        timed = [r for r in records if r.get("step_seconds")]
        seconds = sum(r["step_seconds"] for r in timed)
        result = {
            "adapter": str(run_dir / ADAPTER),
            "examples": examples["count"],
            "examples_sha256": examples["sha256"],
            "steps": trainer.state.global_step,
            "epochs": round(trainer.state.epoch or 0.0, 4),
            "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None,
            **kernels,
            "resumed_from_step": resumed_step or None,
            "train_seconds": round(train_seconds, 2),
            "tokens_per_s": round(sum(r["tokens"] for r in timed) / seconds, 1) if seconds else None,
            "nonpad_tokens_per_s": round(sum(r["nonpad_tokens"] for r in timed) / seconds, 1) if seconds else None,
        }
        if cfg.sanity_prompts and world_size == 1:
            check = sanity.check_adapter(peft_model, run_dir / ADAPTER, prompt_format, n_prompts=cfg.sanity_prompts)
            run_dir.write_json(SANITY, check)
            sanity.report(check)
            result["sanity"] = check["verdict"]
            result["sanity_outputs_changed"] = f"{check['outputs_changed']}/{check['prompts']}"
        if cfg.merge:
            result["merged"] = str(save_merged(peft_model, tokenizer, run_dir / MERGED))
        run_dir.finish(result)
        shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
        sys.stderr.write(
            f"trained {result['steps']} steps on {result['examples']} examples in {result['train_seconds']:.0f} s; "
            f"loss {result['first_loss']} -> {result['final_loss']}; adapter: {result['adapter']}\n"
        )
        return result


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_log(path):
    from bioharness import JsonlLog

    with JsonlLog(path, key="step") as log:
        return list(log.records)


def _open_log(path, keep_up_to):
    """The step log, cut back to the steps a resumed run will not redo."""
    import json

    from bioharness import JsonlLog

    log = JsonlLog(path, key="step")
    if any(r["step"] > keep_up_to for r in log.records):
        kept = [r for r in log.records if r["step"] <= keep_up_to]
        log.close()
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        log = JsonlLog(path, key="step")
    return log
