"""The evaluation loop: a model × tasks → samples.jsonl + metrics.json per task.

``<out>/eval/<model-slug>/<task>/samples.jsonl`` keeps every sample's prompt, raw output,
parsed prediction, reference, per-sample scores, the score's ``meta`` and the example's
own meta as ``example_meta`` (its ``source``: ``file:line`` or document id), appended as
they are scored, so a killed run resumes where it stopped. ``metrics.json`` is written
(atomically) when the task is complete; an undefined metric is ``null`` there.
"""
import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from bioharness import __version__
from bioharness.errors import UsageError
from bioharness.records import LoglikelihoodRequest, Request
from bioharness.stats import bootstrap, stratified_sample
from bioharness.store import RunDir, sha256_file


@dataclass
class EvalSettings:
    out: Path
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = 0
    sample: str = "random"  # how --limit picks: random, stratified (by the kind's strata) or first
    judge: str | None = None
    bootstrap_resamples: int = 1000
    backend_options: dict = field(default_factory=dict)
    chunk_size: int = 16  # examples scored and written per step: the granularity of resume


SAMPLES = ("random", "stratified", "first")


def select_examples(examples, limit, seed, sample="random", strata=None):
    """``(subset, how)``: ``limit`` examples kept in their original order, and the method
    that chose them. ``random``: a seeded random subset; ``first``: the first ``limit``;
    ``stratified``: :func:`bioharness.stats.stratified_sample` over ``strata(example)``
    (a label, a collection of labels, or None when the example has none to give: then,
    as for a kind without ``strata``, the subset is ``random``)."""
    if sample not in SAMPLES:
        raise UsageError(f"--sample {sample!r}: choose one of {', '.join(SAMPLES)}")
    if not limit or limit >= len(examples):
        return list(examples), sample
    if sample == "first":
        return list(examples[:limit]), sample
    labels = [strata(e) for e in examples] if sample == "stratified" and strata is not None else None
    if labels is None or any(label is None for label in labels):
        keep, sample = sorted(random.Random(seed).sample(range(len(examples)), limit)), "random"
    else:
        keep = stratified_sample([[x] if isinstance(x, str) else x for x in labels], limit, seed)
    return [examples[i] for i in keep], sample


def choose_shots(kind, spec, data_dir):
    k = spec.num_fewshot
    if not k:
        return []
    pool = kind.load(spec, data_dir, spec.prompt["fewshot_split"])
    if len(pool) < k:
        raise UsageError(f"task {spec.name}: {k} shots asked for, the {spec.prompt['fewshot_split']} split has {len(pool)}")
    rng = random.Random(spec.prompt.get("fewshot_seed", 1234))
    return [pool[i] for i in sorted(rng.sample(range(len(pool)), k))]


def data_hash(spec, data_dir) -> str:
    digest = hashlib.sha256()
    for path in spec.data_files(data_dir):
        if path.is_file():
            digest.update(sha256_file(path).encode())
        elif path.is_dir():
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(sha256_file(sub).encode())
    if spec.data.get("options"):  # reader options change the examples
        digest.update(repr(sorted(spec.data["options"].items())).encode())
    if not spec.data_files(data_dir) and spec.data.get("hf"):
        digest.update(repr(sorted(spec.data["hf"].items())).encode())
    return digest.hexdigest()[:16]


def _request_view(request):
    if isinstance(request, LoglikelihoodRequest):
        return {"context": request.context, "continuation": request.continuation}
    return {"system": request.system, "prompt": request.prompt} if request.system else {"prompt": request.prompt}


def _output_view(output):
    if output is None:
        return None
    if hasattr(output, "logprob"):
        return {"logprob": output.logprob, "num_tokens": output.num_tokens, "is_greedy": output.is_greedy,
                **({"error": output.error} if output.error else {})}
    return {"text": output.text, "finish_reason": output.finish_reason, **({"error": output.error} if output.error else {})}


