"""Which failures of an HTTP API call are worth retrying, and how long to wait first.

Retried: 408, 409, 429 and 5xx answers, timeouts, connection errors (reset, a body cut
short) and answers that are not the JSON the API promises. Not retried: other 4xx answers
(a bad request or a bad key does not get better by asking again). A connection that cannot
be made at all (refused, unknown host) is retried once at most: nothing is listening, and
waiting minutes to learn that helps nobody.
"""
import email.utils
import json
import random
import socket
import time
from dataclasses import dataclass, field

RETRY_STATUSES = frozenset({408, 409, 429})
#: A server asking for a longer pause than this is not waited for beyond it.
MAX_RETRY_AFTER = 600.0


class BadResponse(Exception):
    """The server answered 2xx with something that is not the expected JSON object."""


@dataclass(frozen=True)
class Failure:
    reason: str  # one line, for Prediction.error
    retryable: bool
    retry_after: float | None = None  # seconds the server asked us to wait
    fast: bool = False  # no connection could be made: retried once at most


def parse_retry_after(headers, now=None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, min(float(value) / scale, MAX_RETRY_AFTER))
        except ValueError:
            pass
        if name == "retry-after":
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            now = time.time() if now is None else now
            return max(0.0, min(when.timestamp() - now, MAX_RETRY_AFTER))
    return None


def _first_line(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(exc, timeout=None) -> Failure:
    """What ``exc``, raised by one attempt of an openai client call, means for retrying."""
    import asyncio

    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in RETRY_STATUSES or status >= 500
        body = getattr(exc, "body", None)  # the answer's "error" object, when it sent one
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message:
            message = str(body) if isinstance(body, str) and body else (getattr(exc, "message", None) or str(exc))
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return Failure(f"HTTP {status}: {_first_line(message)}", retryable,
                       parse_retry_after(headers) if retryable else None)
    if isinstance(exc, (openai.APITimeoutError, asyncio.TimeoutError, TimeoutError)):
        return Failure(f"timeout after {timeout:g}s" if timeout else "timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        chain, link = [], exc.__cause__ or exc.__context__
        while link is not None and len(chain) < 10:
            chain.append(link)
            link = link.__cause__ or link.__context__
        # refused / unknown host: the transport's ConnectError (not ConnectTimeout), or the OS error itself
        root = next((c for c in chain if isinstance(c, (ConnectionRefusedError, socket.gaierror))), None)
        fast = root is not None or any(type(c).__name__ == "ConnectError" for c in chain)
        cause = root or (chain[0] if chain else None)
        detail = f"{type(cause).__name__}: {_first_line(cause)}" if cause else _first_line(exc)
        return Failure(f"connection error: {detail}", True, fast=fast)
    if isinstance(exc, (BadResponse, json.JSONDecodeError, openai.APIResponseValidationError)):
        return Failure(f"invalid response: {_first_line(exc)}", True)
    return Failure(f"{type(exc).__name__}: {_first_line(exc)}", False)


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt ``n`` (0-based) waits about
    ``base * 2**n`` seconds, capped at ``cap``, scaled by a random factor in [0.5, 1]
    so that many clients throttled together do not come back together. A server's
    ``Retry-After`` is a floor."""

    base: float = 1.0
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        computed = min(self.cap, self.base * (2 ** attempt)) * self.rng.uniform(0.5, 1.0)
        return max(computed, retry_after or 0.0)
