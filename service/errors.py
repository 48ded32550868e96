"""Every error the API returns, and the one table mapping library errors to status codes.

Error bodies all have one shape::

    {"error": {"code": "validation_error", "message": "...", "details": [
        {"index": 2, "id": "his-007", "field": "minutes", "message": "..."}]}}

``details`` lists every problem of a rejected batch (``index`` is the record's 0-based position
in the request body) or names the offending parameter. No exception text of an unexpected error
ever reaches the client: it gets a 500 naming the request id, and the log gets the traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys.exceptions import (
    ConflictError,
    ModelError,
    NotFoundError,
    RecsysError,
    SetupError,
    StoreError,
    TokenError,
    ValidationError,
)
from service.schemas import ID_PATTERN, NOT_BLANK

__all__ = [
    "ApiError",
    "Unauthorized",
    "Forbidden",
    "Conflict",
    "PayloadTooLarge",
    "NotReady",
    "ErrorResponse",
    "error_response",
    "internal_error_response",
    "install_error_handlers",
    "LIBRARY_STATUS",
]

log = logging.getLogger(__name__)

#: Library errors by status code and error code. The first class in a value's MRO found here wins.
LIBRARY_STATUS: dict[type[Exception], tuple[int, str]] = {
    ValidationError: (422, "validation_error"),
    NotFoundError: (404, "not_found"),
    ConflictError: (409, "conflict"),
    TokenError: (401, "unauthorized"),
    StoreError: (503, "store_unavailable"),
    ModelError: (503, "model_unavailable"),
    SetupError: (503, "setup_incomplete"),
    RecsysError: (500, "internal_error"),
}

#: What a caller is told of a 5xx library error. The library's own message stays in the log: it may
#: name server paths, and a caller can do nothing with it but retry.
_UNAVAILABLE = {
    "store_unavailable": "the store is busy or unavailable; try again later",
    "setup_incomplete": "the server's installation lacks something this needs (its log says what); "
                        "try again once an operator has fixed it",
}

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 431: "request_header_fields_too_large",
    503: "unavailable",
}


class ErrorResponse(JSONResponse):
    """A JSON response that never fails to render: text a client sent that is not valid Unicode
    (echoed back in a message) is replaced rather than crashing the encoder."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


class ApiError(Exception):
    """An error of the HTTP layer itself (authentication, permissions, limits).

    Attributes:
        status: The HTTP status code.
        code: A stable machine-readable error code.
        message: What was wrong, for a person.
        details: Per-record or per-field problems.
        headers: Extra response headers.
    """

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.headers = headers


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class NotReady(ApiError):
    status, code = 503, "not_ready"


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> ErrorResponse:
    """The JSON error body every error of the API uses."""
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return ErrorResponse(body, status_code=status, headers=headers)


def internal_error_response(request_id: str | None) -> ErrorResponse:
    """A 500 that says nothing of the failure but how to find it in the log."""
    ref = f" (request id {request_id})" if request_id else ""
    return error_response(500, "internal_error", f"internal error{ref}; it has been logged")


def _detail(index: int | None, id_: Any, field: str | None, message: str) -> dict[str, Any]:
    # An id past 128 characters is no id (and may be a 40 KB field): the index or line places it.
    return {"index": index, "id": id_ if isinstance(id_, str) and len(id_) <= 128 else None, "field": field,
            "message": message}


def _describe(detail: dict[str, Any]) -> str:
    if "where" in detail:
        return f"{detail['where']} parameter {detail['field']!r}: {detail['message']}"
    where = []
    if detail.get("line") is not None:
        where.append(f"line {detail['line']}")
    if detail["index"] is not None:
        where.append(f"record {detail['index']}")
    if detail["id"] is not None:
        where.append(f"id {detail['id']!r}")
    if detail["field"] is not None:
        where.append(f"field {detail['field']!r}")
    return f"{', '.join(where)}: {detail['message']}" if where else detail["message"]


