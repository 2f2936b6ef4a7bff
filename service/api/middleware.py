"""Checks made before a request body is parsed: request ids, body size (413) and content type (415)."""

import json
import re
import uuid

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class _BodyTooLarge(Exception):
    pass


async def send_error(send, status: int, code: str, message: str, request_id: str | None, headers=()) -> None:
    """A JSON error response straight from ASGI middleware, in the API's error format."""
    body = json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    start_headers += [(k.encode(), str(v).encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class RequestGuard:
    """Pure ASGI middleware: gives every request an id (``X-Request-ID`` accepted when sane, echoed always),
    refuses bodies over ``max_body_bytes`` without reading them whole, and non-JSON bodies on JSON routes."""

    def __init__(self, app, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get("x-request-id", "")
        request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        async def reply(status: int, code: str, text: str):
            await send_error(send_with_id, status, code, text, request_id)

        if scope["method"] in _BODY_METHODS:
            if not _is_json(headers.get("content-type", "")):
                return await reply(415, "unsupported_media_type", "send the body as application/json (UTF-8)")
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                return await reply(413, "request_too_large", f"the body is over {self.max_body_bytes} bytes")
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send_with_id)
        except _BodyTooLarge:
            if not started:
                await reply(413, "request_too_large", f"the body is over {self.max_body_bytes} bytes")
