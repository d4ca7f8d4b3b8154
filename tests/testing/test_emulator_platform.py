"""Insights, Applications, webhooks and filters on the emulator (contract §4.6-§4.7, §5), with plain requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.fixturepaths import FIXTURES, load
from tests.testing.helpers import (
    A0,
    APPS_SCOPE,
    INSIGHTS_SCOPE,
    OTHER,
    USER,
    call,
    envelope,
    same_shape,
    scenario,
    time_spent_dict,
    token,
)
from timeback_caliper.testing import Emulator, user_id_for

pytestmark = pytest.mark.timeout(30)

RESPONSES = FIXTURES / "timeback" / "responses"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(job_delay=0) as emulator:
        caliper = token(emulator)
        r = call(emulator, "POST", "/caliper/event", caliper, json=envelope(*scenario()))
        assert r.status_code == 200, r.text
        assert emulator.wait_for_jobs()
        yield emulator


@pytest.fixture
def ptok(emu: Emulator) -> str:
    return token(emu, platform=True, scope=f"{INSIGHTS_SCOPE} {APPS_SCOPE}")


def get(emu: Emulator, tok: str, path: str, **params: Any) -> Any:
    r = call(emu, "GET", path, tok, params=params)
    return r.status_code, r.json()


def app_id(emu: Emulator, name: str) -> str:
    return next(str(a["sourcedId"]) for a in emu.applications() if a["name"] == name)


# ------------------------------------------------------------------------------------------------ user ids
def test_user_id_rules() -> None:
    assert user_id_for({"id": "https://x.test/users/" + USER.upper(), "email": "a@b.c"}) == USER
    by_mail = user_id_for({"id": "https://x.test/users/student-1", "email": "A@B.c"})
    assert by_mail == user_id_for({"id": "https://elsewhere.test/u/9", "email": "a@b.c"})
    assert by_mail is not None and len(by_mail) == 36


# ------------------------------------------------------------------------------------------------ sessions
def test_sessions_are_derived_deterministically(emu: Emulator, ptok: str) -> None:
    status, body = get(emu, ptok, f"/insights/1.0/users/{USER}/sessions")
    assert status == 200
    same_shape(body, load(RESPONSES / "insights-user-sessions.json"))
    assert (body["offset"], body["limit"], body["total"]) == (0, 20, 2)
    reading, math = body["sessions"]  # newest first
    assert math["applicationId"] == app_id(emu, "Math Learning Suite")
    assert (math["startedAtTime"], math["endedAtTime"]) == ("2025-01-15T09:00:00Z", "2025-01-15T09:21:00Z")
    assert (math["durationInSeconds"], math["wasteDurationInSeconds"], math["wastePercentage"]) == (1260, 120, 10)
    assert reading["applicationId"] == app_id(emu, "Reading Coach")
    assert (reading["startedAtTime"], reading["endedAtTime"]) == ("2025-01-16T14:00:00Z", "2025-01-16T14:30:00Z")
    assert (reading["durationInSeconds"], reading["wasteDurationInSeconds"], reading["wastePercentage"]) == (
        1800,
        300,
        17,
    )
    assert math["isProctored"] is False
    again = get(emu, ptok, f"/insights/1.0/users/{USER}/sessions")[1]
    assert again == body


def test_session_filters(emu: Emulator, ptok: str) -> None:
    path = f"/insights/1.0/users/{USER}/sessions"
    assert get(emu, ptok, path, applicationId=app_id(emu, "Reading Coach"))[1]["total"] == 1
    assert get(emu, ptok, path, startedAfter="2025-01-16T00:00:00Z")[1]["total"] == 1
    assert get(emu, ptok, path, startedBefore="2025-01-15T09:00:00Z")[1]["total"] == 1  # inclusive
    assert get(emu, ptok, path, isProctored="true")[1]["total"] == 0
    page = get(emu, ptok, path, limit=1, offset=1)[1]
    assert (len(page["sessions"]), page["total"]) == (1, 2)


def test_a_gap_splits_sessions() -> None:
    with Emulator(job_delay=0, session_gap=60) as emu:
        r = call(emu, "POST", "/caliper/event", token(emu), json=envelope(*scenario()))
        assert r.status_code == 200
        assert emu.wait_for_jobs()
        body = get(emu, token(emu, platform=True), f"/insights/1.0/users/{USER}/sessions")[1]
        assert body["total"] == 3  # the 2-minute gap at 09:10-09:12 now splits the Math session


# ------------------------------------------------------------------------------------------------ insights
def test_user_insights(emu: Emulator, ptok: str) -> None:
    status, body = get(emu, ptok, f"/insights/1.0/users/{USER}")
    assert status == 200
    documented = load(RESPONSES / "insights-user-insights.json")
    documented.pop("session")  # optional on the user route (contract §5.1); the emulator leaves it out
    same_shape(body, documented)
    assert [(i["insightType"], i["durationInSeconds"]) for i in body["insights"]] == [
        ("Socializing", 300),
        ("Idling", 60),
        ("AwayFromSeat", 60),
    ]
    idling = body["insights"][1]
    assert idling["reason"] == "No activity detected for extended period"
    assert (idling["startedAtTime"], idling["endedAtTime"], idling["version"]) == (
        "2025-01-15T09:09:00Z",
        "2025-01-15T09:10:00Z",
        "v1",
    )
    path = f"/insights/1.0/users/{USER}"
    assert get(emu, ptok, path, type="Idling,Socializing")[1]["total"] == 2
    assert get(emu, ptok, path, applicationId=app_id(emu, "Math Learning Suite"))[1]["total"] == 2
    assert get(emu, ptok, path, after="2025-01-16T00:00:00Z")[1]["total"] == 1
    assert get(emu, ptok, path, before="2025-01-15T09:08:00Z")[1]["total"] == 1
    assert get(emu, ptok, f"/insights/1.0/users/{OTHER}")[1]["total"] == 0


def test_session_insights_have_the_documented_shape(emu: Emulator, ptok: str) -> None:
    math = get(emu, ptok, f"/insights/1.0/users/{USER}/sessions")[1]["sessions"][1]
    status, body = get(emu, ptok, f"/insights/1.0/sessions/{math['id']}")
    assert status == 200
    same_shape(body, load(RESPONSES / "insights-user-insights.json"))
    assert body["session"] == {k: math[k] for k in body["session"]}
    assert [i["insightType"] for i in body["insights"]] == ["Idling", "AwayFromSeat"]
    missing = get(emu, ptok, "/insights/1.0/sessions/5b3e6c1e-0000-4d6e-9a51-0f2c1d3e4b5a")
    assert missing[0] == 404


def test_overview_in_utc(emu: Emulator, ptok: str) -> None:
    status, body = get(
        emu,
        ptok,
        f"/insights/1.0/users/{USER}/overview",
        startedAfter="2025-01-15T00:00:00Z",
        startedBefore="2025-01-17T00:00:00Z",
        targetTimezone="UTC",
    )
    assert status == 200
    same_shape(body, load(RESPONSES / "insights-user-overview.json"))
    assert body["summary"] == {
        "totalDurationInSeconds": 3060,
        "totalWasteDurationInSeconds": 420,
        "wastePercentage": 14,
        "biggestInsight": {"level": "EnvironmentalDistractions", "durationInSeconds": 300, "wastePercentage": 10},
    }
    buckets = body["trend"]["buckets"]
    assert [(b["startedAtTime"], b["endedAtTime"]) for b in buckets] == [
        ("2025-01-15T00:00:00Z", "2025-01-16T00:00:00Z"),
        ("2025-01-16T00:00:00Z", "2025-01-17T00:00:00Z"),
    ]
    assert buckets[0]["levels"] == [{"level": "StudentNotPresent", "durationInSeconds": 120}]
    assert [lv["level"] for lv in body["breakdown"]["levels"]] == ["EnvironmentalDistractions", "StudentNotPresent"]
    assert body["breakdown"]["levels"][1]["subtypes"] == [
        {"insightType": "AwayFromSeat", "durationInSeconds": 60},
        {"insightType": "Idling", "durationInSeconds": 60},
    ]


def test_overview_buckets_follow_the_time_zone(emu: Emulator, ptok: str) -> None:
    body = get(
        emu,
        ptok,
        f"/insights/1.0/users/{USER}/overview",
        startedAfter="2025-01-15T00:00:00Z",
        startedBefore="2025-01-17T00:00:00Z",
        targetTimezone="Pacific/Auckland",  # UTC+13 in January
    )[1]
    buckets = body["trend"]["buckets"]
    assert [b["startedAtTime"] for b in buckets] == [
        "2025-01-14T11:00:00Z",
        "2025-01-15T11:00:00Z",
        "2025-01-16T11:00:00Z",
    ]
    assert [b["totalDurationInSeconds"] for b in buckets] == [
        1260,
        0,
        1800,
    ]  # 09:00Z is 22:00 local; 14:00Z is 03:00 next day


@pytest.mark.parametrize(
    "params",
    [
        {"startedBefore": "2025-01-17T00:00:00Z", "targetTimezone": "UTC"},
        {"startedAfter": "2025-01-15T00:00:00Z", "targetTimezone": "UTC"},
        {"startedAfter": "2025-01-15T00:00:00Z", "startedBefore": "2025-01-17T00:00:00Z"},
        {
            "startedAfter": "2025-01-15T00:00:00Z",
            "startedBefore": "2025-01-17T00:00:00Z",
            "targetTimezone": "Mars/Base",
        },
        {"startedAfter": "2025-01-17T00:00:00Z", "startedBefore": "2025-01-15T00:00:00Z", "targetTimezone": "UTC"},
        {"startedAfter": "soon", "startedBefore": "2025-01-15T00:00:00Z", "targetTimezone": "UTC"},
    ],
)
def test_overview_parameter_checks(emu: Emulator, ptok: str, params: dict[str, str]) -> None:
    status, body = get(emu, ptok, f"/insights/1.0/users/{USER}/overview", **params)
    assert status == 400
    assert set(body) == {"error", "message"}


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/insights/1.0/users/not-a-uuid", {}, 400),
        ("/insights/1.0/users/{user}", {"limit": 0}, 400),
        ("/insights/1.0/users/{user}", {"limit": 101}, 400),
        ("/insights/1.0/users/{user}", {"offset": -1}, 400),
        ("/insights/1.0/users/{user}", {"applicationId": "math"}, 400),
        ("/insights/1.0/users/{user}/sessions", {"isProctored": "maybe"}, 400),
        ("/insights/1.0/sessions/nope", {}, 400),
        ("/insights/1.0/users/6e1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", {}, 404),
        ("/insights/1.0/users/{user}", {"limit": 100}, 200),
    ],
)
def test_insights_parameter_checks(emu: Emulator, ptok: str, path: str, params: dict[str, Any], status: int) -> None:
    got, body = get(emu, ptok, path.format(user=USER), **params)
    assert got == status
    if status != 200:
        assert set(body) == {"error", "message"}


def test_invalid_uuid_body_is_the_documented_one(emu: Emulator, ptok: str) -> None:
    assert get(emu, ptok, "/insights/1.0/users/123") == (400, load(RESPONSES / "insights-error-400.json"))


# ------------------------------------------------------------------------------------------------ applications
def test_applications_catalogue(emu: Emulator, ptok: str) -> None:
    status, body = get(emu, ptok, "/applications/1.0")
    assert status == 200
    same_shape(body, load(RESPONSES / "applications-list.json"))
    assert (body["offset"], body["limit"], body["total"]) == (0, 10, 3)
    math = body["applications"][0]
    assert math["name"] == "Math Learning Suite"
    assert math["sourcedId"] == app_id(emu, "Math Learning Suite")
    filtered = get(emu, ptok, "/applications/1.0", filter="name='Math Learning Suite'")[1]
    assert [a["name"] for a in filtered["applications"]] == ["Math Learning Suite"]
    contains = get(emu, ptok, "/applications/1.0", filter="name~'read' OR name='Math Learning Suite'")[1]
    assert contains["total"] == 2
    desc = get(emu, ptok, "/applications/1.0", sort="name", orderBy="desc")[1]
    assert [a["name"] for a in desc["applications"]] == sorted((a["name"] for a in desc["applications"]), reverse=True)
    fields = get(emu, ptok, "/applications/1.0", fields="sourcedId,name", limit=1)[1]
    assert list(fields["applications"][0]) == ["sourcedId", "name"]
    for bad in ({"filter": "name == x"}, {"sort": "color"}, {"orderBy": "up"}, {"fields": "x"}, {"limit": 0}):
        assert get(emu, ptok, "/applications/1.0", **bad)[0] == 400


def test_seeded_application_names_the_sessions(emu: Emulator, ptok: str) -> None:
    record = emu.seed_application("Science Lab", sourced_id="11111111-2222-4333-8444-555555555555")
    assert get(emu, ptok, "/applications/1.0")[1]["total"] == 4
    event = time_spent_dict(7, end=A0 + timedelta(days=3), app="Science Lab")
    assert call(emu, "POST", "/caliper/event", token(emu), json=envelope(event)).status_code == 200
    assert emu.wait_for_jobs()
    sessions = get(emu, ptok, f"/insights/1.0/users/{USER}/sessions")[1]["sessions"]
    assert sessions[0]["applicationId"] == record["sourcedId"]


# ------------------------------------------------------------------------------------------------ webhooks
WEBHOOK = {
    "name": "My Webhook",
    "description": "This webhook is used to send data to the example.com/webhook",
    "targetUrl": "https://example.com/webhook",
    "secret": "secret123",
    "active": True,
    "sensor": "sensor123",
}


def test_webhook_crud(emu: Emulator) -> None:
    tok = token(emu)
    r = call(emu, "POST", "/webhooks/", tok, json=WEBHOOK)
    assert r.status_code == 201
    same_shape(r.json(), load(RESPONSES / "webhook-single.json"))
    hook = r.json()["webhook"]
    assert {k: hook[k] for k in WEBHOOK} == WEBHOOK
    assert hook["deletedAt"] is None
    listed = call(emu, "GET", "/webhooks", tok).json()
    same_shape(listed, load(RESPONSES / "webhooks-list.json"))
    assert listed["webhooks"] == [hook]
    assert call(emu, "GET", f"/webhooks/{hook['id']}", tok).json() == {"webhook": hook}
    replaced = call(
        emu, "PUT", f"/webhooks/{hook['id']}", tok, json={**WEBHOOK, "name": "Renamed", "description": None}
    )
    assert replaced.status_code == 200
    assert (replaced.json()["webhook"]["name"], replaced.json()["webhook"]["createdAt"]) == (
        "Renamed",
        hook["createdAt"],
    )
    off = call(emu, "PUT", f"/webhooks/{hook['id']}/deactivate", tok).json()["webhook"]
    assert off["active"] is False
    assert call(emu, "PUT", f"/webhooks/{hook['id']}/activate", tok).json()["webhook"]["active"] is True
    deleted = call(emu, "DELETE", f"/webhooks/{hook['id']}", tok)
    assert (deleted.status_code, deleted.json()) == (200, {"status": "success", "message": "", "errors": None})
    gone = call(emu, "GET", f"/webhooks/{hook['id']}", tok)
    assert gone.status_code == 404
    assert gone.json()["status"] == "error"


def test_webhook_validation_is_zod_shaped(emu: Emulator) -> None:
    tok = token(emu)
    body = {k: v for k, v in WEBHOOK.items() if k not in ("targetUrl", "sensor")} | {"active": "yes"}
    r = call(emu, "POST", "/webhooks/", tok, json=body)
    assert r.status_code == 400
    same_shape(r.json(), load(RESPONSES / "webhook-error-400.json"))
    assert r.json()["details"] == [
        {
            "code": "invalid_type",
            "expected": "string",
            "received": "undefined",
            "path": ["targetUrl"],
            "message": "Required",
        },
        {
            "code": "invalid_type",
            "expected": "boolean",
            "received": "string",
            "path": ["active"],
            "message": "Expected boolean, received string",
        },
    ]
    no_sensor = {k: v for k, v in WEBHOOK.items() if k != "sensor"}
    assert call(emu, "POST", "/webhooks", tok, json=no_sensor).status_code == 201  # sensor is optional


def test_webhook_filters_crud(emu: Emulator) -> None:
    tok = token(emu)
    hook = call(emu, "POST", "/webhooks/", tok, json=WEBHOOK).json()["webhook"]
    spec = {
        "webhookId": hook["id"],
        "filterKey": "sensor",
        "filterValue": "sensor123",
        "filterType": "string",
        "filterOperation": "eq",
        "active": True,
    }
    r = call(emu, "POST", "/webhook-filters/", tok, json=spec)
    assert r.status_code == 201
    created = r.json()["filter"]
    assert "id" in created  # not in the documented Filter, included by the emulator (contract §4.7)
    same_shape(
        {"filter": {k: v for k, v in created.items() if k != "id"}}, load(RESPONSES / "webhook-filter-single.json")
    )
    listed = call(emu, "GET", "/webhook-filters", tok).json()
    same_shape(
        {"filters": [{k: v for k, v in f.items() if k != "id"} for f in listed["filters"]]},
        load(RESPONSES / "webhook-filters-list.json"),
    )
    assert call(emu, "GET", f"/webhook-filters/webhook/{hook['id']}", tok).json()["filters"] == [created]
    changed = call(emu, "PUT", f"/webhook-filters/{created['id']}", tok, json={**spec, "filterOperation": "neq"})
    assert changed.json()["filter"]["filterOperation"] == "neq"
    assert call(emu, "GET", f"/webhook-filters/{created['id']}", tok).json()["filter"]["filterOperation"] == "neq"
    bad = call(emu, "POST", "/webhook-filters/", tok, json={**spec, "filterType": "date", "filterValue": 3})
    assert bad.status_code == 400
    assert sorted(e["path"][0] for e in bad.json()["errors"]) == ["filterType", "filterValue"]
    orphan = call(emu, "POST", "/webhook-filters/", tok, json={**spec, "webhookId": OTHER})
    assert (orphan.status_code, orphan.json()["errors"][0]["path"]) == (400, ["webhookId"])
    assert call(emu, "DELETE", f"/webhook-filters/{created['id']}", tok).json()["status"] == "success"
    assert call(emu, "GET", f"/webhook-filters/{created['id']}", tok).status_code == 404
    again = call(emu, "POST", "/webhook-filters/", tok, json=spec).json()["filter"]
    call(emu, "DELETE", f"/webhooks/{hook['id']}", tok)
    assert call(emu, "GET", f"/webhook-filters/{again['id']}", tok).status_code == 404  # deleted with its webhook


def test_webhook_scopes(emu: Emulator) -> None:
    emu.add_client("ro", "ro-secret", scopes=["https://purl.imsglobal.org/spec/caliper/v1p1/scope/webhook.readonly"])
    import requests

    r = requests.post(emu.token_url, data={"grant_type": "client_credentials"}, auth=("ro", "ro-secret"), timeout=5)
    tok = r.json()["access_token"]
    assert call(emu, "GET", "/webhooks/", tok).status_code == 200
    assert call(emu, "POST", "/webhooks/", tok, json=WEBHOOK).status_code == 403
    assert call(emu, "GET", "/caliper/events", tok).status_code == 403