def problems_message(details: list[dict[str, Any]], *, batch: bool) -> str:
    """The message of a refusal: its first problem, placed as the details place it, how many more
    there are, and for a ``batch`` that nothing was written."""
    first = _describe(details[0])
    more = len(details) - 1
    if more:
        first += f" (and {more} more problem{'s' if more > 1 else ''})"
    return f"{first}; nothing was written" if batch else first


#: The source of the problems of a CSV or workbook body (``service.bodies``): placed by line.
TABLE_SOURCE = "body.table"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Each problem of a library validation error, placed by its 0-based index in the batch, or
    for an export body (CSV, workbook) by its line there."""
    problems = exc.problems or [exc]
    return [
        {**_detail(None, p.record, p.field, p.reason), "line": p.line} if p.source == TABLE_SOURCE
        else _detail(p.line - 1 if p.line is not None else None, p.record, p.field, p.reason)
        for p in problems
    ]


def _friendly(err: dict[str, Any]) -> str:
    """Pydantic's message, in the words of the API where Pydantic's would puzzle a reader."""
    message = str(err.get("msg", "invalid value"))
    if err.get("type") == "value_error":
        return message.removeprefix("Value error, ")
    if err.get("type") == "string_pattern_mismatch":
        pattern = (err.get("ctx") or {}).get("pattern")
        if pattern == ID_PATTERN:
            return "must be 1-128 characters of letters, digits and . _ : -"
        if pattern == NOT_BLANK:
            return "must hold more than white space"
    return message


def _request_validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    body = exc.body
    out = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        where = loc.pop(0) if loc else "body"
        index = None
        id_ = None
        message = _friendly(err)
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            out.append(_detail(None, None, "body", f"the body is not valid JSON: {reason} at character {loc[0] if loc else 0}"))
            continue
        if where == "body" and loc and isinstance(loc[0], int):
            index = loc.pop(0)
            if isinstance(body, list) and 0 <= index < len(body) and isinstance(body[index], dict):
                id_ = body[index].get("id")
        field = ".".join(str(p) for p in loc) or None
        if where == "body" and field is None:
            field = "body"
            if err.get("type") == "missing":
                message = "a JSON body is required"
            elif isinstance(err.get("input"), (bytes, bytearray)):
                message = "the body must be JSON, sent with 'Content-Type: application/json'"
        detail = _detail(index, id_, field, message)
        if where in ("query", "path", "header") and field is not None:
            detail["where"] = where
        out.append(detail)
    return out


def _library_status(exc: Exception) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in LIBRARY_STATUS:
            return LIBRARY_STATUS[cls]
    return 500, "internal_error"


async def _on_api_error(request: Request, exc: ApiError) -> ErrorResponse:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _on_library_error(request: Request, exc: RecsysError) -> ErrorResponse:
    status, code = _library_status(exc)
    if isinstance(exc, ValidationError):
        details = validation_details(exc)
        batch = exc.line is not None or exc.source == TABLE_SOURCE
        return error_response(status, code, problems_message(details, batch=batch), details)
    if status >= 500:
        # Not the caller's fault, and the library's message may name server paths.
        log.error("library error %s: %s", code, exc, exc_info=exc)
        if code == "internal_error":
            return internal_error_response(getattr(request.state, "request_id", None))
        message = _UNAVAILABLE.get(code, f"the service cannot serve this now ({code}); try again later")
        return error_response(status, code, message)
    return error_response(status, code, str(exc))


async def _on_request_validation(request: Request, exc: RequestValidationError) -> ErrorResponse:
    details = _request_validation_details(exc)
    if not details:
        details = [_detail(None, None, None, "the request is invalid")]
    batch = any(d["index"] is not None for d in details)
    message = problems_message(details, batch=batch)
    for d in details:
        d.pop("where", None)
    return error_response(422, "validation_error", message, details)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> ErrorResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        message = f"method {request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        # Starlette names only the first route matching the path; one path may have several.
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    def routes(found):
        # Included routers stand in the app's list as one entry each: their routes are inside.
        for route in found:
            inner = getattr(route, "original_router", None)
            yield from routes(inner.routes) if inner is not None else (route,)

    methods: set[str] = set()
    for route in routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers mapping every error to its status code and JSON body."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RecsysError, _on_library_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
