"""Caliper routes: send, validate, list and get events, and job status (contract §4.1-§4.5)."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import Problem
from ..serialization import validate
from ._wire import SCOPE_ADMIN, SCOPE_EVENT_CREATE, caliper_error, parse_when, path_list, to_ms
from .backend import Backend
from .routing import CALIPER, HttpError, Reply, Request, Route, int_param, json_body

__all__ = ["ROUTES", "server_problems"]

logger = logging.getLogger(__name__)

EVENT_SCOPES = frozenset({SCOPE_ADMIN, SCOPE_EVENT_CREATE})
_ENVELOPE_KEYS = (("sensor", "ENV-1"), ("sendTime", "ENV-2"), ("dataVersion", "ENV-3"), ("data", "ENV-4"))


def server_problems(data: Any) -> list[dict[str, Any]]:
    """The server rule set's errors for an envelope, in the emulator's ``errors`` form (warnings left out)."""
    if not isinstance(data, dict):
        kind = type(data).__name__
        return [{"path": [], "rule": "ENV-4", "message": f"expected a JSON object (an envelope), got {kind}"}]
    if "dataVersion" not in data and not ("sensor" in data and "data" in data):
        # Not shaped like an envelope at all: the validator would read it as a bare entity, so name what is missing.
        missing = [(k, r) for k, r in _ENVELOPE_KEYS if k not in data]
        return [{"path": [k], "rule": r, "message": f"{k} is required in an envelope"} for k, r in missing]
    problems: list[Problem] = validate(data, server=True)
    return [
        {"path": path_list(p.path), "rule": p.rule, "message": p.message} for p in problems if p.severity == "error"
    ]


def _invalid(errors: list[dict[str, Any]]) -> Reply:
    n = len(errors)
    message = f"Invalid envelope: {n} problem{'s' if n != 1 else ''}"
    return Reply(status=400, body=caliper_error(message, errors))


def _duplicates(data: dict[str, Any], positions: list[int]) -> Reply:
    """409 naming each repeated event (positions among the events of ``data``)."""
    events = [(i, e) for i, e in enumerate(data["data"]) if isinstance(e, dict) and "action" in e]
    errors = [
        {"path": ["data", i, "id"], "rule": "duplicate", "message": f"event id {e.get('id')} was already received"}
        for n, (i, e) in enumerate(events)
        if n in set(positions)
    ]
    return Reply(status=409, body=caliper_error("Duplicate event ids", errors))


def _client(req: Request) -> str:
    return req.client_id or ""  # always set: the token check ran first


def send_event(app: Backend, req: Request) -> Reply:
    """``POST /caliper/event``: validate all or nothing, queue one job, answer with its id."""
    data = json_body(req)
    errors = server_problems(data)
    if errors:
        return _invalid(errors)
    cfg = app.config
    reject = cfg.dedupe == "reject"
    if reject:  # checked first so a job fault is not spent on a refused envelope (create_job re-checks atomically)
        dups = app.store.duplicates_of(_client(req), [str(e.get("id")) for e in data["data"] if "action" in e])
        if dups:
            return _duplicates(data, dups)
    fault = app.faults.take_job()
    plan = "run" if fault is None else "fail" if fault.kind == "job-fail" else "delayed"
    outcome = app.store.create_job(
        _client(req),
        data,
        plan=plan,
        reason=fault.reason if fault is not None else None,
        ambiguous=req.ambiguous,
        reject_duplicates=reject,
    )
    if isinstance(outcome, list):
        return _duplicates(data, outcome)
    app.worker.submit(outcome)
    job_id = str(outcome)
    logger.debug("accepted an envelope as job %s (%d items)", job_id, len(data["data"]))
    if cfg.success_body == "empty":
        return Reply(status=cfg.success_status, empty=True)
    if cfg.success_body == "job-id":
        return Reply(status=cfg.success_status, text=job_id)
    return Reply(status=cfg.success_status, body={"status": "success", "message": "Events received", "jobId": job_id})


def validate_event(app: Backend, req: Request) -> Reply:
    """``POST /caliper/event/validate``: the same rules; nothing stored, no job."""
    errors = server_problems(json_body(req))
    if errors:
        return _invalid(errors)
    return Reply(status=200, body={"status": "success", "message": "Envelope is valid"})


def _bad_param(name: str, message: str) -> HttpError:
    return HttpError(Reply(status=400, body=caliper_error(message, [{"path": [name], "message": message}])))


def list_events(app: Backend, req: Request) -> Reply:
    """``GET /caliper/events``: the caller's events, filtered, newest ``eventTime`` first, with ``pagination``."""
    cfg = app.config
    limit = min(int_param(req, "limit", 100, low=1, family=CALIPER), cfg.list_max_limit)
    offset = int_param(req, "offset", 0, low=0, family=CALIPER)
    bounds: dict[str, int | None] = {}
    for name in ("startDate", "endDate"):
        raw = req.arg(name)
        when = parse_when(raw)
        if raw is not None and when is None:
            raise _bad_param(name, f"Invalid {name}: expected an ISO 8601 date-time, got {raw!r}")
        bounds[name] = to_ms(when) if when is not None else None
    rows, total = app.store.list_events(
        _client(req),
        limit=limit,
        offset=offset,
        sensor=req.arg("sensor"),
        start_ms=bounds["startDate"],
        end_ms=bounds["endDate"],
        actor_id=req.arg("actorId"),
        actor_email=req.arg("actorEmail"),
    )
    pagination = {
        "total": total,
        "totalPages": -(-total // limit),
        "currentPage": offset // limit + 1,
        "limit": limit,
    }
    return Reply(status=200, body={"events": rows, "pagination": pagination})


def get_event(app: Backend, req: Request) -> Reply:
    """``GET /caliper/events/{externalId}``: the most recent stored copy of that event."""
    row = app.store.latest_event(_client(req), req.params["externalId"])
    if row is None:
        return Reply(status=404, body=caliper_error("Event not found"))
    return Reply(status=200, body={"event": row})


def job_status(app: Backend, req: Request) -> Reply:
    """``GET /jobs/{jobId}/status``: the job with its BullMQ state."""
    raw = req.params["jobId"]
    job = app.store.job(int(raw), _client(req)) if raw.isdigit() and len(raw) < 19 else None
    if job is None:
        return Reply(status=404, body=caliper_error("Job not found"))
    return Reply(status=200, body={"job": job.wire()})


ROUTES = [
    Route("POST", "/caliper/event", send_event, CALIPER, EVENT_SCOPES),
    Route("POST", "/caliper/event/validate", validate_event, CALIPER, EVENT_SCOPES),
    Route("GET", "/caliper/events", list_events, CALIPER, EVENT_SCOPES),
    Route("GET", "/caliper/events/{externalId}", get_event, CALIPER, EVENT_SCOPES),
    Route("GET", "/jobs/{jobId}/status", job_status, CALIPER, EVENT_SCOPES),
]
