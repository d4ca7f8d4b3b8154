"""The server itself: lifecycle and bounded stop, threads, the request log, SQLite persistence, the CLI."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.testing.helpers import SENSOR, call, envelope, events, read_banner, spawn, time_spent_dict, token
from timeback_caliper.testing import Emulator

pytestmark = pytest.mark.timeout(30)


def test_start_stop_restart_on_the_same_port() -> None:
    emu = Emulator()
    assert not emu.running
    emu.start()
    emu.start()  # idempotent
    port = emu.port
    assert port > 0
    assert emu.url == f"http://127.0.0.1:{port}"
    tok = token(emu)
    emu.stop()
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.url + "/caliper/events", timeout=1)
    emu.start()
    try:
        assert emu.port == port
        assert call(emu, "GET", "/caliper/events", tok).status_code == 200  # same store, same tokens
    finally:
        emu.close()


def test_stop_is_bounded_with_open_connections_and_slow_answers() -> None:
    emu = Emulator().start()
    tok = token(emu)
    session = requests.Session()
    assert session.get(emu.url + "/caliper/events", headers={"Authorization": "Bearer " + tok}).status_code == 200
    emu.delay_next(30.0)
    outcome: list[object] = []

    def slow() -> None:
        try:
            outcome.append(
                requests.get(emu.url + "/caliper/events", headers={"Authorization": "Bearer " + tok}, timeout=10)
            )
        except requests.RequestException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 3
    worker.join(5)
    assert outcome  # the slow request ended (answered or cut), it did not hang
    session.close()
    emu.close()


def test_concurrent_clients() -> None:
    with Emulator(job_delay=0) as emu:
        errors: list[BaseException] = []

        def run(n: int) -> None:
            try:
                with emu.client() as client:
                    client.events.send(SENSOR, events(20, start=n * 100))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert errors == []
        assert emu.wait_for_jobs()
        assert len(emu.event_counts()) == 160


def test_request_log(tmp_path: Path) -> None:
    with Emulator(max_recorded_requests=3) as emu:
        tok = token(emu)
        call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(1)), params={"a": "b"})
        entry = emu.requests("/caliper/event")[0]
        assert (entry.method, entry.path, entry.query, entry.status, entry.client_id) == (
            "POST",
            "/caliper/event",
            {"a": ["b"]},
            200,
            "emulator-client",
        )
        assert entry.json()["sensor"] == SENSOR
        assert entry.event_ids == [time_spent_dict(1)["id"]]
        assert entry.header("content-type") == "application/json"
        for _ in range(4):
            call(emu, "GET", "/caliper/events", tok)
        assert [r.path for r in emu.requests()] == ["/caliper/events"] * 3  # only the latest are kept
        assert [r.seq for r in emu.requests()] == sorted(r.seq for r in emu.requests())
        emu.clear_requests()
        assert emu.requests() == []


def test_sqlite_keeps_everything_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.db")
    with Emulator(db=db, job_delay=0) as emu:
        tok = token(emu)
        with emu.client() as client:
            sent = client.events.send(SENSOR, events(5))
        assert emu.wait_for_jobs()
        hook = call(
            emu,
            "POST",
            "/webhooks/",
            tok,
            json={"name": "n", "description": None, "targetUrl": "https://x.test", "secret": "s", "active": True},
        ).json()["webhook"]
        with emu.jobs_paused():
            waiting = call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(99))).json()["jobId"]
            emu.stop()
        emu.close()
    with Emulator(db=db, job_delay=0) as again:
        assert again.wait_for_jobs()
        assert call(again, "GET", f"/jobs/{sent.job_id}/status", tok).json()["job"]["state"] == "completed"
        assert call(again, "GET", f"/jobs/{waiting}/status", tok).json()["job"]["state"] == "completed"  # resumed
        assert call(again, "GET", "/caliper/events", tok).json()["pagination"]["total"] == 6
        assert call(again, "GET", f"/webhooks/{hook['id']}", tok).status_code == 200
        assert len(again.applications()) == 3  # seeded once, not twice
        new_job = call(again, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(100))).json()["jobId"]
        assert int(new_job) > int(waiting)


# ------------------------------------------------------------------------------------------------ the CLI
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_cli_runs_until_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    proc = spawn(
        "--port", "0", "--db", str(db), "--fault", "503@/caliper/events", "--random-faults", "0", "--seed", "1"
    )
    try:
        banner = read_banner(proc)
        line = banner[0]
        assert line.startswith("Timeback Caliper emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        tok = requests.post(
            url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("emulator-client", "emulator-secret"),
        ).json()["access_token"]
        headers = {"Authorization": "Bearer " + tok}
        assert requests.get(url + "/caliper/events", headers=headers, timeout=5).status_code == 503
        assert requests.get(url + "/caliper/events", headers=headers, timeout=5).status_code == 200
        assert requests.get(url + "/_emulator/state", timeout=5).json()["faults"]["injected"] == {"503": 1}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "emulator-secret" in "".join(banner)  # the well-known default secret is shown; a given one never is
    assert db.exists()


def test_cli_hides_a_given_secret_and_refuses_bad_specs() -> None:
    proc = spawn("--port", "0", "--client-secret", "s3cr3t-value")
    try:
        banner = read_banner(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "s3cr3t-value" not in "".join(banner) + out
    bad = spawn("--port", "0", "--fault", "teapot")
    _, err = bad.communicate(timeout=10)
    assert bad.returncode == 2
    assert "teapot" in err
