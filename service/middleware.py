"""ASGI middleware: request ids, request logs and metrics; the request size and time limits; the
limit on requests in progress.

All are plain ASGI callables rather than ``BaseHTTPMiddleware``, which would buffer responses
and run handlers in another task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections import Counter
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response, internal_error_response, problems_message
from service.metrics import Metrics

__all__ = ["RequestContextMiddleware", "SingleQueryValuesMiddleware", "BodyLimitMiddleware", "ConcurrencyLimitMiddleware",
           "REQUEST_ID_HEADER"]

log = logging.getLogger("service.access")
errors_log = logging.getLogger("service.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}


class RequestContextMiddleware:
    """Give every request an id, log it as one structured line, count and time it.

    The id is the caller's ``X-Request-ID`` when it is a plausible id, else a new one; it is
    returned in the same header and kept in ``request.state.request_id``. An exception no handler
    turned into a response becomes a bare 500 here, so no stack trace reaches the client.

    Args:
        app: The wrapped application.
        metrics: Where request counts and latencies go.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = given if given is not None and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            errors_log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if not response_started:
                await internal_error_response(request_id)(scope, receive, send_with_id)
        finally:
            self._record(scope, state, request_id, status, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict, request_id: str, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        # The route template, not the path: ids in paths would make one series per id.
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(seconds)
        tenant = state.get("tenant")
        fields = {
            "request_id": request_id,
            "method": scope["method"],
            "path": scope.get("path", ""),
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "org": getattr(tenant, "org", None),
            "key": getattr(tenant, "key_id", None),
            "client": (scope.get("client") or [None])[0],
        }
        log.info("%s %s %d %.1fms", scope["method"], fields["path"], status, fields["duration_ms"],
                 extra={"fields": fields})


class SingleQueryValuesMiddleware:
    """Refuse a query parameter given more than once (``?sheet=a&sheet=b``) with a 422 naming it.
    No parameter of this API takes several values, and the framework reads the last one given:
    a link built by appending to another was read as something its sender did not see."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string") if scope["type"] == "http" else None
        if query:
            names = Counter(name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True))
            twice = sorted(name for name, n in names.items() if n > 1)
            if twice:
                details = [{"index": None, "id": None, "field": name, "where": "query",
                            "message": "given more than once; give it once"} for name in twice]
                await error_response(422, "validation_error", problems_message(details, batch=False),
                                     details)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 naming the limit, and bodies that take
    longer than ``timeout`` seconds to arrive with a 408.

    A declared ``Content-Length`` over the limit is refused before reading anything; otherwise
    the body is counted as it streams in (a chunked request declares no length), and refused as
    soon as it passes the limit. The whole body is read here, before the request takes one of the
    places :class:`ConcurrencyLimitMiddleware` counts, so a client sending slowly holds a
    connection for at most ``timeout`` seconds and never a place of the engine's work. The body
    read is handed on to the app unchanged.

    Headers over ``max_header_bytes`` in all are refused first, with a 431: the server's own
    limit (``h11_max_incomplete_event_size``) holds only for headers that arrive in pieces, and
    100 KB of headers in one piece went through.

    Args:
        app: The wrapped application.
        max_bytes: The largest body accepted.
        timeout: Seconds the whole body may take to arrive.
        max_header_bytes: The most bytes of request headers (names and values) accepted.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float = 30.0,
                 max_header_bytes: int = 16 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = sum(len(name) + len(value) for name, value in scope["headers"])
        if headers > self.max_header_bytes:
            await error_response(431, "request_header_fields_too_large",
                                 f"the request headers are too large: {headers} bytes, and the limit is "
                                 f"{self.max_header_bytes} bytes ({_size(self.max_header_bytes)})",
                                 headers={"Connection": "close"})(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, "bad_request", f"invalid Content-Length header {declared!r}")(
                    scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send, f"declares {int(declared)} bytes")
                return
        messages: list[Message] = []
        size = 0
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                await error_response(
                    408, "request_timeout",
                    f"the request body did not arrive within {self.timeout:g} s ({size} bytes received); "
                    "send it at once, or in smaller batches",
                    headers={"Connection": "close"},
                )(scope, receive, send)
                return
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(scope, receive, send, "sent more")
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        message = (f"the request body is too large: it {what}, and the limit is {self.max_bytes} bytes "
                   f"({_size(self.max_bytes)}); split the batch into smaller requests")
        await error_response(413, "payload_too_large", message)(scope, receive, send)


class ConcurrencyLimitMiddleware:
    """Let at most ``limit`` requests be worked on at once; refuse the rest with a 503 and
    ``Retry-After`` when no place frees within ``wait`` seconds.

    Without it every request queues for the engine however long the queue: under a burst all of
    them end late. With it a request either starts within ``wait`` seconds or is told at once to
    come back, which a portal's retry handles and a load balancer can send elsewhere. Liveness,
    readiness and metrics are never held back (an operator must see a busy server as busy, not
    dead).

    Args:
        app: The wrapped application.
        limit: Requests in progress at once, per process.
        wait: Seconds a request may wait for a place.
        retry_after: Seconds the 503 tells the client to wait before retrying.
    """

    EXEMPT = ("/health/", "/metrics")

    def __init__(self, app: ASGIApp, *, limit: int, wait: float = 1.0, retry_after: float = 1.0) -> None:
        self.app = app
        self.limit = limit
        self.wait = wait
        self.retry_after = retry_after
        self._places: asyncio.Semaphore | None = None  # made in the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.EXEMPT):
            await self.app(scope, receive, send)
            return
        if self._places is None:
            self._places = asyncio.Semaphore(self.limit)
        try:
            await asyncio.wait_for(self._places.acquire(), self.wait)
        except TimeoutError:
            seconds = max(1, math.ceil(self.retry_after))
            await error_response(
                503, "busy",
                f"the server is busy ({self.limit} requests in progress, none finished within {self.wait:g} s); "
                f"retry after {seconds} s",
                headers={"Retry-After": str(seconds)},
            )(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._places.release()


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
