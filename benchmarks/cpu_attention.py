"""CPU decoding of left-padded batches: ``bioharness_sdpa`` against transformers' ``sdpa``.

With an attention mask, transformers' ``sdpa`` repeats every key/value head of a
grouped-query model before calling torch, so each decoding step copies the whole KV cache
``num_key_value_groups`` times; ``bioharness_sdpa`` (``plugins/hf/attention.py``) hands the
mask and the grouped heads to torch together. Both run here through the hf backend on
the same real prompts: the ACI-Bench task's (``--task``), ``--examples`` of them in one
batch, the i-th cut from the left to ``--prompt-tokens`` - 8*i tokens (a length-sorted batch
as the backend forms them: little padding, but a mask all the same), greedy, float32,
``--threads`` torch threads. Each variant runs once untimed, then prefill
(``max_new_tokens=1``) and the whole generation are timed (best of ``--repeats``), so the
decoding rate is (tokens - one per row) / (generation - prefill).

    BIOHARNESS_DATA=../shared/data python benchmarks/cpu_attention.py \
        [--model embedded] [--task aci_bench] [--examples 8] [--prompt-tokens 1024] [--new-tokens 128] [--threads 1] [--repeats 1]

The last line is the ratio of decoding rates, bioharness_sdpa / sdpa, measured in this run;
the outputs of the two are compared token for token.
"""
import argparse
import dataclasses
import os
import time


def task_requests(task, n, new_tokens):
    from bioharness.manager import load_plugins
    from bioharness.taskspec import TaskCatalog

    hooks = load_plugins([]).hooks
    catalog = TaskCatalog(hooks)
    spec = catalog.select(task)[0]
    kind = catalog.kind(spec.kind)
    examples = kind.load(spec, os.environ.get("BIOHARNESS_DATA", "../shared/data"), spec.split)[:n]
    requests = [r for e in examples for r in kind.requests(spec, e, [])]
    return [dataclasses.replace(r, max_new_tokens=new_tokens, stop=()) for r in requests]


def cut(tokenizer, requests, prompt_tokens):
    """The i-th prompt's last ``prompt_tokens - 8*i`` tokens (its text, so the backend's own
    encoding applies)."""
    out = []
    for i, r in enumerate(requests):
        ids = tokenizer(r.prompt, add_special_tokens=False)["input_ids"][-(prompt_tokens - 8 * i):]
        out.append(dataclasses.replace(r, prompt=tokenizer.decode(ids)))
    return out


def timed(backend, requests, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = backend.generate(requests)
        best = min(best, time.perf_counter() - start)
    return best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--task", default="aci_bench")
    parser.add_argument("--examples", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=1024)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from bioharness.modelspec import parse_model_spec
    from bioharness.plugins.hf.backend import HFBackend

    backend = HFBackend.from_spec(parse_model_spec(args.model), dtype="float32", device="cpu", batch_size=args.examples)
    requests = cut(backend.tokenizer, task_requests(args.task, args.examples, args.new_tokens), args.prompt_tokens)
    prefill_only = [dataclasses.replace(r, max_new_tokens=1) for r in requests]
    lengths = [len(backend._encode_prompt(r)) for r in requests]
    print(f"{args.model}, task {args.task}: {len(requests)} prompts of {min(lengths)}-{max(lengths)} tokens "
          f"(left-padded to {max(lengths)}), {args.new_tokens} new tokens, {args.threads} thread(s)")
    print(f"{'attention':18} {'prefill s':>10} {'total s':>9} {'new tokens':>11} {'decode tok/s':>13}")
    rates, outputs = {}, {}
    for name in ("sdpa", "bioharness_sdpa"):
        backend.model.set_attn_implementation(name)
        backend.generate(prefill_only[:2])  # warm-up
        prefill, _ = timed(backend, prefill_only, args.repeats)
        total, out = timed(backend, requests, args.repeats)
        tokens = sum(p.completion_tokens for p in out)
        decoded = tokens - sum(1 for p in out if p.completion_tokens)  # the first token comes with the prefill
        rates[name] = decoded / max(total - prefill, 1e-9)
        outputs[name] = [p.text for p in out]
        print(f"{name:18} {prefill:10.2f} {total:9.2f} {tokens:11d} {rates[name]:13.1f}")
    same = sum(a == b for a, b in zip(outputs["sdpa"], outputs["bioharness_sdpa"]))
    print(f"identical greedy text: {same}/{len(requests)}")
    print(f"ratio bioharness_sdpa / sdpa (decoding speed-up): {rates['bioharness_sdpa'] / rates['sdpa']:.2f}x")


if __name__ == "__main__":
    main()
