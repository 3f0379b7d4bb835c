"""LoRA instruction tuning: `bioharness train` against TRL's SFTTrainer and LLaMA-Factory on the same work.

The same base model (the embedded SmolLM2-135M, float32), the same instructions
(benchmarks/biomed_instructions.py), the same Alpaca prompt and the very same token ids,
loss on the response tokens only, the same LoRA (r 8, alpha 16, dropout 0.05 on q_proj and
v_proj), optimizer (the Trainer's AdamW), learning rate 3e-4 with linear decay and no
warmup, seed, micro-batch, number of steps and thread count, trained by:

* ``bioharness``: ``bioharness train`` (packed micro-batches, its defaults).
* ``trl``: TRL's ``SFTTrainer`` with ``padding_free=True`` (its packing with restarting
  position ids: each micro-batch flattened into one row) and ``completion_only_loss``.
* ``llamafactory-neat``: LLaMA-Factory's ``sft`` stage, LoRA, ``packing`` with ``neat_packing``
  (examples knapsacked into rows of ``--cutoff-len`` + 1 tokens, a block-diagonal 4-D mask).
* ``llamafactory``: the same without packing (padded micro-batches of the same examples).

Each contender runs in a fresh process (``--run NAME WORK`` of this file, in the peer's own
virtual environment where its pins clash with ours: created once under ``--peers-dir``).
A contender's collator is wrapped to note which examples each step trained on (looked up
by their token ids: an example tokenised differently is reported) and how many non-pad
tokens it held; step times are taken from the Trainer's step begin/end, as ``bioharness
train`` logs them.

Printed per contender: how it was configured and why that is the equivalent setting; per
round: effective tokens/s (non-pad tokens over the optimizer steps' time, the first step
left out; a contender's figure is its best round, the one least slowed by other processes
on a shared machine) and peak memory (the largest resident set of its process, from the kernel, on
CPU; ``torch.cuda.max_memory_allocated`` on a GPU); the loss at every step; the agreement
(the same examples in every step; losses within ``--tol`` of TRL's); the ratios, with as
last line ``tokens/s bioharness / best peer: X.XX; peak memory: Y.YY`` (bioharness's
tokens/s over the fastest peer's; its peak memory over the leanest peer's).

    python benchmarks/train_vs_peers.py [--steps 20] [--examples 200] [--micro-batch-size 8]
        [--cutoff-len 256] [--threads 1] [--rounds 2] [--only bioharness,trl] [--keep DIR]
        [--peers-dir DIR] [--gradient-checkpointing] [--tol 0.01]
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED = 0
LR = 3e-4
LORA = {"r": 8, "alpha": 16, "dropout": 0.05, "targets": ["q_proj", "v_proj"]}
TRL_VERSION = "1.16.0"
LLAMAFACTORY_VERSION = "0.9.5"
#: LLaMA-Factory's template for the Alpaca prompt as bioharness renders it (see lf_data()).
LF_TEMPLATE = "bioharness_alpaca"
#: Rows of --cutoff-len + 1 tokens per neat-packed micro-batch: about the tokens of 8 examples.
LF_NEAT_ROWS = 4

CONTENDERS = ("bioharness", "trl", "llamafactory-neat", "llamafactory")
PEERS = CONTENDERS[1:]

HOW = {
    "bioharness": "bioharness train --packing (default): each micro-batch one row, positions restart per example; "
                  "fp32; no gradient checkpointing (its default)",
    "trl": f"trl {TRL_VERSION} SFTTrainer, padding_free=True, packing=False (the same micro-batch flattened into one "
           "row with restarting position_ids; packing=True would re-bin examples into other batches), "
           "completion_only_loss=True on our token ids (input_ids + completion_mask: a processed dataset, so the very "
           "same tokens), max_length=None (padding-free needs it; no example is longer than the cutoff), bf16=False "
           "(fp32 like ours; TRL's default bf16 would change the numbers), gradient_checkpointing as ours "
           "(TRL defaults it to on), LoRA through peft_config, transformers.set_seed(seed) before the trainer "
           "builds the LoRA layers (as bioharness does), the Trainer's default AdamW",
    "llamafactory-neat": f"llamafactory {LLAMAFACTORY_VERSION} stage sft, finetuning_type lora, packing + "
                         f"neat_packing (rows of cutoff+1 tokens, {LF_NEAT_ROWS} rows a step: LLaMA-Factory "
                         "knapsacks the examples itself, so its steps see other examples than ours), template "
                         f"{LF_TEMPLATE} registered with register_template (system slot = Alpaca's opening sentence "
                         "from the data's system column, user slot '\\n\\n### Instruction:\\n{{content}}\\n\\n### "
                         "Response:\\n', assistant '{{content}}' + EOS: the Alpaca prompt byte for byte, and token for "
                         "token: LLaMA-Factory tokenises each slot on its own, so the blank line sits in the user slot, "
                         "where the whole prompt's tokenisation puts it; its own 'alpaca' template drops "
                         "'### Input:' and the with-input sentence), train_on_prompt false, disable_gradient_checkpointing as ours, "
                         "fp32, the Trainer's default AdamW",
    "llamafactory": f"llamafactory {LLAMAFACTORY_VERSION} as above without packing: padded micro-batches of the "
                    "same examples as ours, in the same order",
}


# -- the children ------------------------------------------------------------------------


class Recorder:
    """Notes, per collator call, the examples in the micro-batch and its non-pad tokens."""

    def __init__(self, work: Path):
        self.work = work
        self.by_ids = {}
        for line in (work / "examples.jsonl").read_text().splitlines():
            e = json.loads(line)
            self.by_ids[tuple(e["input_ids"])] = (e["id"], e["labels"])
        self.calls = []

    def note(self, sequences, nonpad):
        """``sequences``: (input_ids, labels or None) of each example in the micro-batch."""
        ids, mismatched = [], 0
        for tokens, labels in sequences:
            found = self.by_ids.get(tuple(tokens))
            if found is None:
                ids.append("?" + hashlib.sha1(str(tokens).encode()).hexdigest()[:8])
                continue
            ids.append(found[0])
            if labels is not None and list(labels[1:]) != found[1][1:]:
                mismatched += 1
        self.calls.append({"examples": ids, "nonpad": int(nonpad), "label_mismatch": mismatched})

    def save(self, name, extra):
        (self.work / f"{name}.calls.json").write_text(json.dumps({"calls": self.calls, **extra}))


def _segments(row, mask_row):
    """Split one packed row into its examples by the segment numbers of LLaMA-Factory's mask."""
    out, current, seg = [], [], None
    for tok, m in zip(row, mask_row):
        if m == 0:
            continue
        if m != seg and current:
            out.append(current)
            current = []
        seg = m
        current.append(tok)
    if current:
        out.append(current)
    return out


