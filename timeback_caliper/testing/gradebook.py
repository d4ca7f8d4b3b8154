"""Emulator routes for the OneRoster gradebook (contract §5.6): create, list and get line items and results.

The seeds document only the two POST bodies, so the rest follows the contract's assumptions and OneRoster 1.2:
a create answers ``201`` with the stored record under its own key (``sourcedId`` and ``dateLastModified`` added),
a ``sourcedId`` already taken answers ``409``, and errors use the OneRoster shape
``{"imsx_codeMajor": "failure", "imsx_severity": "error", "imsx_description": ..., "imsx_CodeMinor": ...}``.
Records are kept per client (the bearer token's), like every other emulator store, and are cleared by ``reset()``.
The list routes take ``limit``, ``offset`` and a OneRoster ``filter`` of ``field='value'`` (or ``!=``) clauses
joined by `` AND `` (dotted fields such as ``student.sourcedId``).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from ._wire import iso_ms, parse_when, utcnow
from .backend import Backend
from .routing import CALIPER, HttpError, Reply, Request, Route

__all__ = ["PREFIX", "ROUTES", "oneroster_error"]

PREFIX = "/ims/oneroster/gradebook/v1p2"
LINE_ITEM, RESULT = "gradebook.lineItem", "gradebook.result"
STATUSES = ("active", "tobedeleted")
SCORE_STATUSES = ("exempt", "fully graded", "not submitted", "partially graded", "submitted")
_CLAUSE = re.compile(r"^\s*([\w.]+)\s*(!=|=)\s*'(.*)'\s*$", re.S)
_create_lock = threading.Lock()  # the check for a taken sourcedId and the insert must not interleave


def oneroster_error(status: int, description: str, minor: str = "invalid_data") -> Reply:
    """An error answer in the OneRoster shape."""
    return Reply(
        status=status,
        body={
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [
                    {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
                ]
            },
        },
    )


def _bad(description: str, status: int = 400, minor: str = "invalid_data") -> HttpError:
    return HttpError(oneroster_error(status, description, minor))


def _object(req: Request, key: str) -> dict[str, Any]:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"the body is not valid JSON: {exc}") from exc
    inner = body.get(key) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        raise _bad(f'the body must be {{"{key}": {{...}}}}')
    return inner


def _ref(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    sourced_id = value.get("sourcedId") if isinstance(value, dict) else None
    if not isinstance(sourced_id, str) or not sourced_id.strip():
        raise _bad(f'{field} must be {{"sourcedId": "..."}}')
    return sourced_id


def _common(record: dict[str, Any]) -> tuple[str, str]:
    """The record's ``sourcedId`` (a new UUID when absent) and ``status`` (default ``active``), checked."""
    sourced_id = record.get("sourcedId", str(uuid.uuid4()))
    if not isinstance(sourced_id, str) or not sourced_id.strip():
        raise _bad("sourcedId must be a non-empty string")
    status = record.get("status", "active")
    if status not in STATUSES:
        raise _bad(f"status must be one of {', '.join(STATUSES)}")
    return sourced_id, status


def _store(app: Backend, req: Request, kind: str, record: dict[str, Any], parent: str | None = None) -> None:
    with _create_lock:
        if app.store.get_doc(kind, record["sourcedId"]) is not None:
            raise _bad(f"sourcedId {record['sourcedId']} already exists", 409, "invalid_sourcedid")
        app.store.put_doc(kind, record["sourcedId"], record, client_id=req.client_id, parent=parent)


def create_line_item(app: Backend, req: Request) -> Reply:
    """``POST .../assessmentLineItems``: store a line item; 409 when its sourcedId is taken."""
    item = _object(req, "assessmentLineItem")
    sourced_id, status = _common(item)
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _bad("title is required")
    _ref(item.get("componentResource"), "componentResource", required=False)
    record = {**item, "sourcedId": sourced_id, "status": status, "dateLastModified": iso_ms(utcnow())}
    _store(app, req, LINE_ITEM, record)
    return Reply(status=201, body={"assessmentLineItem": record})


