"""The embedded outbox backend: one SQLite file (WAL, synchronous=FULL), claims in ``BEGIN IMMEDIATE`` transactions.

Every process and thread gets its own connection (SQLite connections must not cross a ``fork()``), and a
claim is a write transaction, so two workers on one machine never hold the same row. Timestamps are UTC
seconds since the epoch (REAL), read from the injectable ``clock``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ._common import (
    DEAD,
    ENTRY_COLUMNS,
    INFLIGHT,
    PENDING,
    SCHEMA_VERSION,
    SENT,
    Claimed,
    DeadEvent,
    NewRow,
    OutboxEntry,
    OutboxError,
    OutboxStats,
    PerThread,
    Reschedule,
    check_identifier,
    entry_from_row,
)

__all__ = ["SqliteBackend"]

logger = logging.getLogger(__name__)

_LIVE = f"state IN ('{PENDING}', '{INFLIGHT}')"  # must match the partial index's WHERE text for SQLite to use it


def _schema(t: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {t} (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            sensor TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT '{PENDING}'
                CHECK (state IN ('{PENDING}', '{INFLIGHT}', '{SENT}', '{DEAD}')),
            attempts INTEGER NOT NULL DEFAULT 0,
            ambiguous INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            next_attempt_at REAL NOT NULL,
            claim_token TEXT,
            claimed_by TEXT,
            claimed_at REAL,
            last_error TEXT,
            job_id TEXT,
            sent_at REAL,
            dead_at REAL
        )""",
        f"CREATE INDEX IF NOT EXISTS {t}_due ON {t} (next_attempt_at, seq) WHERE {_LIVE}",
        f"CREATE INDEX IF NOT EXISTS {t}_sent ON {t} (sent_at) WHERE state = '{SENT}'",
        f"CREATE INDEX IF NOT EXISTS {t}_dead ON {t} (dead_at) WHERE state = '{DEAD}'",
    ]


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


