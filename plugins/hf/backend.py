"""transformers inference: batched generation and log-likelihood scoring."""
import os
import sys
import time
from collections import defaultdict

import torch

from bioharness import Loglikelihood, Prediction, UsageError, bool_option, resolve_model
from bioharness.plugins.hf.adapters import check_adapter
from bioharness.plugins.hf.attention import use_cpu_gqa
from bioharness.plugins.hf.tokens import encode_pair, encode_prompt, has_chat_template, render_prompt


def resolve_dtype(name, device):
    """The torch dtype for a dtype name that :func:`bioharness.resolve_model` normalised."""
    if name == "auto":
        # bf16 where the GPU supports it, float32 on CPU (half precision is slow there)
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def resolve_device(name):
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"device {name!r} is not a torch device (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name!r} asked for, but CUDA is not available on this machine")
    return device


def load_adapter(model, adapter_dir):
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter_dir)


def _as_bool(name, value):
    return bool_option("hf backend", name, value)


def _cpu_times(cpus):
    """(busy, total) jiffies summed over ``cpus`` from /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    busy = total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user already)
        fields = [int(x) for x in rest.split()[:8]]
        total += sum(fields)
        busy += sum(fields) - fields[3] - fields[4]
    return busy, total


def busy_cpus(cpus, interval=0.25):
    """How many of ``cpus`` (CPU numbers) other processes keep busy right now: /proc/stat
    sampled over ``interval`` seconds, less what this process itself ran meanwhile. None
    where /proc/stat cannot be read."""
    before, own_before = _cpu_times(cpus), os.times()
    if before is None:
        return None
    time.sleep(interval)
    after, own_after = _cpu_times(cpus), os.times()
    if after is None or after[1] <= before[1]:
        return None
    share = (after[0] - before[0]) / (after[1] - before[1])  # of the CPUs' time, busy
    own = (own_after.user - own_before.user + own_after.system - own_before.system) / interval
    return max(0.0, share * len(cpus) - own)


def auto_threads() -> tuple[int, str]:
    """CPU threads for torch when the user chose none: the CPUs this process may use that
    other processes are not keeping busy at this moment, at least one. OpenMP threads that
    share a core with other work wait on each other at every operation: on a shared two-core
    machine one thread was up to 4x faster than two. The moment, not the load average: the
    1-minute average counts the work bioharness itself has just done (training before the
    eval stage of `bioharness run`, the previous task), and so halved its own threads."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    busy = busy_cpus(set(cpus))
    if busy is None:  # no /proc (macOS, Windows): torch's own default, one thread per core
        return max(1, torch.get_num_threads()), f"auto: {len(cpus)} CPUs, torch's default"
    free = max(1, min(len(cpus), int(len(cpus) - busy + 0.5)))
    return free, f"auto: {len(cpus)} CPUs, {busy:.1f} busy with other processes"


def set_cpu_threads(threads=None) -> str:
    """Set torch's CPU thread count unless the user already did; returns where it came from.

    The ``threads`` option wins; then OMP_NUM_THREADS / MKL_NUM_THREADS (which torch reads
    itself); otherwise :func:`auto_threads` decides, and one line on stderr says so."""
    if threads is not None:
        try:
            n = int(threads)
        except (TypeError, ValueError):
            raise UsageError(f"hf backend: threads must be an integer, got {threads!r}") from None
        if n < 1:
            raise UsageError(f"hf backend: threads must be >= 1, got {n}")
        torch.set_num_threads(n)
        return "option"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return var
    n, why = auto_threads()
    torch.set_num_threads(n)
    print(f"hf backend: {n} CPU thread{'s' if n != 1 else ''} ({why}; set OMP_NUM_THREADS or "
          "--model-args threads=N to choose)", file=sys.stderr)
    return why


