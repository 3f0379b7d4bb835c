"""The evaluation loop: a model × tasks → samples.jsonl + metrics.json per task.

``<out>/eval/<model-slug>/<task>/samples.jsonl`` keeps every sample's prompt, raw output,
parsed prediction, reference and per-sample scores, appended as they are scored, so a
killed run resumes where it stopped. ``metrics.json`` is written (atomically) when the
task is complete.
"""
import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from bioharness import __version__
from bioharness.errors import UsageError
from bioharness.records import LoglikelihoodRequest, Request
from bioharness.stats import bootstrap
from bioharness.store import RunDir, sha256_file


@dataclass
class EvalSettings:
    out: Path
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = 0
    judge: str | None = None
    bootstrap_resamples: int = 1000
    backend_options: dict = field(default_factory=dict)
    chunk_size: int = 16  # examples scored and written per step: the granularity of resume


def select_examples(examples, limit, seed):
    """A seeded random subset of ``limit`` examples, kept in their original order."""
    if not limit or limit >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


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
        self.examples = select_examples(kind.load(spec, settings.data_dir, spec.split), settings.limit, settings.seed)
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
            "seed": settings.seed,
            "judge": settings.judge if spec.category == "gen" else None,
            "bioharness": __version__,
        }
        self.config = {"task": spec.name, "model": model_text,
                       **{k: v for k, v in self.setting.items() if k != "bioharness"}}

    def open(self):
        """Read back what an earlier (killed) run scored; only after the stage runner checked the folder."""
        self.samples = self.dir.jsonl("samples.jsonl")
        self.todo = [e for e in self.examples if e.id not in self.samples]
        return self

    def run(self, backend, judge, advance, on_record):
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
                })
            self.samples.extend(records)
            for record in records:
                on_record(record)
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
        return result


def evaluate(hooks, catalog, model_text, specs, settings, console=None, slug=None, archive=None):
    """Evaluate one model on ``specs``, each task a stage (see :mod:`bioharness.stages`) in
    ``<out>/eval/<slug>/<task>``; returns the metrics.json contents of each task."""
    from bioharness.modelspec import parse_model_spec
    from bioharness.models import load_backend
    from bioharness.progress import progress_bar
    from bioharness.stages import Stage, run_stage

    spec = parse_model_spec(model_text)
    hooks.backends.get(spec.backend)  # unknown backend: fail before reading any data
    slug = slug or spec.slug
    runs = [TaskRun(task, catalog.kind(task.kind), str(spec), slug, settings, hooks) for task in specs]
    engines = {}

    def engine(name, text, **options):
        if name not in engines:
            engines[name] = load_backend(hooks, text, **options)
        return engines[name]

    results = []
    try:
        with progress_bar(console) as bar:
            for run in runs:
                def work(run_dir, on_record, run=run):
                    run.open()
                    backend = engine("model", model_text, **settings.backend_options) if run.todo else None
                    judge = (engine("judge", settings.judge) if run.todo and settings.judge
                             and run.spec.category == "gen" else None)
                    handle = bar.add_task(run.spec.name, total=len(run.examples),
                                          completed=len(run.examples) - len(run.todo))
                    try:
                        return run.run(backend, judge, lambda n: bar.advance(handle, n), on_record)
                    finally:
                        run.samples.close()

                stage = Stage("eval", f"eval {slug}/{run.spec.name}", "bioharness.eval", __version__, run.config, work,
                              {"adapter": spec.adapter} if spec.adapter else {})
                say = console.print if console is not None else print
                results.append(run_stage(hooks, stage, run.dir.path, say=say, archive=archive))
    finally:
        for backend in engines.values():
            backend.close()
    return results
