"""What the outbox's storage backends share: row states, result types, the backend protocol and the backoff rule."""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ..errors import TimebackError

__all__ = [
    "DEAD",
    "INFLIGHT",
    "MAX_ERROR_TEXT",
    "PENDING",
    "SCHEMA_VERSION",
    "SENT",
    "Backend",
    "Claimed",
    "DeadEvent",
    "DrainReport",
    "ENTRY_COLUMNS",
    "NewRow",
    "OutboxEntry",
    "OutboxError",
    "OutboxStats",
    "PerThread",
    "Reschedule",
    "backoff_delay",
    "check_identifier",
    "entry_from_row",
]

SCHEMA_VERSION = 1
"""The table layout this code reads and writes; stored in the ``<prefix>_schema_version`` table."""

# Row states. An in-flight row's `next_attempt_at` is its lease expiry, so one index range scan on
# (next_attempt_at) over pending and in-flight rows finds both due retries and abandoned claims.
PENDING, INFLIGHT, SENT, DEAD = "pending", "inflight", "sent", "dead"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
MAX_ERROR_TEXT = 8000
"""``last_error`` is truncated to this many characters (a server can answer with a huge body)."""


C = TypeVar("C")


class PerThread(Generic[C]):
    """One database connection per thread and per process, opened on first use.

    A connection never crosses a ``fork()`` (the child opens its own and leaves the parent's alone, as both
    SQLite and libpq require), and one whose thread has ended is closed the next time a connection is opened,
    so web servers that recycle threads do not leak connections.
    """

    def __init__(self, connect: Callable[[], C], close: Callable[[C], None], usable: Callable[[C], bool]) -> None:
        self._connect, self._close, self._usable = connect, close, usable
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[tuple[C, int, threading.Thread]] = []
        self._generation = 0  # bumped by close_all(), so threads drop connections closed under them

    def get(self) -> C:
        """This thread's connection."""
        key = (os.getpid(), self._generation)
        conn: C | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.key == key:
            if self._usable(conn):
                return conn
            stale = conn  # broken (the server restarted, the network dropped): replace it
        else:
            stale = None
        conn = self._connect()
        self._local.conn, self._local.key = conn, key
        me, pid = threading.current_thread(), os.getpid()
        with self._lock:
            done = [c for c, p, t in self._opened if p == pid and (c is stale or not t.is_alive())]
            self._opened = [(c, p, t) for c, p, t in self._opened if not any(c is d for d in done)]
            self._opened.append((conn, pid, me))
        for old in done:
            with contextlib.suppress(Exception):  # closing a dead connection may fail; it is gone either way
                self._close(old)
        return conn

    def close_all(self) -> None:
        """Close every connection this process opened (safe to call twice)."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._generation += 1
        for conn, pid, _ in opened:
            if pid == os.getpid():
                self._close(conn)


class OutboxError(TimebackError):
    """The outbox cannot be used: unknown URL scheme, a schema from a newer version, a missing extra."""


def check_identifier(value: str, what: str) -> str:
    """Return ``value`` if it is a safe SQL identifier (it is pasted into SQL, so nothing else is allowed)."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(f"{what} must match {_IDENTIFIER.pattern} (letters, digits, _), got {value!r}")
    return value


def backoff_delay(
    attempts: int, *, base: float, cap: float, random: Callable[[], float], floor: float | None = None
) -> float:
    """Seconds until the next attempt after ``attempts`` failed ones: capped exponential, jittered.

    The jitter keeps half the step ("equal jitter"): full jitter could draw ~0 and turn an outage into a hot
    loop of claims; half a step is still enough to spread workers that failed together. The cap bounds the
    exponential step; a server's ``Retry-After`` is a floor that wins over it.
    """
    step = min(cap, base * math.pow(2.0, max(0, attempts - 1)))
    delay = step / 2 + random() * step / 2
    return delay if floor is None else max(delay, floor)


@attrs.frozen
class NewRow:
    """One validated event, ready to insert."""

    event_id: str
    sensor: str
    payload: str
    """The event's wire JSON (compact UTF-8 text)."""


@attrs.frozen
class Claimed:
    """One event this worker holds a lease on."""

    seq: int
    event_id: str
    sensor: str
    payload: str
    attempts: int
    """Claims so far, this one included."""
    reclaimed: bool
    """The previous claim's lease expired: that worker died or stalled, and may have sent the event."""


@attrs.frozen
class Reschedule:
    """A failed attempt: when to try again and why."""

    seq: int
    delay: float
    """Seconds from now."""
    error: str
    ambiguous: bool = False
    """The server may have stored the event (counted in the row's ``ambiguous`` tally)."""


@attrs.frozen(kw_only=True)
class OutboxStats:
    """A snapshot of the outbox (``Outbox.stats()``)."""

    pending: int
    """Waiting to be sent (due now or scheduled for a retry), abandoned claims included."""
    in_flight: int
    """Claimed by a worker whose lease has not expired."""
    sent: int
    """Accepted by the server (until purged)."""
    dead: int
    """Refused permanently; see ``Outbox.dead()``, fix, then ``Outbox.requeue()``."""
    oldest_pending_age: float | None
    """Seconds since the oldest undelivered event was added (None when everything was delivered)."""
    ambiguous: int
    """Attempts whose outcome was unknown (timeout or reset after sending, or a claim abandoned mid-send).

    Each may have produced one duplicate on the server, which does not deduplicate: this is the upper
    bound on duplicates this outbox caused (rows purged since are no longer counted).
    """

    @property
    def total(self) -> int:
        """Every row in the outbox."""
        return self.pending + self.in_flight + self.sent + self.dead

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as JSON-ready values."""
        return {**attrs.asdict(self), "total": self.total}


@attrs.frozen(kw_only=True)
class DeadEvent:
    """An event the server (or the local validator) refused permanently."""

    id: str
    sensor: str
    reason: str
    """The refusal, with the server's error details when it gave any."""
    attempts: int
    created_at: datetime
    dead_at: datetime | None
    event: dict[str, Any] = attrs.field(repr=False)
    """The stored wire JSON of the event."""


