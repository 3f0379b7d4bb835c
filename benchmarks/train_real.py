"""A real LoRA run on the embedded model (SmolLM2-135M-Instruct), on CPU, through `bioharness train`.

The instruction set is the curated seed pool (plugins/selfinstruct/seeds.jsonl, when it
is there) topped up with generated biomedical instructions (benchmarks/biomed_instructions.py)
to --examples in all. It is written to RUN/instructions.jsonl and trained on with the
command printed below; the loss curve, the wall time and the adapter check are printed
at the end.

    python benchmarks/train_real.py [--out runs/real-lora] [--examples 240] [--epochs 2] [--threads 1]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from biomed_instructions import make_instructions  # noqa: E402

SEEDS = HERE.parent / "plugins" / "selfinstruct" / "seeds.jsonl"


def instruction_set(n, seed):
    from bioharness.instructions import read_instructions

    rows = []
    if SEEDS.is_file():
        rows = [i.to_dict() for i in read_instructions(SEEDS)]
    rows += make_instructions(max(0, n - len(rows)), seed=seed)
    return rows[:n] if len(rows) > n else rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/real-lora")
    parser.add_argument("--examples", type=int, default=240)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS (1 is faster on a CPU shared with other work)")
    parser.add_argument("--fresh", action="store_true", help="Remove the run directory first.")
    parser.add_argument("--engines", action="store_true",
                        help="Then generate with the adapter through the hf and vllm backends and compare.")
    args = parser.parse_args(argv)

    out = Path(args.out)
    if args.fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = instruction_set(args.examples, args.seed)
    data = out / "instructions.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    n_seeds = sum(1 for r in rows if not str(r["id"]).startswith("synth-"))
    print(f"instructions: {len(rows)} ({n_seeds} from the seed pool, {len(rows) - n_seeds} generated) -> {data}")

    cmd = ["bioharness", "train", "--base", "embedded", "--data", str(data), "--out", str(out / "run"),
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--micro-batch-size", str(args.micro_batch_size), "--learning-rate", str(args.learning_rate),
           "--cutoff-len", "384", "--save-steps", "10", "--sanity-prompts", "4"]
    print("command:", " ".join(cmd), flush=True)
    started = time.time()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    proc = subprocess.run([sys.executable, "-m", "bioharness.cli", *cmd[1:]], env=env)
    wall = time.time() - started
    if proc.returncode != 0:
        sys.exit(f"bioharness train failed with exit code {proc.returncode}")
    report(out / "run", wall)
    fixed_set_loss(out / "run" / "adapter", rows[::4])
    if args.engines:
        compare_engines(out / "run" / "adapter", rows[:8])


def fixed_set_loss(adapter, rows):
    """Mean response-token loss on a fixed subset of the training examples, without and with
    the adapter: the per-step log mixes batches of very different difficulty, this does not."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bioharness.plugins.hf import embedded
    from bioharness.plugins.lora.prompts import PromptFormat
    from bioharness.records import Instruction

    path = embedded.ensure_model_dir()
    fmt = PromptFormat(AutoTokenizer.from_pretrained(path), "alpaca")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(path), str(adapter)).eval()
    encoded = [fmt.encode(Instruction(**r), 384) for r in rows]

    def mean_loss():
        total, count = 0.0, 0
        for enc in encoded:
            ids, labels = torch.tensor([enc.input_ids]), torch.tensor([enc.labels])
            n = int((labels[:, 1:] != -100).sum())
            total += model(input_ids=ids, labels=labels, use_cache=False).loss.item() * n
            count += n
        return total / count

    with torch.no_grad():
        with model.disable_adapter():
            base = mean_loss()
        tuned = mean_loss()
    print(f"loss on a fixed set of {len(rows)} training examples (response tokens): base {base:.4f} -> "
          f"with the adapter {tuned:.4f}")


def compare_engines(adapter, rows):
    """Greedy answers of embedded+adapter through the hf backend (peft) and the vllm backend
    (LoRARequest): both engines must load the adapter, and agree on most answers."""
    from bioharness.manager import load_plugins
    from bioharness.modelspec import parse_model_spec
    from bioharness.plugins.lora.prompts import PromptFormat
    from bioharness.records import Request

    backends = load_plugins().hooks.backends
    answers = {}
    for name, options in (("hf", {"device": "cpu"}), ("vllm", {"dtype": "float32", "enforce_eager": True})):
        backend = backends.get(name).factory(parse_model_spec(f"{name}:embedded+{adapter}"), **options)
        fmt = PromptFormat(backend.tokenizer, "alpaca")
        requests = [Request(id=r["id"], prompt=fmt.prompt_text(r["instruction"], r["input"]), chat=False,
                            max_new_tokens=32) for r in rows]
        answers[name] = [p.text for p in backend.generate(requests)]
        backend.close()
    same = sum(a.strip() == b.strip() for a, b in zip(answers["hf"], answers["vllm"]))
    print(f"\nengines: hf (peft) and vllm (LoRARequest) give the same greedy answer on {same}/{len(rows)} prompts")
    for a, b in list(zip(answers["hf"], answers["vllm"]))[:2]:
        print(f"  hf:   {a[:100]!r}\n  vllm: {b[:100]!r}")


def report(run, wall):
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    result = json.loads((run / "manifest.json").read_text())["result"]
    every = max(1, len(log) // 10)
    print("\nloss curve (step: loss):")
    for r in log:
        if r["step"] == 1 or r["step"] % every == 0 or r["step"] == len(log):
            print(f"  {r['step']:>4}: {r['loss']:.4f}   ({r['nonpad_tokens_per_s']:.0f} tokens/s, lr {r['learning_rate']:.2e})")
    print(f"wall time of `bioharness train`: {wall:.0f} s (training steps {sum(r['step_seconds'] for r in log):.0f} s)")
    print(f"effective tokens/s: {result['nonpad_tokens_per_s']}, packing: {result['packing']}")
    sanity = json.loads((run / "sanity.json").read_text())
    print(f"adapter check: {sanity['verdict']}, outputs changed on {sanity['outputs_changed']}/{sanity['prompts']} "
          f"held-out prompts, max |delta logit| {sanity['max_abs_logit_diff']:.3g}")
    for s in sanity["samples"][:2]:
        print(f"  [{s['id']}] base:    {s['base'][:120]!r}\n  [{s['id']}] adapted: {s['adapted'][:120]!r}")
    by_epoch = {}
    for r in log:
        by_epoch.setdefault(max(0, math.ceil(r["epoch"] - 1e-9) - 1), []).append(r["loss"])
    means = ", ".join(f"epoch {e + 1}: {sum(v) / len(v):.4f}" for e, v in sorted(by_epoch.items()))
    print(f"loss {log[0]['loss']:.4f} -> {log[-1]['loss']:.4f} over {len(log)} steps; mean loss per epoch: {means}")


if __name__ == "__main__":
    main()
