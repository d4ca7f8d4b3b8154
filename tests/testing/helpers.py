"""Builders for the emulator tests: Timeback events from raw dicts (strictly parsed), tokens, plain requests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from timeback_caliper.serialization import format_datetime, parse
from timeback_caliper.testing import Emulator

SENSOR = "https://app.example.test"
USER = "5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a"
EMAIL = "student@example.com"
ONEROSTER = "https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/"
INSIGHTS_SCOPE = "https://purl.imsglobal.org/spec/caliper/v1p2/scope/events.readonly"
APPS_SCOPE = "https://purl.imsglobal.org/spec/lti/v1p3/scope/lti.readonly"
T0 = datetime(2025, 1, 15, 9, 0, tzinfo=timezone.utc)


def ts(when: datetime) -> str:
    return format_datetime(when)


def actor(user: str = USER, email: str = EMAIL) -> dict[str, Any]:
    return {"id": ONEROSTER + user, "type": "TimebackUser", "email": email}


def context(app: str = "Math Learning Suite", subject: str = "Math") -> dict[str, Any]:
    return {
        "id": "https://app.example.test/activities/fractions",
        "type": "TimebackActivityContext",
        "subject": subject,
        "app": {"name": app},
    }


def time_spent_dict(
    n: int = 0,
    *,
    end: datetime = T0,
    items: list[dict[str, Any]] | None = None,
    user: str = USER,
    email: str = EMAIL,
    app: str = "Math Learning Suite",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "id": event_id or f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "type": "TimeSpentEvent",
        "profile": "TimebackProfile",
        "actor": actor(user, email),
        "action": "SpentTime",
        "object": context(app),
        "eventTime": ts(end),
        "generated": {
            "id": f"https://app.example.test/metrics/time/{n}",
            "type": "TimebackTimeSpentMetricsCollection",
            "items": items if items is not None else [{"type": "active", "value": 60}],
        },
    }


def time_spent(n: int = 0, **kwargs: Any) -> Any:
    """A TimeSpentEvent model, built from a raw dict with strict parse()."""
    return parse(time_spent_dict(n, **kwargs))


def events(count: int, start: int = 0) -> list[Any]:
    return [time_spent(start + i, end=T0 + timedelta(seconds=start + i)) for i in range(count)]


def envelope(*data: dict[str, Any], send_time: datetime = T0) -> dict[str, Any]:
    return {
        "sensor": SENSOR,
        "sendTime": ts(send_time),
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": list(data),
    }


def token(emu: Emulator, *, platform: bool = False, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    url = emu.platform_token_url if platform else emu.token_url
    r = requests.post(url, data=form, auth=(emu.client_id, emu.client_secret), timeout=5)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def call(emu: Emulator, method: str, path: str, tok: str | None, **kwargs: Any) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if tok:
        headers["Authorization"] = "Bearer " + tok
    return requests.request(method, emu.url + path, headers=headers, timeout=10, **kwargs)


def same_shape(got: Any, documented: Any, where: str = "") -> None:
    """``got`` has exactly the documented keys, with the documented types (a documented null matches anything)."""
    if documented is None or got is None:
        return
    if isinstance(documented, dict):
        assert isinstance(got, dict), where
        assert set(got) == set(documented), f"{where}: keys {sorted(got)} != {sorted(documented)}"
        for key in documented:
            same_shape(got[key], documented[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(got, list), where
        for item in got:
            same_shape(item, documented[0], f"{where}[]")
    else:
        assert type(got) is type(documented), f"{where}: {type(got).__name__} != {type(documented).__name__}"


# Insights scenario: two sessions of USER (Math on Jan 15, Reading on Jan 16) and one of OTHER.
OTHER = "0f9a9f0e-1111-4aaa-8bbb-cccccccccccc"
A0 = datetime(2025, 1, 15, 9, 0, tzinfo=timezone.utc)
B_END = datetime(2025, 1, 16, 14, 30, tzinfo=timezone.utc)


def z(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def item(
    kind: str, value: float, start: datetime | None = None, end: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "value": value, **extra}
    if start is not None and end is not None:
        out.update(startDate=z(start), endDate=z(end))
    return out


def activity_dict(n: int, when: datetime) -> dict[str, Any]:
    event = time_spent_dict(n, end=when)
    event.update(type="ActivityEvent", action="Completed")
    event["generated"] = {
        "id": f"https://app.example.test/metrics/activity/{n}",
        "type": "TimebackActivityMetricsCollection",
        "items": [{"type": "xpEarned", "value": 10}],
    }
    return event


def scenario() -> list[dict[str, Any]]:
    """Two sessions of USER (Math on Jan 15, Reading on Jan 16) and one of OTHER."""
    m = timedelta(minutes=1)
    ts1 = time_spent_dict(
        1,
        end=A0 + 10 * m,
        items=[
            item("active", 480, A0, A0 + 8 * m),
            item("waste", 60, A0 + 8 * m, A0 + 9 * m, subType="eating"),
            item("inactive", 60, A0 + 9 * m, A0 + 10 * m),
        ],
    )
    ts2 = time_spent_dict(2, end=A0 + 20 * m, items=[item("active", 480, A0 + 12 * m, A0 + 20 * m)])
    done = activity_dict(3, A0 + 21 * m)
    ts3 = time_spent_dict(
        4, end=B_END, app="Reading Coach", items=[item("active", 1500), item("waste", 300, subType="Socializing")]
    )
    other = time_spent_dict(5, end=A0, user=OTHER, email="other@example.com")
    return [ts1, ts2, done, ts3, other]


# The CLI in a subprocess.
ROOT = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "timeback_caliper.testing", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_banner(proc: subprocess.Popen[str], timeout: float = 10) -> list[str]:
    """The lines printed up to "Press Ctrl-C" (read here: communicate() would miss what readline buffered)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: list[str] = []

    def read() -> None:
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            line = stdout.readline()
            if not line:
                return
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines and lines[-1].startswith("Press Ctrl-C"), f"the emulator printed {lines!r} only"
    return lines