@attrs.frozen(kw_only=True)
class OutboxEntry:
    """Where one event stands (``Outbox.entry(event_id)``)."""

    id: str
    sensor: str
    state: str
    """``pending``, ``inflight``, ``sent`` or ``dead``."""
    attempts: int
    """Claims so far (each claim is one send attempt, or one abandoned by a worker that died)."""
    ambiguous: int
    """Attempts whose outcome was unknown."""
    created_at: datetime
    next_attempt_at: datetime | None
    """Pending: when it is due; in flight: when the lease expires; otherwise None."""
    claimed_by: str | None
    """``host:pid`` of the worker that claimed it last."""
    last_error: str | None
    job_id: str | None
    """The ingestion job of the envelope that delivered it."""
    sent_at: datetime | None
    dead_at: datetime | None


ENTRY_COLUMNS = (
    "event_id, sensor, state, attempts, ambiguous, created_at, next_attempt_at, claimed_by, last_error, job_id, "
    "sent_at, dead_at"
)


def entry_from_row(row: Sequence[Any], to_datetime: Callable[[Any], datetime | None]) -> OutboxEntry:
    """An :class:`OutboxEntry` from a row of ``ENTRY_COLUMNS``."""
    live = row[2] in (PENDING, INFLIGHT)
    return OutboxEntry(
        id=row[0],
        sensor=row[1],
        state=row[2],
        attempts=row[3],
        ambiguous=row[4],
        created_at=to_datetime(row[5]) or datetime.fromtimestamp(0, timezone.utc),
        next_attempt_at=to_datetime(row[6]) if live else None,
        claimed_by=row[7],
        last_error=row[8],
        job_id=row[9],
        sent_at=to_datetime(row[10]),
        dead_at=to_datetime(row[11]),
    )


@attrs.define(kw_only=True)
class DrainReport:
    """What one ``Outbox.drain()`` call did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    """Events rescheduled after a retryable or ambiguous failure."""
    dead: int = 0
    ambiguous: int = 0
    """Events whose send ended ambiguously (they are retried: at-least-once)."""
    reclaimed: int = 0
    """Events claimed after another worker's lease expired (also counted as ambiguous in ``stats()``)."""
    released: int = 0
    """Claimed events handed back unsent because the drain was asked to stop."""
    lease_lost: int = 0
    """Events whose lease expired while this worker was sending them (another worker may send them too)."""
    requests: int = 0
    """``client.events.send`` calls made."""
    batches: int = 0
    seconds: float = 0.0
    stopped: str = "idle"
    """Why the drain returned: ``idle`` (nothing due), ``max_events``, ``max_seconds`` or ``stop``."""

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return attrs.asdict(self)


class Backend(Protocol):
    """Storage for the outbox; every method is one short transaction (``add`` may join the caller's)."""

    description: str
    """Where the rows live (no password)."""
    transient_errors: tuple[type[BaseException], ...]
    """Database errors after which a write is worth retrying (a dropped connection, a lock timeout)."""

    def add(self, rows: Sequence[NewRow], connection: Any | None) -> int:
        """Insert rows atomically, skipping ids already stored; return how many were new."""
        ...

    def claim(self, limit: int, lease: float, token: str, worker: str) -> list[Claimed]:
        """Lease up to ``limit`` due rows (pending, or in flight with an expired lease), oldest first."""
        ...

    def renew(self, token: str, lease: float) -> set[int]:
        """Extend the lease on rows this claim still holds; return those seqs."""
        ...

    def mark_sent(self, token: str, items: Sequence[tuple[int, str | None]]) -> int:
        """Record ``(seq, job_id)`` as sent, even if the lease was lost; return how many had lost it."""
        ...

    def reschedule(self, token: str, items: Sequence[Reschedule]) -> None:
        """Put held rows back to pending with their next attempt time and error."""
        ...

    def mark_dead(self, token: str, items: Sequence[tuple[int, str]]) -> None:
        """Park held rows as dead with their reason."""
        ...

    def release(self, token: str, seqs: Sequence[int]) -> None:
        """Hand held rows back unattempted: pending, due now, the claim's attempt not counted."""
        ...

    def stats(self) -> OutboxStats:
        """Counts per state, the oldest undelivered age and the ambiguous tally."""
        ...

    def dead(self, limit: int) -> list[DeadEvent]:
        """Dead rows, oldest first."""
        ...

    def entry(self, event_id: str) -> OutboxEntry | None:
        """One event's row, or None."""
        ...

    def requeue(self, ids: Sequence[str]) -> int:
        """Dead rows with these ids back to pending (attempts reset); return how many."""
        ...

    def purge_sent(self, older_than: float) -> int:
        """Delete rows sent more than ``older_than`` seconds ago; return how many."""
        ...

    def drop(self) -> None:
        """Drop the outbox's tables (tests, uninstall)."""
        ...

    def close(self) -> None:
        """Close every connection this backend opened."""
        ...
