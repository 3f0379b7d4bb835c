"""An HTTP proxy in front of a real OpenAI-compatible server that injects faults on a
deterministic schedule, for testing clients' retries.

Each request names its *case* with a marker ``[case:NAME]`` anywhere in its JSON body (a
prompt or a message). The proxy counts attempts per case; attempt ``n`` of case ``NAME``
suffers ``schedule[NAME][n]`` and any attempt beyond the schedule is forwarded untouched.
Every attempt is logged (case, attempt, fault, start/end time, HTTP status), so a test can
assert exactly what each request went through.

Faults:

``429``            429 with ``Retry-After: <retry_after>`` (seconds) and a JSON error body
``500``            500 with a JSON error body
``404``            404 with a JSON error body (a permanent failure); likewise ``400``, ``401``,
                   ``403``, ``422`` (any other three-digit status: that status, a JSON error body)
``hang``           reads the request, then answers nothing until the client gives up
``cut``            forwards the request, sends the real status and headers (with the full
                   Content-Length) and half of the real body, then drops the connection
``nonjson``        200 with an HTML page instead of JSON
``strip_logprobs`` forwards, then removes ``logprobs`` from the real answer's choices
``pass``           forwards untouched (also what happens after the schedule runs out)
"""
import asyncio
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout, web

CASE = re.compile(r"\[case:([A-Za-z0-9_.-]+)\]")
FORWARDED_HEADERS = ("authorization", "content-type", "accept")


@dataclass
class Attempt:
    case: str
    attempt: int
    fault: str
    path: str
    start: float
    end: float | None = None
    status: int | None = None
    delivered: bool = False  # the complete upstream answer reached the client


class FaultProxy:
    def __init__(self, upstream, schedule, *, retry_after=1, hang_seconds=300):
        self.upstream = upstream.rstrip("/")  # scheme://host:port
        self.schedule = {case: list(faults) for case, faults in schedule.items()}
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.attempts: list[Attempt] = []
        self._count = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop = None
        self._thread = None
        self._runner = None
        self.url = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, port=0):
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start(port))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="faultproxy", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("fault proxy did not start")
        return self.url

    async def _start(self, port):
        self._session = ClientSession(timeout=ClientTimeout(total=600))
        app = web.Application(client_max_size=16 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a "hang" handler ends when its client gives up, so the
        # in-flight count is what the client really has open.
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{bound}"

    def stop(self):
        if self._loop is None:
            return

        async def shutdown():
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- what happened -------------------------------------------------------------------

    def of(self, case) -> list[Attempt]:
        return [a for a in self.attempts if a.case == case]

    # -- handling ------------------------------------------------------------------------

    async def _handle(self, request):
        body = await request.read()
        match = CASE.search(body.decode("utf-8", "replace"))
        case = match.group(1) if match else "-"
        attempt_no = self._count[case]
        self._count[case] += 1
        faults = self.schedule.get(case, [])
        fault = faults[attempt_no] if attempt_no < len(faults) else "pass"
        record = Attempt(case, attempt_no, fault, request.path, time.monotonic())
        self.attempts.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._respond(request, body, fault, record)
        finally:
            self.in_flight -= 1
            record.end = time.monotonic()

    async def _respond(self, request, body, fault, record):
        if fault.isdigit() and len(fault) == 3:
            status = int(fault)
            headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
            record.status = status
            return web.json_response({"error": {"message": f"injected {status}", "type": "injected",
                                                "code": status}}, status=status, headers=headers)
        if fault == "hang":
            await asyncio.sleep(self.hang_seconds)  # cancelled when the client disconnects
            record.status = 0
            return web.Response(status=504)
        if fault == "nonjson":
            record.status = 200
            return web.Response(status=200, text="<html><body>502 Bad Gateway (upstream hiccup)</body></html>",
                                content_type="text/html")
        status, headers, payload = await self._forward(request, body)
        if fault == "strip_logprobs" and status == 200:
            data = json.loads(payload)
            for choice in data.get("choices", []):
                choice.pop("logprobs", None)
                choice.pop("prompt_logprobs", None)
            payload = json.dumps(data).encode()
        if fault == "cut":
            response = web.StreamResponse(status=status)
            response.content_type = headers.get("content-type", "application/json").split(";")[0]
            response.content_length = len(payload)
            await response.prepare(request)
            await response.write(payload[: len(payload) // 2])
            record.status = status
            request.transport.close()  # mid-body: the client sees a truncated message
            return response
        record.status = status
        record.delivered = True
        return web.Response(status=status, body=payload,
                            content_type=headers.get("content-type", "application/json").split(";")[0])

    async def _forward(self, request, body):
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        async with self._session.request(request.method, self.upstream + request.path_qs, data=body,
                                         headers=headers) as upstream:
            payload = await upstream.read()
            return upstream.status, {k.lower(): v for k, v in upstream.headers.items()}, payload
