"""The outbox against the local emulator over real sockets: delivery, dead and requeue, a killed worker, a fault soak.

Workers are separate processes (``python -m timeback_caliper.outbox drain``) so that SIGKILL and SIGTERM are
real. Timeouts and backoff are sub-second; each test has a hard pytest-timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest

from timeback_caliper.outbox import Outbox
from timeback_caliper.testing import Emulator, Fault

from .conftest import FAST, SENSOR, Target, make_events

WORKER_FLAGS = [
    "--poll-interval",
    "0.05",
    "--backoff-base",
    "0.02",
    "--backoff-cap",
    "0.2",
    "--timeout",
    "1.0",
    "--deadline",
    "5",
    "--http-attempts",
    "2",
    "--retry-delay",
    "0.01",
    "--json",
]


def worker_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBACK_")}
    env.update(
        TIMEBACK_CALIPER_URL=emu.url,
        TIMEBACK_TOKEN_URL=emu.token_url,
        TIMEBACK_CLIENT_ID=emu.client_id,
        TIMEBACK_CLIENT_SECRET=emu.client_secret,
    )
    return env


def start_worker(target: Target, emu: Emulator, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "timeback_caliper.outbox", *target.cli_args(), "drain", *args]
    return subprocess.Popen(cmd, env=worker_env(emu), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.timeout(60)
def test_drain_delivers_every_event_once_with_its_job_id(target: Target, emulator: Emulator):
    box = target.open(lease_seconds=30)
    events = make_events(250)
    box.add(events, sensor=SENSOR)
    with emulator.client(retry=FAST, timeout=(1.0, 5.0)) as client:
        report = box.drain(client)
    assert (report.sent, report.requests, report.dead, report.retried) == (250, 3, 0, 0)
    assert emulator.wait_for_jobs(10)
    counts = emulator.event_counts()
    assert counts == Counter({e["id"]: 1 for e in events})
    job_of = {c.external_id: c.job_id for c in emulator.event_copies()}
    for event in events[::50]:
        entry = box.entry(event["id"])
        assert entry is not None and entry.state == "sent" and entry.job_id == job_of[event["id"]]


@pytest.mark.timeout(60)
def test_a_permanent_failure_goes_dead_with_the_reason_and_requeue_sends_it(target: Target, emulator: Emulator):
    box = target.open(lease_seconds=30)
    event = make_events(1)[0]
    box.add([event], sensor=SENSOR)
    refusal = {
        "status": "error",
        "message": "Sensor not registered",
        "errors": [{"path": "sensor", "message": "unknown sensor for this client"}],
    }
    emulator.fail_next(1, 400, path="/caliper/event", body=refusal)
    with emulator.client(retry=FAST, timeout=(1.0, 5.0)) as client:
        report = box.drain(client)
        assert (report.dead, report.sent) == (1, 0)
        [dead] = box.dead()
        assert dead.id == event["id"] and "unknown sensor for this client" in dead.reason
        assert "HTTP 400" in dead.reason
        assert box.drain(client).claimed == 0  # dead stays dead
        assert box.requeue([event["id"]]) == 1  # the sensor was registered: send it again
        assert box.drain(client).sent == 1
    assert emulator.wait_for_jobs(10)
    assert emulator.event_counts() == Counter({event["id"]: 1})
    assert box.stats().dead == 0


@pytest.mark.timeout(90)
def test_a_worker_killed_mid_batch_loses_nothing(target: Target, emulator: Emulator):
    box = target.open(lease_seconds=30)
    events = make_events(120)
    box.add(events, sensor=SENSOR)
    # Hold the first POST for 5 s without processing it, so the worker is killed with its batch in flight.
    emulator.inject(Fault.status_code(503, 1, path="/caliper/event", delay=5.0))
    worker = start_worker(target, emulator, "--batch-size", "50", "--lease", "1.5", *WORKER_FLAGS[:2])
    try:
        wait_for(lambda: not emulator.faults.pending(), 30, "the worker's first POST")
        wait_for(lambda: box.stats().in_flight == 100, 10, "the next batch to be claimed ahead")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    wait_for(lambda: box.stats().in_flight == 0, 10, "the dead worker's lease to expire")
    with emulator.client(retry=FAST, timeout=(1.0, 5.0)) as client:
        report = box.drain(client)
    assert (report.sent, report.reclaimed, report.dead) == (120, 100, 0)
    stats = box.stats()
    # Both batches it held count as ambiguous: nothing tells the outbox the dead worker had not sent them.
    assert (stats.sent, stats.pending, stats.in_flight, stats.ambiguous) == (120, 0, 0, 100)
    assert emulator.wait_for_jobs(10)
    assert emulator.event_counts() == Counter({e["id"]: 1 for e in events})  # the killed request was never processed


@pytest.mark.timeout(300)
def test_four_workers_drain_10000_events_through_20_percent_faults(target: Target, emulator: Emulator):
    total = 10_000
    box = target.open(lease_seconds=30)
    events = make_events(total)
    for i in range(0, total, 2000):
        box.add(events[i : i + 2000], sensor=SENSOR)
    # delay faults last 0.5-1.5 s against a 1 s read timeout: some are answered late, some time out (ambiguous).
    emulator.random_faults(0.2, seed=20251118, path="/caliper/event", delay=(0.5, 1.5))
    started = time.monotonic()
    workers = [start_worker(target, emulator, "--forever", "--lease", "30", *WORKER_FLAGS) for _ in range(4)]
    outputs: list[tuple[str, str]] = []
    try:
        wait_for(
            lambda: (s := box.stats()).sent + s.dead == total and s.pending == s.in_flight == 0,
            240,
            "the workers to drain the outbox",
        )
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)  # stop cleanly: finish or release the claim
        outputs = [w.communicate(timeout=30) for w in workers]
    elapsed = time.monotonic() - started
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r["stopped"] == "stop" and r["released"] == 0 for r in reports)
    assert sum(1 for r in reports if r["sent"] > 0) >= 2  # the work was shared

    stats = box.stats()
    assert (stats.sent, stats.dead, stats.pending, stats.in_flight) == (total, 0, 0, 0)
    assert emulator.wait_for_jobs(30)
    counts = emulator.event_counts()
    assert set(counts) == {e["id"] for e in events}  # every event stored
    faults = emulator.fault_stats
    requests = len(emulator.requests("/caliper/event", method="POST"))
    assert faults.random >= 0.1 * requests  # the faults really happened (20% drawn)

    # Duplicates come only from ambiguous faults: every extra copy is explained by an earlier copy whose
    # answer was lost, the outbox counted each such attempt, and no envelope without such a fault repeated.
    copies = emulator.event_copies()
    ambiguous_copies = Counter(c.external_id for c in copies if c.ambiguous)
    for event_id, n in counts.items():
        assert n - 1 <= ambiguous_copies[event_id], event_id
    duplicates = emulator.duplicates
    assert duplicates <= stats.ambiguous
    ambiguous_jobs = {c.job_id for c in copies if c.ambiguous}
    assert len(ambiguous_jobs) <= faults.ambiguous
    print(  # noqa: T201 - a soak test's numbers are worth seeing with -s
        f"\n{target.kind}: {total} events in {elapsed:.1f}s, {requests} POSTs, faults {faults.injected}, "
        f"ambiguous faults {faults.ambiguous}, outbox ambiguous {stats.ambiguous}, duplicates {duplicates}"
    )


_ADDER = """
import sys, uuid
from timeback_caliper.outbox import Outbox
sys.path.insert(0, {root!r})
from tests.outbox.events import make_event, SENSOR
box = Outbox({url!r}, **{options!r})
for k in range(10_000):
    events = [make_event(i) for i in range(100)]
    for i, e in enumerate(events):
        e["id"] = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"batch-{{k}}-{{i}}"))
    box.add(events, sensor=SENSOR)
    print(k, flush=True)