class TaskRun:
    """One task for one model: resumable samples, then metrics."""

    def __init__(self, spec, kind, model_text, model_slug, settings, hooks):
        self.spec, self.kind, self.settings, self.hooks = spec, kind, settings, hooks
        self.model_text = model_text
        self.dir = RunDir(Path(settings.out) / "eval" / model_slug / spec.name)
        strata = getattr(kind, "strata", None)  # optional: the label(s) of an example, for --sample stratified
        self.examples, sample = select_examples(kind.load(spec, settings.data_dir, spec.split), settings.limit,
                                                settings.seed, settings.sample,
                                                None if strata is None else lambda e: strata(spec, e))
        self.shots = choose_shots(kind, spec, settings.data_dir)
        shot_ids = {s.id for s in self.shots}
        self.examples = [e for e in self.examples if e.id not in shot_ids]
        self.setting = {
            "task_version": spec.version,
            "scoring": spec.options.get("scoring", spec.kind),
            "num_fewshot": spec.num_fewshot,
            "prompt_hash": spec.prompt_hash(),
            "data_hash": data_hash(spec, settings.data_dir),
            "limit": settings.limit,
            **({"sample": sample} if settings.limit else {}),
            "seed": settings.seed,
            "judge": settings.judge if spec.category == "gen" else None,
            "bioharness": __version__,
        }
        config = {"task": spec.name, "model": model_text, **{k: v for k, v in self.setting.items() if k != "bioharness"}}
        previous = self.dir.manifest
        if previous and previous.get("config") != config and (self.dir / "samples.jsonl").exists():
            changed = sorted(k for k in config if previous.get("config", {}).get(k) != config[k])
            raise UsageError(
                f"{self.dir.path} holds results of a different setting (changed: {', '.join(changed)}); "
                "use another --out or remove that folder"
            )
        self.config = config
        self.samples = self.dir.jsonl("samples.jsonl")
        self.todo = [e for e in self.examples if e.id not in self.samples]

    @property
    def done(self):
        return not self.todo

    def run(self, backend, judge, advance):
        self.dir.start("eval", self.config)
        self.hooks.stage_start("eval", self.dir.path, self.config)
        chunk = self.settings.chunk_size
        for start in range(0, len(self.todo), chunk):
            examples = self.todo[start : start + chunk]
            per_example = [self.kind.requests(self.spec, e, self.shots) for e in examples]
            outputs = self._run_requests(backend, per_example)
            scores = self.kind.score(self.spec, examples, outputs, judge)
            records = []
            for example, reqs, outs, score in zip(examples, per_example, outputs, scores):
                scored = score.to_dict()  # plain JSON types, nested meta included
                records.append({
                    "id": example.id,
                    "task": self.spec.name,
                    "prompt": [_request_view(r) for r in reqs],
                    "output": [_output_view(o) for o in outs],
                    "prediction": scored["prediction"],
                    "reference": scored["reference"],
                    "values": scored["values"],
                    **({"meta": scored["meta"]} if scored["meta"] else {}),
                    **({"example_meta": example.to_dict()["meta"]} if example.meta else {}),
                })
            self.samples.extend(records)
            for record in records:
                self.hooks.sample("eval", record)
            advance(len(examples))
        return self.finish()

    def _run_requests(self, backend, per_example):
        flat = [(i, j, r) for i, reqs in enumerate(per_example) for j, r in enumerate(reqs)]
        outputs = [[None] * len(reqs) for reqs in per_example]
        gen = [(i, j, r) for i, j, r in flat if isinstance(r, Request)]
        ll = [(i, j, r) for i, j, r in flat if isinstance(r, LoglikelihoodRequest)]
        if gen:
            for (i, j, _), out in zip(gen, backend.generate([r for _, _, r in gen])):
                outputs[i][j] = out
        if ll:
            for (i, j, _), out in zip(ll, backend.loglikelihood([r for _, _, r in ll])):
                outputs[i][j] = out
        return outputs

    def finish(self):
        wanted = {e.id for e in self.examples}
        rows = [r for r in self.samples.records if r["id"] in wanted]
        values = [r["values"] for r in rows]
        spec = self.spec
        results = bootstrap(values, lambda sums, n: self.kind.metrics(spec, sums, n),
                            n_resamples=self.settings.bootstrap_resamples, seed=self.settings.seed)
        metrics = {name: {"value": v, "ci95": [lo, hi]} for name, (v, lo, hi) in results.items()}
        failures = sum(1 for r in rows for o in r["output"] if o and o.get("error"))
        unparsed = sum(1 for r in rows if r.get("prediction") is None)
        result = {
            "task": spec.name, "category": spec.category, "kind": spec.kind, "model": self.model_text,
            "n": len(rows), "headline": spec.metrics[0], "metrics": metrics, "setting": self.setting,
            "backend_errors": failures, "unparsed": unparsed, "written": time.time(),
        }
        self.dir.write_json("metrics.json", result, sort_keys=False)  # headline metric first
        self.dir.finish({"n": len(rows), "headline": {spec.metrics[0]: metrics.get(spec.metrics[0], {}).get("value")}})
        self.hooks.stage_end("eval", self.dir.path, result)
        return result


def evaluate(hooks, catalog, model_text, specs, settings, console=None):
    """Evaluate one model on ``specs``; returns the metrics.json contents of each task."""
    from bioharness.modelspec import parse_model_spec
    from bioharness.models import load_backend
    from bioharness.progress import progress_bar

    spec = parse_model_spec(model_text)
    hooks.backends.get(spec.backend)  # unknown backend: fail before reading any data
    runs = []
    for task in specs:
        kind = catalog.kind(task.kind)
        runs.append(TaskRun(task, kind, str(spec), spec.slug, settings, hooks))
    backend = judge = None
    results = []
    try:
        with progress_bar(console) as bar:
            for run in runs:
                if run.todo and backend is None:
                    backend = load_backend(hooks, model_text, **settings.backend_options)
                if run.todo and settings.judge and run.spec.category == "gen" and judge is None:
                    judge = load_backend(hooks, settings.judge)
                handle = bar.add_task(run.spec.name, total=len(run.examples), completed=len(run.examples) - len(run.todo))
                results.append(run.run(backend, judge, lambda n, h=handle: bar.advance(h, n)))
    finally:
        for engine in (backend, judge):
            if engine is not None:
                engine.close()
    return results
