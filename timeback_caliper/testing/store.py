"""The emulator's storage: stdlib SQLite, in memory by default or in a file that survives restarts; thread-safe.

One connection serves every thread behind one re-entrant lock, so each method is atomic. Events, jobs, tokens,
webhooks, filters and applications are all here; faults and the request log are not (they are per run).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ._wire import iso_ms, parse_when, to_ms, utcnow
from .insights import user_id_for
from .records import SCHEMA, EventCopy, JobRow, TokenRow, dumps, event_ids, event_record, event_row

__all__ = ["EventCopy", "JobRow", "Store", "TokenRow"]

_PENDING = ("waiting", "active", "delayed")


class Store:
    """SQLite storage shared by the emulator's threads.

    Args:
        path: A file to keep everything in across restarts, or ``None`` for memory only.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        if path:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._pending: dict[str, Counter[str]] = {}
        for job in self.jobs(states=_PENDING):
            self._pending.setdefault(job.client_id, Counter()).update(job.event_ids)

    def close(self) -> None:
        """Close the database (further calls fail)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def clear(self, *, keep_applications: bool = True) -> None:
        """Forget events, jobs, tokens, webhooks and filters (and applications unless kept)."""
        with self._tx() as db:
            db.execute("DELETE FROM events")
            db.execute("DELETE FROM jobs")
            db.execute("DELETE FROM tokens")
            db.execute("DELETE FROM docs WHERE kind != 'application'" if keep_applications else "DELETE FROM docs")
            self._pending.clear()

    # ---------------------------------------------------------------------------------------------- tokens
    def add_token(self, token: str, row: TokenRow) -> None:
        """Remember an issued token."""
        with self._tx() as db:
            db.execute("DELETE FROM tokens WHERE expires_at < ?", (row.expires_at - 86400 * 7,))
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                (token, row.client_id, row.issuer, " ".join(sorted(row.scopes)), row.expires_at),
            )

    def token(self, token: str) -> TokenRow | None:
        """The token's row, expired or not; None if it was never issued."""
        rows = self._all("SELECT client_id, issuer, scopes, expires_at FROM tokens WHERE token = ?", (token,))
        if not rows:
            return None
        client_id, issuer, scopes, expires_at = rows[0]
        return TokenRow(client_id, issuer, frozenset(scopes.split()), float(expires_at))

    def expire_tokens(self, now: float, token: str | None = None) -> int:
        """Make one token (or all of them) expire at ``now``; returns how many changed."""
        with self._tx() as db:
            if token is None:
                cur = db.execute("UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now, now))
            else:
                cur = db.execute(
                    "UPDATE tokens SET expires_at = ? WHERE token = ? AND expires_at > ?", (now, token, now)
                )
            return cur.rowcount

    # ---------------------------------------------------------------------------------------------- jobs
    def duplicates_of(self, client_id: str, ids: Sequence[str]) -> list[int]:
        """Positions in ``ids`` of events already stored, queued, or repeated earlier in ``ids``."""
        with self._lock:
            pending = self._pending.get(client_id, Counter())
            seen: set[str] = set()
            out = []
            for i, ext in enumerate(ids):
                known = ext in seen or pending[ext] > 0
                if not known:
                    row = self._db.execute(
                        "SELECT 1 FROM events WHERE client_id = ? AND external_id = ? LIMIT 1", (client_id, ext)
                    ).fetchone()
                    known = row is not None
                if known:
                    out.append(i)
                seen.add(ext)
            return out

    def create_job(
        self,
        client_id: str,
        payload: Mapping[str, Any],
        *,
        plan: str = "run",
        reason: str | None = None,
        ambiguous: bool = False,
        reject_duplicates: bool = False,
    ) -> int | list[int]:
        """Queue an envelope as a ``waiting`` job and return its id.

        With ``reject_duplicates`` the check and the insert are one atomic step: the positions of the
        duplicate events are returned instead, and nothing is queued.
        """
        ids = event_ids(payload)
        with self._tx() as db:
            if reject_duplicates:
                dups = self.duplicates_of(client_id, ids)
                if dups:
                    return dups
            cur = db.execute(
                "INSERT INTO jobs (client_id, state, created_at, payload, plan, reason, ambiguous) "
                "VALUES (?, 'waiting', ?, ?, ?, ?, ?)",
                (client_id, iso_ms(utcnow()), dumps(payload), plan, reason, int(ambiguous)),
            )
            self._pending.setdefault(client_id, Counter()).update(ids)
            return int(cur.lastrowid or 0)

    def _job(self, row: tuple[Any, ...]) -> JobRow:
        jid, client, state, created, processed, finished, failed, rv, payload, plan, reason, amb = row
        return JobRow(
            id=int(jid),
            client_id=client,
            state=state,
            created_at=created,
            processed_on=processed,
            finished_on=finished,
            failed_reason=failed,
            return_value=json.loads(rv) if rv is not None else None,
            plan=plan,
            reason=reason,
            ambiguous=bool(amb),
            event_ids=event_ids(json.loads(payload)),
        )

    def job(self, job_id: int, client_id: str | None = None) -> JobRow | None:
        """One job (scoped to ``client_id`` when given)."""
        sql, args = "SELECT * FROM jobs WHERE id = ?", list[Any]([job_id])
        if client_id is not None:
            sql += " AND client_id = ?"
            args.append(client_id)
        rows = self._all(sql, args)
        return self._job(rows[0]) if rows else None

    def jobs(self, *, states: Iterable[str] | None = None) -> list[JobRow]:
        """Every job (optionally only in ``states``), oldest first."""
        if states is None:
            return [self._job(r) for r in self._all("SELECT * FROM jobs ORDER BY id")]
        wanted = list(states)
        marks = ",".join("?" * len(wanted))
        return [self._job(r) for r in self._all(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", wanted)]

    def set_state(self, job_id: int, state: str, *, processed_on: str | None = None, plan: str | None = None) -> None:
        """Move a job to ``state`` (``active`` also records ``processedOn``; ``plan`` replaces the plan)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, processed_on = COALESCE(?, processed_on), plan = COALESCE(?, plan) "
                "WHERE id = ?",
                (state, processed_on, plan, job_id),
            )

    def fail_job(self, job_id: int, reason: str) -> None:
        """End a job ``failed``: nothing of it is stored."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = 'failed', failed_reason = ?, finished_on = ? WHERE id = ?",
                (reason, iso_ms(utcnow()), job_id),
            )
            self._release(db, job_id)

    def _release(self, db: sqlite3.Connection, job_id: int) -> tuple[str, dict[str, Any]]:
        client_id, payload_text = db.execute("SELECT client_id, payload FROM jobs WHERE id = ?", (job_id,)).fetchone()
        payload: dict[str, Any] = json.loads(payload_text)
        pending = self._pending.get(client_id)
        if pending is not None:
            pending.subtract(event_ids(payload))
            for key in [k for k, v in pending.items() if v <= 0]:
                del pending[key]
        return client_id, payload

    def complete_job(self, job_id: int, *, ignore_duplicates: bool = False) -> list[dict[str, str]]:
        """Store the job's events and mark it ``completed``; returns its ``results``.

        With ``ignore_duplicates`` an event whose id is already stored for this client is not stored again;
        its result names the copy already there.
        """
        with self._tx() as db:
            client_id, payload = self._release(db, job_id)
            sensor, send_time = payload.get("sensor"), payload.get("sendTime")
            now = iso_ms(utcnow())
            results: list[dict[str, str]] = []
            for event in payload.get("data") or []:
                if not isinstance(event, dict) or "action" not in event:
                    continue  # entity describes are accepted, not stored as events
                ext = str(event.get("id"))
                if ignore_duplicates:
                    row = db.execute(
                        "SELECT MIN(id) FROM events WHERE client_id = ? AND external_id = ?", (client_id, ext)
                    ).fetchone()
                    if row[0] is not None:
                        results.append({"allocatedId": str(row[0]), "externalId": ext})
                        continue
                record = event_record(event, sensor, send_time, client_id, now)
                when = parse_when(event.get("eventTime"))
                actor = event.get("actor")
                actor_id = actor if isinstance(actor, str) else actor.get("id") if isinstance(actor, dict) else None
                email = actor.get("email") if isinstance(actor, dict) else None
                cur = db.execute(
                    "INSERT INTO events (external_id, client_id, job_id, sensor, event_time_ms, actor_id, actor_email,"
                    " profile, user_id, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        ext,
                        client_id,
                        job_id,
                        sensor,
                        to_ms(when) if when else None,
                        actor_id if isinstance(actor_id, str) else None,
                        email if isinstance(email, str) else None,
                        event.get("profile"),
                        user_id_for(actor) if event.get("profile") == "TimebackProfile" else None,
                        dumps(record),
                    ),
                )
                results.append({"allocatedId": str(cur.lastrowid), "externalId": ext})
            return_value = {"status": "success", "results": results}
            db.execute(
                "UPDATE jobs SET state = 'completed', return_value = ?, finished_on = ? WHERE id = ?",
                (dumps(return_value), now, job_id),
            )
            return results

    # ---------------------------------------------------------------------------------------------- events
    def list_events(
        self,
        client_id: str,
        *,
        limit: int,
        offset: int,
        sensor: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        actor_id: str | None = None,
        actor_email: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the client's events, newest ``eventTime`` first, and the total matching."""
        where: list[str] = ["client_id = ?"]
        args: list[Any] = [client_id]
        for column, value in (("sensor", sensor), ("actor_id", actor_id), ("actor_email", actor_email)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if start_ms is not None:
            where.append("event_time_ms >= ?")
            args.append(start_ms)
        if end_ms is not None:
            where.append("event_time_ms < ?")
            args.append(end_ms)
        cond = " AND ".join(where)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM events WHERE {cond}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT id, record FROM events WHERE {cond} ORDER BY event_time_ms DESC, id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [event_row(i, r) for i, r in rows], int(total)

    def latest_event(self, client_id: str, external_id: str) -> dict[str, Any] | None:
        """The most recent copy of an event (duplicates are possible), or None."""
        rows = self._all(
            "SELECT id, record FROM events WHERE client_id = ? AND external_id = ? ORDER BY id DESC LIMIT 1",
            (client_id, external_id),
        )
        return event_row(*rows[0]) if rows else None

    def events(self, client_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored event record, oldest first (all clients unless one is named)."""
        if client_id is None:
            rows = self._all("SELECT id, record FROM events ORDER BY id")
        else:
            rows = self._all("SELECT id, record FROM events WHERE client_id = ? ORDER BY id", (client_id,))
        return [event_row(i, r) for i, r in rows]

    def timeback_events(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Stored Timeback-profile events (of one Insights user id when given), oldest first."""
        if user_id is None:
            rows = self._all("SELECT id, record FROM events WHERE user_id IS NOT NULL ORDER BY id")
        else:
            rows = self._all("SELECT id, record FROM events WHERE user_id = ? ORDER BY id", (user_id,))
        return [event_row(i, r) for i, r in rows]

    def copies(self) -> list[EventCopy]:
        """Every stored copy with its job, oldest first."""
        rows = self._all(
            "SELECT e.id, e.external_id, e.client_id, e.job_id, COALESCE(j.ambiguous, 0) "
            "FROM events e LEFT JOIN jobs j ON j.id = e.job_id ORDER BY e.id"
        )
        return [
            EventCopy(id=int(i), external_id=x, client_id=c, job_id=str(j), ambiguous=bool(a)) for i, x, c, j, a in rows
        ]

    def event_counts(self) -> Counter[str]:
        """Stored copies per event id (all clients)."""
        return Counter({x: int(n) for x, n in self._all("SELECT external_id, COUNT(*) FROM events GROUP BY 1")})

    # ---------------------------------------------------------------------------------------------- documents
    def put_doc(
        self,
        kind: str,
        doc_id: str,
        record: Mapping[str, Any],
        *,
        client_id: str | None = None,
        parent: str | None = None,
    ) -> None:
        """Insert or replace a webhook, filter or application (keeping its place in the list)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE docs SET record = ?, parent = ? WHERE kind = ? AND id = ?",
                (dumps(record), parent, kind, doc_id),
            )
            if cur.rowcount == 0:
                db.execute(
                    "INSERT INTO docs (kind, id, client_id, parent, record) VALUES (?, ?, ?, ?, ?)",
                    (kind, doc_id, client_id, parent, dumps(record)),
                )

    def get_doc(self, kind: str, doc_id: str, *, client_id: str | None = None) -> dict[str, Any] | None:
        """One document, or None (also when it belongs to another client)."""
        rows = self._all("SELECT client_id, record FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
        if not rows or (client_id is not None and rows[0][0] != client_id):
            return None
        doc: dict[str, Any] = json.loads(rows[0][1])
        return doc

    def docs(self, kind: str, *, client_id: str | None = None, parent: str | None = None) -> list[dict[str, Any]]:
        """Documents of a kind, in creation order."""
        sql, args = "SELECT record FROM docs WHERE kind = ?", [kind]
        if client_id is not None:
            sql += " AND client_id = ?"
            args.append(client_id)
        if parent is not None:
            sql += " AND parent = ?"
            args.append(parent)
        return [json.loads(r[0]) for r in self._all(sql + " ORDER BY seq", args)]

    def delete_doc(self, kind: str, doc_id: str, *, client_id: str | None = None) -> bool:
        """Delete a document (and, for a webhook, its filters); False when there was none."""
        with self._tx() as db:
            if self.get_doc(kind, doc_id, client_id=client_id) is None:
                return False
            db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
            if kind == "webhook":
                db.execute("DELETE FROM docs WHERE kind = 'filter' AND parent = ?", (doc_id,))
            return True
