"""The evaluation loop: a model × tasks → samples.jsonl + metrics.json per task.

``<out>/eval/<model-slug>/<task>/samples.jsonl`` keeps every sample's prompt, raw output,
parsed prediction, reference, per-sample scores, the score's ``meta`` and the example's
own meta as ``example_meta`` (its ``source``: ``file:line`` or document id), appended as
they are scored, so a killed run resumes where it stopped. ``metrics.json`` is written
(atomically) when the task is complete; an undefined metric is ``null`` there.
"""
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from bioharness import (
    Incomplete, LoglikelihoodRequest, Request, RunDir, UsageError, __version__, choose_shots, load_examples, sha256_file,
)

from .stats import bootstrap, stratified_sample


@dataclass
class EvalSettings:
    out: Path
    data_dir: Path | None = None
    limit: int | None = None
    seed: int = 0
    sample: str = "random"  # how --limit picks: random, stratified (by the kind's strata) or first
    judge: str | None = None
    judge_options: dict = field(default_factory=dict)  # --judge-args: the judge backend's own options
    bootstrap_resamples: int = 1000
    backend_options: dict = field(default_factory=dict)
    chunk_size: int | None = None  # examples per step (the granularity of resume); None: the backend's, else 16
    wait: bool = False  # another process holds the run folder: wait for it (else refuse)


SAMPLES = ("random", "stratified", "first")
#: what a task's stage writes in its folder (recorded, and checked before it is skipped)
OUTPUTS = {"samples": "samples.jsonl", "metrics": "metrics.json"}


