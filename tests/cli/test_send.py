"""``timeback-caliper send`` against the emulator: validation first, batches, exit codes, checkpoints, interrupts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from timeback_caliper.cli._checkpoint import Checkpoint
from timeback_caliper.testing import Emulator, Fault

from .conftest import SENSOR, envelope, event_dicts, write_jsonl

pytestmark = pytest.mark.timeout(60)


def stored_ids(emu: Emulator) -> list[str]:
    assert emu.wait_for_jobs(10)
    return [str(e["externalId"]) for e in emu.stored_events()]


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def when_posts(emu: Emulator, n: int, action: Any, timeout: float = 20.0) -> threading.Thread:
    """Run ``action`` in a thread once the emulator has received ``n`` envelopes."""

    def watch() -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(emu.requests("/caliper/event", method="POST")) >= n:
                action()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_send_prints_job_ids_and_stores_every_event(env: Emulator, cli: Any, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(250))
    result = cli("send", str(path), "--sensor", SENSOR, "--wait")
    assert result.code == 0, result.err
    assert result.out.split() == ["1", "2", "3"]
    assert "sent 100/250 events (job 1)" in result.err  # plain progress lines off a terminal
    assert "job 3: completed (50 events stored)" in result.err
    assert "sent 250 events in 3 jobs" in result.err
    assert sorted(stored_ids(env)) == sorted(e["id"] for e in event_dicts(250))


def test_sensor_from_the_environment_and_batch_size(env: Emulator, cli: Any, tmp_path: Path, monkeypatch: Any):
    monkeypatch.setenv("TIMEBACK_SENSOR", SENSOR)
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(5))
    result = cli("-q", "send", str(path), "--batch-size", "2", "--json")
    assert result.code == 0 and result.err == ""
    summary = json.loads(result.out)
    assert summary["jobs"] == ["1", "2", "3"] and summary["sent"] == 5 and summary["exit_code"] == 0
    assert env.wait_for_jobs(10)  # events are stored by the emulator's background job worker
    assert {e["sensor"] for e in env.stored_events()} == {SENSOR}


def test_envelopes_keep_their_own_sensor(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(3)
    path = write_jsonl(tmp_path / "e.jsonl", [envelope(rows[:2], "https://one.example"), envelope(rows[2:])])
    assert cli("send", str(path)).code == 0
    assert emu_sensors(env) == {"https://one.example": 2, SENSOR: 1}


def emu_sensors(emu: Emulator) -> dict[str, int]:
    stored_ids(emu)
    counts: dict[str, int] = {}
    for e in emu.stored_events():
        counts[e["sensor"]] = counts.get(e["sensor"], 0) + 1
    return counts


def test_invalid_events_stop_everything_and_are_listed_with_lines(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(4)
    rows[1]["actor"]["email"] = "nope"
    rows[3]["generated"]["items"][0]["sub_type"] = "x"
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    result = cli("send", str(path), "--sensor", SENSOR)
    assert result.code == 2
    assert f"{path}:2: actor.email:" in result.err and "[TB-4]" in result.err
    assert f"{path}:4: generated.items[0]" in result.err and "[TB-8]" in result.err
    assert "nothing was sent" in result.err
    assert env.requests("/caliper/event") == []


def test_skip_invalid_sends_the_rest(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(3)
    rows[1]["actor"]["email"] = "nope"
    result = cli("send", str(write_jsonl(tmp_path / "e.jsonl", rows)), "--sensor", SENSOR, "--skip-invalid")
    assert result.code == 0
    assert "skipped 1 invalid" in result.err
    assert sorted(stored_ids(env)) == sorted([rows[0]["id"], rows[2]["id"]])


def test_skip_invalid_with_nothing_valid_is_still_a_usage_error(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(2)
    for row in rows:
        row["actor"]["email"] = "nope"
    result = cli("send", str(write_jsonl(tmp_path / "e.jsonl", rows)), "--sensor", SENSOR, "--skip-invalid")
    assert result.code == 2 and "no valid events" in result.err
    assert env.requests("/caliper/event") == []


def test_a_progress_bar_when_asked(env: Emulator, cli: Any, tmp_path: Path):
    result = cli("send", str(write_jsonl(tmp_path / "e.jsonl", event_dicts(3))), "--sensor", SENSOR, "--progress")
    assert result.code == 0
    assert "sending" in result.err and "3/3" in result.err  # rich's bar, not the plain lines
    assert "sent 3/3 events (job" not in result.err


def test_an_accepted_envelope_without_a_job_id(cli: Any, tmp_path: Path, monkeypatch: Any):
    with Emulator(success_body="empty") as quiet:
        monkeypatch.setenv("TIMEBACK_CALIPER_URL", quiet.url)
        monkeypatch.setenv("TIMEBACK_TOKEN_URL", quiet.token_url)
        monkeypatch.setenv("TIMEBACK_CLIENT_ID", quiet.client_id)
        monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", quiet.client_secret)
        point = tmp_path / "cp"
        path = write_jsonl(tmp_path / "e.jsonl", event_dicts(2))
        result = cli("send", str(path), "--sensor", SENSOR, "--checkpoint", str(point), "--wait")
        assert result.code == 0 and result.out == ""
        assert "sent 2/2 events (job no job id)" in result.err
        again = cli("send", str(path), "--sensor", SENSOR, "--checkpoint", str(point))
        assert again.code == 0 and "2 already sent" in again.err


def test_unreadable_json_is_fatal_even_with_skip_invalid(env: Emulator, cli: Any, tmp_path: Path):
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(event_dicts(1)[0]) + "\n{\n", encoding="utf-8")
    result = cli("send", str(path), "--sensor", SENSOR, "--skip-invalid")
    assert result.code == 2 and f"{path}:2: not valid JSON" in result.err
    assert env.requests("/caliper/event") == []


def test_api_error_before_anything_was_accepted_exits_1(env: Emulator, cli: Any, tmp_path: Path):
    env.fail_next(1, 403, path="/caliper/event")
    result = cli("send", str(write_jsonl(tmp_path / "e.jsonl", event_dicts(2))), "--sensor", SENSOR)
    assert result.code == 1
    assert result.err.count("error: HTTP 403") == 1


def test_partial_send_exits_3_and_the_checkpoint_resumes_without_duplicates(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(5)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    point = tmp_path / "send.checkpoint"
    env.inject(Fault.status_code(503, count=None, path="/caliper/event", skip=1))
    first = cli(
        "--max-attempts", "1", "send", str(path), "--sensor", SENSOR, "--batch-size", "2", "--checkpoint", str(point)
    )
    assert first.code == 3
    assert first.out.split() == ["1"]
    assert "error: HTTP 503" in first.err and "rerun with the same --checkpoint" in first.err
    assert sorted(stored_ids(env)) == sorted(r["id"] for r in rows[:2])

    env.clear_faults()
    second = cli("send", str(path), "--sensor", SENSOR, "--batch-size", "2", "--checkpoint", str(point), "--wait")
    assert second.code == 0, second.err
    assert "skipping 2 events accepted by an earlier run" in second.err
    ids = stored_ids(env)
    assert sorted(ids) == sorted(r["id"] for r in rows) and len(ids) == len(set(ids))

    third = cli("send", str(path), "--sensor", SENSOR, "--checkpoint", str(point))
    assert third.code == 0 and third.out == "" and "5 already sent" in third.err
    assert len(stored_ids(env)) == 5

    ops = [r.get("op") for r in records(point)]
    assert records(point)[0]["checkpoint"] == "timeback-caliper-send" and records(point)[0]["base_url"] == env.url
    assert ops[1:4] == ["sending", "accepted", "sending"] and "closed" in ops and ops.count("job") == 3


def test_partial_send_without_checkpoint_still_exits_3(env: Emulator, cli: Any, tmp_path: Path):
    env.inject(Fault.status_code(400, count=None, path="/caliper/event", skip=1))
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(3))
    result = cli("send", str(path), "--sensor", SENSOR, "--batch-size", "1", "--json")
    assert result.code == 3
    summary = json.loads(result.out)
    assert summary["sent"] == 1 and summary["not_sent"] == 2 and "HTTP 400" in summary["error"]


def test_an_ambiguous_failure_stays_in_flight_and_is_checked_on_resume(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(4)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    point = tmp_path / "cp"
    env.close_next(1, path="/caliper/event", process=True)  # stored, but the answer is lost
    args = ("send", str(path), "--sensor", SENSOR, "--batch-size", "2", "--checkpoint", str(point))
    first = cli("--max-attempts", "1", *args)
    assert first.code == 1 and "ambiguous" in first.err
    with Checkpoint.open(point, base_url=env.url) as cp:
        assert sorted(cp.in_flight) == sorted(r["id"] for r in rows[:2])
    assert len(stored_ids(env)) == 2  # the "failed" envelope was in fact stored

    second = cli(*args)
    assert second.code == 0, second.err
    assert "2 events were in flight when a run stopped; 2 found stored, 0 will be sent again" in second.err
    ids = stored_ids(env)
    assert sorted(ids) == sorted(r["id"] for r in rows) and env.duplicates == 0


def test_in_flight_resend_and_skip_modes(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(2)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    for mode, expected in (("resend", 2), ("skip", 0)):
        env.reset()
        point = tmp_path / f"cp-{mode}"
        with Checkpoint.open(point, base_url=env.url) as cp:
            cp.begin([r["id"] for r in rows])  # a run died right after announcing this batch
        result = cli("send", str(path), "--sensor", SENSOR, "--checkpoint", str(point), "--in-flight", mode)
        assert result.code == 0, result.err
        assert len(stored_ids(env)) == expected


def test_wait_reports_a_failed_job_with_exit_1(env: Emulator, cli: Any, tmp_path: Path):
    env.fail_next_jobs(1, reason="disk full")
    result = cli("send", str(write_jsonl(tmp_path / "e.jsonl", event_dicts(1))), "--sensor", SENSOR, "--wait")
    assert result.code == 1
    assert result.out.split() == ["1"]
    assert "job 1 failed" in result.err and "disk full" in result.err


def test_a_checkpoint_in_use_or_for_another_api_is_refused(env: Emulator, cli: Any, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(1))
    point = tmp_path / "cp"
    with Checkpoint.open(point, base_url=env.url):
        busy = cli("send", str(path), "--sensor", SENSOR, "--checkpoint", str(point))
    assert busy.code == 2 and "in use by another run" in busy.err
    other = tmp_path / "other"
    Checkpoint.open(other, base_url="https://caliper.alpha-1edtech.ai").close()
    wrong = cli("send", str(path), "--sensor", SENSOR, "--checkpoint", str(other))
    assert wrong.code == 2 and "use another checkpoint file" in wrong.err
    assert env.requests("/caliper/event") == []


def test_a_torn_last_record_is_dropped(env: Emulator, tmp_path: Path):
    point = tmp_path / "cp"
    with Checkpoint.open(point, base_url=env.url) as cp:
        batch = cp.begin(["urn:uuid:a"])
        cp.accept(batch, ["7"], ["urn:uuid:a"])
    with point.open("ab") as f:
        f.write(b'{"op":"sending","batch":2,"eve')
    with Checkpoint.open(point, base_url=env.url) as cp:
        assert cp.accepted == {"urn:uuid:a": "7"} and cp.in_flight == [] and cp.jobs == ["7"]
        cp.begin(["urn:uuid:b"])
    assert [r.get("op") for r in records(point)] == [None, "sending", "accepted", "sending"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_first_ctrl_c_finishes_the_envelope_in_flight(env: Emulator, cli: Any, tmp_path: Path, sig: int):
    rows = event_dicts(6)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    point = tmp_path / "cp"
    env.inject(Fault.delay(0.5, 1, path="/caliper/event", skip=1))
    when_posts(env, 2, lambda: os.kill(os.getpid(), sig))
    args = ("send", str(path), "--sensor", SENSOR, "--batch-size", "2", "--checkpoint", str(point))
    first = cli(*args)
    assert first.code == 130
    assert "finishing the envelope in flight" in first.err and "interrupted; rerun" in first.err
    assert first.out.split() == ["1", "2"]
    with Checkpoint.open(point, base_url=env.url) as cp:
        assert len(cp.accepted) == 4 and cp.in_flight == []
    second = cli(*args)
    assert second.code == 0
    ids = stored_ids(env)
    assert sorted(ids) == sorted(r["id"] for r in rows) and env.duplicates == 0


def test_second_ctrl_c_stops_at_once_and_the_checkpoint_stays_consistent(env: Emulator, cli: Any, tmp_path: Path):
    rows = event_dicts(6)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    point = tmp_path / "cp"
    env.inject(Fault.delay(3.0, 1, path="/caliper/event", skip=1))

    def twice() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    when_posts(env, 2, twice)
    args = ("send", str(path), "--sensor", SENSOR, "--batch-size", "2", "--checkpoint", str(point))
    started = time.monotonic()
    first = cli(*args)
    assert first.code == 130 and time.monotonic() - started < 2.5  # did not wait for the delayed answer
    with Checkpoint.open(point, base_url=env.url) as cp:
        assert len(cp.accepted) == 2 and sorted(cp.in_flight) == sorted(r["id"] for r in rows[2:4])
    env.clear_faults()
    time.sleep(3.2)  # the emulator answers (and stores) the delayed envelope
    second = cli(*args)
    assert second.code == 0, second.err
    assert "2 found stored" in second.err
    ids = stored_ids(env)
    assert sorted(ids) == sorted(r["id"] for r in rows) and env.duplicates == 0


def test_a_killed_process_resumes_without_resending(env: Emulator, cli: Any, tmp_path: Path):
    """A real crash: SIGKILL while an envelope is in flight; the rerun resends only what was not stored."""
    rows = event_dicts(6)
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    point = tmp_path / "cp"
    env.inject(Fault.delay(1.0, 1, path="/caliper/event", skip=2))
    args = ["send", str(path), "--sensor", SENSOR, "--batch-size", "2", "--checkpoint", str(point)]
    child = subprocess.Popen(
        [sys.executable, "-m", "timeback_caliper.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        when_posts(env, 3, lambda: child.send_signal(signal.SIGKILL)).join(30)
        child.wait(30)
    finally:
        child.kill()
        _, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, err.decode()
    with Checkpoint.open(point, base_url=env.url) as cp:
        assert len(cp.accepted) == 4 and len(cp.in_flight) == 2
    time.sleep(1.2)
    second = cli(*args)
    assert second.code == 0, second.err
    ids = stored_ids(env)
    assert sorted(ids) == sorted(r["id"] for r in rows) and env.duplicates == 0
