"""The self-instruct pipeline: sample seeds, ask the model, parse, filter, keep what is new.

The run directory
-----------------
``instructions.jsonl``
    Every accepted instruction, one :class:`bioharness.records.Instruction` per line, with
    its provenance: the seed ids shown, the request's id and index, the model, and the
    nearest pool entry with its ROUGE-L F1 (``nearest_id``, ``nearest_score``; both are
    over the entries that could come near the threshold, ``None`` / ``0.0`` when none
    could). Imported instructions come first when ``--import`` was used.
``requests.jsonl``
    One line per request, in request order: the seeds shown, the outcome (ok or the
    backend's error), token counts, the raw answer, what the parser dropped and the filters
    rejected (by reason), and the accepted instructions in full. A line is the *commit
    record* of its request: it is written (and fsynced) before the request's instructions
    are appended to ``instructions.jsonl``.
``stats.json``
    The totals over ``requests.jsonl`` (requested, responses ok / failed with reasons,
    parsed, malformed and rejected by reason, accepted, tokens), rewritten atomically after
    every wave of requests. ``parsed == accepted + sum(rejected)`` always holds. When the
    backend keeps counters (the openai backend's retries, failures and cost), those of the
    current invocation are under ``backend_usage``.
``import.json``
    What ``--import`` read and wrote (only when used).

Determinism
-----------
The seeds shown in request ``i`` depend only on ``--seed`` and ``i``
(:func:`sample_examples`). Requests go out in waves of ``--concurrency`` through the
backend (which runs them concurrently, retries, and answers a failed one with an error
record), and a wave's answers are applied to the pool *in request order*, so the same
answers give the same accepted set at any concurrency. The run stops exactly at ``--n``:
candidates after the target within the last wave are counted as ``target_reached``.

Resuming
--------
Killed at any point (even ``kill -9``), the run is resumed by running the same command:
torn last lines are cut off (:class:`bioharness.store.JsonlLog`), instructions that a
committed request accepted but that did not reach ``instructions.jsonl`` are appended
from its commit record, the pool is rebuilt from the seeds and ``instructions.jsonl`` in
file order, and generation continues from the request after the last committed one. A
request that was in flight when the run died is sent again. Nothing written is rewritten,
nothing is lost or written twice.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bioharness import (
    Instruction, Request, RunDir, UsageError, file_lock, get_backend, read_instructions, sha256_file,
    write_instructions,
)

from bioharness.plugins.selfinstruct.config import EXAMPLES_PER_REQUEST, GenerateConfig
from bioharness.plugins.selfinstruct.filters import FilterSettings, quality_reason
from bioharness.plugins.selfinstruct.prompt import build_messages, parse_response
from bioharness.plugins.selfinstruct.seeds import DEFAULT_SEEDS, load_seeds

INSTRUCTIONS = "instructions.jsonl"
REQUESTS = "requests.jsonl"
STATS = "stats.json"
IMPORT = "import.json"
LOCK = ".generate.lock"

#: Stop after this many consecutive waves in which every request failed: the endpoint is
#: down or refusing us, and the run says so (:class:`EndpointFailing`) instead of spinning.
MAX_FAILED_WAVES = 3


def sample_examples(seeds, seed: int, index: int, k: int = EXAMPLES_PER_REQUEST):
    """The seed examples shown in request ``index``: a function of ``seed`` and ``index`` only."""
    return random.Random(f"{seed}:{index}").sample(list(seeds), min(k, len(seeds)))


def request_id(index: int) -> str:
    return f"req-{index:06d}"


def instruction_id(index: int, position: int) -> str:
    return f"si-{index:06d}-{position:02d}"


def failure_reason(error) -> str:
    """A short key for a backend error message: its first line, up to the first colon."""
    lines = str(error or "").strip().splitlines()
    key = lines[0].split(":", 1)[0].strip()[:80] if lines else ""
    return key or "unknown error"


class EndpointFailing(UsageError):
    """Every request failed for several waves in a row (a wrong key, a dead endpoint).

    Raised after the stats are written; ``result`` is what ``run`` would have returned.
    """

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Plan:
    index: int
    examples: tuple
    request: Request


def fold_stats(lines) -> dict:
    """Totals over the commit records of ``requests.jsonl``."""
    failure_reasons, malformed, rejected = Counter(), Counter(), Counter()
    ok = failed = without = parsed = accepted = prompt_tokens = completion_tokens = 0
    next_index = 0
    for line in lines:
        next_index = max(next_index, line["request_index"] + 1)
        prompt_tokens += line.get("prompt_tokens") or 0
        completion_tokens += line.get("completion_tokens") or 0
        if line["status"] != "ok":
            failed += 1
            failure_reasons[failure_reason(line.get("error"))] += 1
            continue
        ok += 1
        parsed += line["parsed"]
        malformed.update(line["malformed"])
        rejected.update(line["rejected"])
        accepted += len(line["accepted"])
        if not line["parsed"]:
            without += 1
    return {
        "requested": ok + failed,
        "responses": {"ok": ok, "failed": failed, "failure_reasons": dict(sorted(failure_reasons.items())),
                      "without_candidates": without},
        "parsed": parsed,
        "malformed": dict(sorted(malformed.items())),
        "rejected": dict(sorted(rejected.items())),
        "accepted": accepted,
        "tokens": {"prompt": prompt_tokens, "completion": completion_tokens},
        "next_request_index": next_index,
    }


class SelfInstructGenerator:
    """``run(out_dir)`` fills ``out_dir/instructions.jsonl`` up to ``config.n`` instructions.

    The backend is built by :func:`bioharness.get_backend` (through the plugins of the
    running ``bioharness`` command), unless ``backend`` gives one already built (anything
    with ``generate(requests) -> predictions``).
    """

    def __init__(self, config: GenerateConfig, *, backend=None, console=None, progress=True):
        self.config = config
        self._backend = backend
        self._owns_backend = backend is None
        self._console = console
        self._show_progress = progress
        self.filter_settings = FilterSettings(config.min_words, config.max_words)

    # -- the run -----------------------------------------------------------------------

    def run(self, out_dir, on_record=None) -> dict:
        config = self.config
        run = RunDir(Path(out_dir))
        with file_lock(run / LOCK):
            seeds = load_seeds(config.seeds)
            seeds_path = Path(config.seeds) if config.seeds else DEFAULT_SEEDS
            requests_log = run.jsonl(REQUESTS, key="request_index")
            instructions = run.jsonl(INSTRUCTIONS, key="id")
            logs = [requests_log, instructions]
            try:
                identity = {**config.identity(), "seeds_sha256": sha256_file(seeds_path)}
                self._check_identity(run, identity, requests_log)
                run.start("generate", identity, inputs={"seeds": seeds_path})
                self._recover(requests_log, instructions, on_record)
                instructions, imported = self._import(run, seeds, instructions, on_record)
                logs.append(instructions)
                result = self._generate(run, seeds, requests_log, instructions, imported, on_record)
                # the seed pool is an output too: a run trains on seeds + generated
                return {**result, "outputs": {"seeds": str(seeds_path.resolve())}}
            finally:
                for log in logs:
                    log.close()

    def _check_identity(self, run, identity, requests_log):
        previous = run.manifest.get("config")
        if not len(requests_log) or not previous:
            return
        changed = sorted(k for k in set(identity) | set(previous) if previous.get(k) != identity.get(k))
        if changed:
            what = ", ".join(f"{k} {previous.get(k)!r} -> {identity.get(k)!r}" for k in changed)
            raise UsageError(f"{run.path} was generated with other settings ({what}); resume it with the same "
                             f"settings or generate into a new --out")

    def _recover(self, requests_log, instructions, on_record):
        """Append what committed requests accepted but a kill kept from the file."""
        missing = [record for line in requests_log.records for record in line.get("accepted", ())
                   if record["id"] not in instructions]
        if missing:
            instructions.extend(missing)
            for record in missing:
                if on_record:
                    on_record(record)

    # -- import ------------------------------------------------------------------------

    def _import(self, run, seeds, instructions, on_record):
        """``(instructions log, import summary or None)``; imports ``--import`` into an empty run."""
        config = self.config
        if config.import_path is None:
            return instructions, (run.read_json(IMPORT) if (run / IMPORT).exists() else None)
        source = Path(config.import_path)
        digest = sha256_file(source)
        previous = run.read_json(IMPORT) if (run / IMPORT).exists() else None
        generated = []  # what generation added after an import: kept when the import is written again
        if len(instructions):
            if not (previous and previous.get("sha256") == digest and previous.get("dedup") == config.dedup):
                raise UsageError(f"{run / INSTRUCTIONS} already holds {len(instructions)} instructions; import "
                                 f"{source} into a new --out")
            imported = sum(1 for r in instructions.records if "imported_from" in (r.get("provenance") or {}))
            if imported >= previous.get("written", 0):
                return instructions, previous  # already imported (a resumed or repeated command)
            # imported instructions are gone (a damaged file cut back to its intact lines): import again
            generated = [Instruction.from_dict(r) for r in instructions.records
                         if "imported_from" not in (r.get("provenance") or {})]
        items = read_instructions(source)
        kept, rejected = [], Counter()
        novelty = self._novelty([s.instruction for s in seeds]) if config.dedup else None
        for item in items:
            if novelty is not None and not novelty.check_and_add(item.instruction).accepted:
                rejected["too_similar"] += 1
                continue
            provenance = {**item.provenance, "imported_from": str(source)}
            provenance.setdefault("source", "import")
            kept.append(Instruction(id=item.id, instruction=item.instruction, input=item.input, output=item.output,
                                    category=item.category, provenance=provenance))
        summary = {"file": str(source), "sha256": digest, "dedup": config.dedup, "read": len(items),
                   "written": len(kept), "rejected": dict(rejected)}
        # import.json first: a kill before instructions.jsonl exists just imports again.
        run.write_json(IMPORT, summary)
        instructions.close()
        write_instructions(instructions.path, kept + generated)
        instructions = run.jsonl(INSTRUCTIONS, key="id")
        for record in instructions.records[: len(kept)]:
            if on_record:
                on_record(record)
        return instructions, summary

    # -- generation --------------------------------------------------------------------

    def _novelty(self, texts):
        from bioharness.plugins.selfinstruct.novelty import NoveltyFilter

        return NoveltyFilter(self.config.threshold, texts)

    def _generate(self, run, seeds, requests_log, instructions, imported, on_record) -> dict:
        config = self.config
        started = time.monotonic()
        target = config.n if config.n is not None else len(instructions)
        pool = self._novelty([s.instruction for s in seeds] + [r["instruction"] for r in instructions.records])
        pool_ids = [s.id for s in seeds] + [r["id"] for r in instructions.records]
        totals = fold_stats(requests_log.records)
        next_index = totals["next_request_index"]
        stopped, sent, failed_waves = None, 0, 0

        def write_stats():
            stats = {"target": target, "instructions": len(instructions),
                     "imported": (imported or {}).get("written", 0), **fold_stats(requests_log.records),
                     "complete": len(instructions) >= target, "stopped": stopped or "target reached",
                     "model": config.model, "seed": config.seed, "concurrency": config.concurrency,
                     "elapsed_s": round(time.monotonic() - started, 3)}
            if len(instructions) < target and stopped is None:
                stats["stopped"] = "running"
            usage = getattr(getattr(self, "_backend", None), "usage", None)
            if hasattr(usage, "to_dict"):  # the backend's own counters: retries, cost (this invocation)
                stats["backend_usage"] = usage.to_dict()
            run.write_json(STATS, stats)
            return stats

        progress = self._progress(target, len(instructions), totals)
        try:
            while len(instructions) < target:
                if config.max_requests is not None and sent >= config.max_requests:
                    stopped = f"max_requests ({config.max_requests}) reached"
                    break
                size = config.concurrency
                if config.max_requests is not None:
                    size = min(size, config.max_requests - sent)
                plans = [self._plan(seeds, i) for i in range(next_index, next_index + size)]
                predictions = self._generate_wave(plans)
                lines, records = [], []
                remaining = target - len(instructions)
                for plan, prediction in zip(plans, predictions):
                    line = self._apply(plan, prediction, pool, pool_ids, remaining)
                    remaining -= len(line["accepted"])
                    lines.append(line)
                    records.extend(line["accepted"])
                requests_log.extend(lines)  # the commit: from here on the wave is done
                instructions.extend(records)
                for record in records:
                    if on_record:
                        on_record(record)
                next_index += size
                sent += size
                stats = write_stats()
                progress.update(stats)
                failed_waves = failed_waves + 1 if all(line["status"] != "ok" for line in lines) else 0
                if failed_waves >= MAX_FAILED_WAVES:
                    last = next((ln["error"] for ln in reversed(lines) if ln.get("error")), "unknown error")
                    stopped = f"every request failed in {failed_waves} waves in a row (last error: {last})"
                    break
            stats = write_stats()
        finally:
            progress.close()
            if self._owns_backend and self._backend is not None:
                self._backend.close()
                self._backend = None
        result = {key: stats[key] for key in ("target", "instructions", "imported", "requested", "accepted",
                                              "complete", "stopped")}
        result["responses_failed"] = stats["responses"]["failed"]
        if stats["complete"]:
            run.finish(result)
            return result
        if failed_waves >= MAX_FAILED_WAVES:
            raise EndpointFailing(f"selfinstruct: stopped at {stats['instructions']}/{target} instructions: {stopped} "
                                  f"(see {run / STATS}). Run the same command again to continue.", result)
        self._say(f"selfinstruct: stopped at {stats['instructions']}/{target} instructions: {stopped}; "
                  f"{_what_was_kept(stats, run / INSTRUCTIONS)} (see {run / STATS})")
        return result

    def _plan(self, seeds, index) -> Plan:
        config = self.config
        examples = tuple(sample_examples(seeds, config.seed, index))
        system, prompt = build_messages(examples, config.per_request)
        request = Request(id=request_id(index), prompt=prompt, system=system, chat=True,
                          max_new_tokens=config.max_tokens, temperature=config.temperature)
        return Plan(index, examples, request)

    def _generate_wave(self, plans):
        backend = self._get_backend()
        predictions = backend.generate([plan.request for plan in plans])
        by_id = {p.id: p for p in predictions}
        if len(predictions) != len(plans) or any(plan.request.id not in by_id for plan in plans):
            raise RuntimeError(f"the backend answered {len(predictions)} predictions for {len(plans)} requests, "
                               f"or with other ids")
        return [by_id[plan.request.id] for plan in plans]

    def _apply(self, plan, prediction, pool, pool_ids, remaining) -> dict:
        """Parse and filter one answer, adding what is accepted to the pool; its commit record."""
        config = self.config
        line = {"request_index": plan.index, "request_id": plan.request.id,
                "seed_ids": [e.id for e in plan.examples], "status": "ok" if prediction.ok else "failed",
                "error": prediction.error, "finish_reason": prediction.finish_reason,
                "prompt_tokens": prediction.prompt_tokens, "completion_tokens": prediction.completion_tokens,
                "parsed": 0, "malformed": {}, "rejected": {}, "accepted": [], "response": prediction.text}
        if not prediction.ok:
            return line
        parsed = parse_response(prediction.text, truncated=prediction.finish_reason == "length",
                                default_category=config.default_category)
        rejected = Counter()
        for candidate in parsed.candidates:
            if remaining <= 0:
                rejected["target_reached"] += 1
                continue
            reason = quality_reason(candidate.instruction, self.filter_settings)
            if reason is None:
                verdict = pool.check_and_add(candidate.instruction)
                if not verdict.accepted:
                    reason = "too_similar"
            if reason:
                rejected[reason] += 1
                continue
            record_id = instruction_id(plan.index, candidate.position)
            nearest = pool_ids[verdict.nearest] if verdict.nearest is not None else None
            pool_ids.append(record_id)
            record = Instruction(
                id=record_id, instruction=candidate.instruction, input=candidate.input, output=candidate.output,
                category=candidate.category,
                provenance={"source": "selfinstruct", "model": config.model, "request_id": plan.request.id,
                            "request_index": plan.index, "seed_ids": [e.id for e in plan.examples],
                            "nearest_id": nearest, "nearest_score": round(verdict.best_score, 6)},
            )
            line["accepted"].append(record.to_dict())
            remaining -= 1
        line["parsed"] = len(parsed.candidates)
        line["malformed"] = dict(sorted(parsed.malformed.items()))
        line["rejected"] = dict(sorted(rejected.items()))
        return line

    # -- collaborators -----------------------------------------------------------------

    def _get_backend(self):
        if self._backend is None:
            config = self.config
            options = dict(config.model_args)
            if config.model.startswith("openai:"):  # the endpoint's options; local engines batch instead
                options.update(base_url=config.base_url, concurrency=config.concurrency)
            else:
                options.setdefault("batch_size", config.concurrency)
            self._backend = get_backend(config.model, **options)
        return self._backend

    def _get_console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return self._console

    def _say(self, text):
        """One line, unwrapped, in yellow; the text is not markup (paths may hold brackets)."""
        self._get_console().print(text, style="yellow", highlight=False, markup=False, soft_wrap=True)

    def _progress(self, target, done, totals):
        if not self._show_progress:
            return _NoProgress()
        return _ProgressBar(self._get_console(), target, done, totals)


def _what_was_kept(stats, path) -> str:
    """What the answers gave, and what of it was kept: the teacher's output in one phrase."""
    def by_reason(counts):
        return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    answers, empty = stats["responses"]["ok"], stats["responses"]["without_candidates"]
    parts = [f"{answers} answer(s) gave {stats['parsed']} well-formed candidate(s)"
             + (f" ({empty} answer(s) held none)" if empty else "")]
    if stats["malformed"]:
        parts.append(f"{sum(stats['malformed'].values())} malformed block(s) dropped ({by_reason(stats['malformed'])})")
    if stats["rejected"]:
        parts.append(f"{sum(stats['rejected'].values())} rejected ({by_reason(stats['rejected'])})")
    if stats["responses"]["failed"]:
        parts.append(f"{stats['responses']['failed']} request(s) failed")
    return "; ".join(parts) + f"; {stats['instructions']} instruction(s) kept in {path}"


class _NoProgress:
    def update(self, stats):
        pass

    def close(self):
        pass


class _ProgressBar:
    """accepted / target, with the rejected, malformed and failed counts beside it."""

    def __init__(self, console, target, done, totals):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("generate"), BarColumn(), MofNCompleteColumn(), TextColumn("accepted"),
                             TextColumn("[red]{task.fields[rejected]} rejected[/red]"),
                             TextColumn("{task.fields[malformed]} malformed"),
                             TextColumn("{task.fields[failed]} failed requests"), TimeElapsedColumn(),
                             console=console)
        self._task = self._bar.add_task("generate", total=target, completed=done, **self._fields(totals))
        self._bar.start()

    @staticmethod
    def _fields(stats):
        return {"rejected": sum(stats["rejected"].values()), "malformed": sum(stats["malformed"].values()),
                "failed": stats["responses"]["failed"]}

    def update(self, stats):
        self._bar.update(self._task, completed=stats["instructions"], **self._fields(stats))

    def close(self):
        self._bar.stop()
