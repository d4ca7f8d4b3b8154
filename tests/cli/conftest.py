"""Fixtures for the command-line tests: an emulator per test, the environment pointing at it, and a runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

from timeback_caliper import create_activity_event, create_time_spent_event, to_dict
from timeback_caliper.cli import run
from timeback_caliper.testing import Emulator

SENSOR = "https://app.example.test"
USER = "5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a"
EMAIL = "ada@example.com"
ACTOR = {"id": f"https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/{USER}", "email": EMAIL}
CONTEXT = {"id": "https://app.example.test/activities/fractions", "subject": "Math", "app": {"name": "Demo Math"}}
T0 = datetime(2025, 1, 15, 9, 0, tzinfo=timezone.utc)
ENV_VARS = (
    "TIMEBACK_ENV",
    "TIMEBACK_CLIENT_ID",
    "TIMEBACK_CLIENT_SECRET",
    "TIMEBACK_CLIENT_SECRET_FILE",
    "TIMEBACK_CALIPER_URL",
    "TIMEBACK_TOKEN_URL",
    "TIMEBACK_PLATFORM_URL",
    "TIMEBACK_PLATFORM_TOKEN_URL",
    "TIMEBACK_PLATFORM_CLIENT_ID",
    "TIMEBACK_PLATFORM_CLIENT_SECRET",
    "TIMEBACK_PLATFORM_CLIENT_SECRET_FILE",
    "TIMEBACK_API_URL",
    "TIMEBACK_SENSOR",
)


def event_dicts(count: int, *, start: int = 0, when: datetime = T0) -> list[dict[str, Any]]:
    """``count`` valid TimeSpentEvents (wire dicts) with fixed ids, one minute apart."""
    return [
        to_dict(
            create_time_spent_event(
                actor=ACTOR,
                object=CONTEXT,
                metrics=[{"type": "active", "value": 60}],
                event_time=when + timedelta(minutes=i),
                id=f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            )
        )
        for i in range(start, start + count)
    ]


def activity_dict() -> dict[str, Any]:
    return to_dict(
        create_activity_event(actor=ACTOR, object=CONTEXT, metrics=[{"type": "xpEarned", "value": 12}], event_time=T0)
    )


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def envelope(data: list[Any], sensor: str = SENSOR) -> dict[str, Any]:
    return {
        "sensor": sensor,
        "sendTime": "2025-01-15T09:00:00.000Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": data,
    }


@attrs.frozen
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """TIMEBACK_* variables pointing at the emulator (and nothing else from the real environment)."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIMEBACK_CALIPER_URL", emu.url)
    monkeypatch.setenv("TIMEBACK_TOKEN_URL", emu.token_url)
    monkeypatch.setenv("TIMEBACK_PLATFORM_URL", emu.url)
    monkeypatch.setenv("TIMEBACK_PLATFORM_TOKEN_URL", emu.platform_token_url)
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", emu.client_id)
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", emu.client_secret)
    return emu


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli("send", "file")`` runs the command in-process and returns its exit code, stdout and stderr."""

    def invoke(*argv: str) -> Result:
        capsys.readouterr()
        code = run(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
