"""Outbox storage on SQLite and PostgreSQL: add (validation, atomicity), claims, stats, dead, requeue, purge."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest

from timeback_caliper.errors import CaliperValidationError
from timeback_caliper.outbox import Outbox, OutboxError
from timeback_caliper.serialization import parse

from .conftest import SENSOR, FakeClient, Target, make_event, make_events, require_postgres

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------------------------------------------- add
def test_add_stores_models_and_dicts_and_returns_ids(box: Outbox):
    events = [make_event(0), parse(make_event(1))]
    ids = box.add(events, sensor=SENSOR)
    assert ids == [events[0]["id"], events[1].id]
    stats = box.stats()
    assert (stats.pending, stats.in_flight, stats.sent, stats.dead) == (2, 0, 0, 0)
    assert stats.oldest_pending_age is not None and stats.oldest_pending_age >= 0
    entry = box.entry(ids[0])
    assert entry is not None and entry.state == "pending" and entry.attempts == 0 and entry.sensor == SENSOR


def test_add_is_all_or_nothing_and_lists_every_problem(box: Outbox):
    good, bad = make_event(0), make_event(1)
    bad["eventTime"] = "yesterday"
    no_profile = make_event(2)
    del no_profile["profile"]
    with pytest.raises(CaliperValidationError) as err:
        box.add([good, bad, no_profile], sensor=SENSOR)
    paths = [p.path for p in err.value.errors]
    assert any(p.startswith("events[1].eventTime") for p in paths), paths
    assert "events[2].profile" in paths
    assert not any(p.startswith("events[0]") for p in paths)
    assert box.stats().total == 0
    assert box.entry(good["id"]) is None


def test_add_refuses_duplicates_in_one_call_a_bad_sensor_and_non_events(box: Outbox):
    event = make_event()
    with pytest.raises(CaliperValidationError, match="duplicate event id"):
        box.add([event, event], sensor=SENSOR)
    with pytest.raises(CaliperValidationError, match="sensor must be an absolute IRI"):
        box.add([make_event()], sensor="not an iri")
    with pytest.raises(CaliperValidationError, match="expected an event"):
        box.add([{"id": "https://example.com/thing", "type": "Entity"}], sensor=SENSOR)
    with pytest.raises(TypeError, match="list of events"):
        box.add(make_event(), sensor=SENSOR)  # type: ignore[arg-type]
    assert box.stats().total == 0
    assert box.add([], sensor=SENSOR) == []


def test_adding_an_id_again_is_a_no_op(box: Outbox):
    event = make_event()
    box.add([event], sensor=SENSOR)
    box.drain(FakeClient())
    second = make_event()
    assert box.add([event, second], sensor=SENSOR) == [event["id"], second["id"]]
    stats = box.stats()
    assert (stats.sent, stats.pending) == (1, 1)  # the sent copy was not queued again
    entry = box.entry(event["id"])
    assert entry is not None and entry.state == "sent"


def test_stored_payload_is_the_wire_json_and_round_trips(box: Outbox):
    event = make_event()
    box.add([event], sensor=SENSOR)
    client = FakeClient()
    box.drain(client)
    assert client.events.calls == [(SENSOR, [event["id"]])]


# ---------------------------------------------------------------------------------------------------- schema
def test_schema_version_is_recorded_and_a_newer_one_is_refused(target: Target):
    box = target.open()
    box.add([make_event()], sensor=SENSOR)
    again = target.open()  # opening existing tables keeps the data
    assert again.stats().pending == 1
    table = f"{target.options['table_prefix']}_schema_version"
    if target.kind == "sqlite":
        path = target.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            assert db.execute(f"SELECT version FROM {table}").fetchall() == [(1,)]
            db.execute(f"UPDATE {table} SET version = 99")
    else:
        import psycopg

        with psycopg.connect(target.url, autocommit=True) as db:
            qualified = f'"{target.options["schema"]}"."{table}"'
            assert db.execute(f"SELECT version FROM {qualified}").fetchall() == [(1,)]
            db.execute(f"UPDATE {qualified} SET version = 99")
    with pytest.raises(OutboxError, match="newer than this library"):
        target.open()


def test_bad_urls_and_settings_are_refused(tmp_path):
    with pytest.raises(OutboxError, match="unsupported outbox URL"):
        Outbox("mysql://localhost/db")
    with pytest.raises(ValueError, match="not durable"):
        Outbox("sqlite:///:memory:")
    with pytest.raises(ValueError, match="table_prefix"):
        Outbox(tmp_path / "x.db", table_prefix="x; DROP TABLE y")
    with pytest.raises(ValueError, match="lease_seconds"):
        Outbox(tmp_path / "x.db", lease_seconds=0)
    with pytest.raises(ValueError, match="schema= is PostgreSQL only"):
        Outbox(tmp_path / "x.db", schema="s")


def test_sqlite_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with Outbox("sqlite:///rel.db") as rel, Outbox(f"sqlite:///{tmp_path}/abs.db") as absolute:
        assert rel.url == f"sqlite:///{tmp_path}/rel.db"
        assert absolute.url == f"sqlite:///{tmp_path}/abs.db"
    with Outbox(str(tmp_path / "plain.db")) as plain:
        assert (tmp_path / "plain.db").exists() and "plain.db" in repr(plain)


# ---------------------------------------------------------------------------------------------------- claims
def test_concurrent_drains_never_share_an_event(target: Target):
    events = make_events(400)
    target.open().add(events, sensor=SENSOR)
    clients = [FakeClient() for _ in range(4)]
    errors: list[BaseException] = []

    def work(client: FakeClient) -> None:
        try:
            target.open(lease_seconds=30).drain(client, batch_size=7)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    sent = [i for c in clients for i in c.events.sent_ids]
    assert sorted(sent) == sorted(e["id"] for e in events)  # each exactly once
    assert sum(1 for c in clients if c.events.calls) >= 2  # the work really was shared
    assert target.open().stats().sent == 400


def test_an_expired_lease_is_reclaimed_and_counted_as_ambiguous(target: Target):
    box = target.open(lease_seconds=0.3)
    events = make_events(5)
    box.add(events, sensor=SENSOR)

    # A claim that is never settled, as a worker killed mid-batch leaves it (the SIGKILL test does it for real).
    claimed = box._backend.claim(5, 0.3, "dead-worker-token", "ghost:1")
    assert len(claimed) == 5
    assert box.drain(FakeClient()).claimed == 0  # still leased
    assert box.stats().in_flight == 5
    deadline = time.monotonic() + 10
    while box.stats().pending < 5:  # an expired lease counts as pending again
        assert time.monotonic() < deadline, box.stats()
        time.sleep(0.05)
    assert box.stats().in_flight == 0
    report = box.drain(FakeClient())
    assert (report.claimed, report.reclaimed, report.sent) == (5, 5, 5)
    stats = box.stats()
    assert (stats.sent, stats.ambiguous) == (5, 5)
    entry = box.entry(events[0]["id"])
    assert entry is not None and entry.attempts == 2 and entry.ambiguous == 1


def test_max_events_and_batch_size(box: Outbox):
    box.add(make_events(25), sensor=SENSOR)
    client = FakeClient()
    report = box.drain(client, max_events=12, batch_size=5)
    assert [len(ids) for _, ids in client.events.calls] == [5, 5, 2]
    assert (report.claimed, report.sent, report.batches, report.stopped) == (12, 12, 3, "max_events")
    assert box.drain(client).sent == 13


def test_events_are_grouped_by_sensor(box: Outbox):
    box.add(make_events(2), sensor=SENSOR)
    box.add(make_events(3), sensor="https://other.example.com/sensor")
    client = FakeClient()
    box.drain(client)
    assert sorted((s, len(ids)) for s, ids in client.events.calls) == [
        ("https://app.example.com/sensors/outbox", 2),
        ("https://other.example.com/sensor", 3),
    ]


# ---------------------------------------------------------------------------------------------------- operating
def test_job_ids_and_sent_at_are_recorded(box: Outbox):
    events = make_events(3)
    box.add(events, sensor=SENSOR)
    box.drain(FakeClient(["4242"]))
    entry = box.entry(events[1]["id"])
    assert entry is not None
    assert (entry.state, entry.job_id, entry.attempts) == ("sent", "4242", 1)
    assert entry.sent_at is not None and entry.sent_at.tzinfo is not None and entry.next_attempt_at is None
    assert box.entry("urn:uuid:00000000-0000-4000-8000-000000000000") is None


def test_purge_sent_deletes_only_old_sent_rows(box: Outbox):
    box.add(make_events(3), sensor=SENSOR)
    box.drain(FakeClient())
    box.add(make_events(2), sensor=SENSOR)
    assert box.purge_sent(timedelta(hours=1)) == 0
    time.sleep(0.05)
    assert box.purge_sent(0) == 3
    stats = box.stats()
    assert (stats.sent, stats.pending) == (0, 2)
    with pytest.raises(ValueError, match="older_than"):
        box.purge_sent(-1)


def test_requeue_touches_only_dead_rows(box: Outbox):
    from timeback_caliper.errors import BadRequestError

    events = make_events(2)
    box.add(events, sensor=SENSOR)
    box.drain(FakeClient([BadRequestError("nope", status_code=400), "1"]), batch_size=1)
    assert box.stats().dead == 1 and box.stats().sent == 1
    dead_id, sent_id = box.dead()[0].id, next(e["id"] for e in events if e["id"] != box.dead()[0].id)
    assert box.requeue([sent_id, "urn:uuid:unknown"]) == 0
    assert box.requeue([dead_id, dead_id]) == 1
    entry = box.entry(dead_id)
    assert entry is not None and (entry.state, entry.attempts) == ("pending", 0)
    with pytest.raises(TypeError):
        box.requeue(dead_id)


# ---------------------------------------------------------------------------------------------------- transactions
def test_sqlite_add_joins_the_callers_transaction(tmp_path):
    path = tmp_path / "app.db"
    with Outbox(f"sqlite:///{path}", lease_seconds=30) as box:
        app = sqlite3.connect(path)
        app.execute("CREATE TABLE grades (student TEXT, score INT)")
        app.commit()
        kept, dropped = make_event(1), make_event(2)
        with app:  # commits
            app.execute("INSERT INTO grades VALUES ('a', 1)")
            box.add([kept], sensor=SENSOR, connection=app)

        def failing_request() -> None:
            with app:  # rolls back
                app.execute("INSERT INTO grades VALUES ('b', 2)")
                box.add([dropped], sensor=SENSOR, connection=app)
                raise RuntimeError("the request failed")

        with pytest.raises(RuntimeError):
            failing_request()
        assert box.entry(kept["id"]) is not None
        assert box.entry(dropped["id"]) is None
        assert app.execute("SELECT count(*) FROM grades").fetchone() == (1,)

        first = make_event(3)

        def add_first_then_fail() -> None:
            with app:  # the add opens the transaction the INSERT then joins: both roll back
                box.add([first], sensor=SENSOR, connection=app)
                app.execute("INSERT INTO grades VALUES ('c', 3)")
                raise RuntimeError("the request failed")

        with pytest.raises(RuntimeError):
            add_first_then_fail()
        assert box.entry(first["id"]) is None
        assert app.execute("SELECT count(*) FROM grades").fetchone() == (1,)

        auto = sqlite3.connect(path, isolation_level=None)  # autocommit: the add is atomic and commits alone
        alone = make_event(4)
        box.add([alone], sensor=SENSOR, connection=auto)
        assert not auto.in_transaction and box.entry(alone["id"]) is not None
        auto.close()
        other = sqlite3.connect(tmp_path / "other.db")
        with pytest.raises(OutboxError, match="not connected to the outbox"):
            box.add([make_event()], sensor=SENSOR, connection=other)
        app.close()
        other.close()


def test_postgres_add_joins_the_callers_transaction(pg_target: Target):
    import psycopg

    target = pg_target

    box = target.open()
    kept, dropped, auto = make_event(1), make_event(2), make_event(3)
    with psycopg.connect(target.url) as conn:
        with conn.transaction():
            box.add([kept], sensor=SENSOR, connection=conn)
            assert box.entry(kept["id"]) is None  # not visible before the caller commits
        assert box.entry(kept["id"]) is not None

        def failing_request() -> None:
            with conn.transaction():
                box.add([dropped], sensor=SENSOR, connection=conn)
                raise RuntimeError("the request failed")

        with pytest.raises(RuntimeError):
            failing_request()
        assert box.entry(dropped["id"]) is None
    with psycopg.connect(target.url, autocommit=True) as conn:
        box.add([auto, make_event(4)], sensor=SENSOR, connection=conn)  # one statement: atomic on its own
    assert box.stats().pending == 3
    with pytest.raises(TypeError, match="psycopg connection"):
        box.add([make_event()], sensor=SENSOR, connection=object())


def test_django_connection_joins_atomic():
    """Django's ``connection`` inside ``transaction.atomic()`` (own process: Django settings are global)."""
    url = require_postgres()
    pytest.importorskip("django")
    import subprocess
    import sys
    import uuid
    from pathlib import Path
    from urllib.parse import urlsplit

    from .conftest import drop_schema

    root = str(Path(__file__).resolve().parents[2])
    parts = urlsplit(url)
    schema = f"tbo_django_{uuid.uuid4().hex[:8]}"
    code = f"""
import json, sys
import django
from django.conf import settings
settings.configure(DATABASES={{"default": {{
    "ENGINE": "django.db.backends.postgresql", "NAME": {parts.path.lstrip("/")!r}, "USER": {parts.username or ""!r},
    "PASSWORD": {parts.password or ""!r}, "HOST": {parts.hostname or ""!r}, "PORT": {str(parts.port or "")!r}}}}})
django.setup()
from django.db import connection, transaction
sys.path.insert(0, {root!r})
from timeback_caliper.outbox import Outbox
from tests.outbox.events import make_event, SENSOR
box = Outbox({url!r}, schema={schema!r}, table_prefix="dj")
kept, dropped = make_event(1), make_event(2)
with transaction.atomic():
    box.add([kept], sensor=SENSOR, connection=connection)
try:
    with transaction.atomic():
        box.add([dropped], sensor=SENSOR, connection=connection)
        raise RuntimeError("rollback")
except RuntimeError:
    pass
print(json.dumps([box.entry(kept["id"]) is not None, box.entry(dropped["id"]) is not None]))
"""
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "[true, false]"
    finally:
        drop_schema(schema)


