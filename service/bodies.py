"""Batch bodies: exports (``text/csv``, Excel ``.xlsx`` and ``.xls``) as well as JSON, and what looks
wrong in them.

``PUT /v1/items``, ``PUT /v1/members`` and ``POST /v1/events`` take the same exports as the
command line, read by the same library code (:func:`recsys.ingest.loaders.parse_batch`: encoding
detected or given as ``charset``, the curriculum's vocabulary, dates as people write them). A
route of :func:`tabular_route` turns such a body into the records' JSON form before FastAPI reads
it, so the route's own checks (key, tenancy, batch limit, schema) then run exactly as for JSON.

A body that cannot be read is not refused here, before the key is checked: its problems wait in
``request.state`` and :func:`raise_body_problems` (a dependency of the route, after the key)
raises them, every bad row named by its line.

Whatever the body's form, :func:`check_warnings` lists what is valid but probably a mistake
(a role no rule knows, an event in the future), or refuses the batch with ``?strict=true``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

import anyio.to_thread
from fastapi import Request, Response
from fastapi.routing import APIRoute

from recsys.curriculum import Curriculum
from recsys.exceptions import ValidationError
from recsys.ingest.loaders import InputWarning, combine, input_warnings, parse_batch
from recsys.ingest.tables import OptionNames
from recsys.records import Event, Item, Member
from service.errors import TABLE_SOURCE

__all__ = ["TABULAR_TYPES", "tabular_route", "tabular_body", "raise_body_problems", "body_lines", "check_warnings"]

#: Media types of the bodies read as exports, and their format.
TABULAR_TYPES = {
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    # Excel 97-2003, as many HR systems still export, and the type Windows gives a .csv file:
    # read by what the bytes are (a workbook of either age, else text as CSV).
    "application/vnd.ms-excel": "xls",
}
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLS = "application/vnd.ms-excel"
#: What a refusal of a body asks for, in this API's terms.
_HTTP_NAMES = OptionNames(sheet="?sheet=", encoding="a charset in the Content-Type (text/csv; charset=gbk)")


def tabular_body(description: str) -> dict[str, Any]:
    """``openapi_extra`` for a batch route: the body may also be CSV or a workbook."""
    return {"requestBody": {"content": {
        "text/csv": {"schema": {"type": "string"}, "example": description},
        _XLSX: {"schema": {"type": "string", "format": "binary"}},
        _XLS: {"schema": {"type": "string", "format": "binary"}},
    }}}


def tabular_route(record_type: type) -> type[APIRoute]:
    """A route class whose body may be an export of ``record_type`` records.

    The export's rows become the records' JSON form; ``?sheet=`` picks a workbook's sheet and a
    ``charset`` in the ``Content-Type`` forces the text encoding (default: detected).
    """

    class TabularRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def read_export(request: Request) -> Response:
                message = Message()
                message["content-type"] = request.headers.get("content-type", "")
                fmt = TABULAR_TYPES.get(message.get_content_type())
                engine = getattr(request.app.state, "engine", None)
                # Only a route that takes a body reads one; without an engine the route answers 503.
                if fmt is not None and engine is not None and self.body_field is not None:
                    request = await _as_json(request, fmt, record_type, engine.curriculum, message.get_param("charset"))
                return await handler(request)

            return read_export

    return TabularRoute


async def _as_json(request: Request, fmt: str, record_type: type, curriculum, charset: Any) -> Request:
    data = await request.body()
    sheet = request.query_params.get("sheet")
    encoding = charset if isinstance(charset, str) else None
    try:
        batch = await anyio.to_thread.run_sync(lambda: parse_batch(
            data, fmt, record_type, source=TABLE_SOURCE, curriculum=curriculum, encoding=encoding, sheet=sheet,
            names=_HTTP_NAMES))
    except ValidationError as exc:
        request.state.body_problems = exc
        records: list[dict[str, Any]] = []
    else:
        request.state.body_lines = batch.lines
        # Reading's own warnings (columns ignored, rows repeated) are the body's, with the rest.
        request.state.body_warnings = batch.warnings
        records = [_json_form(r.to_dict()) for r in batch.records]
    body = json.dumps(records, ensure_ascii=False).encode("utf-8")
    headers = [(k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({**request.scope, "headers": headers}, receive)


def _json_form(record: dict[str, Any]) -> dict[str, Any]:
    # A record's JSON form, less what it leaves empty, so the schema's defaults apply as they do
    # to a JSON body that leaves those fields out.
    return {k: v for k, v in record.items() if v is not None and v != []}


def raise_body_problems(request: Request) -> None:
    """Raise what made an export body unreadable (after the key was checked).

    Raises:
        ValidationError: every problem, each named by the body's line (or the sheet's row).
    """
    problems = getattr(request.state, "body_problems", None)
    if problems is not None:
        raise problems


def body_lines(request: Request) -> list[int] | None:
    """The line of each record of an export body, in order; None for a JSON body."""
    return getattr(request.state, "body_lines", None)


def check_warnings(request: Request, records: list[Item] | list[Member] | list[Event], curriculum: Curriculum,
                   *, strict: bool,
                   also: Callable[[list[int], str | None], list[InputWarning]] | None = None) -> list[dict[str, Any]]:
    """What in a valid batch is probably a mistake, each placed by index (and line, for an export);
    ``also(lines, source)`` adds what needs the store (placed as the records are).

    Raises:
        ValidationError: with ``strict``, the warnings as errors (nothing is written then).
    """
    lines = body_lines(request)
    source = None if lines is None else TABLE_SOURCE
    found = getattr(request.state, "body_warnings", None)
    if found is None:
        found = input_warnings(records, curriculum, source=source, lines=lines)
    if also is not None:
        found = sorted([*found, *also(lines if lines is not None else list(range(1, len(records) + 1)), source)],
                       key=lambda w: w.line or 0)
    if strict and found:
        raise combine([w.as_error() for w in found])
    index = {line: n for n, line in enumerate(lines if lines is not None else range(1, len(records) + 1))}
    return [{"index": index.get(w.line), "line": w.line if lines is not None else None, "id": w.record,
             "field": w.field, "message": w.message} for w in found]
