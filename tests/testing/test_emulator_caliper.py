"""The emulator's Caliper side against the contract (§2, §3.2, §4, §11, §12), field by field, with plain requests."""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.fixturepaths import FIXTURES, fixture_params, load
from tests.testing.helpers import SENSOR, T0, call, envelope, same_shape, time_spent_dict, token
from timeback_caliper.testing import Emulator

pytestmark = pytest.mark.timeout(30)

TIMEBACK = FIXTURES / "timeback"
RESPONSES = TIMEBACK / "responses"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(job_delay=0) as emulator:
        yield emulator


@pytest.fixture
def tok(emu: Emulator) -> str:
    return token(emu)


def as_envelope(doc: dict[str, Any]) -> dict[str, Any]:
    return doc if "dataVersion" in doc else envelope(doc)


def expected_rules() -> dict[str, str]:
    """File name -> rule id, read from the invalid fixtures' README table."""
    text = (TIMEBACK / "invalid" / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([^`]+\.json)` \|.*\*\*([A-Z]+-\d+)\*\*", text, re.M))


# ------------------------------------------------------------------------------------------------ tokens (§2)
@pytest.mark.parametrize("route", ["/oauth2/token", "/auth/1.0/token"])
@pytest.mark.parametrize("method", ["basic", "post"])
def test_token_routes_accept_both_client_auth_methods(emu: Emulator, route: str, method: str) -> None:
    form = {"grant_type": "client_credentials"}
    headers = {}
    if method == "basic":
        pair = f"{emu.client_id}:{emu.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form.update(client_id=emu.client_id, client_secret=emu.client_secret)
    r = requests.post(emu.url + route, data=form, headers=headers, timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert ("scope" in body) is (route == "/auth/1.0/token")  # Cognito usually leaves it out
    assert r.headers["Cache-Control"] == "no-store"


def test_token_lifetime_is_configurable() -> None:
    with Emulator(token_lifetime=5) as emu:
        r = requests.post(
            emu.token_url, data={"grant_type": "client_credentials"}, auth=("emulator-client", "emulator-secret")
        )
        assert r.json()["expires_in"] == 5


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        (("emulator-client", "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("nobody", "emulator-secret"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (("emulator-client", "emulator-secret"), {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (("emulator-client", "emulator-secret"), {}, 400, "invalid_request"),
        (
            ("emulator-client", "emulator-secret"),
            {"grant_type": "client_credentials", "scope": "x:y"},
            400,
            "invalid_scope",
        ),
    ],
)
def test_token_errors(emu: Emulator, auth: Any, form: dict[str, str], status: int, error: str) -> None:
    r = requests.post(emu.token_url, data=form, auth=auth, timeout=5)
    assert r.status_code == status
    assert r.json()["error"] == error
    assert "wrong" not in r.text


def test_invalid_client_body_is_exactly_the_documented_one(emu: Emulator) -> None:
    r = requests.post(emu.token_url, data={"grant_type": "client_credentials"}, auth=("x", "y"), timeout=5)
    assert r.json() == {"error": "invalid_client"}


def test_scope_is_honoured(emu: Emulator) -> None:
    lti = "https://purl.imsglobal.org/spec/lti/v1p3/scope/lti.readonly"
    r = requests.post(
        emu.platform_token_url,
        data={"grant_type": "client_credentials", "scope": lti},
        auth=(emu.client_id, emu.client_secret),
        timeout=5,
    )
    assert r.json()["scope"] == lti
    tok = r.json()["access_token"]
    assert call(emu, "GET", "/applications/1.0", tok).status_code == 200
    assert call(emu, "GET", "/insights/1.0/users/5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a", tok).status_code == 403


def test_a_token_works_only_on_its_own_back_end(emu: Emulator) -> None:
    caliper, platform = token(emu), token(emu, platform=True)
    assert call(emu, "GET", "/caliper/events", platform).status_code == 401
    assert call(emu, "GET", "/applications/1.0", caliper).status_code == 401
    assert call(emu, "GET", "/caliper/events", caliper).status_code == 200


@pytest.mark.parametrize("bearer", [None, "emu_unknown"])
def test_missing_or_unknown_token_is_401_with_the_generic_body(emu: Emulator, bearer: str | None) -> None:
    r = call(emu, "GET", "/caliper/events", bearer)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    body = r.json()
    assert set(body) == {"status", "message", "errors"}
    assert body["status"] == "error"


def test_expired_token_is_401(emu: Emulator, tok: str) -> None:
    emu.expire_tokens()
    r = call(emu, "GET", "/caliper/events", tok)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_platform_401_uses_the_platform_shape(emu: Emulator) -> None:
    r = call(emu, "GET", "/applications/1.0", None)
    assert r.status_code == 401
    assert set(r.json()) == {"error", "message"}


# ------------------------------------------------------------------------------------- validation (§4.1-4.2, §12.8)
@pytest.mark.parametrize("path", fixture_params("timeback/valid"))
def test_valid_fixtures_are_accepted_on_both_routes(emu: Emulator, tok: str, path: Path) -> None:
    doc = as_envelope(load(path))
    r = call(emu, "POST", "/caliper/event/validate", tok, json=doc)
    assert (r.status_code, r.json()) == (200, {"status": "success", "message": "Envelope is valid"})
    r = call(emu, "POST", "/caliper/event", tok, json=doc)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"status", "message", "jobId"}
    assert body["status"] == "success"
    assert re.fullmatch(r"\d+", body["jobId"])


@pytest.mark.parametrize("path", fixture_params("timeback/server-accepted"))
def test_server_accepted_fixtures_are_accepted(emu: Emulator, tok: str, path: Path) -> None:
    doc = as_envelope(load(path))
    assert call(emu, "POST", "/caliper/event/validate", tok, json=doc).status_code == 200
    assert call(emu, "POST", "/caliper/event", tok, json=doc).status_code == 200


@pytest.mark.parametrize("path", fixture_params("timeback/invalid"))
def test_invalid_fixtures_get_400_naming_the_rule(emu: Emulator, tok: str, path: Path) -> None:
    doc = load(path)
    rule = expected_rules()[path.name]
    for route in ("/caliper/event/validate", "/caliper/event"):
        r = call(emu, "POST", route, tok, json=doc)
        assert r.status_code == 400
        body = r.json()
        assert body["status"] == "error"
        assert isinstance(body["message"], str)
        assert [e["rule"] for e in body["errors"]] == [rule]
        error = body["errors"][0]
        assert set(error) == {"path", "rule", "message"}
        assert isinstance(error["path"], list)
    assert emu.jobs() == []  # nothing queued, nothing stored


def test_error_paths_are_lists_with_integer_indexes(emu: Emulator, tok: str) -> None:
    doc = envelope(time_spent_dict(0), time_spent_dict(1))
    del doc["data"][1]["actor"]["email"]
    r = call(emu, "POST", "/caliper/event", tok, json=doc)
    assert r.json()["errors"] == [
        {"path": ["data", 1, "actor", "email"], "rule": "TB-4", "message": r.json()["errors"][0]["message"]}
    ]


@pytest.mark.parametrize(
    ("body", "rules"),
    [(b"{not json", ["json"]), (b"[]", ["ENV-4"]), (b'{"x": 1}', ["ENV-1", "ENV-2", "ENV-3", "ENV-4"])],
)
def test_bodies_that_are_not_envelopes(emu: Emulator, tok: str, body: bytes, rules: list[str]) -> None:
    r = call(emu, "POST", "/caliper/event", tok, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert [e["rule"] for e in r.json()["errors"]] == rules


def test_413_above_the_size_limit(tok: str, emu: Emulator) -> None:
    big = envelope(*[time_spent_dict(i) for i in range(2000)])
    r = call(emu, "POST", "/caliper/event", tok, json=big)
    assert len(r.request.body or b"") > 1_048_576
    assert r.status_code == 413
    assert r.json()["status"] == "error"
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200  # the connection is still usable


# ------------------------------------------------------------------------------------- list and get (§4.3-4.4)
def _send(emu: Emulator, tok: str, *events: dict[str, Any]) -> str:
    r = call(emu, "POST", "/caliper/event", tok, json=envelope(*events))
    assert r.status_code == 200, r.text
    assert emu.wait_for_jobs()
    return str(r.json()["jobId"])


def test_list_default_and_capped_limits(emu: Emulator, tok: str) -> None:
    _send(emu, tok, *[time_spent_dict(i) for i in range(3)])
    body = call(emu, "GET", "/caliper/events", tok).json()
    assert body["pagination"] == {"total": 3, "totalPages": 1, "currentPage": 1, "limit": 100}
    capped = call(emu, "GET", "/caliper/events", tok, params={"limit": 5000, "offset": 0}).json()
    assert capped["pagination"]["limit"] == 1000
    page = call(emu, "GET", "/caliper/events", tok, params={"limit": 2, "offset": 2}).json()
    assert page["pagination"] == {"total": 3, "totalPages": 2, "currentPage": 2, "limit": 2}
    assert len(page["events"]) == 1


@pytest.mark.parametrize(
    "params", [{"limit": "abc"}, {"limit": 0}, {"offset": -1}, {"startDate": "yesterday"}, {"endDate": "2025-13-01"}]
)
def test_list_parameter_errors(emu: Emulator, tok: str, params: dict[str, Any]) -> None:
    r = call(emu, "GET", "/caliper/events", tok, params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error"
    assert body["errors"][0]["path"] == [next(iter(params))]


def test_stored_event_record_matches_the_contract_example(emu: Emulator, tok: str) -> None:
    doc = load(TIMEBACK / "valid" / "envelope-activity-event-xp-earned.json")
    assert call(emu, "POST", "/caliper/event", tok, json=doc).status_code == 200
    assert emu.wait_for_jobs()
    row = call(emu, "GET", "/caliper/events", tok).json()["events"][0]
    documented = {
        "id": 7,
        "externalId": "",
        "sensor": "",
        "type": "",
        "profile": "",
        "action": "",
        "eventTime": "",
        "sendTime": "",
        "actor": {},
        "object": {},
        "generated": {},
        "target": None,
        "referrer": None,
        "edApp": None,
        "group": None,
        "membership": None,
        "session": None,
        "federatedSession": None,
        "extensions": None,
        "clientAppId": "",
        "created_at": "",
        "updated_at": "",
        "deleted_at": None,
    }
    assert set(row) == set(documented)
    same_shape(
        {k: v for k, v in row.items() if not isinstance(v, dict)},
        {k: v for k, v in documented.items() if not isinstance(v, dict)},
    )
    event = doc["data"][0]
    assert row["externalId"] == event["id"]
    assert (row["actor"], row["object"], row["generated"]) == (event["actor"], event["object"], event["generated"])
    assert row["sendTime"] == doc["sendTime"]
    assert row["clientAppId"] == emu.client_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["created_at"])


def test_list_filters_newest_first_and_scoped_to_the_caller(emu: Emulator, tok: str) -> None:
    from datetime import timedelta

    _send(emu, tok, *[time_spent_dict(i, end=T0 + timedelta(minutes=i)) for i in range(4)])
    _send(emu, tok, time_spent_dict(9, email="other@example.com"))
    rows = call(emu, "GET", "/caliper/events", tok).json()["events"]
    times = [r["eventTime"] for r in rows]
    assert times == sorted(times, reverse=True)
    params = {"actorEmail": "other@example.com"}
    assert [r["externalId"] for r in call(emu, "GET", "/caliper/events", tok, params=params).json()["events"]] == [
        time_spent_dict(9)["id"]
    ]
    actor_id = time_spent_dict(0)["actor"]["id"]
    assert call(emu, "GET", "/caliper/events", tok, params={"actorId": actor_id}).json()["pagination"]["total"] == 5
    window = {"startDate": "2025-01-15T09:01:00.000Z", "endDate": "2025-01-15T09:03:00.000Z"}
    assert call(emu, "GET", "/caliper/events", tok, params=window).json()["pagination"]["total"] == 2
    assert call(emu, "GET", "/caliper/events", tok, params={"sensor": SENSOR}).json()["pagination"]["total"] == 5
    emu.add_client("someone-else", "pw")
    r = requests.post(emu.token_url, data={"grant_type": "client_credentials"}, auth=("someone-else", "pw"), timeout=5)
    other = r.json()["access_token"]
    assert call(emu, "GET", "/caliper/events", other).json()["pagination"]["total"] == 0
    ext = quote(time_spent_dict(0)["id"], safe="")
    assert call(emu, "GET", f"/caliper/events/{ext}", other).status_code == 404


def test_duplicates_are_stored_and_get_returns_the_latest(emu: Emulator, tok: str) -> None:
    event = time_spent_dict(1)
    _send(emu, tok, event)
    _send(emu, tok, event)
    assert emu.duplicate_ids() == {event["id"]: 2}
    r = call(emu, "GET", "/caliper/events/" + quote(event["id"], safe=""), tok)
    assert r.status_code == 200
    assert r.json()["event"]["id"] == max(e["id"] for e in emu.stored_events())


def test_get_unknown_event_404_body(emu: Emulator, tok: str) -> None:
    r = call(emu, "GET", "/caliper/events/urn%3Auuid%3Anope", tok)
    assert (r.status_code, r.json()) == (404, {"status": "error", "message": "Event not found", "errors": None})


def test_entity_describes_are_accepted_not_stored(emu: Emulator, tok: str) -> None:
    person = {"id": "https://example.edu/users/1", "type": "Person"}
    job = _send(emu, tok, time_spent_dict(1), person)
    status = call(emu, "GET", f"/jobs/{job}/status", tok).json()["job"]
    assert [r["externalId"] for r in status["returnValue"]["results"]] == [time_spent_dict(1)["id"]]


# ------------------------------------------------------------------------------------------------ dedupe switch (§11)
def test_dedupe_reject_answers_409_and_stores_nothing() -> None:
    with Emulator(dedupe="reject", job_delay=0) as emu:
        tok = token(emu)
        _send(emu, tok, time_spent_dict(1))
        r = call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(2), time_spent_dict(1)))
        assert r.status_code == 409
        assert r.json()["errors"][0]["path"] == ["data", 1, "id"]
        twice = call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(3), time_spent_dict(3)))
        assert twice.status_code == 409
        assert emu.wait_for_jobs()
        assert sorted(emu.event_counts()) == [time_spent_dict(1)["id"]]


