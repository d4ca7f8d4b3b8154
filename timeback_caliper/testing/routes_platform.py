"""Platform routes: the four Insights routes and ``GET /applications/1.0`` (contract §5), with their checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._wire import APPLICATIONS_SCOPE, INSIGHTS_SCOPE, is_uuid, parse_when
from .backend import Backend
from .insights import Insight, Session, overview, sessions_from
from .routing import PLATFORM, HttpError, Reply, Request, Route, error_reply, int_param

__all__ = ["ROUTES"]

INSIGHTS = frozenset({INSIGHTS_SCOPE})
APPLICATIONS = frozenset({APPLICATIONS_SCOPE})
APP_FIELDS = ("sourcedId", "name", "description", "logoUrl", "applicationType", "wasteMeter", "proctoringMode")
_CLAUSE = re.compile(r"^\s*(\w+)\s*(!=|>=|<=|=|>|<|~)\s*'(.*)'\s*$", re.S)
MAX_OVERVIEW_DAYS = 400


def _bad(message: str) -> HttpError:
    return HttpError(error_reply(PLATFORM, 400, message))


def _uuid_param(req: Request, name: str) -> str:
    value = req.params[name]
    if not is_uuid(value):
        raise _bad(f"Invalid UUID format for {name}")
    return value.lower()


def _when(req: Request, name: str, *, required: bool = False) -> datetime | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        if required:
            raise _bad(f"Missing required parameter: {name}")
        return None
    when = parse_when(raw)
    if when is None:
        raise _bad(f"Invalid date-time for {name}: {raw!r}")
    return when


def _bool(req: Request, name: str) -> bool | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise _bad(f"Invalid boolean for {name}: {raw!r}")
    return raw.lower() == "true"


def _paging(req: Request) -> tuple[int, int]:
    return (
        int_param(req, "limit", 20, low=1, high=100, family=PLATFORM),
        int_param(req, "offset", 0, low=0, family=PLATFORM),
    )


def _sessions(app: Backend, user_id: str | None = None) -> list[Session]:
    records = app.store.timeback_events(user_id)
    return sessions_from(records, app.catalogue(), session_gap=app.config.session_gap)


def _user_sessions(app: Backend, req: Request) -> list[Session]:
    user_id = _uuid_param(req, "userId")
    sessions = _sessions(app, user_id)
    if not sessions:
        raise HttpError(error_reply(PLATFORM, 404, f"User not found: {user_id}"))
    return sessions


def _types(req: Request) -> set[str] | None:
    raw = req.arg("type")
    return {t.strip() for t in raw.split(",") if t.strip()} if raw else None


def _page(items: list[Any], key: str, limit: int, offset: int, wire: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    return {
        key: [wire(i) for i in items[offset : offset + limit]],
        "offset": offset,
        "limit": limit,
        "total": len(items),
    }


def user_insights(app: Backend, req: Request) -> Reply:
    """``GET /insights/1.0/users/{userId}``: the user's waste insights, newest first."""
    sessions = _user_sessions(app, req)
    application = req.arg("applicationId")
    if application is not None and not is_uuid(application):
        raise _bad("Invalid UUID format for applicationId")
    after, before = _when(req, "after"), _when(req, "before")
    types = _types(req)
    limit, offset = _paging(req)
    found: list[Insight] = []
    for s in sessions:
        if application is not None and s.application_id != application.lower():
            continue
        found.extend(
            i
            for i in s.insights
            if (after is None or i.start >= after)
            and (before is None or i.start <= before)
            and (types is None or i.insight_type in types)
        )
    found.sort(key=lambda i: (i.start, i.id), reverse=True)
    return Reply(status=200, body=_page(found, "insights", limit, offset, Insight.wire))


def user_sessions(app: Backend, req: Request) -> Reply:
    """``GET /insights/1.0/users/{userId}/sessions``: the user's sessions, newest first."""
    sessions = _user_sessions(app, req)
    application = req.arg("applicationId")
    if application is not None and not is_uuid(application):
        raise _bad("Invalid UUID format for applicationId")
    after, before = _when(req, "startedAfter"), _when(req, "startedBefore")
    proctored = _bool(req, "isProctored")
    limit, offset = _paging(req)
    chosen = [
        s
        for s in sessions
        if (application is None or s.application_id == application.lower())
        and (after is None or s.start >= after)
        and (before is None or s.start <= before)
        and (proctored is None or proctored is False)  # emulated sessions are never proctored
    ]
    return Reply(status=200, body=_page(chosen, "sessions", limit, offset, Session.wire))