def test_an_outbox_built_before_fork_works_in_parent_and_child(target: Target):
    """gunicorn --preload, a Django/Flask singleton: the child opens its own connections, the parent keeps its own."""
    import os

    box = target.open(lease_seconds=30)
    box.add(make_events(10), sensor=SENSOR)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            code = 0 if box.drain(FakeClient(), max_events=5).sent == 5 else 3
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into pytest
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    box.add(make_events(1), sensor=SENSOR)
    assert box.drain(FakeClient()).sent == 6
    assert box.stats().sent == 11


def test_connections_of_finished_threads_are_closed(target: Target):
    box = target.open()
    conns = box._backend._conns  # white box: the per-thread connection registry

    def use() -> None:
        box.stats()

    for _ in range(5):
        t = threading.Thread(target=use)
        t.start()
        t.join()
    # Each thread's first use closed the connections of the threads that had finished before it.
    assert len(conns._opened) <= 2  # this thread's and the last thread's


def test_a_broken_postgres_connection_is_replaced(pg_target: Target):
    import psycopg

    box = pg_target.open()
    box.add(make_events(1), sensor=SENSOR)
    ours = box._backend._db().info.backend_pid
    with psycopg.connect(pg_target.url, autocommit=True) as admin:  # the server drops our session
        admin.execute("SELECT pg_terminate_backend(%s)", (ours,))
    with pytest.raises(psycopg.OperationalError):
        box.stats()  # the call that finds the connection dead fails...
    assert box.stats().pending == 1  # ...and the next one reconnects


def test_a_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    import sys

    from timeback_caliper.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the [postgres] extra were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'timeback-caliper-sync\[postgres\]'"):
        Outbox("postgresql://nobody@127.0.0.1:1/none")
