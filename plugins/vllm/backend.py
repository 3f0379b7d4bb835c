"""vLLM inference: batched generation and log-likelihoods from prompt log-probs.

Prompts are tokenised here with the model's Hugging Face tokenizer, by the same functions
the hf backend uses (:mod:`bioharness.plugins.hf.tokens`), and handed to vLLM as token ids: both
engines then see identical inputs, which is what makes their outputs comparable.
"""
import json
from pathlib import Path

from bioharness import Loglikelihood, Prediction, UsageError, resolve_model
from bioharness.plugins.hf.tokens import encode_pair, encode_prompt, has_chat_template, render_prompt
from bioharness.plugins.vllm import engine as engines


def read_adapter(adapter_dir) -> tuple[int, tuple]:
    """(LoRA rank, module names it targets) from a PEFT adapter directory (checked by
    :func:`bioharness.resolve_model`)."""
    config = Path(adapter_dir) / "adapter_config.json"
    try:
        data = json.loads(config.read_text())
        rank = max([int(data["r"]), *[int(r) for r in (data.get("rank_pattern") or {}).values()]])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{config}: cannot read the LoRA rank 'r' ({type(exc).__name__}: {exc})") from None
    targets = data.get("target_modules")
    # A regex or "all-linear" names no modules; peft's all-linear leaves the output layer out.
    names = set(targets) if isinstance(targets, list) else set()
    touched = sorted((names | set(data.get("modules_to_save") or ())) & set(engines.OUTPUT_MODULES))
    if touched:
        raise UsageError(f"adapter {adapter_dir!r} trains {', '.join(touched)}: the vllm backend serves adapters of "
                         "the decoder layers only (vLLM's prompt log-probs are wrong or crash with an adapted "
                         "output layer); use the hf backend for this adapter")
    return rank, tuple(sorted(names))


_adapter_ids: dict[str, int] = {}


def lora_request(adapter_dir):
    """One LoRARequest per adapter directory for the life of the process (vLLM caches
    loaded adapters by their integer id)."""
    from vllm.lora.request import LoRARequest

    path = str(Path(adapter_dir).expanduser().resolve())
    lora_id = _adapter_ids.setdefault(path, len(_adapter_ids) + 1)
    return LoRARequest(lora_name=f"{Path(path).name}-{lora_id}", lora_int_id=lora_id, lora_path=path)


