"""Outbox test fixtures: SQLite and PostgreSQL outboxes in throwaway tables, events, fake clients, an emulator.

PostgreSQL runs when ``TIMEBACK_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it); every test gets its own
schema, dropped afterwards, so parallel and repeated runs never collide. When the variable is set but the
server cannot be reached, the tests fail under ``CI=true`` and skip otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from timeback_caliper._http import RetryPolicy
from timeback_caliper.models.api import SendResult
from timeback_caliper.outbox import Outbox

from .events import ACTIVITY_EVENT, SENSOR, make_event, make_events

__all__ = ["ACTIVITY_EVENT", "SENSOR", "make_event", "make_events"]

PG_URL = os.environ.get("TIMEBACK_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# ---------------------------------------------------------------------------------------------------- PostgreSQL
def _pg_reachable() -> str | None:
    """None when PostgreSQL can be used, else why not."""
    if not PG_URL:
        return "TIMEBACK_TEST_POSTGRES_URL is not set"
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable", reported below
        return f"PostgreSQL at TIMEBACK_TEST_POSTGRES_URL is unreachable: {exc}"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> str:
    """The PostgreSQL URL, or skip (locally) / fail (set under CI=true but unreachable)."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_reachable())
    problem = _PG_PROBLEM[0]
    if problem is not None:
        if PG_URL and IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    assert PG_URL is not None
    return PG_URL


def drop_schema(schema: str) -> None:
    import psycopg

    assert PG_URL is not None
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---------------------------------------------------------------------------------------------------- outboxes
class Target:
    """Where a test's outbox lives; ``open()`` makes Outbox objects on it (all closed and dropped afterwards)."""

    def __init__(self, kind: str, url: str, options: dict[str, Any]) -> None:
        self.kind, self.url, self.options = kind, url, options
        self.opened: list[Outbox] = []

    def open(self, **kwargs: Any) -> Outbox:
        box = Outbox(self.url, **{**self.options, **kwargs})
        self.opened.append(box)
        return box

    def cli_args(self) -> list[str]:
        """The ``outbox`` group options that reach the same tables."""
        args = ["--url", self.url, "--table-prefix", self.options["table_prefix"]]
        if self.options.get("schema"):
            args += ["--schema", self.options["schema"]]
        return args


@contextmanager
def _target(kind: str, tmp_path: Path) -> Iterator[Target]:
    prefix = f"ob_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        tgt = Target("sqlite", f"sqlite:///{tmp_path / 'outbox.db'}", {"table_prefix": prefix})
    else:
        url = require_postgres()
        schema = f"tbo_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        tgt = Target("postgres", url, {"table_prefix": prefix, "schema": schema})
    try:
        yield tgt
    finally:
        for box in tgt.opened:
            box.close()
        if tgt.kind == "postgres":
            drop_schema(tgt.options["schema"])


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """An empty outbox location on each backend."""
    with _target(request.param, tmp_path) as tgt:
        yield tgt


@pytest.fixture
def pg_target(tmp_path: Path) -> Iterator[Target]:
    """An empty outbox location on PostgreSQL (skipped without TIMEBACK_TEST_POSTGRES_URL, failed under CI)."""
    with _target("postgres", tmp_path) as tgt:
        yield tgt


@pytest.fixture
def box(target: Target) -> Outbox:
    """An outbox with a short lease and tiny backoff (real time passes in these tests)."""
    return target.open(lease_seconds=30.0, backoff_base=0.01, backoff_cap=0.05)


# ---------------------------------------------------------------------------------------------------- fake clients
class FakeEvents:
    """``client.events`` that answers from a script: each call pops the next outcome (a job id or an exception)."""

    def __init__(self, outcomes: Sequence[Any] = (), default: Callable[[str, list[Any]], Any] | None = None) -> None:
        self.outcomes = list(outcomes)
        self.default = default
        self.calls: list[tuple[str, list[str]]] = []
        self.jobs = 0

    def send(self, sensor: str, events: Sequence[Any]) -> SendResult:
        ids = [e.id for e in events]
        self.calls.append((sensor, ids))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is None and self.default is not None:
            outcome = self.default(sensor, list(events))
        if isinstance(outcome, BaseException):
            raise outcome
        self.jobs += 1
        job = str(outcome) if outcome is not None else f"job-{self.jobs}"
        return SendResult(job_id=job, job_ids=[job], event_ids=ids, request_ids=[f"req-{self.jobs}"])

    def send_serialized(self, sensor: str, items: Sequence[tuple[str, bytes]]) -> SendResult:
        """What the drain calls: pre-serialized events, decoded here so scripted rules can look at them."""
        from timeback_caliper import parse

        result = self.send(sensor, [parse(raw) for _, raw in items])
        return SendResult(
            job_id=result.job_id,
            job_ids=result.job_ids,
            event_ids=result.event_ids,
            request_ids=result.request_ids,
            sent=[(result.job_id, result.event_ids)],
        )

    @property
    def sent_ids(self) -> list[str]:
        return [i for _, ids in self.calls for i in ids]


class FakeClient:
    """The part of CaliperClient the drain uses."""

    def __init__(self, outcomes: Sequence[Any] = (), default: Callable[[str, list[Any]], Any] | None = None) -> None:
        self.events = FakeEvents(outcomes, default)
        self.retry = RetryPolicy(deadline=1.0)


def wait_until_due(box: Outbox, ids: Sequence[str], timeout: float = 10.0) -> None:
    """Wait until every one of these events is due again (their backoff has passed); polls, never guesses a sleep."""
    import time
    from datetime import datetime, timedelta, timezone

    deadline = time.monotonic() + timeout
    while True:
        entries = [box.entry(i) for i in ids]
        due = [e.next_attempt_at for e in entries if e is not None and e.next_attempt_at is not None]
        now = datetime.now(timezone.utc) - timedelta(milliseconds=20)  # margin: the database's clock may lead
        if all(when <= now for when in due):
            return
        assert time.monotonic() < deadline, f"not due after {timeout}s: {due}"
        time.sleep(0.01)


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A fresh local emulator (real HTTP on loopback)."""
    from timeback_caliper.testing import Emulator

    emu = Emulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


FAST = RetryPolicy(max_attempts=2, deadline=5.0, base_delay=0.01, max_delay=0.05, retry_ambiguous=False)
"""Client retries for emulator tests: near-zero backoff; ambiguous failures go back to the outbox (counted)."""
