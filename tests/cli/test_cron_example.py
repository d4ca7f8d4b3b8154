"""``examples/cron_send.py``, the documented cron job, in a subprocess against the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from timeback_caliper.testing import Emulator, Fault

from .conftest import SENSOR, event_dicts, write_jsonl

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "cron_send.py"


def cron(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EXPORT_DIR": str(tmp_path / "exports"), "STATE_DIR": str(tmp_path / "state")}
    env["TIMEBACK_SENSOR"] = SENSOR
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--day", "2025-01-15", *args],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
    )


def test_cron_script_sends_once_and_resumes_after_a_failure(env: Emulator, tmp_path: Path):
    (tmp_path / "exports").mkdir()
    rows = event_dicts(250)
    write_jsonl(tmp_path / "exports" / "events-2025-01-15.jsonl", rows)
    env.inject(Fault.status_code(503, count=None, path="/caliper/event", skip=1))  # the API fails after one envelope

    first = cron(tmp_path)
    assert first.returncode == 3, first.stderr
    assert "exit 3: partly sent; the next run resumes from the checkpoint" in first.stderr
    assert (tmp_path / "state" / "send-2025-01-15.checkpoint").exists()

    env.clear_faults()
    second = cron(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "skipping 100 events accepted by an earlier run" in second.stderr and "exit 0: done" in second.stderr

    third = cron(tmp_path)
    assert third.returncode == 0 and "250 already sent" in third.stderr
    assert env.wait_for_jobs(10)
    ids = [e["externalId"] for e in env.stored_events()]
    assert sorted(ids) == sorted(r["id"] for r in rows) and env.duplicates == 0


def test_cron_script_without_an_export_exits_2(env: Emulator, tmp_path: Path):
    result = cron(tmp_path)
    assert result.returncode == 2 and "did the export run?" in result.stderr
