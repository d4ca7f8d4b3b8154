"""``Outbox``: store events durably first, deliver them later with a drain worker, and never lose or resend one."""

from __future__ import annotations

import logging
import os
import random as _random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from ..errors import CaliperValidationError, Problem
from ..models._base import WireModel
from ..models.caliper.events import Event
from ..serialization import dumps, parse, validate
from ._common import Backend, DeadEvent, DrainReport, NewRow, OutboxEntry, OutboxError, OutboxStats
from ._drain import DrainSettings, run_drain

__all__ = ["Outbox"]

logger = logging.getLogger(__name__)

DEFAULT_TABLE_PREFIX = "timeback_outbox"


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")


class Outbox:
    """A durable queue of Caliper events in front of ``client.events.send``.

    ``add()`` validates events and commits them (optionally inside your own database transaction); ``drain()``
    delivers them, once each, and keeps every failure visible (``stats()``, ``dead()``).

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` (or a plain file path), or
            ``postgresql://user@host/db`` (needs the ``[postgres]`` extra). Tables are created when missing.
        table_prefix: Table names start with this (``<prefix>_events``, ``<prefix>_schema_version``).
        schema: PostgreSQL schema holding the tables (created if missing); default: the search path.
        lease_seconds: How long a claim is valid. A worker that dies holding events releases them when it
            expires; keep it well above the client's ``deadline`` (the drain renews it before a send otherwise).
        backoff_base: First retry delay in seconds after a failed send; it doubles per attempt, jittered.
        backoff_cap: Largest retry delay in seconds (a server's ``Retry-After`` may exceed it).
        max_attempts: Give up (``dead``) after this many retryable failures; ``None`` (default) retries forever.
            Ambiguous failures never make an event dead.
        clock: SQLite only: seconds since the epoch (tests inject one). PostgreSQL always uses the server's clock,
            so workers on several machines agree on leases.
        random: Source of jitter in [0, 1).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        table_prefix: str = DEFAULT_TABLE_PREFIX,
        schema: str | None = None,
        lease_seconds: float = 120.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        max_attempts: int | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        _positive("lease_seconds", lease_seconds)
        _positive("backoff_base", backoff_base)
        _positive("backoff_cap", backoff_cap)
        if max_attempts is not None and (isinstance(max_attempts, bool) or max_attempts < 1):
            raise ValueError(f"max_attempts must be None or >= 1, got {max_attempts!r}")
        self._settings = DrainSettings(
            lease=float(lease_seconds),
            backoff_base=float(backoff_base),
            backoff_cap=float(backoff_cap),
            max_attempts=max_attempts,
            random=random,
            clock=clock or time.monotonic,
        )
        self._backend = _open_backend(os.fspath(url), table_prefix=table_prefix, schema=schema, clock=clock)
        self._closed = False
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """Where the events live (any password redacted)."""
        return self._backend.description

    def __repr__(self) -> str:
        return f"<Outbox {self.url}>"

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close this process's database connections (safe to call twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._backend.close()

    # ------------------------------------------------------------------------------------------------ adding
    def add(
        self,
        events: Iterable[Event | Mapping[str, Any]],
        *,
        sensor: str,
        connection: Any | None = None,
    ) -> list[str]:
        """Validate events and store them durably; ``drain()`` sends them later.

        All or nothing: if any event is invalid nothing is stored, and the events of one call are committed
        in one transaction. An id already in the outbox is skipped, so a retried request handler cannot
        queue an event twice.

        Args:
            events: Event models (the factories' output) or their wire dicts; each needs ``id`` and ``profile``.
            sensor: The sensor IRI they are sent with.
            connection: Join this database transaction instead of committing on the outbox's own connection:
                a psycopg 3 connection or Django's ``django.db.connection`` (PostgreSQL outbox), or a
                ``sqlite3.Connection`` to the same file (SQLite outbox). The events are then committed, or
                rolled back, exactly with your own changes.

        Returns:
            The events' ids, in order.

        Raises:
            CaliperValidationError: an event is invalid (every problem is listed, paths start ``events[i]``).
            TypeError: ``events`` is a single event or dict instead of a list of them.
        """
        rows = _prepare(events, sensor)
        if not rows:
            return []
        new = self._backend.add(rows, connection)
        if new < len(rows):
            logger.info("outbox: %d of %d events were already stored and were skipped", len(rows) - new, len(rows))
        return [r.event_id for r in rows]

    # ------------------------------------------------------------------------------------------------ draining
    def drain(
        self,
        client: Any,
        *,
        max_events: int | None = None,
        max_seconds: float | None = None,
        batch_size: int = 100,
        forever: bool = False,
        poll_interval: float = 1.0,
        stop: threading.Event | None = None,
    ) -> DrainReport:
        """Send due events with ``client.events.send`` until none are due (or a limit or ``stop`` is reached).

        Each batch is claimed under a lease, so any number of drains (threads, processes, machines on one
        PostgreSQL) can run at once and never hold the same event. Every outcome is written back before the
        next batch: sent (with the job id), retried later, or dead (see docs/outbox.md for each failure class).

        Args:
            client: A :class:`~timeback_caliper.CaliperClient` (anything with ``events.send(sensor, events)``).
            max_events: Claim at most this many events in total.
            max_seconds: Start no new batch after this many seconds (a batch in progress finishes).
            batch_size: Events per claim and per send (one envelope with the client's default limits).
            forever: Keep polling for new events every ``poll_interval`` seconds instead of returning when idle.
            poll_interval: Seconds between polls when idle, with ``forever``.
            stop: Set it (e.g. from a SIGTERM handler) to finish the current send, hand back the rest of the
                claim, and return.

        Returns:
            A :class:`DrainReport` of what was done.

        Raises:
            ApiError: the API refused the request for a reason that is not the events' fault (401, 403, 404...):
                the events are rescheduled, the rest of the claim handed back, and the error raised.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if max_events is not None and (isinstance(max_events, bool) or max_events < 0):
            raise ValueError(f"max_events must be None or >= 0, got {max_events!r}")
        if max_seconds is not None:
            _positive("max_seconds", max_seconds)
        _positive("poll_interval", poll_interval)
        return run_drain(
            self._backend,
            client,
            self._settings,
            max_events=max_events,
            max_seconds=max_seconds,
            batch_size=batch_size,
            forever=forever,
            poll_interval=poll_interval,
            stop=stop,
        )

    # ------------------------------------------------------------------------------------------------ operating
    def stats(self) -> OutboxStats:
        """Counts per state, the oldest undelivered event's age, and the ambiguous-attempt tally."""
        return self._backend.stats()

    def dead(self, limit: int = 100) -> list[DeadEvent]:
        """Events refused permanently, oldest first, each with the reason."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
        return self._backend.dead(limit)

    def entry(self, event_id: str) -> OutboxEntry | None:
        """Where one event stands (state, attempts, last error, job id...), or None if it was never added."""
        return self._backend.entry(event_id)

    def requeue(self, ids: Iterable[str]) -> int:
        """Put dead events back in the queue (attempts reset, due now); sent events are never touched.

        Returns:
            How many dead events were requeued (unknown or non-dead ids are ignored).
        """
        if isinstance(ids, str):
            raise TypeError("requeue() takes a list of ids, not one string")
        wanted = list(dict.fromkeys(ids))
        return self._backend.requeue(wanted) if wanted else 0

    def purge_sent(self, older_than: timedelta | float) -> int:
        """Delete events sent more than ``older_than`` ago (a timedelta or seconds); return how many."""
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else float(older_than)
        if not seconds >= 0:
            raise ValueError(f"older_than must be >= 0, got {older_than!r}")
        return self._backend.purge_sent(seconds)

    def drop_tables(self) -> None:
        """Drop the outbox's tables, undelivered events included (tests and uninstalls only)."""
        self._backend.drop()


# ---------------------------------------------------------------------------------------------------- helpers
def _open_backend(url: str, *, table_prefix: str, schema: str | None, clock: Callable[[], float] | None) -> Backend:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        if clock is not None:
            raise ValueError("clock= is SQLite only: the PostgreSQL outbox uses the database server's clock")
        from ._postgres import PostgresBackend

        return PostgresBackend(url, table_prefix=table_prefix, schema=schema)
    if scheme in ("sqlite", ""):
        if schema is not None:
            raise ValueError("schema= is PostgreSQL only")
        from ._sqlite import SqliteBackend

        return SqliteBackend(_sqlite_path(url) if scheme else url, table_prefix=table_prefix, clock=clock)
    raise OutboxError(f"unsupported outbox URL scheme {scheme!r}: use sqlite:///path or postgresql://...")


def _sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db`` (SQLAlchemy's convention)."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"a sqlite URL has no host: write sqlite:///relative.db or sqlite:////abs.db, got {url!r}")
    path = unquote(parts.path)
    return path[1:] if path.startswith("/") else path


def _prefixed(problems: Sequence[Problem], where: str) -> list[Problem]:
    return [attrs.evolve(p, path=f"{where}.{p.path}" if p.path else where) for p in problems]


def _check_sensor(sensor: Any) -> list[Problem]:
    if not isinstance(sensor, str) or ":" not in sensor or any(c.isspace() for c in sensor):
        return [Problem("sensor", f"sensor must be an absolute IRI, got {sensor!r}", "ENV-1")]
    return []


def _prepare(events: Iterable[Event | Mapping[str, Any]], sensor: str) -> list[NewRow]:
    """Validate (strict client rules, as ``events.send`` does) and serialize; raise listing every problem."""
    if isinstance(events, (Mapping, WireModel, str, bytes)):
        raise TypeError("add() takes a list of events (wrap a single event in a list)")
    problems = _check_sensor(sensor)
    rows: list[NewRow] = []
    seen: set[str] = set()
    for i, item in enumerate(events):
        where = f"events[{i}]"
        if isinstance(item, Mapping):
            try:
                model = parse(dict(item))
            except CaliperValidationError as exc:
                problems.extend(_prefixed(exc.errors, where))
                continue
        elif isinstance(item, WireModel):
            model = item
            errors = [p for p in validate(model) if p.severity == "error"]
            if errors:
                problems.extend(_prefixed(errors, where))
                continue
        else:
            problems.append(Problem(where, f"expected an event model or its wire dict, got {type(item).__name__}"))
            continue
        if not isinstance(model, Event):
            problems.append(Problem(where, f"expected an event, got {type(model).__name__}", "ENV-4"))
            continue
        if model.profile is None:
            problems.append(Problem(f"{where}.profile", "profile is required to send an event", "EVT-2"))
        if model.id in seen:
            problems.append(Problem(f"{where}.id", f"duplicate event id {model.id!r} in one add", "EVT-1"))
        seen.add(model.id)
        rows.append(NewRow(event_id=model.id, sensor=sensor, payload=dumps(model).decode()))
    if problems:
        raise CaliperValidationError("invalid events: nothing was stored", problems)
    return rows
