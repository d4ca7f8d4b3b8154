"""The pytest plugin as a user enables it (``pytest_plugins`` in a conftest), run in a separate pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from timeback_caliper.client import CaliperClient
from timeback_caliper.testing import Emulator

ROOT = Path(__file__).resolve().parents[2]

USER_CONFTEST = 'pytest_plugins = ["timeback_caliper.testing.pytest_plugin"]\n'
USER_TESTS = textwrap.dedent(
    """
    import pytest
    from timeback_caliper.serialization import parse

    EVENT = {
        "id": "urn:uuid:11111111-2222-4333-8444-555555555555",
        "type": "TimeSpentEvent",
        "profile": "TimebackProfile",
        "actor": {"id": "https://app.example.test/users/1", "type": "TimebackUser", "email": "s@example.com"},
        "action": "SpentTime",
        "object": {
            "id": "https://app.example.test/activities/1",
            "type": "TimebackActivityContext",
            "subject": "Math",
            "app": {"name": "Math Learning Suite"},
        },
        "eventTime": "2025-01-15T09:00:00.000Z",
        "generated": {
            "id": "https://app.example.test/metrics/1",
            "type": "TimebackTimeSpentMetricsCollection",
            "items": [{"type": "active", "value": 60}],
        },
    }


    def test_send_through_faults(caliper_client, caliper_emulator):
        caliper_emulator.fail_next(2, 503, path="/caliper/event")
        sent = caliper_client.events.send("https://app.example.test", [parse(EVENT)])
        assert sent.attempts == 3
        caliper_client.jobs.wait_for_completion(sent.job_id, timeout=5, poll_interval=0.01)
        assert [e["externalId"] for e in caliper_emulator.stored_events()] == [EVENT["id"]]


    @pytest.mark.caliper_emulator(dedupe="reject", success_status=202)
    def test_marker_configures_the_emulator(caliper_emulator):
        assert caliper_emulator.config.dedupe == "reject"
        assert caliper_emulator.config.success_status == 202


    def test_each_test_gets_a_fresh_emulator(caliper_emulator):
        assert caliper_emulator.stored_events() == []
    """
)


@pytest.mark.timeout(60)
def test_plugin_in_a_user_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(USER_CONFTEST)
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


@pytest.mark.timeout(30)
def test_fixtures_here(caliper_emulator: Emulator, caliper_client: CaliperClient) -> None:
    assert caliper_emulator.running
    assert caliper_client.base_url == caliper_emulator.url
    page = caliper_client.events.list()
    assert page.events == []
    assert [r.path for r in caliper_emulator.requests()] == ["/oauth2/token", "/caliper/events"]