def select_examples(examples, limit, seed, sample="random", strata=None):
    """``(subset, how)``: ``limit`` examples kept in their original order, and the method
    that chose them. ``random``: a seeded random subset; ``first``: the first ``limit``;
    ``stratified``: :func:`.stats.stratified_sample` over ``strata(example)``
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

    def __init__(self, spec, kind, model_text, model_slug, settings, hooks, adapter_sha256=None):
        self.spec, self.kind, self.settings, self.hooks = spec, kind, settings, hooks
        self.model_text = model_text
        strata = getattr(kind, "strata", None)  # optional: the label(s) of an example, for --sample stratified
        self.examples, sample = select_examples(load_examples(kind, spec, settings.data_dir, spec.split), settings.limit,
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
            # the adapter's content, not its path: new weights at the same path are a new setting
            **({"adapter_sha256": adapter_sha256} if adapter_sha256 else {}),
            "bioharness": __version__,
        }
        self.dir = RunDir(Path(settings.out) / "eval" / model_slug / spec.name, create=False)
        self.config = {"task": spec.name, "model": model_text,
                       **{k: v for k, v in self.setting.items() if k != "bioharness"}}

    def open(self):
        """Read back what an earlier (killed) run scored; only after the stage runner checked the folder."""
        self.samples = self.dir.jsonl("samples.jsonl", create=False)  # nothing on disk until a sample is scored
        self.todo = [e for e in self.examples if e.id not in self.samples]
        return self

    def run(self, backend, judge, advance, on_record):
        """Score the examples still to do. A request that failed (connection, timeout, server
        error), the model's or the judge's (a Score with ``error``), is an *error*, not a wrong
        answer: its example is not written, so the task stays incomplete and the next run
        retries exactly those examples."""
        chunk = self.settings.chunk_size or getattr(backend, "chunk_size", None) or 16
        self.failed = {}  # example id -> first error of its requests
        for start in range(0, len(self.todo), chunk):
            examples = self.todo[start : start + chunk]
            per_example = [self.kind.requests(self.spec, e, self.shots) for e in examples]
            outputs = self._run_requests(backend, per_example)
            errors = [next((o.error if o is not None else "no answer" for o in outs
                            if o is None or getattr(o, "error", None)), None) for outs in outputs]
            ok = [(e, o) for e, o, error in zip(examples, outputs, errors) if not error]
            scores = iter(self.kind.score(self.spec, [e for e, _ in ok], [o for _, o in ok], judge) if ok else ())
            records = []
            for example, reqs, outs, error in zip(examples, per_example, outputs, errors):
                score = None if error else next(scores)
                error = error or score.error
                if error:
                    self.failed[example.id] = error
                    continue
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
                on_record(record)
            advance(len(examples))
            if not records:  # every example of a whole chunk failed: the endpoint is down, stop asking
                break
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
        failed = getattr(self, "failed", {})
        unparsed = sum(1 for r in rows if r.get("prediction") is None)
        missing = len(wanted) - len(rows)  # failed, or never attempted after the endpoint went down
        result = {
            "task": spec.name, "category": spec.category, "kind": spec.kind, "model": self.model_text,
            "n": len(rows), "headline": spec.metrics[0], "metrics": metrics, "setting": self.setting,
            "errors": len(failed), "unparsed": unparsed, "complete": not missing, "written": time.time(),
        }
        if missing:
            result.update(missing=missing, first_error=next(iter(failed.values()), None), unfinished=True)
            (self.dir / "metrics.json").unlink(missing_ok=True)  # only complete tasks have metrics
            return result
        previous = self._previous_metrics()
        if previous is not None and {**previous, "written": None} == {**result, "written": None}:
            return previous  # the same numbers (a repaired or resumed log): the file is left as it was
        self.dir.write_json("metrics.json", result, sort_keys=False)  # headline metric first
        return result

    def _previous_metrics(self):
        path = self.dir / "metrics.json"
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (ValueError, UnicodeDecodeError):
            return None


class IncompleteEvaluation(Incomplete):
    """Some requests failed: what succeeded is kept, the same command retries the rest."""

    def __init__(self, results):
        self.results = results
        bad = [r for r in results if not r.get("complete", True)]
        first = next((r["first_error"] for r in bad if r.get("first_error")), "not attempted")
        parts = ", ".join(f"{r['task']} {r['errors']} failed" + (f", {r['missing'] - r['errors']} not attempted"
                                                                 if r["missing"] > r["errors"] else "") for r in bad)
        super().__init__(f"{len(bad)} task(s) incomplete ({parts}); first error: {first}. "
                         "Nothing failed was scored; run the same command again to retry those samples")


def evaluate(hooks, catalog, model_text, specs, settings, console=None, slug=None, archive=None, label=None):
    """Evaluate one model on ``specs``, each task a stage (:func:`bioharness.run_stage`) in
    ``<out>/eval/<slug>/<task>``; returns the metrics.json contents of each task. ``label``:
    the model's name in compare's tables, kept in ``<out>/eval/<slug>/label.json``.

    Everything that can be checked without a model is checked first (model spec, adapter,
    judge, run folder, data); the run folder ``<out>/eval/<slug>`` is locked for the run.
    Raises :class:`IncompleteEvaluation` when requests failed.
    """
    import sys

    from bioharness import (
        Stage, atomic_write_json, check_model, load_backend, parse_model_spec, read_json, run_lock, run_stage,
    )

    from .progress import progress_bar

    spec = parse_model_spec(model_text)
    hooks.backends.get(spec.backend)  # unknown backend: fail before reading any data
    adapter_sha256 = check_model(spec, hooks=hooks)
    if settings.judge:  # checked now, not after the main model has loaded
        try:
            judge_spec = parse_model_spec(settings.judge)
            hooks.backends.get(judge_spec.backend)
            check_model(judge_spec, what="--judge", hooks=hooks)
        except UsageError as exc:
            raise UsageError(f"--judge {settings.judge}: {exc}") from None
        if not any(task.category == "gen" for task in specs):
            print(f"note: --judge is used by generation tasks only; none of {', '.join(t.name for t in specs)} is one",
                  file=sys.stderr)
    slug = slug or spec.slug

    def took_over(holder):
        print(f"note: took over the lock of PID {holder.get('pid')} on {holder.get('host')} "
              "(it ended without releasing it)", file=sys.stderr)

    with run_lock(Path(settings.out) / "eval" / slug, wait=settings.wait, on_takeover=took_over):
        runs = [TaskRun(task, catalog.kind(task.kind), str(spec), slug, settings, hooks, adapter_sha256=adapter_sha256)
                for task in specs]
        named = Path(settings.out) / "eval" / slug / "label.json"
        if label and (not named.is_file() or read_json(named) != {"model": str(spec), "label": label}):
            # a name, not a setting: no stage depends on it (compare reads it); an up-to-date run rewrites nothing
            atomic_write_json(named, {"model": str(spec), "label": label})
        engines = {}

        def engine(name, text, **options):
            if name not in engines:
                try:
                    engines[name] = load_backend(hooks, text, **options)
                except UsageError as exc:
                    if name != "judge":
                        raise
                    raise UsageError(f"--judge {text}: {exc}") from None
            return engines[name]

        results = []
        try:
            with progress_bar(console) as bar:
                for run in runs:
                    def work(run_dir, on_record, run=run):
                        run.open()
                        backend = engine("model", model_text, **settings.backend_options) if run.todo else None
                        judge = (engine("judge", settings.judge, **settings.judge_options) if run.todo and settings.judge
                                 and run.spec.category == "gen" else None)
                        handle = bar.add_task(run.spec.name, total=len(run.examples),
                                              completed=len(run.examples) - len(run.todo))
                        try:
                            return run.run(backend, judge, lambda n: bar.advance(handle, n), on_record)
                        finally:
                            run.samples.close()

                    stage = Stage("eval", f"eval {slug}/{run.spec.name}", "bioharness.eval", __version__, run.config,
                                  work, {"adapter": spec.adapter} if spec.adapter else {}, OUTPUTS)
                    say = print if console is None else (  # one line each, never wrapped; paths are not markup
                        lambda text: console.print(text, soft_wrap=True, markup=False, highlight=False))
                    results.append(run_stage(hooks, stage, run.dir.path, say=say, archive=archive))
        finally:
            for backend in engines.values():
                backend.close()
    if not all(r.get("complete", True) for r in results):
        raise IncompleteEvaluation(results)
    return results
