"""Fault injection: the spec syntax, matching, each kind on the wire, the seeded random mode, the admin routes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.testing.helpers import call, envelope, time_spent_dict, token
from timeback_caliper.testing import Emulator, Fault, RandomFaults, parse_fault

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(job_delay=0) as emulator:
        yield emulator


# ------------------------------------------------------------------------------------------------ spec syntax
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("503", {"kind": "status", "status": 503, "count": 1, "path": None}),
        (
            "503x2@/caliper/event,retry-after=1",
            {"kind": "status", "status": 503, "count": 2, "path": "/caliper/event", "retry_after": "1"},
        ),
        ("close@/caliper/event", {"kind": "close", "path": "/caliper/event"}),
        ("drop", {"kind": "drop"}),
        ("delay=2x3", {"kind": "delay", "seconds": 2.0, "count": 3}),
        ("trickle=1.5@/caliper/events*", {"kind": "trickle", "seconds": 1.5, "path": "/caliper/events*"}),
        ("expire-token", {"kind": "expire-token"}),
        ("job-fail,reason=disk full", {"kind": "job-fail", "reason": "disk full"}),
        ("job-delayed", {"kind": "job-delayed"}),
        ("500x*", {"kind": "status", "status": 500, "count": None}),
        ("429,method=post,skip=2", {"kind": "status", "method": "POST", "skip": 2}),
        ("504@/webhooks/", {"path": "/webhooks"}),
    ],
)
def test_parse_fault(spec: str, expected: dict[str, Any]) -> None:
    fault = parse_fault(spec)
    for key, value in expected.items():
        assert getattr(fault, key) == value, key


# An HTTP-date holds commas, so the spec syntax refuses it rather than misread it (Fault.status_code takes one).
@pytest.mark.parametrize("spec", ["", "teapot", "503,bogus=1", "503x0", "700", "429,retry-after=Wed, 21 Oct 2015"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_fault(spec)


def test_fault_constructors_validate() -> None:
    with pytest.raises(ValueError, match="status"):
        Fault(kind="status")
    with pytest.raises(ValueError, match="kind"):
        Fault(kind="explode")
    with pytest.raises(ValueError, match="rate"):
        RandomFaults(rate=1.5)
    with pytest.raises(ValueError, match="kind"):
        RandomFaults(rate=0.5, kinds=("explode",))


# ------------------------------------------------------------------------------------------------ matching
def test_default_faults_spare_the_token_routes(emu: Emulator) -> None:
    emu.fail_next(1, 503)
    tok = token(emu)  # not affected
    assert call(emu, "GET", "/caliper/events", tok).status_code == 503
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200


def test_token_routes_fail_when_named(emu: Emulator) -> None:
    emu.inject("503@/oauth2/token")
    r = requests.post(
        emu.token_url, data={"grant_type": "client_credentials"}, auth=("emulator-client", "emulator-secret")
    )
    assert r.status_code == 503
    assert r.json()["error"] == "temporarily_unavailable"  # the OAuth shape on token routes
    assert token(emu)


def test_path_glob_method_and_skip(emu: Emulator) -> None:
    tok = token(emu)
    emu.inject(Fault.status_code(502, 1, path="/caliper/events*", method="GET", skip=1))
    assert call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(1))).status_code == 200
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200  # skipped once
    assert call(emu, "GET", "/caliper/events/urn%3Ax", tok).status_code == 502
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200
    assert emu.faults.pending() == []


def test_until_cleared(emu: Emulator) -> None:
    tok = token(emu)
    emu.inject("500x*@/caliper/events")
    assert [call(emu, "GET", "/caliper/events", tok).status_code for _ in range(3)] == [500, 500, 500]
    emu.clear_faults()
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200


def test_status_fault_shapes_and_headers(emu: Emulator) -> None:
    tok, ptok = token(emu), token(emu, platform=True)
    emu.fail_next(1, 429, retry_after=1)
    r = call(emu, "GET", "/caliper/events", tok)
    assert (r.status_code, r.headers["Retry-After"], r.json()["status"]) == (429, "1", "error")
    emu.fail_next(1, 503, path="/applications/1.0")
    r = call(emu, "GET", "/applications/1.0", ptok)
    assert r.status_code == 503
    assert set(r.json()) == {"error", "message"}
    assert "Retry-After" not in r.headers
    emu.fail_next(1, 500, body={"custom": True})
    assert call(emu, "GET", "/caliper/events", tok).json() == {"custom": True}


def test_delay_and_trickle_take_their_time(emu: Emulator) -> None:
    tok = token(emu)
    emu.delay_next(0.4)
    started = time.monotonic()
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200
    assert time.monotonic() - started >= 0.4
    emu.trickle_next(0.4)
    started = time.monotonic()
    assert call(emu, "GET", "/caliper/events", tok).json()["events"] == []
    assert time.monotonic() - started >= 0.3


def test_close_and_drop_send_no_answer(emu: Emulator) -> None:
    tok = token(emu)
    for process in (True, False):
        emu.close_next(path="/caliper/event", process=process)
        with pytest.raises(requests.ConnectionError):
            call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(1)))
    assert emu.wait_for_jobs()
    assert [j.ambiguous for j in emu.jobs()] == [True]  # only the processed one made a job
    assert [r.status for r in emu.requests("/caliper/event")] == [None, None]


def test_expire_token_fault(emu: Emulator) -> None:
    tok = token(emu)
    emu.expire_token_next(path="/caliper/events")
    assert call(emu, "GET", "/caliper/events", tok).status_code == 401
    assert call(emu, "GET", "/caliper/events", tok).status_code == 401  # it stays expired
    assert call(emu, "GET", "/caliper/events", token(emu)).status_code == 200


# ------------------------------------------------------------------------------------------------ random mode
def _labels(seed: int, n: int = 60) -> list[str | None]:
    with Emulator(random_faults=RandomFaults(rate=0.3, seed=seed, kinds=("500", "502", "429"))) as emu:
        tok = token(emu)
        for _ in range(n):
            call(emu, "GET", "/caliper/events", tok)
        return [r.fault for r in emu.requests("/caliper/events")]


def test_random_mode_is_reproducible_from_its_seed() -> None:
    first, again, other = _labels(7), _labels(7), _labels(8)
    assert first == again
    assert first != other
    injected = [x for x in first if x]
    assert 5 <= len(injected) <= 35  # 30% of 60, loosely
    assert set(injected) <= {"500", "502", "429"}


def test_random_mode_rate_bounds(emu: Emulator) -> None:
    tok = token(emu)
    emu.random_faults(0.0, seed=1)
    assert all(call(emu, "GET", "/caliper/events", tok).status_code == 200 for _ in range(10))
    emu.random_faults(1.0, seed=1, kinds=["503"])
    assert all(call(emu, "GET", "/caliper/events", tok).status_code == 503 for _ in range(5))
    emu.random_faults(None)
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200
    stats = emu.fault_stats
    assert (stats.injected, stats.random, stats.total, stats.ambiguous) == ({"503": 5}, 5, 5, 0)


# ------------------------------------------------------------------------------------------------ admin routes
def test_admin_routes_script_a_running_emulator(emu: Emulator) -> None:
    tok = token(emu)
    r = requests.post(emu.url + "/_emulator/faults", json={"faults": ["503x2@/caliper/events"]}, timeout=5)
    assert r.status_code == 200
    assert len(r.json()["pending"]) == 1
    assert call(emu, "GET", "/caliper/events", tok).status_code == 503
    assert requests.delete(emu.url + "/_emulator/faults", timeout=5).json() == {"pending": []}
    assert call(emu, "GET", "/caliper/events", tok).status_code == 200
    assert requests.post(emu.url + "/_emulator/faults", json={"faults": ["nope"]}, timeout=5).status_code == 400
    requests.post(emu.url + "/_emulator/faults", json={"random": {"rate": 1.0, "seed": 3, "kinds": ["502"]}}, timeout=5)
    assert call(emu, "GET", "/caliper/events", tok).status_code == 502
    state = requests.get(emu.url + "/_emulator/state", timeout=5).json()  # admin routes are never faulted
    assert state["faults"]["injected"] == {"503": 1, "502": 1}
    assert requests.post(emu.url + "/_emulator/expire-tokens", timeout=5).json()["expired"] >= 1
    assert requests.post(emu.url + "/_emulator/reset", timeout=5).json()["events"] == 0
    assert call(emu, "GET", "/caliper/events", tok).status_code == 401  # tokens were forgotten
    assert all(not r.path.startswith("/_emulator") for r in emu.requests())


def test_admin_release_jobs(emu: Emulator) -> None:
    tok = token(emu)
    emu.delay_next_jobs()
    job = call(emu, "POST", "/caliper/event", tok, json=envelope(time_spent_dict(1))).json()["jobId"]
    assert emu.wait_for_jobs()
    assert call(emu, "GET", f"/jobs/{job}/status", tok).json()["job"]["state"] == "delayed"
    assert requests.post(emu.url + "/_emulator/release-jobs", timeout=5).json() == {"released": 1}
    assert emu.wait_for_jobs()
    assert call(emu, "GET", f"/jobs/{job}/status", tok).json()["job"]["state"] == "completed"
