"""The shared outbox backend: PostgreSQL through psycopg 3, claims with ``FOR UPDATE SKIP LOCKED`` and a lease.

Every time comes from the database server's ``now()``, so workers on several machines agree on when a lease
expires however their own clocks drift. Adds can join the caller's transaction (a psycopg connection, or
Django's ``connection``): one ``INSERT ... SELECT FROM unnest(...)`` statement, atomic even in autocommit mode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import MissingExtraError
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

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresBackend", "import_psycopg"]

logger = logging.getLogger(__name__)

_LIVE = f"state IN ('{PENDING}', '{INFLIGHT}')"


def import_psycopg() -> Any:
    """Import psycopg 3, or explain which extra provides it."""
    try:
        import psycopg
    except ImportError as exc:
        raise MissingExtraError("psycopg 3", "postgres", "the PostgreSQL outbox") from exc
    return psycopg


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


class PostgresBackend:
    """Outbox rows in one PostgreSQL table, shared by any number of workers and machines."""

    def __init__(self, url: str, *, table_prefix: str, schema: str | None = None, connect_timeout: int = 10) -> None:
        self._psycopg = import_psycopg()
        prefix = check_identifier(table_prefix, "table_prefix")
        qualifier = f'"{check_identifier(schema, "schema")}".' if schema else ""
        self._url, self._schema, self._connect_timeout = url, schema, connect_timeout
        self._index = f"{prefix}_events"
        self._t = f'{qualifier}"{prefix}_events"'
        self._v = f'{qualifier}"{prefix}_schema_version"'
        self.description = _redact(url) + (f" (schema {schema})" if schema else "")
        self.transient_errors: tuple[type[BaseException], ...] = (self._psycopg.OperationalError,)
        self._conns: PerThread[psycopg.Connection[Any]] = PerThread(
            self._connect, lambda c: c.close(), lambda c: not c.closed and not c.broken
        )
        self._ensure_schema()

    # ------------------------------------------------------------------------------------------------ connections
    def _connect(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = self._psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="timeback-caliper-outbox",
        )
        return conn

    def _db(self) -> psycopg.Connection[Any]:
        return self._conns.get()

    def _ensure_schema(self) -> None:
        db = self._db()
        with db.transaction():
            # Serialise concurrent first starts: CREATE ... IF NOT EXISTS still races on the catalog.
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"timeback_outbox:{self._t}",))
            if self._schema:
                found = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)).fetchone()
                if found is None:
                    db.execute(f'CREATE SCHEMA "{self._schema}"')
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {self._v} "
                "(version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = db.execute(f"SELECT max(version) FROM {self._v}").fetchone()
            current = row[0] if row else None
            if current is not None and current > SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.description}: the outbox schema is version {current}, newer than this library's "
                    f"{SCHEMA_VERSION}; upgrade timeback-caliper-sync"
                )
            db.execute(
                f"""CREATE TABLE IF NOT EXISTS {self._t} (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_id text NOT NULL UNIQUE,
                    sensor text NOT NULL,
                    payload text NOT NULL,
                    state text NOT NULL DEFAULT '{PENDING}'
                        CHECK (state IN ('{PENDING}', '{INFLIGHT}', '{SENT}', '{DEAD}')),
                    attempts integer NOT NULL DEFAULT 0,
                    ambiguous integer NOT NULL DEFAULT 0,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    claim_token text,
                    claimed_by text,
                    claimed_at timestamptz,
                    last_error text,
                    job_id text,
                    sent_at timestamptz,
                    dead_at timestamptz
                )"""
            )
            i = self._index
            db.execute(f'CREATE INDEX IF NOT EXISTS "{i}_due" ON {self._t} (next_attempt_at, seq) WHERE {_LIVE}')
            db.execute(f"CREATE INDEX IF NOT EXISTS \"{i}_sent\" ON {self._t} (sent_at) WHERE state = '{SENT}'")
            db.execute(f"CREATE INDEX IF NOT EXISTS \"{i}_dead\" ON {self._t} (dead_at) WHERE state = '{DEAD}'")
            if current is None:
                db.execute(f"INSERT INTO {self._v} (version) VALUES (%s)", (SCHEMA_VERSION,))
                logger.info("outbox schema version %d created in %s", SCHEMA_VERSION, self.description)

    def close(self) -> None:
        """Close the connections this process opened (safe to call twice)."""
        self._conns.close_all()

    def drop(self) -> None:
        """Drop the outbox tables (the schema, if any, stays)."""
        db = self._db()
        with db.transaction():
            db.execute(f"DROP TABLE IF EXISTS {self._t}")
            db.execute(f"DROP TABLE IF EXISTS {self._v}")

    # ------------------------------------------------------------------------------------------------ writing
    def add(self, rows: Sequence[NewRow], connection: Any | None) -> int:
        """Insert rows in one statement, on ``connection`` (the caller's transaction) or our own."""
        sql = (
            f"INSERT INTO {self._t} (event_id, sensor, payload) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT (event_id) DO NOTHING"
        )
        params = ([r.event_id for r in rows], [r.sensor for r in rows], [r.payload for r in rows])
        if connection is None:
            return int(self._db().execute(sql, params).rowcount)
        with _raw_connection(connection).cursor() as cur:
            cur.execute(sql, params)
            return int(cur.rowcount)

    def claim(self, limit: int, lease: float, token: str, worker: str) -> list[Claimed]:
        """Lease up to ``limit`` due rows, skipping rows another worker is claiming right now."""
        rows = (
            self._db()
            .execute(
                f"""WITH c AS (
                    SELECT seq, state FROM {self._t}
                    WHERE {_LIVE} AND next_attempt_at <= now()
                    ORDER BY next_attempt_at, seq LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED)
                UPDATE {self._t} AS t SET state = '{INFLIGHT}', claim_token = %(token)s, claimed_by = %(worker)s,
                    claimed_at = now(), next_attempt_at = now() + %(lease)s * interval '1 second',
                    attempts = t.attempts + 1, ambiguous = t.ambiguous + (c.state = '{INFLIGHT}')::int
                FROM c WHERE t.seq = c.seq
                RETURNING t.seq, t.event_id, t.sensor, t.payload, t.attempts, c.state = '{INFLIGHT}'""",
                {"limit": limit, "token": token, "worker": worker, "lease": float(lease)},
            )
            .fetchall()
        )
        rows.sort(key=lambda r: r[0])  # RETURNING has no order; within a batch, send in the order they were added
        return [
            Claimed(seq=r[0], event_id=r[1], sensor=r[2], payload=r[3], attempts=r[4], reclaimed=bool(r[5]))
            for r in rows
        ]

    def renew(self, token: str, lease: float) -> set[int]:
        """Extend this claim's lease on the rows it still holds; return their seqs."""
        rows = (
            self._db()
            .execute(
                f"UPDATE {self._t} SET next_attempt_at = now() + %s * interval '1 second' "
                f"WHERE claim_token = %s AND state = '{INFLIGHT}' RETURNING seq",
                (float(lease), token),
            )
            .fetchall()
        )
        return {r[0] for r in rows}

    def mark_sent(self, token: str, items: Sequence[tuple[int, str | None]]) -> int:
        """Record rows as sent; a row whose lease was lost is still marked (it must never be sent again)."""
        seqs, jobs = [s for s, _ in items], [j for _, j in items]
        db = self._db()
        # Two autocommit statements, not one transaction: each is idempotent, and the usual case (the lease
        # held) is then a single round trip.
        held = db.execute(
            f"UPDATE {self._t} AS t SET state = '{SENT}', job_id = u.job, sent_at = now() "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(seq, job) "
            f"WHERE t.seq = u.seq AND t.claim_token = %s AND t.state = '{INFLIGHT}'",
            (seqs, jobs, token),
        ).rowcount
        if held == len(items):
            return 0
        db.execute(
            f"UPDATE {self._t} AS t SET state = '{SENT}', job_id = u.job, sent_at = now() "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(seq, job) "
            f"WHERE t.seq = u.seq AND t.state <> '{SENT}'",
            (seqs, jobs),
        )
        return len(items) - held

    def reschedule(self, token: str, items: Sequence[Reschedule]) -> None:
        """Rows back to pending, due after their delay."""
        self._db().execute(
            f"UPDATE {self._t} AS t SET state = '{PENDING}', last_error = u.error, "
            "next_attempt_at = now() + u.delay * interval '1 second', ambiguous = t.ambiguous + u.amb "
            "FROM unnest(%s::bigint[], %s::float8[], %s::text[], %s::int[]) AS u(seq, delay, error, amb) "
            f"WHERE t.seq = u.seq AND t.claim_token = %s AND t.state = '{INFLIGHT}'",
            (
                [r.seq for r in items],
                [float(r.delay) for r in items],
                [r.error for r in items],
                [int(r.ambiguous) for r in items],
                token,
            ),
        )

    def mark_dead(self, token: str, items: Sequence[tuple[int, str]]) -> None:
        """Park rows as dead with their reason."""
        self._db().execute(
            f"UPDATE {self._t} AS t SET state = '{DEAD}', dead_at = now(), last_error = u.reason "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(seq, reason) "
            f"WHERE t.seq = u.seq AND t.claim_token = %s AND t.state = '{INFLIGHT}'",
            ([s for s, _ in items], [r for _, r in items], token),
        )

    def release(self, token: str, seqs: Sequence[int]) -> None:
        """Rows back to pending, due now, this claim's attempt uncounted."""
        self._db().execute(
            f"UPDATE {self._t} SET state = '{PENDING}', next_attempt_at = now(), "
            f"attempts = greatest(attempts - 1, 0) WHERE seq = ANY(%s) AND claim_token = %s AND state = '{INFLIGHT}'",
            (list(seqs), token),
        )

    # ------------------------------------------------------------------------------------------------ reading
    def stats(self) -> OutboxStats:
        """Counts per state (one scan)."""
        row = (
            self._db()
            .execute(
                f"""SELECT
                    count(*) FILTER (WHERE state = '{PENDING}' OR (state = '{INFLIGHT}' AND next_attempt_at <= now())),
                    count(*) FILTER (WHERE state = '{INFLIGHT}' AND next_attempt_at > now()),
                    count(*) FILTER (WHERE state = '{SENT}'),
                    count(*) FILTER (WHERE state = '{DEAD}'),
                    extract(epoch FROM now() - min(created_at) FILTER (WHERE {_LIVE}))::float8,
                    coalesce(sum(ambiguous), 0)::bigint
                FROM {self._t}"""
            )
            .fetchone()
        )
        assert row is not None  # an aggregate without GROUP BY always returns one row
        oldest = None if row[4] is None else max(0.0, float(row[4]))
        return OutboxStats(
            pending=row[0], in_flight=row[1], sent=row[2], dead=row[3], oldest_pending_age=oldest, ambiguous=row[5]
        )

    def dead(self, limit: int) -> list[DeadEvent]:
        """Dead rows, oldest first."""
        rows = (
            self._db()
            .execute(
                f"SELECT event_id, sensor, last_error, attempts, created_at, dead_at, payload FROM {self._t} "
                f"WHERE state = '{DEAD}' ORDER BY dead_at, seq LIMIT %s",
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
                created_at=r[4],
                dead_at=r[5],
                event=json.loads(r[6]),
            )
            for r in rows
        ]

    def entry(self, event_id: str) -> OutboxEntry | None:
        """One event's row, or None."""
        row = self._db().execute(f"SELECT {ENTRY_COLUMNS} FROM {self._t} WHERE event_id = %s", (event_id,)).fetchone()
        return None if row is None else entry_from_row(row, lambda v: v)

    def requeue(self, ids: Sequence[str]) -> int:
        """Dead rows back to pending, due now, attempts reset."""
        return int(
            self._db()
            .execute(
                f"UPDATE {self._t} SET state = '{PENDING}', next_attempt_at = now(), attempts = 0, dead_at = NULL, "
                f"claim_token = NULL WHERE event_id = ANY(%s) AND state = '{DEAD}'",
                (list(ids),),
            )
            .rowcount
        )

    def purge_sent(self, older_than: float) -> int:
        """Delete sent rows older than ``older_than`` seconds."""
        return int(
            self._db()
            .execute(
                f"DELETE FROM {self._t} WHERE state = '{SENT}' AND sent_at < now() - %s * interval '1 second'",
                (float(older_than),),
            )
            .rowcount
        )


def _raw_connection(connection: Any) -> Any:
    """The DB-API connection to run on: a psycopg connection as is; Django's ``connection`` through its cursor."""
    vendor = getattr(connection, "vendor", None)
    if vendor is not None:  # a Django DatabaseWrapper: its cursor() joins the current atomic() block
        if vendor != "postgresql":
            raise OutboxError(f"connection= is a Django {vendor!r} connection; this outbox is PostgreSQL")
        return connection
    if not hasattr(connection, "cursor"):
        raise TypeError(f"connection= must be a psycopg connection or Django's connection, got {connection!r}")
    return connection
