"""The drain worker's handling of each failure class, on both backends, with scripted fake clients."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from timeback_caliper.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CaliperValidationError,
    ConflictError,
    NotFoundError,
    PartialSendError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    TimebackError,
    TransportError,
)
from timeback_caliper.outbox import Outbox
from timeback_caliper.outbox._common import backoff_delay
from timeback_caliper.outbox._drain import AMBIGUOUS, CONFIG, PERMANENT, RETRY, classify, describe

from .conftest import SENSOR, FakeClient, Target, make_events, wait_until_due

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TransportError("read timeout", ambiguous=True), AMBIGUOUS),
        (TransportError("connection refused"), RETRY),
        (ServerError("busy", status_code=503), RETRY),
        (RateLimitError("slow down", status_code=429, retry_after=2.0), RETRY),
        (ApiError("timeout", status_code=408), RETRY),
        (BadRequestError("invalid", status_code=400), PERMANENT),
        (BadRequestError("invalid", status_code=422), PERMANENT),
        (PayloadTooLargeError("too big", status_code=413), PERMANENT),
        (ConflictError("duplicate ids", status_code=409), PERMANENT),
        (CaliperValidationError("invalid"), PERMANENT),
        (AuthenticationError("bad secret", status_code=401), CONFIG),
        (NotFoundError("no route", status_code=404), CONFIG),
        (ApiError("gone", status_code=410), CONFIG),
        (TimebackError("other"), RETRY),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v,
)
def test_classify(error: BaseException, kind: str):
    assert classify(error) == kind


def test_describe_keeps_the_servers_reason():
    err = BadRequestError(
        "Invalid envelope", status_code=400, errors=[{"path": "data[0].actor", "message": "email required"}]
    )
    text = describe(err)
    assert "BadRequestError" in text and "email required" in text and "data[0].actor" in text
    assert len(describe(ServerError("x" * 50_000, status_code=500))) == 8000


def test_backoff_is_exponential_capped_jittered_and_floored():
    def at(n: int, r: float, floor: float | None = None) -> float:
        return backoff_delay(n, base=1.0, cap=60.0, random=lambda: r, floor=floor)

    assert [at(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert [at(n, 0.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]  # equal jitter: never below half a step
    assert at(30, 1.0) == 60.0
    assert at(1, 0.0, floor=5.0) == 5.0  # Retry-After wins
    assert at(30, 1.0, floor=90.0) == 90.0  # even past the cap: the server asked


# ---------------------------------------------------------------------------------------------------- outcomes
def _bad_ids_rule(bad: set[str]) -> Any:
    """A server that refuses (400, all or nothing) any envelope containing one of ``bad``."""

    def rule(sensor: str, events: list[Any]) -> Any:
        found = [e.id for e in events if e.id in bad]
        if found:
            return BadRequestError(
                "Invalid envelope", status_code=400, errors=[{"path": "data[0]", "message": f"rejected {found[0]}"}]
            )
        return None

    return rule


def test_permanent_failures_are_isolated_by_halving_and_parked_dead(box: Outbox):
    events = make_events(8)
    bad = {events[2]["id"], events[5]["id"]}
    box.add(events, sensor=SENSOR)
    client = FakeClient(default=_bad_ids_rule(bad))
    report = box.drain(client)
    assert (report.sent, report.dead, report.retried) == (6, 2, 0)
    assert report.requests <= 1 + 2 * 2 * 3  # at most two halvings per level per bad event
    for event in events:
        entry = box.entry(event["id"])
        assert entry is not None and entry.state == ("dead" if event["id"] in bad else "sent")
    dead = box.dead()
    assert {d.id for d in dead} == bad
    assert all("rejected" in d.reason and "BadRequestError" in d.reason for d in dead)
    assert all(d.event["id"] == d.id and d.attempts == 1 and d.dead_at is not None for d in dead)
    stats = box.stats()
    assert (stats.sent, stats.dead, stats.pending) == (6, 2, 0)


def test_requeue_after_a_fix_sends_the_dead_again(box: Outbox):
    events = make_events(3)
    box.add(events, sensor=SENSOR)
    bad = {events[1]["id"]}
    box.drain(FakeClient(default=_bad_ids_rule(bad)))
    assert [d.id for d in box.dead()] == [events[1]["id"]]
    assert box.requeue([events[1]["id"]]) == 1
    fixed = FakeClient()  # the server-side cause was fixed
    assert box.drain(fixed).sent == 1
    assert fixed.events.sent_ids == [events[1]["id"]]
    assert box.stats().dead == 0 and box.stats().sent == 3


@pytest.mark.parametrize(
    "error",
    [
        ServerError("busy", status_code=503),
        TransportError("connection refused"),
        RateLimitError("slow down", status_code=429, retry_after=0.2),
    ],
    ids=["503", "refused", "429"],
)
def test_retryable_failures_are_rescheduled_with_backoff(box: Outbox, error: Exception):
    events = make_events(3)
    box.add(events, sensor=SENSOR)
    report = box.drain(FakeClient([error]))
    assert (report.sent, report.retried, report.dead, report.ambiguous) == (0, 3, 0, 0)
    entry = box.entry(events[0]["id"])
    assert entry is not None and entry.state == "pending" and entry.attempts == 1
    assert entry.last_error is not None and type(error).__name__ in entry.last_error
    assert entry.next_attempt_at is not None and entry.next_attempt_at > entry.created_at
    if isinstance(error, RateLimitError):  # Retry-After is a floor over the 0.01-0.05 s backoff
        assert box.drain(FakeClient()).claimed == 0
    wait_until_due(box, [e["id"] for e in events])
    assert box.drain(FakeClient()).sent == 3
    entry = box.entry(events[0]["id"])
    assert entry is not None and entry.attempts == 2 and entry.state == "sent"


def test_ambiguous_failures_are_retried_counted_and_never_dead(target: Target):
    box = target.open(backoff_base=0.01, backoff_cap=0.02, max_attempts=1, lease_seconds=30)
    events = make_events(4)
    box.add(events, sensor=SENSOR)
    timeout = TransportError("read timed out after sending", ambiguous=True)
    report = box.drain(FakeClient([timeout]))
    assert (report.ambiguous, report.retried, report.dead) == (4, 4, 0)  # max_attempts=1 does not apply
    ids = [e["id"] for e in events]
    wait_until_due(box, ids)
    assert box.drain(FakeClient([timeout])).ambiguous == 4
    wait_until_due(box, ids)
    assert box.drain(FakeClient()).sent == 4
    stats = box.stats()
    assert (stats.sent, stats.dead, stats.ambiguous) == (4, 0, 8)  # the bound on duplicates it may have caused


def test_max_attempts_parks_retryable_failures_dead(target: Target):
    box = target.open(backoff_base=0.01, backoff_cap=0.01, max_attempts=2, lease_seconds=30)
    events = make_events(2)
    box.add(events, sensor=SENSOR)
    box.drain(FakeClient([ServerError("busy", status_code=503)]))
    wait_until_due(box, [e["id"] for e in events])
    report = box.drain(FakeClient([ServerError("still busy", status_code=503)]))
    assert report.dead == 2
    assert all(d.reason.startswith("gave up after 2 attempts: ServerError") for d in box.dead())


def test_partial_send_marks_the_accepted_envelopes_and_retries_the_rest(box: Outbox):
    events = make_events(5)
    ids = [e["id"] for e in events]
    box.add(events, sensor=SENSOR)
    cause = ServerError("busy", status_code=503)
    partial = PartialSendError("2 accepted", sent=[("j1", ids[:2])], unsent=[], unsent_event_ids=ids[2:])
    partial.__cause__ = cause
    report = box.drain(FakeClient([partial]))
    assert (report.sent, report.retried) == (2, 3)
    first = box.entry(ids[0])
    third = box.entry(ids[2])
    assert first is not None and (first.state, first.job_id) == ("sent", "j1")
    assert third is not None and third.state == "pending" and "ServerError" in (third.last_error or "")
    client = FakeClient()
    wait_until_due(box, ids[2:])
    box.drain(client)
    assert client.events.sent_ids == ids[2:]  # the accepted ones are never resent


def test_partial_send_with_a_permanent_cause_halves_only_the_unsent(box: Outbox):
    events = make_events(4)
    ids = [e["id"] for e in events]
    box.add(events, sensor=SENSOR)
    partial = PartialSendError("1 accepted", sent=[("j1", ids[:1])], unsent=[], unsent_event_ids=ids[1:])
    partial.__cause__ = BadRequestError("invalid", status_code=400)
    client = FakeClient([partial], default=_bad_ids_rule({ids[3]}))
    report = box.drain(client)
    assert (report.sent, report.dead) == (3, 1)
    assert [d.id for d in box.dead()] == [ids[3]]
    assert client.events.calls[1][1] == [ids[1]]  # halves of the 3 unsent: [1] then [2, 3]


def test_a_configuration_error_stops_the_drain_and_hands_back_the_claim(box: Outbox):
    box.add(make_events(6), sensor=SENSOR)
    refused = AuthenticationError("invalid_client", status_code=401)
    with pytest.raises(AuthenticationError):
        box.drain(FakeClient([refused]), batch_size=3)
    stats = box.stats()
    assert (stats.pending, stats.in_flight, stats.dead, stats.sent) == (6, 0, 0, 0)


def test_an_unexpected_exception_during_send_reschedules_as_ambiguous(box: Outbox):
    events = make_events(3)
    box.add(events, sensor=SENSOR)
    with pytest.raises(RuntimeError):
        box.drain(FakeClient([RuntimeError("bug in a hook")]))
    stats = box.stats()
    assert (stats.pending, stats.in_flight, stats.ambiguous) == (3, 0, 3)


def test_stop_finishes_the_current_send_and_releases_the_rest(box: Outbox):
    events = make_events(10)
    box.add(events, sensor="https://a.example.com/s")
    box.add(make_events(10), sensor="https://b.example.com/s")
    stop = threading.Event()

    def send_then_stop(sensor: str, batch: list[Any]) -> None:
        stop.set()  # SIGTERM arrives during the first send

    client = FakeClient(default=send_then_stop)
    report = box.drain(client, stop=stop, batch_size=20)
    # 10 released; 10 more if the next claim, running ahead in its thread, took them back before it saw the stop
    assert (report.sent, report.stopped) == (10, "stop") and report.released in (10, 20)
    assert report.claimed == report.sent + report.released
    stats = box.stats()
    assert (stats.sent, stats.pending, stats.in_flight) == (10, 10, 0)
    first = box.entry(client.events.calls[0][1][0])
    assert first is not None and first.state == "sent"
    rest = FakeClient()
    box.drain(rest)
    assert len(rest.events.sent_ids) == 10
    entry = box.entry(rest.events.sent_ids[0])
    assert entry is not None and entry.attempts == 1  # the released claim's attempt was not counted


def test_a_corrupt_stored_payload_goes_dead_not_into_a_loop(target: Target):
    box = target.open(lease_seconds=30)
    events = make_events(2)
    box.add(events, sensor=SENSOR)
    table = f"{target.options['table_prefix']}_events"
    if target.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(target.url.removeprefix("sqlite:///")) as db:
            db.execute(f"UPDATE {table} SET payload = ? WHERE event_id = ?", ('{"type": "Nonsense"}', events[0]["id"]))
    else:
        import psycopg

        with psycopg.connect(target.url, autocommit=True) as db:
            db.execute(
                f'UPDATE "{target.options["schema"]}"."{table}" SET payload = %s WHERE event_id = %s',
                ('{"type": "Nonsense"}', events[0]["id"]),
            )
    report = box.drain(FakeClient())
    assert (report.sent, report.dead) == (1, 1)
    assert box.dead()[0].id == events[0]["id"]


def test_a_lost_lease_still_marks_sent_and_is_reported(tmp_path):
    """Worker A stalls past its lease, B reclaims and sends; A's late success still marks the rows sent."""
    now = [1_000_000.0]
    url = f"sqlite:///{tmp_path / 'o.db'}"
    a = Outbox(url, lease_seconds=10, clock=lambda: now[0])
    b = Outbox(url, lease_seconds=10, clock=lambda: now[0])
    events = make_events(3)
    a.add(events, sensor=SENSOR)
    b_client = FakeClient()

    def stall(sensor: str, batch: list[Any]) -> None:
        now[0] += 60  # A is paused (GC, a stopped VM) well past its lease...
        b.drain(b_client)  # ...and B takes the events over and sends them

    report = a.drain(FakeClient(default=stall))
    assert report.lease_lost == 3 and report.sent == 3
    assert b_client.events.sent_ids == [e["id"] for e in events]  # the duplicate the lease could not prevent
    stats = a.stats()
    assert (stats.sent, stats.pending, stats.in_flight, stats.ambiguous) == (3, 0, 0, 3)
    a.close()
    b.close()


