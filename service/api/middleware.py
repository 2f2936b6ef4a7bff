"""Checks made before a request body is parsed: requests in progress (503), request ids, body size (413), content type
(415), body time (408)."""

import asyncio
import json
import re
import time
import uuid

from ..glossaries import TABLE_TYPES

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The editor's page loads only its own script and style, talks only to this service, and is never framed.
PAGE_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]  # fmt: skip


async def send_error(send, status: int, code: str, message: str, request_id: str | None, headers=()) -> None:
    """A JSON error response straight from ASGI middleware, in the API's error format."""
    body = json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    start_headers += [(k.encode(), str(v).encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


class RequestSlots:
    """Pure ASGI middleware: at most ``limit`` requests in progress (each holds a connection and its descriptor until
    answered); above it a JSON 503 ``busy`` at once, closing the connection. The health probes are never refused, so
    a load balancer sees a busy replica alive (their answers are immediate: they cannot pile up)."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit
        self.in_progress = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            return await self.app(scope, receive, send)
        if self.in_progress >= self.limit:
            message = f"{self.limit} requests are in progress, the most this replica takes; retry in a second"
            return await send_error(send, 503, "busy", message, None, [("retry-after", 1), ("connection", "close")])
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1


BODY_METHODS = frozenset({"POST", "PUT"})
TABLE_PATHS = ("/glossaries/",)  # where a body may also be a CSV or TSV table (a glossary, as DeepL and Google take)


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(content_type: str) -> bool:
    media = _media(content_type)
    return media == "application/json" or media.endswith("+json")


def _unaccepted_type(path: str, content_type: str) -> str | None:
    """What to send instead, when a body of this type is not taken at ``path``."""
    if _is_json(content_type):
        return None
    if path.startswith(TABLE_PATHS):
        return None if _media(content_type) in TABLE_TYPES else "application/json, text/csv or text/tab-separated-values"
    return "application/json"


class RequestGuard:
    """Pure ASGI middleware: gives every request an id (``X-Request-ID`` accepted when sane, echoed always), and reads
    a POST or PUT body itself, before any parsing: 415 unless it is JSON (or a table where a glossary is put), 413 over ``max_body_bytes`` (declared or counted,
    chunked bodies too), 408 when it does not arrive within ``body_timeout_s``. A refused body is read to its end and
    discarded (up to ``max_discard_bytes`` and the same timeout) so that the client can read the answer: closing a
    connection with unread data resets it, and the client sees ECONNRESET instead of the 413."""

    def __init__(self, app, max_body_bytes: int, body_timeout_s: float = 30.0, max_discard_bytes: int = 64 << 20):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_discard_bytes = max_discard_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get("x-request-id", "")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        page = scope["path"] == "/" or scope["path"].startswith("/static/")
        extra = [(b"x-request-id", request_id.encode()), (b"x-content-type-options", b"nosniff")]
        extra += PAGE_HEADERS if page else []

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        if scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send_with_id)
        deadline = time.monotonic() + self.body_timeout_s
        problem = None
        declared = headers.get("content-length", "")
        if (wanted := _unaccepted_type(scope["path"], headers.get("content-type", ""))) is not None:
            problem = (415, "unsupported_media_type", f"send the body as {wanted} (UTF-8)")
        elif declared.isdigit() and int(declared) > self.max_body_bytes:
            problem = (413, "request_too_large", f"the body is over the limit of {self.max_body_bytes} bytes")
        body = b""
        if problem is None:
            body, problem = await self._read_body(receive, deadline)
        if problem is not None:
            if headers.get("expect", "").lower() != "100-continue":  # else the client has not sent the body yet
                await self._discard_rest(receive, deadline)
            return await send_error(send_with_id, *problem, request_id, [("connection", "close")])
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send_with_id)

    async def _read_body(self, receive, deadline: float) -> tuple[bytes, tuple | None]:
        chunks, size = [], 0
        while True:
            message = await self._receive_by(receive, deadline)
            if message is None:
                return b"", (408, "request_timeout", f"the body did not arrive within {self.body_timeout_s:g} s")
            if message["type"] == "http.disconnect":
                return b"", (400, "client_closed", "the client closed the connection before sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", (413, "request_too_large", f"the body is over the limit of {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    async def _discard_rest(self, receive, deadline: float) -> None:
        discarded = 0
        while discarded <= self.max_discard_bytes:
            message = await self._receive_by(receive, deadline)
            if message is None or message["type"] != "http.request":
                return
            discarded += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    @staticmethod
    async def _receive_by(receive, deadline: float):
        try:
            return await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return None