def step_timer():
    """A TrainerCallback recording each optimizer step's time and logged loss (for the peers)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.steps = []
            self.start = None

        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.steps.append({"step": state.global_step, "step_seconds": time.perf_counter() - self.start})

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs and self.steps and self.steps[-1]["step"] == state.global_step:
                self.steps[-1]["loss"] = logs["loss"]

    return StepTimer()


def cuda_peak():
    import torch

    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


def run_bioharness(work: Path, cfg: dict):
    from bioharness.cli import main
    from bioharness.plugins.lora import collate

    rec = Recorder(work)
    for cls in (collate.PackedCollator, collate.PaddedCollator):
        original = cls.__call__

        def wrapped(self, features, _original=original):
            rec.note([(list(f["input_ids"]), list(f["labels"])) for f in features],
                     sum(len(f["input_ids"]) for f in features))
            return _original(self, features)

        cls.__call__ = wrapped
    out = work / "out-bioharness"
    shutil.rmtree(out, ignore_errors=True)
    argv = ["train", "--base", cfg["base"], "--data", str(work / "instructions.jsonl"), "--out", str(out),
            "--max-steps", str(cfg["steps"]), "--batch-size", str(cfg["micro_batch_size"]),
            "--micro-batch-size", str(cfg["micro_batch_size"]), "--cutoff-len", str(cfg["cutoff_len"]),
            "--learning-rate", str(LR), "--warmup", "0", "--weight-decay", "0", "--seed", str(SEED),
            "--lora-r", str(LORA["r"]), "--lora-alpha", str(LORA["alpha"]), "--lora-dropout", str(LORA["dropout"]),
            "--target-modules", ",".join(LORA["targets"]), "--save-steps", "100000", "--sanity-prompts", "0",
            "--gradient-checkpointing" if cfg["gradient_checkpointing"] else "--no-gradient-checkpointing"]
    code = main(argv)
    if code:
        sys.exit(f"bioharness train exited {code}")
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    steps = [{"step": r["step"], "step_seconds": r["step_seconds"], "loss": r["loss"]} for r in log]
    rec.save("bioharness", {"steps": steps, "cuda_peak": cuda_peak(),
                            "kernels": {k: manifest["result"].get(k) for k in ("packing", "attention", "loss")}})


def run_trl(work: Path, cfg: dict):
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rec = Recorder(work)
    collator_cls = trl.trainer.sft_trainer.DataCollatorForLanguageModeling
    original = collator_cls.torch_call

    def wrapped(self, examples):
        rec.note([(list(e["input_ids"]), list(e["labels"])) for e in examples],
                 sum(len(e["input_ids"]) for e in examples))
        return original(self, examples)

    collator_cls.torch_call = wrapped
    rows = [json.loads(line) for line in (work / "examples.jsonl").read_text().splitlines()]
    data = Dataset.from_list([{"input_ids": r["input_ids"], "completion_mask": [int(t != -100) for t in r["labels"]]}
                              for r in rows])
    tok = AutoTokenizer.from_pretrained(cfg["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(cfg["model_dir"], dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(work / "out-trl"), per_device_train_batch_size=cfg["micro_batch_size"],
        gradient_accumulation_steps=1, max_steps=cfg["steps"], learning_rate=LR, lr_scheduler_type="linear",
        warmup_steps=0, weight_decay=0.0, seed=SEED, data_seed=SEED, logging_steps=1, save_strategy="no",
        report_to="none", bf16=False, fp16=False, use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=cfg["gradient_checkpointing"],
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg["gradient_checkpointing"] else None,
        padding_free=True, packing=False, completion_only_loss=True, max_length=None,
        dataloader_num_workers=0, disable_tqdm=True,
    )
    lora = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                      target_modules=LORA["targets"], bias="none", task_type="CAUSAL_LM")
    timer = step_timer()
    transformers.set_seed(SEED)  # the LoRA A matrices: drawn as bioharness draws them
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok, peft_config=lora,
                         callbacks=[timer])
    trainer.train()
    rec.save("trl", {"steps": timer.steps, "cuda_peak": cuda_peak(), "versions": {
        "trl": trl.__version__, "transformers": transformers.__version__}})


def run_llamafactory(work: Path, cfg: dict, neat: bool):
    import transformers
    from llamafactory.data import collator as lf_collator
    from llamafactory.data.formatter import EmptyFormatter, StringFormatter
    from llamafactory.data.template import register_template
    from llamafactory.train.tuner import run_exp

    name = "llamafactory-neat" if neat else "llamafactory"
    rec = Recorder(work)
    cls = lf_collator.SFTDataCollatorWith4DAttentionMask
    original = cls.__call__

    def wrapped(self, features):
        seqs, nonpad = [], 0
        for f in features:
            mask = list(f["attention_mask"])
            nonpad += sum(1 for m in mask if m != 0)
            if neat:
                seqs += [(s, None) for s in _segments(list(f["input_ids"]), mask)]
            else:
                seqs.append(([t for t, m in zip(f["input_ids"], mask) if m], list(f["labels"])))
        rec.note(seqs, nonpad)
        return original(self, features)

    cls.__call__ = wrapped
    register_template(
        name=LF_TEMPLATE,
        format_system=StringFormatter(slots=["{{content}}"]),
        format_user=StringFormatter(slots=["\n\n### Instruction:\n{{content}}\n\n### Response:\n"]),
        format_assistant=StringFormatter(slots=["{{content}}", {"eos_token"}]),
        format_prefix=EmptyFormatter(),
    )
    out = work / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    args = {
        "stage": "sft", "do_train": True, "model_name_or_path": cfg["model_dir"], "dataset": "bh_instructions",
        "dataset_dir": str(work), "template": LF_TEMPLATE, "finetuning_type": "lora", "lora_rank": LORA["r"],
        "lora_alpha": LORA["alpha"], "lora_dropout": LORA["dropout"], "lora_target": ",".join(LORA["targets"]),
        "cutoff_len": cfg["cutoff_len"], "train_on_prompt": False, "output_dir": str(out), "overwrite_output_dir": True,
        "per_device_train_batch_size": LF_NEAT_ROWS if neat else cfg["micro_batch_size"],
        "gradient_accumulation_steps": 1, "learning_rate": LR, "lr_scheduler_type": "linear", "warmup_steps": 0,
        "weight_decay": 0.0, "max_steps": cfg["steps"], "logging_steps": 1, "save_strategy": "no", "report_to": "none",
        "seed": SEED, "data_seed": SEED, "bf16": False, "fp16": False, "plot_loss": False,
        "disable_gradient_checkpointing": not cfg["gradient_checkpointing"], "dataloader_num_workers": 0,
        "preprocessing_num_workers": None, "overwrite_cache": True, "flash_attn": "sdpa", "disable_tqdm": True,
        "packing": neat, "neat_packing": neat,
    }
    timer = step_timer()
    run_exp(args, callbacks=[timer])
    rec.save(name, {"steps": timer.steps, "cuda_peak": cuda_peak(), "versions": {
        "transformers": transformers.__version__}})


def child(name, work: Path):
    cfg = json.loads((work / "config.json").read_text())
    import torch

    torch.set_num_threads(cfg["threads"])
    if name == "bioharness":
        run_bioharness(work, cfg)
    elif name == "trl":
        run_trl(work, cfg)
    else:
        run_llamafactory(work, cfg, neat=name == "llamafactory-neat")


# -- the parent --------------------------------------------------------------------------


def _version(python, dist):
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def peer_python(dist, version, folder: Path):
    """This interpreter if it has ``dist==version`` (TRL is in bioharness's test extra), else a
    virtual environment of its own under ``folder``, made once: our torch build first (a plain
    ``pip install`` would pull a CUDA one on CPU machines), then the peer with torch pinned."""
    if _version(sys.executable, dist) == version:
        return sys.executable
    venv = folder / f"{dist}-{version}"
    python = venv / "bin" / "python"
    if python.exists() and _version(python, dist) == version:
        return str(python)
    import torch

    torch_version = torch.__version__.split("+")[0]
    print(f"installing {dist}=={version} into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["-U", "pip"], check=True)
    subprocess.run(pip + [f"torch=={torch_version}"], check=True)
    subprocess.run(pip + [f"{dist}=={version}", f"torch=={torch_version}"], check=True)
    if not torch.cuda.is_available():
        # pulled in as CUDA builds; they break `import transformers` beside a CPU torch (scripts/install.sh)
        subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", "torchvision", "torchaudio", "torchcodec"],
                       check=False)
        if dist == "llamafactory":
            # llamafactory.data.mm_plugin imports torchaudio at the top, for audio data only; PyPI has no CPU
            # build for this torch. An empty stand-in without metadata: transformers still sees no torchaudio.
            site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            stub = Path(site) / "torchaudio" / "__init__.py"
            stub.parent.mkdir(exist_ok=True)
            stub.write_text('"""Stand-in for the benchmark: text-only training never calls torchaudio."""\n')
    return str(python)


def measure(cmd, env, log):
    """(peak bytes: the kernel's high-water mark of the child's resident set, or the largest
    sampled sum over its process tree if that is larger; wall seconds)."""
    import psutil

    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        peak = [0]
        done = threading.Event()

        def sample():
            try:
                parent = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]))
                except psutil.Error:
                    pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}); see {log}:\n"
                 + Path(log).read_text()[-3000:])
    return max(usage.ru_maxrss * 1024, peak[0]), wall


def prepare(work: Path, args):
    """The instructions (JSONL for bioharness), our encodings (for TRL and for the lookups)
    and LLaMA-Factory's data set with its dataset_info.json."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from biomed_instructions import length_summary, make_instructions
    from transformers import AutoTokenizer

    from bioharness.plugins.lora.prompts import PromptFormat
    from bioharness.plugins.lora.trainer import base_model_path
    from bioharness.records import Instruction

    model_dir = base_model_path(args.base)
    rows = make_instructions(args.examples, seed=SEED)
    (work / "instructions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fmt = PromptFormat(AutoTokenizer.from_pretrained(model_dir), "alpaca")
    lf, encoded = [], []
    for r in rows:
        inst = Instruction(**r)
        enc = fmt.encode(inst, args.cutoff_len)
        encoded.append({"id": inst.id, "input_ids": enc.input_ids, "labels": enc.labels})
        prompt = fmt.prompt_text(inst.instruction, inst.input)
        head, sep, rest = prompt.partition("### Instruction:\n")
        user = rest[: -len("\n\n### Response:\n")]
        assert sep and head.endswith("\n\n") and head + sep + user + "\n\n### Response:\n" == prompt
        lf.append({"system": head[:-2], "instruction": user, "input": "", "output": inst.output})
    (work / "examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in encoded))
    (work / "lf_data.json").write_text(json.dumps(lf))
    (work / "dataset_info.json").write_text(json.dumps({"bh_instructions": {
        "file_name": "lf_data.json", "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}}}))
    cfg = {"base": args.base, "model_dir": str(model_dir), "steps": args.steps, "micro_batch_size": args.micro_batch_size,
           "cutoff_len": args.cutoff_len, "threads": args.threads, "gradient_checkpointing": args.gradient_checkpointing}
    (work / "config.json").write_text(json.dumps(cfg))
    lengths = [len(e["input_ids"]) for e in encoded]
    s = length_summary(lengths)
    longer = sum(1 for r in rows if len(fmt.encode(Instruction(**r), 10**6).input_ids) > args.cutoff_len)
    print(f"data: {len(rows)} instructions of benchmarks/biomed_instructions.py (seed {SEED}); tokens per example "
          f"(Alpaca prompt + response + EOS): min {s['min']}, median {s['median']}, mean {s['mean']:.0f}, "
          f"p90 {s['p90']}, max {s['max']}; {longer} longer than the cutoff {args.cutoff_len}")


def summarise(name, calls, steps, micro_batches_per_step=1):
    """Per optimizer step: the examples and non-pad tokens (from the collator calls), its time and loss."""
    per_step = []
    for i, s in enumerate(steps):
        group = calls[i * micro_batches_per_step:(i + 1) * micro_batches_per_step]
        per_step.append({**s, "examples": [e for c in group for e in c["examples"]],
                         "nonpad": sum(c["nonpad"] for c in group),
                         "label_mismatch": sum(c["label_mismatch"] for c in group)})
    timed = per_step[1:]
    seconds = sum(s["step_seconds"] for s in timed)
    return {"name": name, "steps": per_step, "tokens_per_s": sum(s["nonpad"] for s in timed) / seconds,
            "tokens": sum(s["nonpad"] for s in per_step)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--micro-batch-size", type=int, default=8, help="examples per step (one micro-batch a step)")
    ap.add_argument("--cutoff-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS and torch threads of every contender")
    ap.add_argument("--rounds", type=int, default=2, help="rounds; the order of the contenders alternates")
    ap.add_argument("--only", help=f"comma-separated contenders (default all: {','.join(CONTENDERS)})")
    ap.add_argument("--gradient-checkpointing", action="store_true", help="every contender with it (default: none)")
    ap.add_argument("--tol", type=float, default=0.01, help="largest |loss - TRL's loss| at any step for agreement")
    ap.add_argument("--keep", help="work folder to keep (default: a temporary one)")
    ap.add_argument("--peers-dir", help="virtual environments of the peers whose pins clash with ours "
                    "(default: $BIOHARNESS_CACHE/bench-peers, else ~/.cache/bioharness/bench-peers)")
    ap.add_argument("--run", nargs=2, metavar=("CONTENDER", "WORK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        child(args.run[0], Path(args.run[1]))
        return

    names = [n for n in CONTENDERS if not args.only or n in args.only.split(",")]
    if args.only and set(args.only.split(",")) - set(CONTENDERS):
        sys.exit(f"--only: known contenders are {', '.join(CONTENDERS)}")
    cache = Path(os.environ.get("BIOHARNESS_CACHE") or Path.home() / ".cache" / "bioharness")
    peers_dir = Path(args.peers_dir or cache / "bench-peers")
    pythons = {"bioharness": sys.executable}
    for n in names:
        if n == "trl":
            pythons[n] = peer_python("trl", TRL_VERSION, peers_dir)
        elif n.startswith("llamafactory"):
            pythons[n] = peer_python("llamafactory", LLAMAFACTORY_VERSION, peers_dir)

    work = Path(args.keep or tempfile.mkdtemp(prefix="bh-train-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, args)
    import torch

    on_gpu = torch.cuda.is_available()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1",
           "DISABLE_VERSION_CHECK": "1", "WANDB_DISABLED": "true", "HF_DATASETS_OFFLINE": "1"}
    print(f"model: {args.base} (float32); {args.steps} steps of {args.micro_batch_size} examples (LLaMA-Factory "
          f"neat packing: {LF_NEAT_ROWS} rows of {args.cutoff_len + 1} tokens); cutoff {args.cutoff_len}; LoRA r "
          f"{LORA['r']}, alpha {LORA['alpha']}, dropout {LORA['dropout']} on {','.join(LORA['targets'])}; lr {LR} "
          f"linear, no warmup; seed {SEED}; gradient checkpointing "
          f"{'on' if args.gradient_checkpointing else 'off'} everywhere; {args.threads} thread(s) each "
          f"(OMP_NUM_THREADS, torch.set_num_threads); {'GPU: ' + torch.cuda.get_device_name() if on_gpu else 'CPU'}, "
          f"{os.cpu_count()} CPUs; {args.rounds} rounds, order alternated; each contender a fresh process")
    print("\nhow each contender is configured:")
    for n in names:
        print(f"  {n:<18} {HOW[n]} [{pythons[n]}]")

    results = {n: [] for n in names}
    peaks = {n: [] for n in names}
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        for n in order:
            for stale in work.glob(f"{n}.calls.json"):
                stale.unlink()
            rss, wall = measure([pythons[n], __file__, "--run", n, str(work)], env, work / f"{n}-{rnd}.log")
            data = json.loads((work / f"{n}.calls.json").read_text())
            r = summarise(n, data["calls"], data["steps"])
            r["extra"] = {k: v for k, v in data.items() if k not in ("calls", "steps")}
            peak = data["cuda_peak"] if on_gpu else rss
            results[n].append(r)
            peaks[n].append(peak)
            print(f"  round {rnd + 1}: {n:<18} {r['tokens_per_s']:7.1f} tokens/s  peak {peak / 2**30:.2f} GiB  "
                  f"({len(r['steps'])} steps, {r['tokens']} non-pad tokens, {wall:.0f} s wall)", flush=True)

    # the round least slowed by other processes: on a shared machine the load changes from one
    # contender's run to the next, and no round runs faster than the machine allows
    speed = {n: max(r["tokens_per_s"] for r in results[n]) for n in names}
    peak = {n: max(peaks[n]) for n in names}
    first = {n: results[n][0] for n in names}
    kind = "torch.cuda.max_memory_allocated" if on_gpu else "peak RSS"
    print(f"\n{'contender':<20}{'tokens/s':>10}{kind:>20}   per round (tokens/s; the best counts)")
    for n in names:
        print(f"{n:<20}{speed[n]:>10.1f}{peak[n] / 2**30:>16.2f} GiB   "
              + " ".join(f"{r['tokens_per_s']:.1f}" for r in results[n]))
    if "bioharness" in first:
        print(f"  bioharness kernels: {first['bioharness']['extra'].get('kernels')}")
    print("\nloss per step (round 1):")
    for n in names:
        print(f"  {n:<18} " + " ".join(f"{s.get('loss', float('nan')):.4f}" for s in first[n]["steps"]))

    print(f"\nagreement (against trl; losses within {args.tol} at every step):")
    ref = first.get("trl")
    for n in names:
        r = first[n]
        unknown = sum(1 for s in r["steps"] for e in s["examples"] if e.startswith("?"))
        mismatch = sum(s["label_mismatch"] for s in r["steps"])
        tokens = f"every example's tokens ours: {'yes' if not unknown else f'NO ({unknown} unknown)'}" + (
            f", labels ours: {'yes' if not mismatch else f'NO ({mismatch})'}")
        if ref is None or n == "trl":
            print(f"  {n:<18} {tokens}")
            continue
        same = [a["examples"] == b["examples"] for a, b in zip(r["steps"], ref["steps"])]
        if len(r["steps"]) != len(ref["steps"]) or not all(same):
            seen = sorted(e for s in r["steps"] for e in s["examples"])
            print(f"  {n:<18} {tokens}; same examples in the same steps: NO ({sum(same)}/{len(ref['steps'])} steps; "
                  f"{len(seen)} examples seen over the run vs {sum(len(s['examples']) for s in ref['steps'])}); "
                  "losses not comparable step by step")
            continue
        gaps = [abs(a["loss"] - b["loss"]) for a, b in zip(r["steps"], ref["steps"])]
        print(f"  {n:<18} {tokens}; same examples in the same steps: yes ({len(same)}/{len(same)}); "
              f"max |loss - trl| {max(gaps):.2e} (step {gaps.index(max(gaps)) + 1}): "
              f"{'AGREE' if max(gaps) <= args.tol else 'DIFFER'}")

    peers = [n for n in names if n != "bioharness"]
    if "bioharness" not in names or not peers:
        return
    fastest = max(peers, key=speed.get)
    leanest = min(peers, key=peak.get)
    print(f"\nfastest peer: {fastest} ({speed[fastest]:.1f} tokens/s); leanest peer: {leanest} "
          f"({peak[leanest] / 2**30:.2f} GiB)")
    for n in peers:
        print(f"  bioharness / {n:<18} tokens/s {speed['bioharness'] / speed[n]:.2f}x  "
              f"peak memory {peak['bioharness'] / peak[n]:.2f}x")
    print(f"tokens/s bioharness / best peer: {speed['bioharness'] / speed[fastest]:.2f}; "
          f"peak memory: {peak['bioharness'] / peak[leanest]:.2f}")


if __name__ == "__main__":
    main()
