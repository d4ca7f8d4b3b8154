"""The reading commands, validate, auth, configuration, errors and exit codes, against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from timeback_caliper.cli._insights import overview_period
from timeback_caliper.testing import Emulator

from .conftest import EMAIL, SENSOR, USER, envelope, event_dicts, write_jsonl

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def stored(env: Emulator, cli: Any, tmp_path: Path) -> list[dict[str, Any]]:
    """Five events sent through the command line and stored."""
    rows = event_dicts(5)
    rows[4]["generated"]["items"].append({"type": "waste", "value": 120, "subType": "game"})
    assert cli("send", str(write_jsonl(tmp_path / "e.jsonl", rows)), "--sensor", SENSOR).code == 0
    assert env.wait_for_jobs(10)
    return rows


# ---------------------------------------------------------------------------------------------------- validate
def test_validate_locally_needs_no_credentials_or_sensor(cli: Any, tmp_path: Path, monkeypatch: Any):
    monkeypatch.delenv("TIMEBACK_CLIENT_ID", raising=False)
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(3))
    result = cli("validate", str(path))
    assert result.code == 0 and "3 items (3 events) valid" in result.err


def test_validate_lists_every_problem_with_exit_2_and_json(cli: Any, tmp_path: Path):
    rows = event_dicts(3)
    rows[0]["eventTime"] = "2025-01-15T09:00:00Z"
    rows[2]["object"]["subject"] = "Alchemy"
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    result = cli("validate", str(path), "--json")
    assert result.code == 2
    assert f"{path}:1: eventTime:" in result.err and f"{path}:3: object.subject:" in result.err
    report = json.loads(result.out)
    assert report["ok"] is False and {p["line"] for p in report["problems"] if p["severity"] == "error"} == {1, 3}


def test_validate_server_asks_the_api(env: Emulator, cli: Any, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(3))
    result = cli("validate", str(path), "--server", "--sensor", SENSOR)
    assert result.code == 0 and "valid and by the API" in result.err
    assert len(env.requests("/caliper/event/validate")) == 1 and env.stored_events() == []


def test_validate_server_refusals_point_at_lines(env: Emulator, cli: Any, tmp_path: Path):
    body = {
        "status": "error",
        "message": "Invalid envelope",
        "errors": [{"path": ["data", 1, "object", "subject"], "rule": "TB-5", "message": "unknown subject"}],
    }
    env.fail_next(1, 400, path="/caliper/event/validate", body=body)
    path = tmp_path / "env.json"
    path.write_text(json.dumps(envelope(event_dicts(2)), indent=2), encoding="utf-8")
    result = cli("validate", str(path), "--server")
    assert result.code == 2
    second = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text == "    {"][1]
    assert f"{path}:{second}: server: object.subject: unknown subject [TB-5]" in result.err


def test_validate_server_needs_a_sensor_for_bare_events(env: Emulator, cli: Any, tmp_path: Path):
    result = cli("validate", str(write_jsonl(tmp_path / "e.jsonl", event_dicts(1))), "--server")
    assert result.code == 2 and "--sensor" in result.err


# ---------------------------------------------------------------------------------------------------- events
def test_events_list_table_json_and_jsonl(stored: list[dict[str, Any]], cli: Any):
    table = cli("events", "list", "--limit", "2")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0] == "2 events (offset 0 of 5)"
    assert lines[1].split() == ["Event", "time", "Type", "Action", "Actor", "Object", "Id"]
    assert stored[4]["id"] in lines[2] and EMAIL in lines[2]  # newest first
    as_json = json.loads(cli("events", "list", "--format", "json").out)
    assert [e["externalId"] for e in as_json] == [r["id"] for r in reversed(stored)]
    jsonl = cli("events", "list", "--format", "jsonl", "--actor-email", EMAIL, "--since", "2025-01-15T09:02:00Z")
    assert [json.loads(line)["externalId"] for line in jsonl.out.splitlines()] == [r["id"] for r in stored[:1:-1]]


def test_events_get_and_not_found(stored: list[dict[str, Any]], cli: Any):
    got = cli("events", "get", stored[0]["id"])
    assert got.code == 0 and json.loads(got.out)["externalId"] == stored[0]["id"]
    missing = cli("events", "get", "urn:uuid:00000000-0000-4000-8000-999999999999")
    assert missing.code == 1
    assert missing.err.startswith("timeback-caliper: error: HTTP 404") and len(missing.err.splitlines()) == 1
    detailed = cli("-v", "events", "get", "urn:uuid:00000000-0000-4000-8000-999999999999")
    assert "type: timeback_caliper.errors.NotFoundError" in detailed.err and "body:" in detailed.err


def test_events_stream_pages_through_everything(stored: list[dict[str, Any]], env: Emulator, cli: Any):
    result = cli("events", "stream", "--page-size", "2")
    assert [json.loads(line)["externalId"] for line in result.out.splitlines()] == [r["id"] for r in reversed(stored)]
    assert len(env.requests("/caliper/events", method="GET")) == 3
    capped = cli("events", "stream", "--max", "1", "--format", "table")
    assert capped.out.count("urn:uuid:") == 1


def test_bad_dates_are_usage_errors(env: Emulator, cli: Any):
    result = cli("events", "list", "--since", "yesterday")
    assert result.code == 2 and "is not a date" in result.err


# ---------------------------------------------------------------------------------------------------- jobs
def test_jobs_status_and_wait(stored: list[dict[str, Any]], cli: Any):
    status = cli("jobs", "status", "1", "--format", "json")
    assert status.code == 0
    [job] = json.loads(status.out)
    assert job["state"] == "completed" and job["stored"] == 5
    waited = cli("jobs", "wait", "1", "--timeout", "5")
    assert waited.code == 0 and "completed" in waited.out


def test_jobs_wait_exits_1_on_a_failed_job(env: Emulator, cli: Any, tmp_path: Path):
    env.fail_next_jobs(1, reason="storage offline")
    assert cli("send", str(write_jsonl(tmp_path / "e.jsonl", event_dicts(1))), "--sensor", SENSOR).code == 0
    result = cli("jobs", "wait", "1")
    assert result.code == 1 and "storage offline" in result.err and "failed" in result.out


def test_jobs_wait_times_out_with_exit_1(env: Emulator, cli: Any, tmp_path: Path):
    env.delay_next_jobs(1)
    assert cli("send", str(write_jsonl(tmp_path / "e.jsonl", event_dicts(1))), "--sensor", SENSOR).code == 0
    result = cli("jobs", "wait", "1", "--timeout", "0.3", "--poll-interval", "0.1")
    assert result.code == 1 and "not finished" in result.err
    env.release_jobs()


# ---------------------------------------------------------------------------------------------------- insights
def test_insights_user_sessions_and_session(stored: list[dict[str, Any]], cli: Any):
    user = cli("insights", "user", USER)
    assert user.code == 0 and "Game" in user.out and "1 insights" in user.out
    sessions = json.loads(cli("insights", "sessions", USER, "--format", "json").out)
    [session] = sessions["sessions"]
    one = cli("insights", "session", session["id"], "--format", "jsonl")
    assert [json.loads(line)["insightType"] for line in one.out.splitlines()] == ["Game"]
    table = cli("insights", "session", session["id"])
    assert table.out.startswith("Session 2025-01-15 ")


def test_insights_rejects_a_non_uuid_user_with_exit_2(env: Emulator, cli: Any):
    result = cli("insights", "user", "ada@example.com")
    assert result.code == 2 and "must be a UUID" in result.err
    assert env.requests("/insights/*") == []


def test_insights_overview_table_json_and_plot(stored: list[dict[str, Any]], cli: Any, tmp_path: Path):
    args = ("insights", "overview", USER, "--start", "2025-01-14", "--days", "3", "--tz", "Europe/Paris")
    table = cli(*args)
    assert table.code == 0
    assert "Overview of 5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a, 2025-01-14 to 2025-01-16 (Europe/Paris)" in table.out
    assert "Wed 2025-01-15" in table.out and "On device" in table.out
    raw = json.loads(cli(*args, "--format", "json").out)
    assert len(raw["trend"]["buckets"]) == 3
    png = tmp_path / "plots" / "week.png"
    plotted = cli(*args, "--plot", str(png))
    assert plotted.code == 0 and f"wrote {png}" in plotted.err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overview_period_and_bad_zone(env: Emulator, cli: Any):
    from datetime import date
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/Chicago")
    start, end = overview_period(zone, 7, None, None, today=date(2025, 1, 15))
    assert (start.isoformat(), end.isoformat()) == ("2025-01-09T00:00:00-06:00", "2025-01-16T00:00:00-06:00")
    assert overview_period(zone, 7, None, "2025-01-10")[0].date() == date(2025, 1, 3)
    result = cli("insights", "overview", USER, "--tz", "Mars/Olympus")
    assert result.code == 2 and "IANA" in result.err


# ---------------------------------------------------------------------------------------------------- auth
def test_auth_check_ok_and_its_latencies(env: Emulator, cli: Any):
    result = cli("auth", "check", "--format", "json")
    assert result.code == 0
    checks = json.loads(result.out)
    assert [c["backend"] for c in checks] == ["caliper", "platform"] and all(c["ok"] for c in checks)
    assert all(c["first_ms"] >= 0 and c["cached_ms"] >= 0 for c in checks)
    assert len(env.requests("/oauth2/token")) == 1 and len(env.requests("/auth/1.0/token")) == 1
    assert env.client_secret not in result.out + result.err


def test_auth_check_with_a_wrong_secret_exits_1_without_printing_it(env: Emulator, cli: Any, monkeypatch: Any):
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", "wrong-secret-value")
    result = cli("auth", "check", "--backend", "caliper")
    assert result.code == 1
    assert "FAILED" in result.out and "invalid_client" in result.out
    assert "wrong-secret-value" not in result.out + result.err


# ---------------------------------------------------------------------------------------------------- config
def test_missing_credentials_are_a_usage_error(cli: Any, monkeypatch: Any):
    monkeypatch.delenv("TIMEBACK_CLIENT_ID", raising=False)
    monkeypatch.delenv("TIMEBACK_CLIENT_SECRET", raising=False)
    result = cli("events", "list")
    assert result.code == 2 and "TIMEBACK_CLIENT_ID" in result.err
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", "x")
    result = cli("events", "list")
    assert result.code == 2 and "TIMEBACK_CLIENT_SECRET_FILE" in result.err


def test_secret_from_a_file_and_flags_over_environment(env: Emulator, cli: Any, tmp_path: Path, monkeypatch: Any):
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", "wrong")
    monkeypatch.setenv("TIMEBACK_CALIPER_URL", "http://127.0.0.1:9")  # nothing listens there
    secret = tmp_path / "secret"
    secret.write_text(env.client_secret + "\n", encoding="utf-8")
    result = cli("--base-url", env.url, "--client-secret-file", str(secret), "auth", "check", "--backend", "caliper")
    assert result.code == 0, result.out + result.err
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET_FILE", str(secret))
    assert cli("--base-url", env.url, "auth", "check", "--backend", "caliper").code == 0
    missing = cli("--client-secret-file", str(tmp_path / "nope"), "events", "list")
    assert missing.code == 2 and "cannot read" in missing.err


def test_env_flag_picks_the_hosts(cli: Any, monkeypatch: Any):
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", "x")
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", "y")
    monkeypatch.delenv("TIMEBACK_CALIPER_URL", raising=False)
    from timeback_caliper.cli._common import Settings

    client = Settings(env="staging").client()
    try:
        assert client.base_url == "https://caliper.staging.alpha-1edtech.ai"
    finally:
        client.close()
    result = cli("--env", "nowhere", "events", "list")
    assert result.code == 2 and "Invalid value for '--env'" in result.err


def test_help_version_and_unknown_commands(cli: Any):
    helped = cli("--help")
    assert helped.code == 0 and "Exit codes: 0 ok, 1 API error" in helped.out
    for name in ("send", "validate", "events", "jobs", "insights", "auth", "emulator", "outbox"):
        assert f"  {name} " in helped.out
    assert cli("--version").out.startswith("timeback-caliper, version ")
    unknown = cli("nope")
    assert unknown.code == 2 and "No such command" in unknown.err


def test_emulator_command_passes_its_options_through(cli: Any):
    result = cli("emulator", "--help")
    assert result.code == 0 and "--fault" in result.out
    bad = cli("emulator", "--port", "not-a-port")
    assert bad.code == 2


@pytest.mark.timeout(60)
def test_console_entry_point_in_a_subprocess(env: Emulator, tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(2))
    out = subprocess.run(
        [sys.executable, "-m", "timeback_caliper.cli", "send", str(path), "--sensor", SENSOR, "--wait"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1"]


def test_a_missing_cli_extra_is_named(tmp_path: Path):
    code = "import sys\nsys.modules['click'] = None\nfrom timeback_caliper.cli import run\nsys.exit(run(['--help']))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "pip install 'timeback-caliper-sync[cli]'" in out.stderr


def test_verbose_shows_the_library_retry_logs_once(env: Emulator, cli: Any):
    env.fail_next(1, 503, path="/caliper/events")
    quiet = cli("events", "list")
    assert quiet.code == 0 and "INFO" not in quiet.err
    env.fail_next(1, 503, path="/caliper/events")
    loud = cli("-v", "events", "list")
    assert loud.code == 0
    retries = [line for line in loud.err.splitlines() if line.startswith("INFO timeback_caliper._http")]
    assert len(retries) == 1, loud.err