class _StopOnStrings:
    """Per-row stopping criterion: a row is done once its new text contains a stop string.

    Only the last few tokens are decoded each step (a stop string can only newly appear
    at the end), so the cost per step does not grow with the generated length.
    """

    def __init__(self, tokenizer, stops_per_row, prompt_len):
        self.tokenizer = tokenizer
        self.stops = stops_per_row
        self.prompt_len = prompt_len
        longest = max((len(s) for stops in stops_per_row for s in stops), default=0)
        self.window = longest + 8

    def __call__(self, input_ids, scores, **kwargs):
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for row, stops in enumerate(self.stops):
            if stops:
                done[row] = self.row_done(row, input_ids[row, self.prompt_len :].tolist())
        return done

    def row_done(self, row, new_tokens) -> bool:
        """Whether ``new_tokens`` (what row ``row`` generated so far) ends in a stop string."""
        stops = self.stops[row]
        if not stops:
            return False
        text = self.tokenizer.decode(new_tokens[-self.window :], skip_special_tokens=True)
        return any(s in text for s in stops)


def truncate_at_stop(text, stops):
    """Cut ``text`` at the earliest stop string; returns (text, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class HFBackend:
    """A transformers model (plus optional PEFT adapter) answering bioharness requests."""

    OPTIONS = ("dtype", "device", "batch_size", "batch_tokens", "max_length", "trust_remote_code", "share_context",
               "fast", "threads")
    #: On CPU a batch is cut where padding would exceed this share of its real tokens.
    PAD_SLACK = 0.1

    def __init__(self, model, tokenizer, *, spec=None, batch_size=8, max_length=None, share_context=True,
                 fast=True, batch_tokens=None):
        self.model = model.eval()
        base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model
        use_cpu_gqa(base)
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        config_len = getattr(model.config, "max_position_embeddings", None) or 2048
        self.max_length = int(max_length or config_len)
        self.share_context = _as_bool("share_context", share_context)
        # fast=False keeps the reference path (every logit computed, a second pass over a
        # copied cache, batches by count): the tests hold the fast path to it.
        self.fast = _as_bool("fast", fast)
        try:
            self.batch_tokens = int(batch_tokens) if batch_tokens else self.batch_size * 1024
        except (TypeError, ValueError):
            raise UsageError(f"batch_tokens must be an integer, got {batch_tokens!r}") from None
        if self.batch_tokens < 1:
            raise UsageError(f"batch_tokens must be >= 1, got {batch_tokens}")
        self.device = next(model.parameters()).device
        self.has_chat_template = has_chat_template(tokenizer)
        gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        eos = gen_eos if gen_eos is not None else tokenizer.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        self.info = {
            "backend": "hf",
            "spec": str(spec) if spec else None,
            "model": getattr(model.config, "_name_or_path", None),
            "adapter": spec.adapter if spec else None,
            "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
            "device": str(self.device),
            "attention": getattr(base.config, "_attn_implementation", None),
            "fast": self.fast,
        }
        if self.device.type == "cpu":
            self.info["threads"] = torch.get_num_threads()

    @classmethod
    def from_spec(cls, spec, *, dtype="auto", device=None, batch_size=8, max_length=None,
                  trust_remote_code=False, share_context=True, fast=True, batch_tokens=None, threads=None,
                  **unknown):
        if unknown:
            raise UsageError(
                f"hf backend: unknown option(s) {', '.join(sorted(unknown))} (known: {', '.join(cls.OPTIONS)})"
            )
        from transformers import AutoModelForCausalLM, AutoTokenizer

        resolved = resolve_model(spec, dtype=dtype)
        dev = resolve_device(device)
        if dev.type == "cpu":
            threads_note = set_cpu_threads(threads)
        torch_dtype = resolve_dtype(resolved.dtype, dev)
        path = resolved.path
        if resolved.adapter:  # before the model loads: a bad adapter is one line now, not a peft traceback later
            check_adapter(resolved.adapter, base=path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"hf backend: could not load model {path!r}: {first}") from None
        if resolved.adapter:
            model = load_adapter(model, resolved.adapter)
        backend = cls(model.to(dev), tokenizer, spec=spec, batch_size=batch_size, max_length=max_length,
                      share_context=share_context, fast=fast, batch_tokens=batch_tokens)
        if dev.type == "cpu":
            backend.info["threads_from"] = threads_note
        return backend

    def close(self):
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- prompts ---------------------------------------------------------------------

    def render(self, request) -> str:
        """The exact text fed to the model for ``request`` (chat template applied if any)."""
        return render_prompt(self.tokenizer, request)

    def _encode_prompt(self, request):
        return encode_prompt(self.tokenizer, request, self.max_length)

    # -- generation ------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, requests, progress=None):
        results = [None] * len(requests)
        encoded = [self._encode_prompt(r) for r in requests]
        groups = defaultdict(list)
        for i, r in enumerate(requests):
            groups[(r.max_new_tokens, r.temperature, r.top_p, r.seed)].append(i)
        for (max_new, temperature, top_p, seed), idxs in groups.items():
            # Longest first: similar lengths share a batch (little padding), and an
            # out-of-memory error shows up on the first batch rather than the last.
            idxs.sort(key=lambda i: len(encoded[i]), reverse=True)
            for start in range(0, len(idxs), self.batch_size):
                batch = idxs[start:start + self.batch_size]
                seqs, reqs = [encoded[i] for i in batch], [requests[i] for i in batch]
                if self.fast and not (temperature and temperature > 0):
                    outs = self._greedy_batch(seqs, reqs, max_new)
                else:
                    outs = self._generate_batch(seqs, reqs, max_new, temperature, top_p, seed)
                for i, pred in zip(batch, outs):
                    results[i] = pred
                if progress:
                    progress(len(batch))
        return results

    def _left_pad(self, seqs):
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            if s:
                ids[row, width - len(s) :] = torch.tensor(s, dtype=torch.long)
                mask[row, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _generate_batch(self, seqs, reqs, max_new, temperature, top_p, seed):
        from transformers import StoppingCriteriaList

        ids, mask = self._left_pad(seqs)
        stops = [list(r.stop) for r in reqs]
        kwargs = dict(max_new_tokens=max_new, pad_token_id=self.tokenizer.pad_token_id,
                      eos_token_id=self.eos_ids or None)
        if temperature and temperature > 0:
            kwargs.update(do_sample=True, temperature=float(temperature), top_p=float(top_p), top_k=0)
            if seed is not None:
                torch.manual_seed(seed)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if any(stops):
            kwargs["stopping_criteria"] = StoppingCriteriaList([_StopOnStrings(self.tokenizer, stops, ids.shape[1])])
        out = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        return self._predictions(seqs, reqs, out[:, ids.shape[1] :].tolist(), max_new)

    def _predictions(self, seqs, reqs, new, max_new):
        preds = []
        for row, r in enumerate(reqs):
            tokens = new[row]
            ended = False
            for k, tok in enumerate(tokens):
                if tok in self.eos_ids:
                    tokens, ended = tokens[:k], True
                    break
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            text, stopped = truncate_at_stop(text, r.stop)
            reason = "stop" if (ended or stopped) else ("length" if len(tokens) >= max_new else "stop")
            preds.append(Prediction(id=r.id, text=text, finish_reason=reason,
                                    prompt_tokens=len(seqs[row]), completion_tokens=len(tokens)))
        return preds

    def _greedy_batch(self, seqs, reqs, max_new):
        """Greedy decoding written out: vocabulary logits at the last position only, and a
        row that is done (end of sequence, stop string, its length) leaves the batch at
        once instead of being carried, padded, until the slowest row ends. Same tokens as
        ``model.generate`` on the same batch (the reference path)."""
        ids, mask = self._left_pad(seqs)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        stop_check = _StopOnStrings(self.tokenizer, [list(r.stop) for r in reqs], 0)
        new = [[] for _ in seqs]
        rows = list(range(len(seqs)))  # the request each batch row belongs to
        eos = set(self.eos_ids)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1)
        cache, pos = out.past_key_values, positions[:, -1:]
        nxt = out.logits[:, -1].argmax(-1)
        while True:
            keep = []
            for b, tok in enumerate(nxt.tolist()):
                r = rows[b]
                new[r].append(tok)
                if tok in eos or len(new[r]) >= max_new or stop_check.row_done(r, new[r]):
                    continue
                keep.append(b)
            if not keep:
                break
            if len(keep) < len(rows):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, nxt, pos = mask[index], nxt[index], pos[index]
                rows = [rows[b] for b in keep]
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            pos = pos + 1
            out = self.model(input_ids=nxt.unsqueeze(1), attention_mask=mask, position_ids=pos,
                             past_key_values=cache, use_cache=True, logits_to_keep=1)
            nxt = out.logits[:, -1].argmax(-1)
        return self._predictions(seqs, reqs, new, max_new)

    # -- log-likelihood --------------------------------------------------------------

    def _encode_pair(self, context, continuation):
        return encode_pair(self.tokenizer, context, continuation, self.max_length)

    @torch.inference_mode()
    def loglikelihood(self, requests, progress=None):
        pairs = self._encode_pairs(requests)
        by_context = defaultdict(list)
        for i, (ctx, _) in enumerate(pairs):
            by_context[tuple(ctx)].append(i)
        contexts = sorted(by_context, key=len, reverse=True)
        results = [None] * len(requests)
        if self.fast and self.share_context:
            groups = self._token_budget_batches([len(c) for c in contexts])
        else:
            groups = [range(s, min(s + self.batch_size, len(contexts))) for s in range(0, len(contexts), self.batch_size)]
        # A batch holds contexts of similar length; each context is run once, then all of
        # its continuations are scored from the cached keys/values.
        for rows in groups:
            group = [contexts[k] for k in rows]
            idxs = [i for ctx in group for i in by_context[ctx]]
            if not self.share_context:
                scored = self._score_full([pairs[i] for i in idxs])
            elif self.fast:
                scored = self._score_fast(group, [[pairs[i][1] for i in by_context[c]] for c in group])
            else:
                scored = self._score_shared(group, [[pairs[i][1] for i in by_context[c]] for c in group])
            for i, (logprob, greedy) in zip(idxs, scored):
                results[i] = Loglikelihood(id=requests[i].id, logprob=logprob,
                                           num_tokens=len(pairs[i][1]), is_greedy=greedy)
            if progress:
                progress(len(idxs))
        return results

    def _encode_pairs(self, requests):
        """Token ids of every (context, continuation); the reference path encodes each
        pair on its own, the fast path encodes each distinct text once."""
        if not self.fast:
            return [self._encode_pair(r.context, r.continuation) for r in requests]
        memo = {}
        tokenizer = self.tokenizer

        class _Memo:  # the tokenizer, with each distinct text encoded once
            bos_token_id = tokenizer.bos_token_id
            eos_token_id = tokenizer.eos_token_id

            def __call__(self, text, add_special_tokens=True):
                key = (text, add_special_tokens)
                if key not in memo:
                    memo[key] = tokenizer(text, add_special_tokens=add_special_tokens)
                return memo[key]

        cached = _Memo()
        return [encode_pair(cached, r.context, r.continuation, self.max_length) for r in requests]

    def _token_budget_batches(self, lengths):
        """Consecutive runs of ``lengths`` (sorted longest first) forming one batch each: at
        most ``batch_size`` rows and ``batch_tokens`` padded tokens, and on CPU, where a
        padded position costs as much as a real one, at most ``PAD_SLACK`` of padding."""
        batches, start = [], 0
        while start < len(lengths):
            width, real, end = lengths[start], lengths[start], start + 1
            while end < len(lengths) and end - start < self.batch_size:
                rows = end - start + 1
                if rows * width > self.batch_tokens and rows > 1:
                    break
                if self.device.type == "cpu" and rows * width > (real + lengths[end]) * (1 + self.PAD_SLACK):
                    break
                real += lengths[end]
                end += 1
            batches.append(range(start, end))
            start = end
        return batches

    @staticmethod
    def _sum_logprobs(logits, targets):
        """logits [n, V] predicting targets [n] -> (summed log-prob, all greedy)."""
        logp = torch.log_softmax(logits.float(), dim=-1)
        picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return float(picked.sum()), bool((logp.argmax(-1) == targets).all())

    def _score_shared(self, contexts, conts_per_context):
        ids, mask = self._left_pad([list(c) for c in contexts])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        last_logits = out.logits[:, -1, :]
        owner = [g for g, conts in enumerate(conts_per_context) for _ in conts]
        conts = [c for conts in conts_per_context for c in conts]
        cache = out.past_key_values
        index = torch.tensor(owner, device=self.device)
        cache.reorder_cache(index)
        width = max(len(c) for c in conts)
        cont_ids = torch.full((len(conts), width), self.tokenizer.pad_token_id, dtype=torch.long, device=self.device)
        cont_mask = torch.zeros((len(conts), width), dtype=torch.long, device=self.device)
        for row, c in enumerate(conts):
            cont_ids[row, : len(c)] = torch.tensor(c, device=self.device)
            cont_mask[row, : len(c)] = 1
        full_mask = torch.cat([mask[index], cont_mask], dim=1)
        start = mask[index].sum(-1, keepdim=True)
        cont_pos = start + torch.arange(width, device=self.device).unsqueeze(0)
        out2 = self.model(input_ids=cont_ids, attention_mask=full_mask, position_ids=cont_pos,
                          past_key_values=cache, use_cache=True)
        scored = []
        for row, c in enumerate(conts):
            logits = torch.cat([last_logits[owner[row]].unsqueeze(0), out2.logits[row, : len(c) - 1]], dim=0)
            scored.append(self._sum_logprobs(logits, cont_ids[row, : len(c)]))
        return scored

    def _score_fast(self, contexts, conts_per_context):
        """The shared-context scoring without the work nobody reads: the context pass
        computes vocabulary logits at its last position only; when every continuation is
        one token (MCQA letters, yes/no/maybe) that is all there is to score, and no second
        pass runs; otherwise the cache is copied only where a context has several
        continuations."""
        ids, mask = self._left_pad([list(c) for c in contexts])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        single = all(len(c) == 1 for conts in conts_per_context for c in conts)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=not single,
                         logits_to_keep=1)
        last_logp = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
        if single:
            best = last_logp.argmax(-1).tolist()
            scored = []
            for g, conts in enumerate(conts_per_context):
                picked = last_logp[g, [c[0] for c in conts]].tolist()
                scored.extend((lp, c[0] == best[g]) for lp, c in zip(picked, conts))
            return scored
        owner = [g for g, conts in enumerate(conts_per_context) for _ in conts]
        conts = [c for conts in conts_per_context for c in conts]
        cache = out.past_key_values
        index = torch.tensor(owner, device=self.device)
        if owner != list(range(len(contexts))):
            cache.reorder_cache(index)
        width = max(len(c) for c in conts)
        cont_ids = torch.full((len(conts), width), self.tokenizer.pad_token_id, dtype=torch.long, device=self.device)
        cont_mask = torch.zeros((len(conts), width), dtype=torch.long, device=self.device)
        for row, c in enumerate(conts):
            cont_ids[row, : len(c)] = torch.tensor(c, device=self.device)
            cont_mask[row, : len(c)] = 1
        full_mask = torch.cat([mask[index], cont_mask], dim=1)
        start = mask[index].sum(-1, keepdim=True)
        cont_pos = start + torch.arange(width, device=self.device).unsqueeze(0)
        # The last continuation position predicts nothing that is scored.
        out2 = self.model(input_ids=cont_ids[:, : width - 1], attention_mask=full_mask[:, :-1],
                          position_ids=cont_pos[:, : width - 1], past_key_values=cache, use_cache=False) \
            if width > 1 else None
        scored = []
        for row, c in enumerate(conts):
            target = cont_ids[row, : len(c)]
            first = last_logp[owner[row]]
            lp, greedy = float(first[c[0]]), bool(first.argmax() == c[0])
            if len(c) > 1:
                more, more_greedy = self._sum_logprobs(out2.logits[row, : len(c) - 1], target[1:])
                lp, greedy = lp + more, greedy and more_greedy
            scored.append((lp, greedy))
        return scored

    def _score_full(self, pairs):
        """Reference path: every (context, continuation) run whole, right-padded."""
        seqs = [ctx + cont for ctx, cont in pairs]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.tokenizer.pad_token_id, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(ids)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.tensor(s, device=self.device)
            mask[row, : len(s)] = 1
        logits = self.model(input_ids=ids, attention_mask=mask).logits
        scored = []
        for row, (ctx, cont) in enumerate(pairs):
            n = len(ctx)
            scored.append(self._sum_logprobs(logits[row, n - 1 : n - 1 + len(cont)], ids[row, n : n + len(cont)]))
        return scored
