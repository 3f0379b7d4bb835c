"""lm-eval's tasks run by lm-eval's evaluator on a bioharness backend.

:func:`backend_lm` wraps any bioharness backend (hf, vllm, openai, with ``+adapter``) as an
lm-eval ``LM``: lm-eval builds the requests from its own task definitions, the backend
answers them, lm-eval scores and aggregates. :func:`run_lmeval` then writes what
``bioharness eval`` writes for its own tasks, so ``compare`` and the report read it:

``<out>/eval/<model-slug>/lm_eval__<task>/samples.jsonl`` (one row per document: lm-eval's
requests and our backend's answers, the prediction, the target and lm-eval's per-sample
metric values) and ``metrics.json`` (lm-eval's metrics with a 95% interval from its
standard error, ``setting.scored_by: lm-eval <version>``).

Not offered: ``loglikelihood_rolling`` (perplexity tasks), which bioharness backends do not
compute; such a task stops with one line saying so. ``--limit N`` is lm-eval's: the first N
documents. A run is not resumed; a finished task (metrics.json with the same setting) is
not run again.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from bioharness import (Incomplete, LoglikelihoodRequest, Request, RunDir, UsageError, __version__, get_backend,
                        parse_model_spec, read_json, sha256_file)

from .local import expand, local_task_config

PREFIX = "lm_eval"


def backend_lm(backend):
    """An lm-eval ``LM`` answering with ``backend``."""
    from lm_eval.api.model import LM

    class BackendLM(LM):
        def __init__(self):
            super().__init__()
            self.backend = backend

        def loglikelihood(self, requests, disable_tqdm=False):
            asked = [LoglikelihoodRequest(id=str(i), context=r.args[0], continuation=r.args[1])
                     for i, r in enumerate(requests)]
            answers = self.backend.loglikelihood(asked)
            for answer in answers:
                if answer.error:
                    raise Incomplete(f"lm_eval bridge: the backend failed a log-likelihood request ({answer.error}); "
                                     "lm-eval keeps no partial results: nothing was written, run the same command again")
            return [(answer.logprob, answer.is_greedy) for answer in answers]

        def loglikelihood_rolling(self, requests, disable_tqdm=False):
            raise UsageError("lm_eval bridge: this task needs rolling log-likelihoods (perplexity), "
                             "which bioharness backends do not compute")

        def generate_until(self, requests, disable_tqdm=False):
            asked = []
            for i, r in enumerate(requests):
                context, kwargs = r.args
                until = kwargs.get("until") or ()
                until = (until,) if isinstance(until, str) else tuple(until)
                asked.append(Request(id=str(i), prompt=context, chat=False, stop=until,
                                     max_new_tokens=int(kwargs.get("max_gen_toks", 256)),
                                     temperature=float(kwargs.get("temperature", 0.0) or 0.0)))
            answers = self.backend.generate(asked)
            for answer in answers:
                if answer.error:
                    raise Incomplete(f"lm_eval bridge: the backend failed a generation request ({answer.error}); "
                                     "lm-eval keeps no partial results: nothing was written, run the same command again")
            return [answer.text for answer in answers]

    return BackendLM()


def _task_dir(out, slug, task):
    return Path(out) / "eval" / slug / f"{PREFIX}__{task}"


def _sample_record(task, sample):
    outputs = [r[0] if isinstance(r, (list, tuple)) else r for r in sample["resps"]]
    prompt, output = [], []
    for args, out in zip(sample["arguments"], outputs):
        if isinstance(out, (list, tuple)):  # (logprob, is_greedy)
            prompt.append({"context": args[0], "continuation": args[1]})
            output.append({"logprob": float(out[0]), "is_greedy": bool(out[1])})
        else:
            prompt.append({"prompt": args[0]})
            output.append({"text": out})
    filtered = sample["filtered_resps"]
    if output and "logprob" in output[0]:
        lls = [float(f[0]) if isinstance(f, (list, tuple)) else float(f) for f in filtered]
        prediction = lls.index(max(lls))
    else:
        prediction = filtered[0] if isinstance(filtered, list) and filtered else filtered
    values = {k: float(v) for k, v in sample.items() if k in sample.get("_metrics", ()) and isinstance(v, (int, float))}
    return {"id": str(sample["doc_id"]), "task": f"{PREFIX}:{task}", "prompt": prompt, "output": output,
            "prediction": prediction, "reference": sample["target"], "values": values}


def run_lmeval(names, model_text, *, out, data_dir=None, limit=None, backend_options=None, bootstrap=1000):
    """Evaluate lm-eval tasks ``names`` (``multimedqa`` expands to its nine) on ``model_text``;
    returns one metrics.json dict per task."""
    from importlib.metadata import version

    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    lm_version = version("lm-eval")
    spec = parse_model_spec(model_text)
    names = expand(names)
    manager = TaskManager()
    configs = [local_task_config(name, manager, data_dir) for name in names]
    results, todo = [], []
    for name, config in zip(names, configs):
        setting = _setting(config, lm_version, limit)
        done = _task_dir(out, spec.slug, name) / "metrics.json"
        previous = read_json(done) if done.exists() else None
        if previous and previous.get("setting") == setting and previous.get("model") == str(spec):
            results.append(previous)
        else:
            todo.append((name, config, setting))
    if not todo:
        return results
    backend = get_backend(model_text, **(backend_options or {}))
    try:
        evaluated = simple_evaluate(model=backend_lm(backend), tasks=[c for _, c, _ in todo], task_manager=manager,
                                    limit=limit, log_samples=True, bootstrap_iters=bootstrap)
    except KeyError as exc:  # lm-eval's own error for a dataset it cannot build
        raise UsageError(f"lm_eval: {exc}") from None
    finally:
        backend.close()
    for name, _, setting in todo:
        results.append(_write_task(out, spec, name, evaluated, setting))
    return results


def _setting(config, lm_version, limit):
    """What a score depends on: lm-eval's version and task version, the data's hash, shots
    (lm-eval's own: 0 unless the task says otherwise), the limit."""
    if isinstance(config, str):  # a hub task: lm-eval's config by name
        version, files, shots = None, [], None
    else:
        version = (config.get("metadata") or {}).get("version")
        files = config["dataset_kwargs"]["data_files"]["test"]
        shots = config.get("num_fewshot") or 0
    data_hash = hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()[:16] if files else None
    return {"scored_by": f"lm-eval {lm_version}", "scoring": "lm-eval", "num_fewshot": shots,
            "task_version": version, "data_hash": data_hash, "limit": limit, "limit_rule": "first N documents (lm-eval)", "bioharness": __version__}


def _write_task(out, spec, name, evaluated, setting):
    task_results = evaluated["results"][name]
    metric_names = [m["metric"] for m in evaluated["configs"][name].get("metric_list", [])]
    run = RunDir(_task_dir(out, spec.slug, name))
    config = {"task": f"{PREFIX}:{name}", "model": str(spec), **setting}
    run.start("eval", config)
    rows = []
    for sample in sorted(evaluated["samples"][name], key=lambda s: s["doc_id"]):
        rows.append(_sample_record(name, {**sample, "_metrics": metric_names}))
    run.write_text("samples.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    metrics = {}
    for metric in metric_names:
        value = task_results.get(f"{metric},none")
        if value is None:
            continue
        stderr = task_results.get(f"{metric}_stderr,none")
        ci = [value - 1.96 * stderr, value + 1.96 * stderr] if isinstance(stderr, (int, float)) else [None, None]
        metrics[metric] = {"value": value, "ci95": ci}
    category = "qa" if evaluated["configs"][name].get("output_type") == "multiple_choice" else "gen"
    result = {"task": f"{PREFIX}:{name}", "category": category, "kind": "lm_eval", "model": str(spec), "n": len(rows),
              "headline": metric_names[0], "metrics": metrics, "setting": setting, "backend_errors": 0,
              "unparsed": 0, "written": time.time()}
    run.write_json("metrics.json", result, sort_keys=False)
    run.finish({"n": len(rows), "headline": {metric_names[0]: metrics.get(metric_names[0], {}).get("value")}})
    return result
