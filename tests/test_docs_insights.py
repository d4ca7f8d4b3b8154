"""The "Reading insights" section runs as written, in order, against a stubbed platform, and prints what it shows.

The blocks come from README.md's ``## Reading insights`` section when it has one, else from docs/reading-insights.md
(the section's source). HTTP is stubbed with ``responses`` in strict order on the production hosts that
``CaliperClient.from_env()`` defaults to; each ``text`` block after a python block is that block's exact output.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from responses.registries import OrderedRegistry

from timeback_caliper.client import _ENV_VARS, APPLICATIONS_SCOPE, ENVIRONMENTS, INSIGHTS_SCOPE

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Reading insights"
PLATFORM = ENVIRONMENTS["production"].platform_url
PTOKEN = ENVIRONMENTS["production"].platform_token_url
STUDENT = "5f0c2a7e-8d4b-4f43-9a64-2b3c1d0e9f10"
LATEST = "c0ffee00-1111-4222-8333-444455556666"
CHICAGO = ZoneInfo("America/Chicago")


def section() -> str:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    start = text.find(f"\n{SECTION}\n")
    if start < 0:
        return (ROOT / "docs" / "reading-insights.md").read_text(encoding="utf-8")
    body = text[start + 1 :]
    end = re.search(r"^## ", body[len(SECTION) :], flags=re.MULTILINE)
    return body if end is None else body[: len(SECTION) + end.start()]


def blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block as ``(language, code)``, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def form_scope(scope: str) -> Any:
    def match(request: Any) -> tuple[bool, str]:
        form = dict(parse_qsl(request.body.decode() if isinstance(request.body, bytes) else request.body))
        return form.get("scope") == scope, f"scope {form.get('scope')!r} != {scope!r}"

    return match


def session_row(sid: str, app: str, local_start: datetime, minutes: int, waste: int) -> dict[str, Any]:
    start = local_start.replace(tzinfo=CHICAGO)
    return {
        "id": sid,
        "applicationId": app,
        "startedAtTime": f"{start.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%SZ}",
        "endedAtTime": f"{(start + timedelta(minutes=minutes)).astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%SZ}",
        "durationInSeconds": minutes * 60,
        "wasteDurationInSeconds": minutes * 60 * waste // 100,
        "wastePercentage": waste,
        "isProctored": False,
    }


OVERVIEW = {
    "summary": {
        "totalDurationInSeconds": 16200,
        "totalWasteDurationInSeconds": 1980,
        "wastePercentage": 12,
        "biggestInsight": {"level": "OnDeviceDistractions", "durationInSeconds": 1500, "wastePercentage": 9},
    },
    "trend": {
        "buckets": [
            {
                "startedAtTime": f"2025-01-{13 + i}T06:00:00Z",  # local midnights in Chicago (CST, UTC-6)
                "endedAtTime": f"2025-01-{14 + i}T06:00:00Z",
                "totalDurationInSeconds": minutes * 60,
                "wasteDurationInSeconds": minutes * 60 * waste // 100,
                "wastePercentage": waste,
                "levels": [{"level": "OnDeviceDistractions", "durationInSeconds": minutes * 60 * waste // 100}],
            }
            for i, (minutes, waste) in enumerate([(95, 10), (120, 15), (55, 9)])
        ]
    },
    "breakdown": {
        "levels": [
            {
                "level": "OnDeviceDistractions",
                "durationInSeconds": 1500,
                "wastePercentage": 9,
                "subtypes": [
                    {"insightType": "Game", "durationInSeconds": 900},
                    {"insightType": "NonLearningContent", "durationInSeconds": 600},
                ],
            },
            {
                "level": "StudentNotPresent",
                "durationInSeconds": 480,
                "wastePercentage": 3,
                "subtypes": [{"insightType": "AwayFromSeat", "durationInSeconds": 480}],
            },
        ]
    },
}
APPS = {
    "applications": [
        {"sourcedId": "a1b2c3d4-0000-4000-8000-000000000001", "name": "Math Academy", "wasteMeter": "on"},
        {"sourcedId": "a1b2c3d4-0000-4000-8000-000000000002", "name": "Reading Room", "wasteMeter": "on"},
    ],
    "offset": 0,
    "limit": 100,
    "total": 2,
}
SESSIONS = {  # oldest first: the example sorts them itself
    "sessions": [
        session_row(
            "c0ffee00-1111-4222-8333-000000000001",
            "a1b2c3d4-0000-4000-8000-00000000ffff",
            datetime(2025, 1, 13, 16, 30),
            30,
            10,
        ),
        session_row(
            "c0ffee00-1111-4222-8333-000000000002",
            "a1b2c3d4-0000-4000-8000-000000000002",
            datetime(2025, 1, 14, 9, 0),
            90,
            20,
        ),
        session_row(LATEST, "a1b2c3d4-0000-4000-8000-000000000001", datetime(2025, 1, 15, 15, 10), 40, 5),
    ],
    "offset": 0,
    "limit": 100,
    "total": 3,
}
SESSION_INSIGHTS = {
    "session": {"startedAtTime": "2025-01-15T21:10:00Z", "durationInSeconds": 2400, "wastePercentage": 5},
    "insights": [
        {
            "id": "d0d0d0d0-0000-4000-8000-000000000001",
            "insightType": "Idling",
            "reason": "No activity detected for extended period",
            "startedAtTime": "2025-01-15T21:22:00Z",
            "endedAtTime": "2025-01-15T21:27:00Z",
            "durationInSeconds": 300,
            "version": "v1",
        },
        {
            "id": "d0d0d0d0-0000-4000-8000-000000000002",
            "insightType": "NonLearningContent",
            "reason": "Video site unrelated to the lesson",
            "startedAtTime": "2025-01-15T21:31:00Z",
            "endedAtTime": "2025-01-15T21:34:00Z",
            "durationInSeconds": 180,
            "version": "v1",
        },
    ],
    "offset": 0,
    "limit": 100,
    "total": 2,
}


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    """The production platform host, stubbed in the order the section calls it; unused stubs fail the test."""
    for var in _ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", "dashboard-client")
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", "dashboard-secret")
    user = f"{PLATFORM}/insights/1.0/users/{STUDENT}"
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        rsps.post(PTOKEN, json={"access_token": "ins", "expires_in": 3600}, match=[form_scope(INSIGHTS_SCOPE)])
        rsps.get(f"{user}/overview", json=OVERVIEW)
        rsps.post(PTOKEN, json={"access_token": "lti", "expires_in": 3600}, match=[form_scope(APPLICATIONS_SCOPE)])
        rsps.get(f"{PLATFORM}/applications/1.0", json=APPS)
        rsps.get(f"{user}/sessions", json=SESSIONS)
        rsps.get(f"{PLATFORM}/insights/1.0/sessions/{LATEST}", json=SESSION_INSIGHTS)
        rsps.get(
            f"{PLATFORM}/insights/1.0/users/00000000-0000-4000-8000-000000000000/sessions",
            status=404,
            json={"error": "Not found", "message": "User not found"},
        )
        yield rsps


def test_section_has_the_dashboard_example() -> None:
    code = "\n".join(src for lang, src in blocks(section()) if lang == "python")
    for call in ("insights.overview(", "applications.lookup(", "insights.iter_sessions(", "insights.iter_session("):
        assert call in code


def test_every_python_block_runs_and_prints_what_the_section_shows(platform: responses.RequestsMock) -> None:
    namespace: dict[str, Any] = {"__name__": "reading_insights"}
    found = blocks(section())
    ran = 0
    try:
        for i, (lang, src) in enumerate(found):
            if lang != "python":
                continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(src, f"<reading-insights block {i}>", "exec"), namespace)  # noqa: S102 - the doc's code
            ran += 1
            following = found[i + 1] if i + 1 < len(found) else ("", "")
            if following[0] == "text":
                assert out.getvalue() == following[1], f"block {i} printed:\n{out.getvalue()}"
    finally:
        client = namespace.get("client")
        if client is not None:
            client.close()
    assert ran == 4

    calls = {urlsplit(c.request.url).path: dict(parse_qsl(urlsplit(c.request.url).query)) for c in platform.calls}
    week = calls[f"/insights/1.0/users/{STUDENT}/overview"]
    start = datetime.fromisoformat(week["startedAfter"].replace("Z", "+00:00")).astimezone(CHICAGO)
    end = datetime.fromisoformat(week["startedBefore"].replace("Z", "+00:00")).astimezone(CHICAGO)
    assert week["targetTimezone"] == "America/Chicago"
    assert (start.weekday(), start.hour, start.minute) == (0, 0, 0)  # a local Monday midnight...
    assert (end.weekday(), end.hour, end.date() - start.date()) == (0, 0, timedelta(days=7))  # ...to the next one
    assert calls[f"/insights/1.0/users/{STUDENT}/sessions"]["startedAfter"] == week["startedAfter"]
    assert calls[f"/insights/1.0/sessions/{LATEST}"]["type"] == "Idling,EyesOffScreen,NonLearningContent"