def test_the_lease_is_renewed_before_a_send_when_it_runs_short(tmp_path):
    now = [1_000_000.0]
    box = Outbox(tmp_path / "o.db", lease_seconds=8, clock=lambda: now[0])  # the fake client's margin is 6 s
    box.add(make_events(2), sensor="https://a.example.com/s")
    box.add(make_events(2), sensor="https://b.example.com/s")
    seen: list[float] = []

    def check(sensor: str, batch: list[Any]) -> None:
        entry = box.entry(batch[0].id)
        assert entry is not None and entry.next_attempt_at is not None
        seen.append(entry.next_attempt_at.timestamp() - now[0])
        now[0] += 5  # a slow send: 3 s of lease left, less than one more send may take

    report = box.drain(FakeClient(default=check))
    assert report.batches == 1 and report.sent == 4
    assert seen == [8.0, 8.0]  # renewed before the second send of the same claim
    box.close()


def test_drain_argument_checks(box: Outbox):
    for bad in ({"batch_size": 0}, {"max_events": -1}, {"max_seconds": 0}, {"poll_interval": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            box.drain(FakeClient(), **bad)


def test_forever_polls_until_stopped(box: Outbox):
    stop = threading.Event()
    client = FakeClient()
    result: list[Any] = []
    worker = threading.Thread(
        target=lambda: result.append(box.drain(client, forever=True, poll_interval=0.02, stop=stop))
    )
    worker.start()
    box.add(make_events(3), sensor=SENSOR)
    deadline = time.monotonic() + 10
    while box.stats().sent < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(10)
    assert result and result[0].sent == 3 and result[0].stopped == "stop"


def test_max_seconds_bounds_a_forever_drain(box: Outbox):
    started = time.monotonic()
    report = box.drain(FakeClient(), forever=True, poll_interval=0.05, max_seconds=0.2)
    assert report.stopped == "max_seconds" and 0.15 < time.monotonic() - started < 2


def test_a_forever_drain_outlives_a_database_outage(box: Outbox, monkeypatch: pytest.MonkeyPatch):
    box.add(make_events(3), sensor=SENSOR)
    backend = box._backend
    real_claim = backend.claim
    failures = [backend.transient_errors[0]("the database restarted")]

    def flaky_claim(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_claim(*args)

    monkeypatch.setattr(backend, "claim", flaky_claim)
    with pytest.raises(backend.transient_errors):
        box.drain(FakeClient())  # a one-off drain reports it
    failures.append(backend.transient_errors[0]("the database restarted"))

    class InstantStop(threading.Event):  # the worker's pause before claiming again, without the wait
        def wait(self, timeout: float | None = None) -> bool:
            return self.is_set()

    stop = InstantStop()

    def send_and_stop(sensor: str, batch: list[Any]) -> None:
        stop.set()

    report = box.drain(FakeClient(default=send_and_stop), forever=True, stop=stop)
    assert report.sent == 3 and not failures