def create_result(app: Backend, req: Request) -> Reply:
    """``POST .../assessmentResults``: store a result on an existing line item; 409 when its sourcedId is taken."""
    result = _object(req, "assessmentResult")
    sourced_id, status = _common(result)
    line_item = _ref(result.get("assessmentLineItem"), "assessmentLineItem")
    _ref(result.get("student"), "student")
    if app.store.get_doc(LINE_ITEM, str(line_item), client_id=req.client_id) is None:
        raise _bad(f"assessmentLineItem {line_item} does not exist", minor="unknownobject")
    if result.get("scoreStatus") not in SCORE_STATUSES and not str(result.get("scoreStatus")).startswith("ext:"):
        raise _bad(f"scoreStatus must be one of {', '.join(SCORE_STATUSES)}")
    score = result.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        raise _bad("score must be a number")
    if (
        "scoreDate" in result
        and parse_when(result["scoreDate"] if isinstance(result["scoreDate"], str) else None) is None
    ):
        raise _bad("scoreDate must be an ISO 8601 date-time")
    if result.get("metadata") is not None and not isinstance(result["metadata"], dict):
        raise _bad("metadata must be an object")
    record = {**result, "sourcedId": sourced_id, "status": status, "dateLastModified": iso_ms(utcnow())}
    _store(app, req, RESULT, record, parent=line_item)
    return Reply(status=201, body={"assessmentResult": record})


def _field(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _page(req: Request, records: list[dict[str, Any]], key: str) -> Reply:
    try:
        limit = int(req.arg("limit") or 100)
        offset = int(req.arg("offset") or 0)
    except ValueError:
        raise _bad("limit and offset must be integers") from None
    if limit < 1 or offset < 0:
        raise _bad("limit must be >= 1 and offset >= 0")
    expression = req.arg("filter")
    if expression:
        for clause in re.split(r"\s+AND\s+", expression):
            m = _CLAUSE.match(clause)
            if m is None:
                raise _bad(f"unsupported filter clause: {clause!r}")
            name, op, wanted = m.groups()
            records = [r for r in records if (str(_field(r, name)) == wanted) == (op == "=")]
    return Reply(status=200, body={key: records[offset : offset + limit]})


def list_line_items(app: Backend, req: Request) -> Reply:
    """``GET .../assessmentLineItems``: the caller's line items, oldest first."""
    return _page(req, app.store.docs(LINE_ITEM, client_id=req.client_id), "assessmentLineItems")


def list_results(app: Backend, req: Request) -> Reply:
    """``GET .../assessmentResults``: the caller's results, oldest first."""
    return _page(req, app.store.docs(RESULT, client_id=req.client_id), "assessmentResults")


def _one(app: Backend, req: Request, kind: str, key: str) -> Reply:
    record = app.store.get_doc(kind, req.params["sourcedId"], client_id=req.client_id)
    if record is None:
        raise _bad(f"{key} {req.params['sourcedId']} not found", 404, "unknownobject")
    return Reply(status=200, body={key: record})


def get_line_item(app: Backend, req: Request) -> Reply:
    """``GET .../assessmentLineItems/{sourcedId}``."""
    return _one(app, req, LINE_ITEM, "assessmentLineItem")


def get_result(app: Backend, req: Request) -> Reply:
    """``GET .../assessmentResults/{sourcedId}``."""
    return _one(app, req, RESULT, "assessmentResult")


ROUTES = [
    Route("POST", f"{PREFIX}/assessmentLineItems", create_line_item, CALIPER),
    Route("GET", f"{PREFIX}/assessmentLineItems", list_line_items, CALIPER),
    Route("GET", f"{PREFIX}/assessmentLineItems/{{sourcedId}}", get_line_item, CALIPER),
    Route("POST", f"{PREFIX}/assessmentResults", create_result, CALIPER),
    Route("GET", f"{PREFIX}/assessmentResults", list_results, CALIPER),
    Route("GET", f"{PREFIX}/assessmentResults/{{sourcedId}}", get_result, CALIPER),
]
"""Served with the Caliper (Cognito) tokens, as the client uses the same credentials on both hosts."""