def test_dedupe_ignore_keeps_the_first_copy() -> None:
    with Emulator(dedupe="ignore", job_delay=0) as emu:
        tok = token(emu)
        first = _send(emu, tok, time_spent_dict(1))
        second = _send(emu, tok, time_spent_dict(1), time_spent_dict(2))
        assert emu.duplicates == 0
        results = [
            call(emu, "GET", f"/jobs/{j}/status", tok).json()["job"]["returnValue"]["results"] for j in (first, second)
        ]
        assert results[1][0] == results[0][0]  # the ignored copy names the stored one


# ------------------------------------------------------------------------------------------------ jobs (§4.5)
def test_job_status_matches_the_documented_example(emu: Emulator, tok: str) -> None:
    job = _send(emu, tok, time_spent_dict(1))
    body = call(emu, "GET", f"/jobs/{job}/status", tok).json()
    documented = load(RESPONSES / "caliper-job-status-completed.json")
    same_shape(body, documented)
    assert body["job"]["id"] == job
    assert body["job"]["state"] == "completed"
    assert body["job"]["returnValue"]["results"][0]["externalId"] == time_spent_dict(1)["id"]
    assert re.fullmatch(r"\d+", body["job"]["returnValue"]["results"][0]["allocatedId"])


def test_failed_job_has_a_reason_and_no_return_value(emu: Emulator, tok: str) -> None:
    emu.fail_next_jobs(reason="storage unavailable")
    job = _send(emu, tok, time_spent_dict(1))
    body = call(emu, "GET", f"/jobs/{job}/status", tok).json()["job"]
    assert (body["state"], body["failedReason"], body["returnValue"]) == ("failed", "storage unavailable", None)


