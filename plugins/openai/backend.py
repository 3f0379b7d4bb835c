"""An OpenAI-compatible HTTP endpoint as a backend.

Requests run concurrently (asyncio, at most ``concurrency`` in flight). Each is retried on
transient failures (see :mod:`.retry`) and, when it cannot succeed, answered with an error
record naming the reason: one bad request never costs the rest of a batch.

An endpoint that accepts requests and never answers would cost ``max_retries + 1`` timeouts
per request. A circuit breaker stops that: after ``breaker_timeouts`` timeouts in a row
(across all requests, retries included) with no request answered in between, it opens for
the rest of this backend's life: what is in flight is given up, and every request not yet
answered fails at once with one reason naming the endpoint (the same command retries them).
When nothing answers, a call therefore ends after about ``breaker_timeouts`` timeouts (one
when ``concurrency`` is at least that many), each ``timeout`` seconds plus the backoff.

The API key is read from ``OPENAI_API_KEY`` and nowhere else. It is never an option and
never part of ``info``, a repr or an error reason (an endpoint's error message that
quotes it is masked); it lives only in the client's authorization header.
"""
import asyncio
import dataclasses
import os
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from bioharness import Loglikelihood, Prediction, UsageError, split_trailing_space
from bioharness.plugins.openai.retry import Backoff, BadResponse, Failure, classify
from bioharness.plugins.openai.usage import Usage, list_price

ENV_KEY = "OPENAI_API_KEY"
ENV_BASE_URL = "OPENAI_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Sent when the endpoint needs no key (a local ``vllm serve``); the client insists on one.
NO_KEY = "no-key"
MASK = "***"

FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "stop", "function_call": "stop"}


class NotSupported(Exception):
    """The endpoint cannot do what was asked (no prompt log-probs)."""


class _BreakerOpen(Exception):
    """The breaker opened while an attempt was in flight: it was given up."""