def session_insights(app: Backend, req: Request) -> Reply:
    """``GET /insights/1.0/sessions/{sessionId}``: the session's summary and its insights."""
    session_id = _uuid_param(req, "sessionId")
    proctored = _bool(req, "isProctored")
    types = _types(req)
    limit, offset = _paging(req)
    session = next((s for s in _sessions(app) if s.id == session_id), None)
    if session is None:
        raise HttpError(error_reply(PLATFORM, 404, f"Session not found: {session_id}"))
    found = [i for i in session.insights if (types is None or i.insight_type in types) and proctored is not True]
    body = {"session": session.summary(), **_page(found, "insights", limit, offset, Insight.wire)}
    return Reply(status=200, body=body)


def user_overview(app: Backend, req: Request) -> Reply:
    """``GET /insights/1.0/users/{userId}/overview``: summary, local-day trend and breakdown."""
    _uuid_param(req, "userId")
    after = _when(req, "startedAfter", required=True)
    before = _when(req, "startedBefore", required=True)
    zone_name = req.arg("targetTimezone")
    if not zone_name:
        raise _bad("Missing required parameter: targetTimezone")
    zone: ZoneInfo | timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if zone_name.upper() not in ("UTC", "ETC/UTC"):  # no tz database on this machine: UTC still works
            raise _bad(f"Invalid IANA time zone for targetTimezone: {zone_name!r}") from exc
        zone = timezone.utc
    if after is None or before is None or after >= before:  # (never None: required=True raised already)
        raise _bad("startedAfter must be before startedBefore")
    if before - after > timedelta(days=MAX_OVERVIEW_DAYS):
        raise _bad(f"the range may span at most {MAX_OVERVIEW_DAYS} days")
    sessions = _user_sessions(app, req)
    return Reply(status=200, body=overview(sessions, after, before, zone))


# ---------------------------------------------------------------------------------------------------- applications
def _app_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """A OneRoster filter: ``field op 'value'`` clauses joined by `` AND `` or `` OR `` (one kind per expression)."""
    joiner = " OR " if " OR " in expression else " AND "
    tests = []
    for clause in expression.split(joiner):
        m = _CLAUSE.match(clause)
        if not m or m[1] not in APP_FIELDS:
            raise _bad(f"Invalid filter: {clause.strip()!r}")
        field, op, value = m[1], m[2], m[3]
        tests.append((field, op, value))

    def one(app: dict[str, Any], field: str, op: str, value: str) -> bool:
        have = str(app.get(field) if app.get(field) is not None else "")
        if op == "~":
            return value.lower() in have.lower()
        return {
            "=": have == value,
            "!=": have != value,
            ">": have > value,
            ">=": have >= value,
            "<": have < value,
            "<=": have <= value,
        }[op]

    if joiner == " OR ":
        return lambda app: any(one(app, *t) for t in tests)
    return lambda app: all(one(app, *t) for t in tests)


def list_applications(app: Backend, req: Request) -> Reply:
    """``GET /applications/1.0``: the catalogue with OneRoster-style paging, sort, filter and fields."""
    limit = int_param(req, "limit", 10, low=1, high=100, family=PLATFORM)
    offset = int_param(req, "offset", 0, low=0, family=PLATFORM)
    apps = app.store.docs("application")
    expression = req.arg("filter")
    if expression:
        keep = _app_filter(expression)
        apps = [a for a in apps if keep(a)]
    sort = req.arg("sort")
    order = (req.arg("orderBy") or "asc").lower()
    if order not in ("asc", "desc"):
        raise _bad(f"Invalid orderBy: {order!r} (asc or desc)")
    if sort:
        if sort not in APP_FIELDS:
            raise _bad(f"Invalid sort field: {sort!r}")
        apps.sort(key=lambda a: str(a.get(sort) or ""), reverse=order == "desc")
    fields = [f.strip() for f in (req.arg("fields") or "").split(",") if f.strip()]
    unknown = [f for f in fields if f not in APP_FIELDS]
    if unknown:
        raise _bad(f"Invalid fields: {', '.join(unknown)}")
    page = apps[offset : offset + limit]
    if fields:
        page = [{k: a.get(k) for k in fields} for a in page]
    return Reply(status=200, body={"applications": page, "offset": offset, "limit": limit, "total": len(apps)})


ROUTES = [
    Route("GET", "/insights/1.0/users/{userId}", user_insights, PLATFORM, INSIGHTS),
    Route("GET", "/insights/1.0/users/{userId}/sessions", user_sessions, PLATFORM, INSIGHTS),
    Route("GET", "/insights/1.0/users/{userId}/overview", user_overview, PLATFORM, INSIGHTS),
    Route("GET", "/insights/1.0/sessions/{sessionId}", session_insights, PLATFORM, INSIGHTS),
    Route("GET", "/applications/1.0", list_applications, PLATFORM, APPLICATIONS),
]
