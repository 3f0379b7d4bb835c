"""bioharness vs lm-evaluation-harness on the same model, data and prompts; and vs the raw engine.

The embedded SmolLM2-135M in float32. Three tasks written into a temporary folder, both
ways: lm-eval's MedQA (``medqa_4options``) and PubMedQA prompts as bioharness YAML tasks
(log-likelihood, raw text, no chat template), and a MeQSum generation task (greedy,
``"\\n\\n"`` stop, 64 new tokens, raw text). bioharness picks the examples (``--limit``,
seed 0) and writes them to ``samples.jsonl``; those very prompts become lm-eval task
configs (``dataset_path: json`` with ``dataset_kwargs.data_files``, run with
``--include_path``) and the raw engine's input.

Every contender runs as its own child process (wall time = the whole command, model
load included; peak memory = the largest summed RSS of the child and its children,
sampled every 50 ms), with the same thread count (``OMP_NUM_THREADS``, ``--threads``), or
with ``--threads default`` each with the thread count it picks itself (bioharness: the CPUs
other processes are not keeping busy, which it prints; lm-eval and the raw engines: torch's
default), and the rounds alternate the order. Contenders:

* ``lm-eval``: ``lm_eval --model hf`` (``multiple_choice`` and ``generate_until``).
* ``bioharness-hf``: ``bioharness eval --model embedded`` (the fast paths).
* ``bioharness-hf-ref``: the same with ``--model-args fast=false``, the reference path (the code before the fast paths).
* ``raw-hf``: transformers called directly on the same token ids: one forward per
  distinct context (last-position logits) and ``model.generate`` on batches of the
  generation prompts sorted by length (``stop_strings``).
* ``bioharness-vllm`` and ``raw-vllm`` (``vllm.LLM`` on the same token ids) with ``--vllm``.

The outputs are checked to agree (the chosen answer of every question, log-likelihoods
within ``--tol``, the generated texts), then the table, then the ratios, the ratio last.

    python benchmarks/eval_vs_lmeval.py [--medqa 60] [--pubmedqa 40] [--meqsum 20] [--rounds 2]
        [--threads 1|default] [--batch-size 8] [--vllm] [--tol 1e-3] [--keep DIR] [--only A,B]

``--rounds 0 --keep DIR`` times nothing: it checks the agreement of the outputs of round 1
kept in ``DIR`` by an earlier run; ``--only bioharness-vllm,raw-vllm --keep DIR`` times those
contenders again (after a change) and checks them against the others' kept outputs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LL_TASKS = ("bench_medqa", "bench_pubmedqa")
GEN_TASK = "bench_meqsum"

BIOHARNESS_TASKS = {
    "bench_medqa": """\
        name: bench_medqa
        version: 1
        category: qa
        kind: mcqa
        description: MedQA-USMLE 4 options with lm-eval's medqa_4options prompt
        data: {reader: medqa, split: test, files: [medqa_usmle_4opt/phrases_no_exclude_test.jsonl]}
        prompt:
          template: "Question: {question}\\n{options_text}\\nAnswer:"
          chat: false
        options: {scoring: loglikelihood}
        metrics: [accuracy]
        """,
    "bench_pubmedqa": """\
        name: bench_pubmedqa
        version: 1
        category: qa
        kind: mcqa
        description: PubMedQA with lm-eval's pubmedqa prompt
        data: {reader: pubmedqa, split: test, files: [pubmedqa/ori_pqal.json, pubmedqa/test_ground_truth.json]}
        prompt:
          template: "Abstract: {context}\\nQuestion: {question}\\nAnswer:"
          chat: false
        options: {scoring: loglikelihood, labels: ["yes", "no", "maybe"]}
        metrics: [accuracy]
        """,
    "bench_meqsum": """\
        name: bench_meqsum
        version: 1
        category: gen
        kind: summarization
        description: MeQSum, raw-text prompt, greedy until a blank line
        data: {reader: meqsum, split: all, files: [meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx]}
        prompt:
          template: "Question: {question}\\nSummary:"
          chat: false
        metrics: [rougeL]
        generation: {max_new_tokens: 64, stop: ["\\n\\n"]}
        """,
}

PLUGIN = """\
from pathlib import Path
from bioharness import hookimpl