def _public_url(url):
    """``url`` without any user:password part."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


class OpenAIBackend:
    """A model behind an OpenAI-compatible API."""

    OPTIONS = ("base_url", "concurrency", "batch_size", "timeout", "max_retries", "max_retry_time", "backoff_base",
               "backoff_max", "input_price", "output_price", "breaker_timeouts")

    def __init__(self, model, *, base_url=None, concurrency=8, timeout=60.0, max_retries=6, max_retry_time=600.0,
                 backoff_base=1.0, backoff_max=60.0, input_price=None, output_price=None, breaker_timeouts=3,
                 spec=None):
        self.model = model
        self.base_url = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
        key = os.environ.get(ENV_KEY) or None
        if key is None and urlsplit(self.base_url).hostname == urlsplit(DEFAULT_BASE_URL).hostname:
            raise UsageError(f"openai backend: set {ENV_KEY} to call {self.base_url} "
                             "(the key is read from the environment only)")
        self._key = key or NO_KEY
        self.concurrency = _positive_int("concurrency", concurrency)
        self.timeout = _positive_float("timeout", timeout)
        self.max_retries = _positive_int("max_retries", max_retries, minimum=0)
        self.max_retry_time = _positive_float("max_retry_time", max_retry_time, minimum=0.0)
        self.backoff = Backoff(_positive_float("backoff_base", backoff_base, minimum=0.0),
                               _positive_float("backoff_max", backoff_max, minimum=0.0))
        self.breaker_timeouts = _positive_int("breaker_timeouts", breaker_timeouts)
        self._timeouts_in_row = 0
        self._breaker = None  # once open: the reason every request not yet answered fails with
        self._open = None  # an asyncio.Event of the running call, set when the breaker opens
        listed = list_price(model)
        if input_price is None and output_price is None and listed:
            input_price, output_price = listed
        if (input_price is None) != (output_price is None):
            raise UsageError("openai backend: give both input_price and output_price (USD per million tokens)")
        self.usage = Usage(None if input_price is None else _positive_float("input_price", input_price, minimum=0.0),
                           None if output_price is None else _positive_float("output_price", output_price, minimum=0.0))
        self._logprobs_supported = None
        self.info = {
            "backend": "openai",
            "spec": str(spec) if spec else f"openai:{model}",
            "model": model,
            "adapter": None,
            "base_url": _public_url(self.base_url),
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "max_retry_time": self.max_retry_time,
            "breaker_timeouts": self.breaker_timeouts,
        }

    @classmethod
    def from_spec(cls, spec, **options):
        if "api_key" in options or "key" in options:
            # Never echo the value: it is a secret given in the wrong place.
            raise UsageError(f"openai backend: the API key is read from {ENV_KEY} only, never from an option")
        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise UsageError(
                f"openai backend: unknown option(s) {', '.join(unknown)} (known: {', '.join(cls.OPTIONS)})"
            )
        if spec.adapter:
            raise UsageError(f"openai backend: {spec}: adapters are served by the endpoint itself "
                             "(e.g. `vllm serve --lora-modules name=DIR`, then openai:name), not appended to the spec")
        if "batch_size" in options:
            batch_size = options.pop("batch_size")
            options.setdefault("concurrency", batch_size)
        return cls(spec.model, spec=spec, **options)

    def __repr__(self):
        return f"OpenAIBackend(model={self.model!r}, base_url={self.info['base_url']!r})"

    def close(self):
        """Nothing to release: each call opens and closes its own HTTP client."""

    def _mask(self, text):
        return text.replace(self._key, MASK) if self._key != NO_KEY else text

    # -- running -----------------------------------------------------------------------

    def _client(self):
        import openai

        return openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url, max_retries=0, timeout=self.timeout)

    def _run(self, coroutine_function, items, progress):
        """Run ``coroutine_function(client, item)`` for every item, at most ``concurrency`` at
        once, from synchronous code (in a worker thread if this thread runs an event loop)."""

        async def run_all():
            client = self._client()
            semaphore = asyncio.Semaphore(self.concurrency)
            self._open = asyncio.Event()
            if self._breaker:
                self._open.set()
            results = [None] * len(items)

            async def one(index, item):
                async with semaphore:
                    results[index] = await coroutine_function(client, item)
                if progress:
                    progress(1)

            try:
                await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
            finally:
                await client.close()
            return results

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run_all())
        box = {}

        def in_thread():
            try:
                box["value"] = asyncio.run(run_all())
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=in_thread, name="bioharness-openai")
        worker.start()
        worker.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    async def _attempts(self, call):
        """``call()`` until it succeeds or fails for good: (response, None, attempts) or
        (None, Failure, attempts). Retries stop after ``max_retries``, after one retry of a
        connection that could not be made, when the next wait would end beyond
        ``max_retry_time`` seconds after the first attempt began, or when the breaker opens."""
        attempt = 0
        began = time.monotonic()
        while True:
            if self._breaker:
                return None, Failure(self._breaker, False), attempt
            try:
                response = await self._one_attempt(call)
                self._timeouts_in_row = 0  # an answer: the endpoint is alive
                return response, None, attempt + 1
            except _BreakerOpen:
                return None, Failure(self._breaker, False), attempt + 1
            except asyncio.CancelledError:
                raise
            except NotSupported:
                raise
            except Exception as exc:
                failure = classify(exc, self.timeout)
            failure = dataclasses.replace(failure, reason=self._mask(failure.reason))
            if failure.reason.startswith("timeout") and self._count_timeout():
                return None, Failure(self._breaker, False), attempt + 1
            if not failure.retryable or attempt >= (min(self.max_retries, 1) if failure.fast else self.max_retries):
                return None, failure, attempt + 1
            delay = self.backoff.delay(attempt, failure.retry_after)
            if time.monotonic() - began + delay > self.max_retry_time:
                return None, Failure(f"{failure.reason} (retry time budget of {self.max_retry_time:g}s spent; "
                                     "raise it with --max-retry-time)", False), attempt + 1
            self.usage.retries += 1
            try:  # the wait ends early when the breaker opens
                await asyncio.wait_for(self._open.wait(), timeout=delay)
            except (asyncio.TimeoutError, TimeoutError):
                pass
            attempt += 1

    async def _one_attempt(self, call):
        """One try of ``call()`` within ``timeout``, given up when the breaker opens meanwhile."""
        attempt = asyncio.ensure_future(asyncio.wait_for(call(), timeout=self.timeout))
        opened = asyncio.ensure_future(self._open.wait())
        try:
            await asyncio.wait({attempt, opened}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (attempt, opened):
                if not task.done():
                    task.cancel()
            await asyncio.gather(attempt, opened, return_exceptions=True)
        if not attempt.cancelled():
            return attempt.result()
        raise _BreakerOpen()

    def _count_timeout(self) -> bool:
        """Count a timeout; True when this one opens the breaker (or it is open already)."""
        self._timeouts_in_row += 1
        if not self._breaker and self._timeouts_in_row >= self.breaker_timeouts:
            self._breaker = (f"endpoint not answering: {self.info['base_url']}: {self._timeouts_in_row} requests in a "
                             f"row timed out ({self.timeout:g}s each) and none was answered, so no more are sent to "
                             "it in this run (circuit breaker; if it is only slow, raise its timeout=S)")
            self._open.set()
        return bool(self._breaker)

    def _record_failure(self, failure, attempts):
        self.usage.failed += 1
        self.usage.failures[failure.reason.split(":")[0]] += 1
        suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
        return failure.reason + suffix

    # -- generation ----------------------------------------------------------------------

    def generate(self, requests, progress=None):
        self.usage.requests += len(requests)
        return self._run(self._generate_one, list(requests), progress)

    async def _generate_one(self, client, request):
        sampling = dict(max_tokens=int(request.max_new_tokens), temperature=float(request.temperature))
        if request.temperature and request.temperature > 0:
            sampling["top_p"] = float(request.top_p)
            if request.seed is not None:
                sampling["seed"] = int(request.seed)
        if request.stop:
            sampling["stop"] = list(request.stop)
        if request.chat:
            messages = ([{"role": "system", "content": request.system}] if request.system else []) + [
                {"role": "user", "content": request.prompt}]

            async def call():
                return _checked(await client.chat.completions.create(model=self.model, messages=messages, **sampling),
                                "chat.completion")
        else:
            prompt = (request.system + "\n\n" + request.prompt) if request.system else request.prompt

            async def call():
                return _checked(await client.completions.create(model=self.model, prompt=prompt, **sampling),
                                "text_completion")

        response, failure, attempts = await self._attempts(call)
        if failure:
            return Prediction(id=request.id, text="", finish_reason="error",
                              error=self._record_failure(failure, attempts))
        choice = response.choices[0]
        text = choice.message.content if request.chat else choice.text
        usage = getattr(response, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        self.usage.add_tokens(prompt_tokens, completion_tokens)
        if choice.finish_reason == "content_filter":
            self.usage.failed += 1
            self.usage.failures["content filtered"] += 1
            return Prediction(id=request.id, text="", finish_reason="error", error="content filtered by the endpoint",
                              prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        self.usage.succeeded += 1
        return Prediction(id=request.id, text=text or "",
                          finish_reason=FINISH_REASONS.get(choice.finish_reason, "stop"), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    # -- log-likelihood ------------------------------------------------------------------

    def loglikelihood(self, requests, progress=None):
        """Scores from the prompt log-probs of the completions endpoint (``echo`` with
        ``logprobs``), which vLLM's server offers and chat-only APIs do not.

        The first request is sent alone: if the endpoint cannot score prompts, that is a
        :class:`UsageError` for the whole call rather than one error record per request.
        """
        requests = list(requests)
        self.usage.requests += len(requests)
        if not requests:
            return []
        first = []
        if self._logprobs_supported is None:
            first = self._run(self._loglikelihood_one, requests[:1], progress)
            requests = requests[1:]
        return first + self._run(self._loglikelihood_one, requests, progress)

    def _not_supported(self, reason):
        self._logprobs_supported = False
        return UsageError(
            f"openai backend: log-likelihood scoring is not supported by this endpoint ({self.info['base_url']}, "
            f"model {self.model}): {reason}. It needs prompt log-probs from the completions endpoint "
            "(echo with logprobs), which `vllm serve` offers"
        )

    async def _loglikelihood_one(self, client, request):
        if self._logprobs_supported is False:
            raise self._not_supported("an earlier request found it missing")
        context, continuation = split_trailing_space(request.context, request.continuation)
        if not context:
            self.usage.failed += 1
            self.usage.failures["empty context"] += 1
            return Loglikelihood(id=request.id, logprob=0.0, error="an empty context cannot be scored through an "
                                 "OpenAI-compatible endpoint (the first token has no log-prob)")
        text = context + continuation

        async def call():
            response = _checked(await client.completions.create(
                model=self.model, prompt=text, max_tokens=1, temperature=0.0, echo=True, logprobs=1), "text_completion")
            logprobs = getattr(response.choices[0], "logprobs", None)
            if not (logprobs and getattr(logprobs, "token_logprobs", None) and getattr(logprobs, "text_offset", None)):
                raise NotSupported("its completions carry no prompt log-probs")
            return response

        try:
            response, failure, attempts = await self._attempts(call)
        except NotSupported as exc:
            raise self._not_supported(str(exc)) from None
        if failure:
            if self._logprobs_supported is None and failure.reason.split(":")[0] in (
                    "HTTP 400", "HTTP 404", "HTTP 405", "HTTP 422", "HTTP 501"):
                raise self._not_supported(failure.reason)
            return Loglikelihood(id=request.id, logprob=0.0, error=self._record_failure(failure, attempts))
        self._logprobs_supported = True
        logprobs = response.choices[0].logprobs
        total, count, greedy = 0.0, 0, True
        start, end = len(context), len(text)
        for token, value, offset, top in zip(logprobs.tokens, logprobs.token_logprobs, logprobs.text_offset,
                                             logprobs.top_logprobs or [None] * len(logprobs.tokens)):
            if offset >= end or offset + len(token) <= start:
                continue  # a context token, or the one generated after the prompt
            if value is None:
                raise self._not_supported("a prompt token came back without a log-prob")
            total += float(value)
            count += 1
            best = max(top.values()) if top else None
            greedy = greedy and best is not None and float(value) >= float(best) - 1e-6
        usage = getattr(response, "usage", None)
        self.usage.add_tokens(getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))
        self.usage.succeeded += 1
        return Loglikelihood(id=request.id, logprob=total, num_tokens=count, is_greedy=greedy)


def _checked(response, kind):
    """The openai client returns the body as a string when the server's answer is not
    JSON; that is a transient fault (a proxy's error page), not a completion."""
    if isinstance(response, (str, bytes)) or not getattr(response, "choices", None):
        shown = response if isinstance(response, (str, bytes)) else type(response).__name__
        raise BadResponse(f"expected a {kind} JSON object, got {str(shown)[:80]!r}")
    return response


def _positive_int(name, value, minimum=1):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"openai backend: {name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"openai backend: {name} must be >= {minimum}, got {number}")
    return number


def _positive_float(name, value, minimum=None):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"openai backend: {name} must be a number, got {value!r}") from None
    if (minimum is None and number <= 0) or (minimum is not None and number < minimum):
        bound = "> 0" if minimum is None else f">= {minimum}"
        raise UsageError(f"openai backend: {name} must be {bound}, got {number}")
    return number
