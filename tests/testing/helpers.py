"""Builders for the emulator tests: Timeback events from raw dicts (strictly parsed), tokens, plain requests."""

from __future__ import annotations

import json
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


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