@pytest.mark.parametrize("job", ["424242", "abc", "1" * 40])
def test_unknown_job_404_body(emu: Emulator, tok: str, job: str) -> None:
    r = call(emu, "GET", f"/jobs/{job}/status", tok)
    assert (r.status_code, r.json()) == (404, {"status": "error", "message": "Job not found", "errors": None})


# ------------------------------------------------------------------------------------------------ HTTP
def test_keep_alive_and_content_length_on_every_answer(emu: Emulator, tok: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        for path in ("/caliper/events", "/nope", "/caliper/events"):
            conn.request("GET", path, headers={"Authorization": "Bearer " + tok})
            resp = conn.getresponse()
            assert resp.getheader("Content-Length") is not None
            json.loads(resp.read())
            assert not resp.will_close
        conn.request("POST", "/caliper/event", body=b"", headers={"Authorization": "Bearer " + tok})
        resp = conn.getresponse()
        assert resp.status == 400
        resp.read()
    finally:
        conn.close()


def test_unknown_route_and_wrong_method(emu: Emulator, tok: str) -> None:
    assert call(emu, "GET", "/nowhere", tok).status_code == 404
    r = call(emu, "DELETE", "/caliper/events", tok)
    assert r.status_code == 405
    assert r.json()["status"] == "error"


def test_chunked_request_bodies(emu: Emulator, tok: str) -> None:
    body = json.dumps(envelope(time_spent_dict(1))).encode()
    pieces = iter([body[:10], body[10:200], body[200:]])
    r = call(emu, "POST", "/caliper/event/validate", tok, data=pieces, headers={"Content-Type": "application/json"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 200, r.text
