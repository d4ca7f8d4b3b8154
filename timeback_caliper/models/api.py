"""Non-Caliper payloads: send results, job statuses, stored events and pages, read leniently from the server.

Readers never reject a whole answer because one field is odd: ids become strings, unknown job states and
unknown keys are kept, timestamps in any RFC 3339 form (or epoch milliseconds) become aware datetimes, and
``raw`` always holds what the server said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

__all__ = [
    "JobStatus",
    "Pagination",
    "SendResult",
    "StoredEvent",
    "StoredEventsPage",
    "ValidationResult",
    "as_id",
    "parse_timestamp",
]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string (any precision) or epoch milliseconds; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    m = _RFC3339.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if sign:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(offset if sign == "+" else -offset)
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tz)
    except ValueError:
        return None
    return dt.astimezone(timezone.utc)


def as_id(value: Any) -> str | None:
    """An id as a string: numbers (``1647397``) and strings are both accepted; anything else is None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


@attrs.frozen(kw_only=True)
class SendResult:
    """What the server accepted for one send: a job per envelope, in order."""

    job_id: str | None
    """The first envelope's job id (``None`` when the server gave none)."""
    job_ids: list[str | None]
    """Every envelope's job id, in order."""
    event_ids: list[str]
    """The ids of every event accepted, in order."""
    request_ids: list[str]
    """The ``X-Request-ID`` of each accepted request, for support tickets."""
    attempts: int = 1
    """HTTP attempts made in total (retries included)."""
    envelopes: int = 1
    """How many envelopes the send was split into."""
    sent: list[tuple[str | None, list[str]]] = attrs.field(factory=list, repr=False)
    """``(job_id, event_ids)`` per envelope, in order: which events went in which job."""


def job_id_from_body(body: Any) -> str | None:
    """The job id in a 2xx answer to POST /caliper/event: ``{"jobId": ...}``, or a bare string/number body."""
    if isinstance(body, Mapping):
        return as_id(body.get("jobId", body.get("job_id")))
    if isinstance(body, str):
        text = body.strip().strip('"')
        return text or None
    return as_id(body)


@attrs.frozen(kw_only=True)
class ValidationResult:
    """The server's verdict on an envelope from ``/caliper/event/validate``: a result, never an exception."""

    ok: bool
    message: str | None = None
    errors: Any = None
    """The server's error details (the emulator sends a list of ``{path, rule, message}``)."""
    status_code: int = 200

    @classmethod
    def from_wire(cls, status_code: int, body: Any) -> ValidationResult:
        """Read a 200 or 400 answer."""
        message = body.get("message") if isinstance(body, Mapping) else (body if isinstance(body, str) else None)
        errors = body.get("errors") if isinstance(body, Mapping) else None
        ok = 200 <= status_code < 300 and not (isinstance(body, Mapping) and body.get("status") == "error")
        return cls(ok=ok, message=message, errors=errors, status_code=status_code)


PENDING, PROCESSING, COMPLETED, FAILED, UNKNOWN = "pending", "processing", "completed", "failed", "unknown"
_CATEGORY = {
    "waiting": PENDING,
    "delayed": PENDING,
    "prioritized": PENDING,
    "waiting-children": PENDING,
    "paused": PENDING,
    "active": PROCESSING,
    "completed": COMPLETED,
    "failed": FAILED,
}


@attrs.frozen(kw_only=True)
class JobStatus:
    """A background ingestion job (BullMQ state names on the wire)."""

    id: str
    state: str
    """The wire state, unchanged (``waiting``, ``active``, ``completed``, ``failed``, ``delayed``...)."""
    return_value: Any = None
    processed_on: datetime | None = None
    failed_reason: str | None = None
    raw: Any = attrs.field(default=None, repr=False)

    @property
    def category(self) -> str:
        """``pending``, ``processing``, ``completed``, ``failed`` or ``unknown`` (any other state)."""
        return _CATEGORY.get(self.state, UNKNOWN)

    @property
    def is_done(self) -> bool:
        """True once the job reached a terminal state (completed or failed)."""
        return self.category in (COMPLETED, FAILED)

    @property
    def is_failed(self) -> bool:
        """True when the job ended ``failed``."""
        return self.category == FAILED

    @property
    def results(self) -> list[tuple[str | None, str | None]]:
        """``(allocatedId, externalId)`` for every stored event, from ``returnValue.results``."""
        rv = self.return_value
        items = rv.get("results") if isinstance(rv, Mapping) else None
        if not isinstance(items, list):
            return []
        return [(as_id(r.get("allocatedId")), as_id(r.get("externalId"))) for r in items if isinstance(r, Mapping)]

    @classmethod
    def from_wire(cls, body: Any, job_id: str) -> JobStatus:
        """Read ``{"job": {...}}`` or the job object at top level; raises ValueError if neither."""
        job = body.get("job", body) if isinstance(body, Mapping) else None
        if not isinstance(job, Mapping) or "state" not in job:
            raise ValueError("no job object with a 'state' in the answer")
        state = job.get("state")
        reason = job.get("failedReason")
        return cls(
            id=as_id(job.get("id")) or job_id,
            state=state if isinstance(state, str) else str(state),
            return_value=job.get("returnValue"),
            processed_on=parse_timestamp(job.get("processedOn")),
            failed_reason=reason if isinstance(reason, str) else None,
            raw=body,
        )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@attrs.frozen(kw_only=True)