"""


@pytest.mark.timeout(120)
def test_add_is_atomic_when_the_process_is_killed(target: Target):
    """SIGKILL lands while a process adds batches: each batch is stored whole or not at all, and every row parses."""
    import uuid
    from pathlib import Path

    from .conftest import FakeClient

    root = str(Path(__file__).resolve().parents[2])
    code = _ADDER.format(root=root, url=target.url, options=target.options)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed = -1
    try:
        assert child.stdout is not None
        while committed < 4:
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "the adder exited"
            committed = int(line)
        time.sleep(0.013)  # land somewhere inside a later add
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    box: Outbox = target.open(lease_seconds=30)
    present = []
    for k in range(committed + 30):
        ids = [f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'batch-{k}-{i}')}" for i in range(100)]
        stored = [box.entry(i) is not None for i in ids]
        assert all(stored) or not any(stored), f"batch {k} was stored in part: {sum(stored)} of 100"
        if all(stored):
            present.append(k)
    assert present == list(range(len(present))) and len(present) > committed  # every reported batch is there
    client = FakeClient()
    report = box.drain(client, batch_size=500)
    assert (report.sent, report.dead) == (100 * len(present), 0)  # every stored payload parses and sends


@pytest.mark.timeout(60)
def test_a_server_refusal_is_isolated_to_the_refused_event(target: Target):
    """A server that rejects repeated ids (409) refuses the whole envelope: halving finds the one event."""
    from timeback_caliper.serialization import parse

    box = target.open(lease_seconds=30)
    events = make_events(6)
    with Emulator(dedupe="reject") as emu, emu.client(retry=FAST, timeout=(1.0, 5.0)) as client:
        client.events.send(SENSOR, [parse(events[4])])  # already stored, e.g. by an earlier direct send
        box.add(events, sensor=SENSOR)
        report = box.drain(client)
        assert (report.sent, report.dead) == (5, 1)
        [dead] = box.dead()
        assert dead.id == events[4]["id"] and "HTTP 409" in dead.reason and "Duplicate" in dead.reason
        assert emu.wait_for_jobs(10)
        assert emu.event_counts() == Counter({e["id"]: 1 for e in events})
