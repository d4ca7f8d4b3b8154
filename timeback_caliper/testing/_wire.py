"""Small wire helpers shared by the emulator's routes: timestamps, ids, scopes and the error body shapes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from ..models.api import parse_timestamp
from ..serialization import format_datetime

__all__ = [
    "ALL_SCOPES",
    "APPLICATIONS_SCOPE",
    "CALIPER_SCOPES",
    "INSIGHTS_SCOPE",
    "SCOPE_ADMIN",
    "SCOPE_EVENT_CREATE",
    "SCOPE_WEBHOOK_CREATE",
    "SCOPE_WEBHOOK_READONLY",
    "caliper_error",
    "is_uuid",
    "iso_ms",
    "iso_s",
    "parse_when",
    "path_list",
    "platform_error",
    "to_ms",
    "utcnow",
]

_V1P1 = "https://purl.imsglobal.org/spec/caliper/v1p1/scope/"
SCOPE_ADMIN = _V1P1 + "admin"
SCOPE_EVENT_CREATE = _V1P1 + "event.create"
SCOPE_WEBHOOK_CREATE = _V1P1 + "webhook.create"
SCOPE_WEBHOOK_READONLY = _V1P1 + "webhook.readonly"
CALIPER_SCOPES = (SCOPE_ADMIN, SCOPE_EVENT_CREATE, SCOPE_WEBHOOK_CREATE, SCOPE_WEBHOOK_READONLY)
INSIGHTS_SCOPE = "https://purl.imsglobal.org/spec/caliper/v1p2/scope/events.readonly"
APPLICATIONS_SCOPE = "https://purl.imsglobal.org/spec/lti/v1p3/scope/lti.readonly"
EVENTS_WRITE_SCOPE = "https://purl.imsglobal.org/spec/caliper/v1p2/scope/events.write"
ALL_SCOPES = (*CALIPER_SCOPES, INSIGHTS_SCOPE, APPLICATIONS_SCOPE, EVENTS_WRITE_SCOPE)
"""Every scope a client of the emulator may hold (its default grant)."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(timezone.utc)


def iso_ms(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` (what a Node service's ``toISOString()`` writes)."""
    return format_datetime(when)


def iso_s(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: the seconds precision of the platform's Insights answers."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_ms(when: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(when.timestamp() * 1000)


def parse_when(value: str | None) -> datetime | None:
    """An aware datetime from an RFC 3339 query parameter (any precision); None when it is not one."""
    if value is None:
        return None
    return parse_timestamp(value)


def is_uuid(value: Any) -> bool:
    """True for a canonical 8-4-4-4-12 hex UUID string."""
    return isinstance(value, str) and bool(_UUID.match(value))


def path_list(dotted: str) -> list[str | int]:
    """``data[0].actor.email`` -> ``["data", 0, "actor", "email"]`` (the emulator's error path form)."""
    out: list[str | int] = []
    for key, index in _PATH_TOKEN.findall(dotted):
        out.append(int(index) if index else key)
    return out


def caliper_error(message: str, errors: Any = None) -> dict[str, Any]:
    """The Caliper generic error body: ``{"status": "error", "message", "errors"}``."""
    return {"status": "error", "message": message, "errors": errors}


def platform_error(error: str, message: str) -> dict[str, Any]:
    """The platform (Insights, Applications) error body: ``{"error", "message"}``."""
    return {"error": error, "message": message}


def new_uuid() -> str:
    """A fresh random UUID string."""
    return str(uuid.uuid4())
