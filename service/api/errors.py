"""The one place where errors become HTTP responses: ``{"error": {"code", "message", "request_id"}}``."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors

log = logging.getLogger(__name__)

STATUS = {
    errors.InvalidText: 422,
    errors.InvalidRequest: 422,
    errors.CallbackRefused: 422,
    errors.JobNotFound: 404,
    errors.GlossaryNotFound: 404,
    errors.GlossaryTooLarge: 413,
    errors.TooManyGlossaries: 409,
    errors.GlossariesUnavailable: 503,
    errors.JobStorageFull: 429,
    errors.JobsUnavailable: 503,
    errors.UnsupportedLanguage: 422,
    errors.ArticleTooLong: 413,
    errors.TooLargeForQueue: 413,
    errors.Overloaded: 429,
    errors.QuotaExceeded: 429,
    errors.ModelNotReady: 503,
    errors.ShuttingDown: 503,
    errors.ModelFilesMissing: 503,
    errors.DeadlineExceeded: 504,
    errors.InferenceFailed: 500,
}
HTTP_CODES = {
    400: "malformed_json", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "request_too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "unavailable",
}  # fmt: skip


def error_response(request: Request, status: int, code: str, message: str, headers=None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body = {"error": {"code": code, "message": message, "request_id": request_id}}
    return JSONResponse(body, status_code=status, headers=headers)


def _describe(exc: RequestValidationError) -> tuple[int, str, str]:
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return 400, "malformed_json", "the request body is not valid JSON (UTF-8 encoded)"
    for p in problems:  # a list over the parser's cut-off is over the configured limit too: the same 413
        if p.get("type") == "too_long" and p.get("loc", ())[-1:] in (("articles",), ("texts",)):
            field = p["loc"][-1]
            return 413, "article_too_long", f"over {p['ctx']['max_length']} {field} in one request; see /info for the limit"
    parts = []
    for p in problems[:5]:
        where = ".".join(str(x) for x in p.get("loc", ()) if x != "body")
        parts.append(f"{where}: {p.get('msg')}" if where else str(p.get("msg")))
    return 422, "invalid_request", "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ServiceError)
    async def service_error(request: Request, exc: errors.ServiceError):
        status = STATUS.get(type(exc), 500)
        retry_after_s = getattr(exc, "retry_after_s", None)
        headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
        if status >= 500:
            log.warning("request %s failed: %s", getattr(request.state, "request_id", "-"), exc.code)
        return error_response(request, status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return error_response(request, *_describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        # FastAPI's only 400 is a body it could not decode (invalid UTF-8, JSON nested past the parser's limit).
        message = "the request body is not valid JSON (UTF-8 encoded)" if exc.status_code == 400 else str(exc.detail)
        return error_response(request, exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error in request %s", getattr(request.state, "request_id", "-"))
        return error_response(request, 500, "internal_error", "internal error; the request id identifies it in logs")