@hookimpl
def task_dirs():
    return [Path(__file__).parent / "tasks"]
"""

LMEVAL_MC = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
output_type: multiple_choice
test_split: test
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
target_delimiter: ""
metric_list:
  - metric: acc
"""

LMEVAL_GEN = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
output_type: generate_until
test_split: test
doc_to_text: "{{{{prompt}}}}"
doc_to_target: ""
target_delimiter: ""
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 64
  do_sample: false
metric_list:
  - metric: exact_match
"""


# -- running a child and measuring it ---------------------------------------------------


def measure(cmd, env, log):
    """(wall seconds, peak summed RSS in bytes of the child's process tree) of ``cmd``."""
    import psutil

    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        parent = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.05)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}); see {log}:\n"
                 + Path(log).read_text()[-3000:])
    return wall, peak


# -- the raw engines (run as a child: python eval_vs_lmeval.py --raw hf|vllm WORK) ------------


def raw_hf(work: Path, task: str, batch_size: int):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bioharness.plugins.hf import embedded

    path = embedded.ensure_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    inputs = json.loads((work / "raw_inputs.json").read_text())
    out = {"ll": {}, "gen": {}}
    with torch.inference_mode():
        for item in [i for i in inputs["ll"] if i["id"].split("/")[0] in task.split(",")]:  # a context, its one-token continuations
            ids = torch.tensor([item["context_ids"]])
            logp = torch.log_softmax(model(input_ids=ids, logits_to_keep=1).logits[0, -1].float(), -1)
            out["ll"][item["id"]] = [float(logp[c]) for c in item["choice_ids"]]
        gens = sorted([g for g in inputs["gen"] if g["id"].split("/")[0] in task.split(",")], key=lambda g: len(g["ids"]),
                      reverse=True)
        tok.padding_side = "left"
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        for start in range(0, len(gens), batch_size):
            batch = gens[start : start + batch_size]
            width = max(len(g["ids"]) for g in batch)
            ids = torch.tensor([[pad] * (width - len(g["ids"])) + g["ids"] for g in batch])
            mask = torch.tensor([[0] * (width - len(g["ids"])) + [1] * len(g["ids"]) for g in batch])
            new = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=64, do_sample=False,
                                 temperature=None, top_p=None, top_k=None, pad_token_id=pad,
                                 stop_strings=["\n\n"], tokenizer=tok)[:, width:]
            for g, row in zip(batch, new.tolist()):
                text = tok.decode(row, skip_special_tokens=True)
                out["gen"][g["id"]] = text.split("\n\n")[0]
    (work / f"raw_hf_{task}.json").write_text(json.dumps(out))


def raw_vllm(work: Path, task: str):
    from vllm import LLM, SamplingParams

    from bioharness.plugins.hf import embedded

    inputs = json.loads((work / "raw_inputs.json").read_text())
    llm = LLM(model=str(embedded.ensure_model_dir()), dtype="float32", gpu_memory_utilization=0.3, seed=0)
    ll = [item for item in inputs["ll"] if item["id"].split("/")[0] in task.split(",")]
    gens = [g for g in inputs["gen"] if g["id"].split("/")[0] in task.split(",")]
    params = [SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=item["choice_ids"], detokenize=False)
              for item in ll]
    outs = llm.generate([{"prompt_token_ids": i["context_ids"]} for i in ll], params, use_tqdm=False) if ll else []
    result = {"ll": {}, "gen": {}}
    for item, o in zip(ll, outs):
        lp = o.outputs[0].logprobs[0]
        result["ll"][item["id"]] = [float(lp[c].logprob) for c in item["choice_ids"]]
    gp = SamplingParams(max_tokens=64, temperature=0.0, stop=["\n\n"], skip_special_tokens=True)
    outs = llm.generate([{"prompt_token_ids": g["ids"]} for g in gens], gp, use_tqdm=False) if gens else []
    for g, o in zip(gens, outs):
        result["gen"][g["id"]] = o.outputs[0].text
    (work / f"raw_vllm_{task}.json").write_text(json.dumps(result))