class SqliteBackend:
    """Outbox rows in one SQLite database file."""

    def __init__(
        self,
        path: str,
        *,
        table_prefix: str,
        clock: Callable[[], float] | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            raise ValueError("an in-memory SQLite database is not durable: give the outbox a file path")
        prefix = check_identifier(table_prefix, "table_prefix")
        self.path = os.path.abspath(path)
        self.description = f"sqlite:///{self.path}"
        self._t, self._v = f"{prefix}_events", f"{prefix}_schema_version"
        self._clock = clock or time.time
        self.transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
        """Errors worth retrying a write for ("database is locked" past the busy timeout, I/O hiccups)."""
        self._busy_timeout = busy_timeout
        self._conns = PerThread(self._connect, lambda c: c.close(), lambda c: True)
        self._ensure_schema()

    # ------------------------------------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # readers never block the claiming writer
        conn.execute("PRAGMA synchronous=FULL")  # a committed add survives a power cut, not only a crash
        return conn

    def _db(self) -> sqlite3.Connection:
        return self._conns.get()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlock between workers
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _ensure_schema(self) -> None:
        with self._tx() as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {self._v} (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
            (current,) = db.execute(f"SELECT max(version) FROM {self._v}").fetchone()
            if current is not None and current > SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.description}: the outbox schema is version {current}, newer than this library's "
                    f"{SCHEMA_VERSION}; upgrade timeback-caliper-sync"
                )
            for statement in _schema(self._t):
                db.execute(statement)
            if current is None:
                db.execute(f"INSERT INTO {self._v} (version, applied_at) VALUES (?, ?)", (SCHEMA_VERSION, time.time()))
                logger.info("outbox schema version %d created in %s", SCHEMA_VERSION, self.description)

    def close(self) -> None:
        """Close the connections this process opened (safe to call twice)."""
        self._conns.close_all()

    def drop(self) -> None:
        """Drop the outbox tables."""
        with self._tx() as db:
            db.execute(f"DROP TABLE IF EXISTS {self._t}")
            db.execute(f"DROP TABLE IF EXISTS {self._v}")

    # ------------------------------------------------------------------------------------------------ writing
    def add(self, rows: Sequence[NewRow], connection: Any | None) -> int:
        """Insert rows in one transaction (yours, through a savepoint, when ``connection`` is given)."""
        now = self._clock()
        sql = (
            f"INSERT INTO {self._t} (event_id, sensor, payload, created_at, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
        )
        params = [(r.event_id, r.sensor, r.payload, now, now) for r in rows]
        if connection is None:
            with self._tx() as db:
                return db.executemany(sql, params).rowcount
        if not isinstance(connection, sqlite3.Connection):
            raise TypeError(
                f"this outbox is SQLite: connection= must be a sqlite3.Connection, got {type(connection).__name__}"
            )
        self._check_same_file(connection)
        if not connection.in_transaction and connection.isolation_level is not None:
            # Python's default mode would open a transaction at the caller's next INSERT; open it now, so the
            # events belong to it too (the caller commits or rolls back both). In autocommit mode there is no
            # transaction to join, and the savepoint alone keeps the add atomic.
            connection.execute(f"BEGIN {connection.isolation_level}")
        connection.execute("SAVEPOINT timeback_outbox_add")
        try:
            count = connection.executemany(sql, params).rowcount
        except BaseException:
            connection.execute("ROLLBACK TO timeback_outbox_add")
            connection.execute("RELEASE timeback_outbox_add")
            raise
        connection.execute("RELEASE timeback_outbox_add")
        return count

    def _check_same_file(self, connection: sqlite3.Connection) -> None:
        for _, name, file in connection.execute("PRAGMA database_list").fetchall():
            if name == "main" and file and os.path.realpath(file) == os.path.realpath(self.path):
                return
        raise OutboxError(f"connection= is not connected to the outbox's database {self.path}")

    def claim(self, limit: int, lease: float, token: str, worker: str) -> list[Claimed]:
        """Lease up to ``limit`` due rows, oldest due first."""
        now = self._clock()
        with self._tx() as db:
            rows = db.execute(
                f"SELECT seq, event_id, sensor, payload, attempts, state FROM {self._t} "
                f"WHERE {_LIVE} AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?",
                (now, limit),
            ).fetchall()
            if not rows:
                return []
            db.executemany(
                f"UPDATE {self._t} SET state = '{INFLIGHT}', claim_token = ?, claimed_by = ?, claimed_at = ?, "
                f"next_attempt_at = ?, attempts = attempts + 1, ambiguous = ambiguous + (state = '{INFLIGHT}') "
                "WHERE seq = ?",
                [(token, worker, now, now + lease, r[0]) for r in rows],
            )
        rows.sort(key=lambda r: r[0])  # within a batch, send in the order they were added
        return [
            Claimed(seq=r[0], event_id=r[1], sensor=r[2], payload=r[3], attempts=r[4] + 1, reclaimed=r[5] == INFLIGHT)
            for r in rows
        ]

    def renew(self, token: str, lease: float) -> set[int]:
        """Extend this claim's lease on the rows it still holds; return their seqs."""
        now = self._clock()
        with self._tx() as db:
            db.execute(
                f"UPDATE {self._t} SET next_attempt_at = ? WHERE claim_token = ? AND state = '{INFLIGHT}'",
                (now + lease, token),
            )
            rows = db.execute(
                f"SELECT seq FROM {self._t} WHERE claim_token = ? AND state = '{INFLIGHT}'", (token,)
            ).fetchall()
        return {r[0] for r in rows}

    def mark_sent(self, token: str, items: Sequence[tuple[int, str | None]]) -> int:
        """Record rows as sent; a row whose lease was lost is still marked (it must never be sent again)."""
        now = self._clock()
        with self._tx() as db:
            held = db.executemany(
                f"UPDATE {self._t} SET state = '{SENT}', job_id = ?, sent_at = ? "
                f"WHERE seq = ? AND claim_token = ? AND state = '{INFLIGHT}'",
                [(job, now, seq, token) for seq, job in items],
            ).rowcount
            if held == len(items):
                return 0
            db.executemany(
                f"UPDATE {self._t} SET state = '{SENT}', job_id = ?, sent_at = ? WHERE seq = ? AND state <> '{SENT}'",
                [(job, now, seq) for seq, job in items],
            )
        return len(items) - held

    def reschedule(self, token: str, items: Sequence[Reschedule]) -> None:
        """Rows back to pending, due after their delay."""
        now = self._clock()
        with self._tx() as db:
            db.executemany(
                f"UPDATE {self._t} SET state = '{PENDING}', next_attempt_at = ?, last_error = ?, "
                f"ambiguous = ambiguous + ? WHERE seq = ? AND claim_token = ? AND state = '{INFLIGHT}'",
                [(now + r.delay, r.error, int(r.ambiguous), r.seq, token) for r in items],
            )

    def mark_dead(self, token: str, items: Sequence[tuple[int, str]]) -> None:
        """Park rows as dead with their reason."""
        now = self._clock()
        with self._tx() as db:
            db.executemany(
                f"UPDATE {self._t} SET state = '{DEAD}', dead_at = ?, last_error = ? "
                f"WHERE seq = ? AND claim_token = ? AND state = '{INFLIGHT}'",
                [(now, reason, seq, token) for seq, reason in items],
            )

    def release(self, token: str, seqs: Sequence[int]) -> None:
        """Rows back to pending, due now, this claim's attempt uncounted."""
        now = self._clock()
        with self._tx() as db:
            db.executemany(
                f"UPDATE {self._t} SET state = '{PENDING}', next_attempt_at = ?, attempts = max(attempts - 1, 0) "
                f"WHERE seq = ? AND claim_token = ? AND state = '{INFLIGHT}'",
                [(now, seq, token) for seq in seqs],
            )

    # ------------------------------------------------------------------------------------------------ reading
    def stats(self) -> OutboxStats:
        """Counts per state (one scan)."""
        now = self._clock()
        row = (
            self._db()
            .execute(
                f"SELECT "
                f"coalesce(sum(state = '{PENDING}' OR (state = '{INFLIGHT}' AND next_attempt_at <= :now)), 0), "
                f"coalesce(sum(state = '{INFLIGHT}' AND next_attempt_at > :now), 0), "
                f"coalesce(sum(state = '{SENT}'), 0), coalesce(sum(state = '{DEAD}'), 0), "
                f"min(CASE WHEN {_LIVE} THEN created_at END), coalesce(sum(ambiguous), 0) FROM {self._t}",
                {"now": now},
            )
            .fetchone()
        )
        oldest = None if row[4] is None else max(0.0, now - row[4])
        return OutboxStats(
            pending=row[0], in_flight=row[1], sent=row[2], dead=row[3], oldest_pending_age=oldest, ambiguous=row[5]
        )

    def dead(self, limit: int) -> list[DeadEvent]:
        """Dead rows, oldest first."""
        import json

        rows = (
            self._db()
            .execute(
                f"SELECT event_id, sensor, last_error, attempts, created_at, dead_at, payload FROM {self._t} "
                f"WHERE state = '{DEAD}' ORDER BY dead_at, seq LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [
            DeadEvent(
                id=r[0],
                sensor=r[1],
                reason=r[2] or "",
                attempts=r[3],
                created_at=_utc(r[4]) or datetime.now(timezone.utc),
                dead_at=_utc(r[5]),
                event=json.loads(r[6]),
            )
            for r in rows
        ]

    def entry(self, event_id: str) -> OutboxEntry | None:
        """One event's row, or None."""
        row = self._db().execute(f"SELECT {ENTRY_COLUMNS} FROM {self._t} WHERE event_id = ?", (event_id,)).fetchone()
        return None if row is None else entry_from_row(row, _utc)

    def requeue(self, ids: Sequence[str]) -> int:
        """Dead rows back to pending, due now, attempts reset."""
        now = self._clock()
        with self._tx() as db:
            return db.executemany(
                f"UPDATE {self._t} SET state = '{PENDING}', next_attempt_at = ?, attempts = 0, dead_at = NULL, "
                f"claim_token = NULL WHERE event_id = ? AND state = '{DEAD}'",
                [(now, i) for i in ids],
            ).rowcount

    def purge_sent(self, older_than: float) -> int:
        """Delete sent rows older than ``older_than`` seconds."""
        cutoff = self._clock() - older_than
        with self._tx() as db:
            return db.execute(f"DELETE FROM {self._t} WHERE state = '{SENT}' AND sent_at < ?", (cutoff,)).rowcount
