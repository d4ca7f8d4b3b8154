"""The ``outbox`` command group: add FILE, stats, dead, requeue, purge, and a drain worker stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from timeback_caliper.errors import BadRequestError
from timeback_caliper.outbox.cli import _duration, outbox
from timeback_caliper.testing import Emulator

from .conftest import SENSOR, FakeClient, Target, make_event, make_events
from .test_emulator import WORKER_FLAGS, start_worker, wait_for, worker_env

pytestmark = pytest.mark.timeout(60)


def run(target: Target, *args: str, input: str | None = None) -> tuple[int, str]:  # noqa: A002 - click's name
    result = CliRunner().invoke(outbox, [*target.cli_args(), *args], input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_add_reads_envelopes_lists_and_json_lines(target: Target, tmp_path: Path):
    envelope = tmp_path / "envelope.json"
    envelope.write_text(json.dumps({"sensor": SENSOR, "sendTime": "2025-11-18T10:15:00.000Z",
                                    "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
                                    "data": make_events(2)}))  # fmt: skip
    code, out = run(target, "add", str(envelope))
    assert code == 0 and out.strip().startswith("stored 2 events in ")

    bare = tmp_path / "events.json"
    bare.write_text(json.dumps(make_events(3)))
    code, out = run(target, "add", str(bare))
    assert code == 2 and "--sensor is required" in out
    code, out = run(target, "add", "--sensor", SENSOR, "--json", str(bare))
    assert code == 0 and len(json.loads(out)["added"]) == 3

    lines = "\n".join(json.dumps(e) for e in make_events(2))
    code, out = run(target, "add", "--sensor", SENSOR, "-", input=lines)
    assert code == 0 and "stored 2 events" in out

    code, out = run(target, "stats", "--json")
    assert code == 0 and json.loads(out)["pending"] == 7


def test_add_refuses_invalid_events_and_stores_nothing(target: Target, tmp_path: Path):
    bad = make_event()
    bad["eventTime"] = "not a time"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([make_event(), bad]))
    code, out = run(target, "add", "--sensor", SENSOR, str(path))
    assert code == 1 and "events[1].eventTime" in out
    assert json.loads(run(target, "stats", "--json")[1])["total"] == 0
    path.write_text("{not json")
    code, out = run(target, "add", "--sensor", SENSOR, str(path))
    assert code == 2 and "not JSON" in out


def test_stats_dead_requeue_and_purge(target: Target):
    box = target.open(lease_seconds=30)
    events = make_events(3)
    box.add(events, sensor=SENSOR)
    refusal = BadRequestError("Invalid envelope", status_code=400, errors=[{"message": "refused for the test"}])
    box.drain(FakeClient([refusal, "7", refusal]), batch_size=1)

    code, out = run(target, "stats")
    assert code == 0
    table = dict(line.rsplit(None, 1) for line in out.strip().splitlines())
    assert (table["pending"], table["sent"], table["dead"], table["oldest pending"]) == ("0", "1", "2", "-")

    code, out = run(target, "dead", "--json")
    dead = json.loads(out)
    assert {d["id"] for d in dead} == {events[0]["id"], events[2]["id"]}
    assert all("refused for the test" in d["reason"] and d["event"]["id"] == d["id"] for d in dead)
    code, out = run(target, "dead")
    assert code == 0 and events[0]["id"] in out

    code, out = run(target, "requeue", events[0]["id"])
    assert code == 0 and out.strip() == "requeued 1 events"
    code, out = run(target, "requeue", "--all")
    assert out.strip() == "requeued 1 events"
    code, out = run(target, "requeue")
    assert code == 2 and "give event ids or --all" in out
    assert box.stats().pending == 2

    code, out = run(target, "purge", "--older-than", "1h")
    assert code == 0 and out.strip() == "purged 0 sent events"
    code, out = run(target, "purge", "--older-than", "0")
    assert out.strip() == "purged 1 sent events"


def test_duration_parsing():
    assert [_duration(t) for t in ("90", "90s", "15m", "12h", "7d", "0.5h")] == [90, 90, 900, 43200, 604800, 1800]
    for bad in ("soon", "-5", "h"):
        with pytest.raises(Exception, match="duration"):
            _duration(bad)


def test_drain_once_reports_json(target: Target, emulator: Emulator):
    target.open().add(make_events(30), sensor=SENSOR)
    cmd = [sys.executable, "-m", "timeback_caliper.outbox", *target.cli_args(), "drain", "--batch-size", "20"]
    out = subprocess.run([*cmd, *WORKER_FLAGS], env=worker_env(emulator), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["sent"], report["batches"], report["stopped"], report["error"]) == (30, 2, "idle", None)
    assert emulator.wait_for_jobs(10) and len(emulator.stored_events()) == 30


def test_drain_stops_on_a_configuration_error_with_a_message(target: Target, emulator: Emulator):
    target.open().add(make_events(2), sensor=SENSOR)
    env = {**worker_env(emulator), "TIMEBACK_CLIENT_SECRET": "wrong"}
    cmd = [sys.executable, "-m", "timeback_caliper.outbox", *target.cli_args(), "drain", *WORKER_FLAGS[:-1]]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "drain stopped" in out.stderr and "AuthenticationError" not in out.stdout
    stats = target.open().stats()
    assert (stats.pending, stats.dead, stats.in_flight) == (2, 0, 0)  # rescheduled, not the events' fault


def test_sigterm_finishes_the_send_in_progress_and_releases_the_rest(target: Target, emulator: Emulator):
    box = target.open(lease_seconds=30)
    box.add(make_events(20), sensor=SENSOR)
    box.add(make_events(20), sensor="https://other.example.com/sensor")
    emulator.delay_next(1.5, path="/caliper/event")  # processed, answered 1.5 s later
    flags = [*WORKER_FLAGS, "--timeout", "5"]  # the answer is late, not lost
    worker = start_worker(target, emulator, "--forever", "--batch-size", "40", "--lease", "30", *flags)
    try:
        wait_for(lambda: not emulator.faults.pending(), 30, "the worker's first POST")
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    report = json.loads(out)
    assert (report["sent"], report["released"], report["stopped"]) == (20, 20, "stop")
    assert "stopping after the current send" in err
    stats = box.stats()
    assert (stats.sent, stats.pending, stats.in_flight, stats.ambiguous) == (20, 20, 0, 0)
    assert emulator.wait_for_jobs(10) and len(emulator.stored_events()) == 20


def test_the_module_runs_standalone():
    out = subprocess.run(
        [sys.executable, "-m", "timeback_caliper.outbox", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert all(cmd in out.stdout for cmd in ("add", "drain", "stats", "dead", "requeue", "purge"))
