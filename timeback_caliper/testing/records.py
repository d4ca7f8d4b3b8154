"""The emulator's storage records: the SQLite schema, token/job/copy rows and the stored-event record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "EVENT_FIELDS",
    "SCHEMA",
    "EventCopy",
    "JobRow",
    "TokenRow",
    "dumps",
    "event_ids",
    "event_record",
    "event_row",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    sensor TEXT,
    event_time_ms INTEGER,
    actor_id TEXT,
    actor_email TEXT,
    profile TEXT,
    user_id TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (client_id, event_time_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS events_by_external ON events (client_id, external_id);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    processed_on TEXT,
    finished_on TEXT,
    failed_reason TEXT,
    return_value TEXT,
    payload TEXT NOT NULL,
    plan TEXT NOT NULL,
    reason TEXT,
    ambiguous INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    issuer TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    client_id TEXT,
    parent TEXT,
    record TEXT NOT NULL,
    UNIQUE (kind, id)
);
"""

EVENT_FIELDS = (
    "target",
    "referrer",
    "edApp",
    "group",
    "membership",
    "session",
    "federatedSession",
    "extensions",
)


@attrs.frozen
class TokenRow:
    """An issued access token."""

    client_id: str
    issuer: str
    """``caliper`` (the Cognito-style route) or ``platform``."""
    scopes: frozenset[str]
    expires_at: float
    """Wall-clock expiry (``time.time()`` seconds)."""


@attrs.frozen(kw_only=True)
class JobRow:
    """A background job as stored."""

    id: int
    client_id: str
    state: str
    created_at: str
    processed_on: str | None
    finished_on: str | None
    failed_reason: str | None
    return_value: Any
    plan: str
    """``run`` (normal), ``fail`` or ``delayed``: what the worker will do with it."""
    reason: str | None
    ambiguous: bool
    """An ambiguous fault (close, delay, trickle) hit the request that created it."""
    event_ids: list[str]

    def wire(self) -> dict[str, Any]:
        """The ``job`` object of ``GET /jobs/{id}/status``."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "state": self.state,
            "returnValue": self.return_value,
            "processedOn": self.processed_on,
        }
        if self.state == "failed":
            out["failedReason"] = self.failed_reason
        return out


@attrs.frozen(kw_only=True)
class EventCopy:
    """One stored copy of an event, with the job that stored it (for duplicate accounting)."""

    id: int
    external_id: str
    client_id: str
    job_id: str
    ambiguous: bool
    """The job's request was hit by an ambiguous fault."""


def dumps(value: Any) -> str:
    """Compact JSON text for a stored column."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def event_ids(payload: Mapping[str, Any]) -> list[str]:
    """The ids of the events (items with an ``action``) in an envelope."""
    data = payload.get("data")
    if not isinstance(data, list):
        return []
    return [str(e.get("id")) for e in data if isinstance(e, dict) and "action" in e]


def event_record(event: Mapping[str, Any], sensor: Any, send_time: Any, client_id: str, now: str) -> dict[str, Any]:
    """The stored-event record of contract §4.3 (without its database ``id``), in the documented key order."""
    record: dict[str, Any] = {
        "externalId": event.get("id"),
        "sensor": sensor,
        "type": event.get("type"),
        "profile": event.get("profile"),
        "action": event.get("action"),
        "eventTime": event.get("eventTime"),
        "sendTime": send_time,
        "actor": event.get("actor"),
        "object": event.get("object"),
        "generated": event.get("generated"),
    }
    for key in EVENT_FIELDS:
        record[key] = event.get(key)
    record.update(clientAppId=client_id, created_at=now, updated_at=now, deleted_at=None)
    return record


def event_row(db_id: int, record_text: str) -> dict[str, Any]:
    """A stored record with its database ``id`` first (an integer, as in the contract's example)."""
    return {"id": int(db_id), **json.loads(record_text)}