class StoredEvent:
    """An event as the server stored it. Related entities stay as sent (an IRI, an object or None)."""

    id: str | None
    """The server's database id, as a string."""
    external_id: str | None
    """The event's own ``urn:uuid`` id."""
    sensor: str | None = None
    type: str | None = None
    profile: str | None = None
    action: str | None = None
    event_time: datetime | None = None
    send_time: datetime | None = None
    actor: Any = None
    object: Any = None
    generated: Any = None
    target: Any = None
    referrer: Any = None
    ed_app: Any = None
    group: Any = None
    membership: Any = None
    session: Any = None
    federated_session: Any = None
    extensions: Any = None
    client_app_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    raw: Any = attrs.field(default=None, repr=False)
    """The row exactly as received (unknown keys included)."""

    @classmethod
    def from_wire(cls, row: Mapping[str, Any]) -> StoredEvent:
        """Read one stored-event row (never raises for odd values: they become None, ``raw`` keeps them)."""
        g = row.get
        return cls(
            id=as_id(g("id")),
            external_id=_str(g("externalId")),
            sensor=_str(g("sensor")),
            type=_str(g("type")),
            profile=_str(g("profile")),
            action=_str(g("action")),
            event_time=parse_timestamp(g("eventTime")),
            send_time=parse_timestamp(g("sendTime")),
            actor=g("actor"),
            object=g("object"),
            generated=g("generated"),
            target=g("target"),
            referrer=g("referrer"),
            ed_app=g("edApp"),
            group=g("group"),
            membership=g("membership"),
            session=g("session"),
            federated_session=g("federatedSession"),
            extensions=g("extensions"),
            client_app_id=as_id(g("clientAppId")),
            created_at=parse_timestamp(g("created_at")),
            updated_at=parse_timestamp(g("updated_at")),
            deleted_at=parse_timestamp(g("deleted_at")),
            raw=dict(row),
        )

    def to_event_dict(self) -> dict[str, Any]:
        """The Caliper event as it was sent (``id`` = external id), for :func:`timeback_caliper.parse`."""
        keys: tuple[str, ...] = ("type", "profile", "action", "actor", "object", "generated", "target", "referrer")
        keys += ("edApp", "group", "membership", "session", "federatedSession", "extensions", "eventTime")
        raw = self.raw if isinstance(self.raw, Mapping) else {}
        out: dict[str, Any] = {"id": self.external_id}
        out.update({k: raw[k] for k in keys if raw.get(k) is not None})
        return out


@attrs.frozen(kw_only=True)
class Pagination:
    """Paging facts of a list answer (each may be missing)."""

    total: int | None = None
    total_pages: int | None = None
    current_page: int | None = None
    limit: int | None = None

    @classmethod
    def from_wire(cls, value: Any) -> Pagination:
        """Read ``{"total", "totalPages", "currentPage", "limit"}`` with every key optional."""
        if not isinstance(value, Mapping):
            return cls()

        def num(key: str) -> int | None:
            v = value.get(key)
            return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        return cls(
            total=num("total"), total_pages=num("totalPages"), current_page=num("currentPage"), limit=num("limit")
        )


@attrs.frozen(kw_only=True)
class StoredEventsPage:
    """One page of ``GET /caliper/events``."""

    events: list[StoredEvent]
    pagination: Pagination
    offset: int
    limit: int
    rows: int = 0
    """Rows the server returned (odd rows that were skipped included)."""

    @property
    def has_more(self) -> bool:
        """Whether another page may follow (a short page, or reaching ``total``, ends the list)."""
        limit = self.pagination.limit or self.limit  # the server may cap the page size it was asked for
        if self.rows == 0 or self.rows < limit:
            return False
        total = self.pagination.total
        return total is None or self.offset + self.rows < total

    @classmethod
    def from_wire(cls, body: Any, *, offset: int, limit: int) -> StoredEventsPage:
        """Read the list under ``events``, then ``data``, else an empty page; odd rows are skipped."""
        rows: Any = []
        if isinstance(body, Mapping):
            rows = body.get("events")
            if not isinstance(rows, list):
                rows = body.get("data")
        if not isinstance(rows, list):
            rows = []
        events = [StoredEvent.from_wire(r) for r in rows if isinstance(r, Mapping)]
        pagination = Pagination.from_wire(body.get("pagination") if isinstance(body, Mapping) else None)
        return cls(events=events, pagination=pagination, offset=offset, limit=limit, rows=len(rows))