# -- the comparison -----------------------------------------------------------------------


def read_samples(folder: Path, task):
    rows = [json.loads(line) for line in (folder / task / "samples.jsonl").read_text().splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def bioharness_outputs(out: Path):
    (folder,) = (out / "eval").iterdir()  # one model
    ll = {}
    for task in LL_TASKS:
        for sid, r in read_samples(folder, task).items():
            ll[f"{task}/{sid}"] = [o["logprob"] for o in r["output"]]
    gen = {f"{GEN_TASK}/{sid}": r["output"][0]["text"] for sid, r in read_samples(folder, GEN_TASK).items()}
    return {"ll": ll, "gen": gen}


def lmeval_outputs(out: Path):
    ll, gen = {}, {}
    for path in out.rglob("samples_*.jsonl"):
        task = path.name[len("samples_"):].rsplit("_", 1)[0]
        for line in path.read_text().splitlines():
            r = json.loads(line)
            key = f"{task}/{r['doc']['id']}"
            if task == GEN_TASK:
                gen[key] = r["filtered_resps"][0] if isinstance(r["filtered_resps"][0], str) else r["resps"][0][0]
            else:
                ll[key] = [float(x[0]) for x in (r["filtered_resps"] if isinstance(r["filtered_resps"][0], list)
                                                 else [y[0] for y in r["resps"]])]
    return {"ll": ll, "gen": gen}


def raw_outputs(work: Path, engine):
    merged = {"ll": {}, "gen": {}}
    for path in work.glob(f"raw_{engine}_*.json"):
        part = json.loads(path.read_text())
        merged["ll"].update(part["ll"])
        merged["gen"].update(part["gen"])
    return merged


def agree(name, got, want, tol):
    """One line: choices equal, largest log-likelihood gap, generated texts equal."""
    keys = sorted(want["ll"])
    missing = [k for k in keys if k not in got["ll"]]
    assert not missing, f"{name}: {len(missing)} questions missing, e.g. {missing[:2]}"
    same_choice = sum(max(range(len(want["ll"][k])), key=want["ll"][k].__getitem__)
                      == max(range(len(got["ll"][k])), key=got["ll"][k].__getitem__) for k in keys)
    gap = max(abs(a - b) for k in keys for a, b in zip(got["ll"][k], want["ll"][k]))
    gkeys = sorted(want["gen"])
    same_text = sum(got["gen"].get(k) == want["gen"][k] for k in gkeys)
    ok = same_choice == len(keys) and gap <= tol and same_text == len(gkeys)
    print(f"  {name:<34} choices {same_choice}/{len(keys)}  max |dlogp| {gap:.2e}  "
          f"texts {same_text}/{len(gkeys)}  {'AGREE' if ok else 'DIFFER'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--medqa", type=int, default=60)
    ap.add_argument("--pubmedqa", type=int, default=40)
    ap.add_argument("--meqsum", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", default="1", help="threads of every contender (OMP_NUM_THREADS), or 'default': "
                    "each picks its own")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--vllm", action="store_true", help="also the vllm backend and raw vllm.LLM")
    ap.add_argument("--tol", type=float, default=1e-3, help="log-likelihood agreement (different attention kernels)")
    ap.add_argument("--only", help="comma-separated contenders to time (default: all); the others' outputs of "
                    "round 1 must already be in --keep DIR for the agreement checks")
    ap.add_argument("--keep", help="work folder to keep (default: a temporary one)")
    ap.add_argument("--raw", nargs=3, metavar=("ENGINE", "WORK", "TASK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.raw:
        engine, folder, task = args.raw
        raw_hf(Path(folder), task, args.batch_size) if engine == "hf" else raw_vllm(Path(folder), task)
        return

    work = Path(args.keep or tempfile.mkdtemp(prefix="bh-bench-"))
    (work / "tasks").mkdir(parents=True, exist_ok=True)
    for name, text in BIOHARNESS_TASKS.items():
        (work / "tasks" / f"{name}.yaml").write_text(textwrap.dedent(text))
    (work / "bench_tasks.py").write_text(PLUGIN)
    default_threads = args.threads == "default"
    if not default_threads and not args.threads.isdigit():
        sys.exit(f"--threads: a number or 'default', not {args.threads!r}")
    env = {**os.environ, "OMP_NUM_THREADS": args.threads, "MKL_NUM_THREADS": args.threads,
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": "0"}
    if default_threads:  # each side's own choice
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(var)
    bh = [sys.executable, "-m", "bioharness.cli", "--plugins", str(work / "bench_tasks.py"), "eval",
          "--dtype", "float32", "--bootstrap", "100"]

    def bh_cmd(model, out, task, limit, extra=()):
        # vLLM: its own scheduler's defaults, as raw vllm.LLM gets (--batch-size would cap
        # max_num_seqs at 8 while the raw engine decodes all prompts at once)
        batch = () if model.startswith("vllm:") else ("--batch-size", str(args.batch_size))
        return [*bh, *batch, "--model", model, "--tasks", task, "--limit", str(limit), "--out", str(out), *extra]

    limits = {"bench_medqa": args.medqa, "bench_pubmedqa": args.pubmedqa, "bench_meqsum": args.meqsum}

    def bh_run(model, out, extra=()):
        return [bh_cmd(model, out, t, n, extra) for t, n in limits.items()]

    # 0. bioharness chooses the examples and renders the prompts once (not timed).
    print(f"preparing prompts in {work} ...", flush=True)
    prep = work / "prep"
    if not (prep / "eval").is_dir():
        for cmd in bh_run("embedded", prep):
            measure(cmd, env, work / "prep.log")
    from transformers import AutoTokenizer

    from bioharness.plugins.hf import embedded
    from bioharness.plugins.hf.tokens import encode_pair

    model_dir = embedded.ensure_model_dir()
    (prep_folder,) = (prep / "eval").iterdir()
    tok = AutoTokenizer.from_pretrained(model_dir)
    raw = {"ll": [], "gen": []}
    for task in LL_TASKS:
        docs = []
        for sid, r in read_samples(prep_folder, task).items():
            context = r["prompt"][0]["context"]
            choices = [p["continuation"] for p in r["prompt"]]
            assert all(p["context"] == context for p in r["prompt"])
            docs.append({"id": sid, "context": context, "choices": choices, "label": 0})
            pairs = [encode_pair(tok, context, c, 8192) for c in choices]
            assert all(len(cont) == 1 and ctx == pairs[0][0] for ctx, cont in pairs)
            raw["ll"].append({"id": f"{task}/{sid}", "context_ids": pairs[0][0], "choice_ids": [c[0] for _, c in pairs]})
        data = work / f"{task}.jsonl"
        data.write_text("".join(json.dumps(d) + "\n" for d in docs))
        (work / "tasks" / f"{task}_lmeval.yaml").write_text(LMEVAL_MC.format(name=task, path=data))
    docs = []
    for sid, r in read_samples(prep_folder, GEN_TASK).items():
        prompt = r["prompt"][0]["prompt"]
        docs.append({"id": sid, "prompt": prompt})
        raw["gen"].append({"id": f"{GEN_TASK}/{sid}", "ids": tok(prompt)["input_ids"]})
    data = work / f"{GEN_TASK}.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in docs))
    (work / "tasks" / f"{GEN_TASK}_lmeval.yaml").write_text(LMEVAL_GEN.format(name=GEN_TASK, path=data))
    (work / "raw_inputs.json").write_text(json.dumps(raw))
    lmeval_dir = work / "lmeval_tasks"
    lmeval_dir.mkdir(exist_ok=True)
    for p in (work / "tasks").glob("*_lmeval.yaml"):
        shutil.move(str(p), lmeval_dir / p.name)

    def lm_cmd(out, tasks):
        return [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                f"pretrained={model_dir},dtype=float32", "--device", "cpu", "--batch_size", str(args.batch_size),
                "--include_path", str(lmeval_dir), "--tasks", tasks, "--output_path", str(out), "--log_samples"]

    ref = ("--model-args", "fast=false")
    tasks = list(limits)  # the last is the generation task
    if args.medqa == args.pubmedqa:  # one command for both log-likelihood tasks, on every side
        tasks = [",".join(LL_TASKS), GEN_TASK]
        limits = {tasks[0]: args.medqa, GEN_TASK: args.meqsum}
    contenders = {
        "lm-eval": lambda out: [lm_cmd(out, t) for t in tasks],
        "bioharness-hf": lambda out: bh_run("embedded", out),
        "bioharness-hf-ref": lambda out: bh_run("embedded", out, ref),
        "raw-hf": lambda out: [[sys.executable, __file__, "--raw", "hf", str(work), t, "--batch-size",
                                str(args.batch_size)] for t in tasks],
    }
    if args.vllm:
        contenders["bioharness-vllm"] = lambda out: bh_run("vllm:embedded", out)
        contenders["raw-vllm"] = lambda out: [[sys.executable, __file__, "--raw", "vllm", str(work), t] for t in tasks]

    # Timed rounds: each contender's commands are one measurement; the order alternates.
    if args.only:
        unknown = set(args.only.split(",")) - set(contenders)
        if unknown:
            sys.exit(f"--only: unknown contender(s) {', '.join(sorted(unknown))} (known: {', '.join(contenders)})")
    names = [n for n in contenders if not args.only or n in args.only.split(",")]
    times = {name: {"ll": [], "gen": []} for name in names}
    peaks = {name: 0 for name in names}
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        for name in order:
            out = work / f"run-{name}-{rnd}"
            shutil.rmtree(out, ignore_errors=True)
            walls = []
            for i, cmd in enumerate(contenders[name](out)):
                wall, peak = measure(cmd, env, work / f"{name}-{rnd}-{i}.log")
                walls.append(wall)
                peaks[name] = max(peaks[name], peak)
            times[name]["ll"].append(sum(walls[:-1]))
            times[name]["gen"].append(walls[-1])
            print(f"  round {rnd + 1}: {name:<18} log-likelihood {sum(walls[:-1]):7.1f} s  generation {walls[-1]:7.1f} s"
                  f"  peak {peaks[name] / 2**30:.2f} GiB", flush=True)

    # Agreement, against lm-eval and against the reference path.
    # (with --only, a contender never run in this folder has no outputs and is left out)
    readers = {"lm-eval": lambda: lmeval_outputs(work / "run-lm-eval-0"),
               "bioharness-hf": lambda: bioharness_outputs(work / "run-bioharness-hf-0"),
               "bioharness-hf-ref": lambda: bioharness_outputs(work / "run-bioharness-hf-ref-0"),
               "raw-hf": lambda: raw_outputs(work, "hf")}
    if args.vllm:
        readers["bioharness-vllm"] = lambda: bioharness_outputs(work / "run-bioharness-vllm-0")
        readers["raw-vllm"] = lambda: raw_outputs(work, "vllm")
    ran = {name for name in readers
           if (work / f"run-{name}-0").is_dir() or list(work.glob(f"{name.replace('-', '_')}_*.json"))}
    outputs = {name: read() for name, read in readers.items() if name in ran}

    def compare(name, got, want, tol):
        if got in outputs and want in outputs:
            agree(name, outputs[got], outputs[want], tol)

    print("\nagreement (log-likelihood questions, generated texts):")
    compare("bioharness-hf vs bioharness-hf-ref", "bioharness-hf", "bioharness-hf-ref", 1e-4)
    compare("bioharness-hf vs lm-eval", "bioharness-hf", "lm-eval", args.tol)
    compare("bioharness-hf vs raw-hf", "bioharness-hf", "raw-hf", args.tol)
    compare("bioharness-vllm vs raw-vllm", "bioharness-vllm", "raw-vllm", args.tol)
    compare("bioharness-vllm vs bioharness-hf", "bioharness-vllm", "bioharness-hf", 1e-2)

    if not args.rounds:  # --rounds 0 --keep DIR: only the agreement of the outputs kept in DIR
        return
    import torch

    load = os.getloadavg()
    if default_threads:
        import re

        chosen = {}
        for log in sorted(p for p in work.glob("bioharness-hf-*.log") if "-ref-" not in p.name):
            for m in re.finditer(r"hf backend: (\d+) CPU threads? \(([^;]*)", log.read_text()):
                chosen.setdefault(f"{m.group(1)} ({m.group(2)})", 0)
                chosen[f"{m.group(1)} ({m.group(2)})"] += 1
        probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                               capture_output=True, text=True)
        threads_note = ("each side's own default thread count: lm-eval and raw-hf torch's default, "
                        f"{probe.stdout.strip()}; bioharness per command: "
                        + ("; ".join(f"{k} x{n}" for k, n in chosen.items()) or "?"))
    else:
        threads_note = f"{args.threads} thread(s) each (OMP_NUM_THREADS)"
    print(f"\n{args.medqa} MedQA + {args.pubmedqa} PubMedQA questions (log-likelihood), {args.meqsum} MeQSum "
          f"(greedy, <=64 tokens); embedded SmolLM2-135M float32, batch size {args.batch_size}, "
          f"{threads_note}, {args.rounds} alternated rounds; "
          f"machine: {os.cpu_count()} CPUs, cuda={torch.cuda.is_available()}, load average now "
          f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    def median(t):
        t = sorted(t)
        return t[len(t) // 2] if len(t) % 2 else (t[len(t) // 2 - 1] + t[len(t) // 2]) / 2

    med = {n: {part: median(t) for part, t in parts.items()} for n, parts in times.items()}
    print(f"{'contender':<20}{'log-lik. s':>11}{'generation s':>14}{'peak GiB':>10}   runs (ll/gen)")
    for n in names:
        runs = " ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(times[n]["ll"], times[n]["gen"]))
        print(f"{n:<20}{med[n]['ll']:>11.1f}{med[n]['gen']:>14.1f}{peaks[n] / 2**30:>10.2f}   {runs}")

    def ratio(a, b, goal=""):
        if a not in med or b not in med:
            return
        print(f"  {a + ' / ' + b:<36} log-likelihood {med[a]['ll'] / med[b]['ll']:.2f}x  generation "
              f"{med[a]['gen'] / med[b]['gen']:.2f}x  peak memory {peaks[a] / peaks[b]:.2f}x{goal}")

    print("\nratios (median wall time; peak memory):")
    ratio("bioharness-hf", "bioharness-hf-ref")
    if args.vllm:
        ratio("bioharness-vllm", "lm-eval")
        ratio("bioharness-vllm", "raw-vllm", "   (goal <= 1.05x)")
    ratio("bioharness-hf", "raw-hf", "   (goal <= 1.05x)")
    ratio("bioharness-hf", "lm-eval", "   (goal <= 0.8x wall, <= 1x memory)")


if __name__ == "__main__":
    main()