class VLLMBackend:
    """A model (plus optional LoRA adapter) served by the process's vLLM engine."""

    OPTIONS = ("dtype", "device", "batch_size", "tensor_parallel_size", "pipeline_parallel_size",
               "data_parallel_size", "gpu_memory_utilization", "kv_cache_memory_bytes", "max_model_len",
               "enforce_eager", "seed", "trust_remote_code", "max_lora_rank", "prefix_caching", "fast")

    def __init__(self, engine, tokenizer, *, spec=None, lora=None, fast=True):
        self._engine = engine
        # fast=False keeps the reference path: every (context, continuation) scored from
        # prompt log-probs of the whole sequence. The tests hold the fast path to it.
        self.fast = engines._as_bool("fast", fast)
        self.tokenizer = tokenizer
        self.lora = lora
        self.has_chat_template = has_chat_template(tokenizer)
        self.max_length = engine.max_model_len
        config = dict(engine.config.options)
        # Examples per engine call (and per write: the granularity of resume): vLLM batches
        # them itself, and calls of the loop's default 16 decoded each call's tail alone (20
        # MeQSum prompts took 1.08x one call of raw vLLM). Four full batches (batch_size is
        # max_num_seqs) keep the engine full; 256 without a batch size.
        self.chunk_size = 4 * int(config["max_num_seqs"]) if config.get("max_num_seqs") else 256
        self.info = {
            "backend": "vllm",
            "spec": str(spec) if spec else None,
            "model": engine.config.model,
            "adapter": lora.lora_path if lora else None,
            "dtype": engine.dtype,
            "device": engines.platform_device_type(),
            "max_model_len": self.max_length,
            "tensor_parallel_size": config.get("tensor_parallel_size", 1),
            "pipeline_parallel_size": config.get("pipeline_parallel_size", 1),
            "data_parallel_size": config.get("data_parallel_size", 1),
            "fast": self.fast,
        }

    @classmethod
    def from_spec(cls, spec, *, max_lora_rank=None, fast=True, **options):
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise UsageError(
                f"vllm backend: unknown option(s) {', '.join(unknown)} (known: {', '.join(cls.OPTIONS)})"
            )
        llm_options = engines.normalise_options(options, engines.platform_device_type())
        resolved = resolve_model(spec, dtype=options.get("dtype"))
        path = resolved.path
        needed, targets = read_adapter(resolved.adapter) if resolved.adapter else (None, ())
        rank = None
        if max_lora_rank is not None:
            try:
                wanted = int(max_lora_rank)
            except (TypeError, ValueError):
                raise UsageError(f"vllm backend: max_lora_rank must be an integer, got {max_lora_rank!r}") from None
            if wanted < 1:
                raise UsageError(f"vllm backend: max_lora_rank must be >= 1, got {wanted}")
            rank = engines.lora_rank_for(wanted)
            if needed and needed > rank:
                raise UsageError(f"vllm backend: adapter {spec.adapter!r} has rank {needed} "
                                 f"> max_lora_rank {max_lora_rank}")
        elif needed:
            rank = engines.lora_rank_for(needed)
        # The tokenizer is loaded first: a bad path fails in a second, not after the engine starts.
        tokenizer = _load_tokenizer(path, llm_options.get("trust_remote_code", False))
        targets = tuple(sorted(set(targets) | set(engines.DECODER_PROJECTIONS))) if rank else ()
        config = engines.EngineConfig(path, tuple(sorted(llm_options.items())), rank, targets)
        engine = engines.acquire(config)
        try:
            lora = lora_request(resolved.adapter) if resolved.adapter else None
            return cls(engine, tokenizer, spec=spec, lora=lora, fast=fast)
        except BaseException:
            engines.release(engine)
            raise

    def __repr__(self):
        return f"VLLMBackend({self.info['spec'] or self.info['model']!r})"

    @property
    def engine(self):
        if self._engine is None or self._engine.closed:
            raise UsageError("vllm backend: used after close()")
        return self._engine

    def close(self):
        engine, self._engine = self._engine, None
        if engine is not None:
            engines.release(engine)

    # -- prompts ---------------------------------------------------------------------

    def render(self, request) -> str:
        """The exact text fed to the model for ``request`` (chat template applied if any)."""
        return render_prompt(self.tokenizer, request)

    # -- generation ------------------------------------------------------------------

    def _sampling_params(self, request):
        from vllm import SamplingParams

        sampling = bool(request.temperature and request.temperature > 0)
        return SamplingParams(
            n=1,
            max_tokens=int(request.max_new_tokens),
            temperature=float(request.temperature) if sampling else 0.0,
            top_p=float(request.top_p) if sampling else 1.0,
            seed=request.seed if sampling else None,
            stop=list(request.stop) or None,
            skip_special_tokens=True,
        )

    def generate(self, requests, progress=None):
        if not requests:
            return []
        prompt_ids = [encode_prompt(self.tokenizer, r, self.max_length) for r in requests]
        params = [self._sampling_params(r) for r in requests]
        outputs = self.engine.run(prompt_ids, params, self.lora, progress)
        preds = []
        for request, ids, out in zip(requests, prompt_ids, outputs):
            completion = out.outputs[0]
            reason = "length" if completion.finish_reason == "length" else "stop"
            count = len(completion.token_ids)
            if reason == "stop" and completion.stop_reason is None and count:
                count -= 1  # the end-of-sequence token is not part of the answer (as in the hf backend)
            preds.append(Prediction(id=request.id, text=completion.text, finish_reason=reason,
                                    prompt_tokens=len(ids), completion_tokens=count))
        return preds

    # -- log-likelihood --------------------------------------------------------------

    def loglikelihood(self, requests, progress=None):
        if not requests:
            return []
        # One generated token is the least vLLM runs; the prompt must leave room for it.
        pairs = [encode_pair(self.tokenizer, r.context, r.continuation, self.max_length - 2) for r in requests]
        scores = [None] * len(requests)
        whole = list(range(len(requests)))
        if self.fast:
            whole = self._score_next_token(pairs, scores, progress)
        if whole:
            for i, score in zip(whole, self._score_prompts([pairs[i] for i in whole], progress)):
                scores[i] = score
        return [Loglikelihood(id=r.id, logprob=lp, num_tokens=len(pairs[i][1]), is_greedy=greedy)
                for i, (r, (lp, greedy)) in enumerate(zip(requests, scores))]

    def _score_next_token(self, pairs, scores, progress):
        """Fast path: contexts whose continuations are all one token are run once each, and
        the log-probs of exactly those tokens read at the next position (``logprob_token_ids``):
        no prompt log-probs, so the engine's prefix cache serves shared prefixes. Fills
        ``scores``; returns the indices left for :meth:`_score_prompts`."""
        from vllm import SamplingParams
        from vllm.sampling_params import MAX_LOGPROB_TOKEN_IDS

        by_context = {}
        for i, (ctx, _) in enumerate(pairs):
            by_context.setdefault(tuple(ctx), []).append(i)
        single = {ctx: idxs for ctx, idxs in by_context.items()
                  if all(len(pairs[i][1]) == 1 for i in idxs)
                  and len({pairs[i][1][0] for i in idxs}) <= MAX_LOGPROB_TOKEN_IDS}
        if single:
            contexts = list(single)
            wanted = [sorted({pairs[i][1][0] for i in single[ctx]}) for ctx in contexts]
            params = [SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=ids, detokenize=False)
                      for ids in wanted]
            counted = None
            if progress:
                sizes = [len(single[ctx]) for ctx in contexts]
                done = iter(sizes)  # each finished context counts as its requests (the total is exact)

                def counted(n, it=done):
                    progress(sum(next(it, 0) for _ in range(n)))
            outputs = self.engine.run([list(ctx) for ctx in contexts], params, self.lora, counted)
            for ctx, out in zip(contexts, outputs):
                completion = out.outputs[0]
                top = completion.logprobs[0]
                chosen = completion.token_ids[0]
                for i in single[ctx]:
                    token = pairs[i][1][0]
                    scores[i] = (float(top[token].logprob), token == chosen)
        return [i for ctx, idxs in by_context.items() if ctx not in single for i in idxs]

    def _score_prompts(self, pairs, progress):
        """(log-prob, greedy) of each pair from the prompt log-probs of context + continuation."""
        from vllm import SamplingParams

        unique = {}
        for ctx, cont in pairs:
            unique.setdefault(tuple(ctx + cont), len(unique))
        sequences = [list(seq) for seq in unique]
        # prompt_logprobs=0: the log-prob and rank of each prompt token, nothing else.
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        outputs = self.engine.run(sequences, [params] * len(sequences), self.lora, progress)
        if progress and len(sequences) < len(pairs):  # identical requests were scored once
            progress(len(pairs) - len(sequences))
        results = []
        for ctx, cont in pairs:
            scored = outputs[unique[tuple(ctx + cont)]].prompt_logprobs
            total, greedy = 0.0, True
            for position in range(len(ctx), len(ctx) + len(cont)):
                entry = scored[position][cont[position - len(ctx)]]
                total += float(entry.logprob)
                greedy = greedy and entry.rank == 1
            results.append((total, greedy))
        return results


def _load_tokenizer(path, trust_remote_code):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"vllm backend: could not load the tokenizer of {path!r}: {first}") from None
