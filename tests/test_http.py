"""Unit tests of the HTTP layer (_http.py) against a strict responses mock and a fake clock."""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
import urllib3.exceptions as u3
from requests.adapters import HTTPAdapter

from tests.http_helpers import BASE, UA, FakeAuth, FakeClock, fake_policy, make_transport, strict_responses
from timeback_caliper import _http
from timeback_caliper._http import (
    HttpResponse,
    RetryPolicy,
    SessionManager,
    check_url,
    classify,
    default_user_agent,
    error_details,
    parse_retry_after,
)
from timeback_caliper.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    TransportError,
)

URL = f"{BASE}/caliper/event"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with strict_responses() as mock:
        yield mock


@pytest.fixture
def sessions() -> Iterator[SessionManager]:
    manager = SessionManager()
    yield manager
    manager.close()


@pytest.fixture
def transport(sessions: SessionManager, clock: FakeClock) -> _http.HttpTransport:
    return make_transport(sessions, fake_policy(clock))


# --- status codes --------------------------------------------------------------------------------

STATUS_TABLE = [
    (200, 1, None),
    (201, 1, None),
    (202, 1, None),
    (204, 1, None),
    (400, 1, BadRequestError),
    (403, 1, ForbiddenError),
    (404, 1, NotFoundError),
    (409, 1, ConflictError),
    (422, 1, BadRequestError),
    (413, 1, PayloadTooLargeError),
    (408, 4, ApiError),
    (429, 4, RateLimitError),
    (500, 4, ServerError),
    (502, 4, ServerError),
    (503, 4, ServerError),
    (504, 4, ServerError),
]


@pytest.mark.parametrize(("status", "calls", "error"), STATUS_TABLE, ids=[str(row[0]) for row in STATUS_TABLE])
def test_status_table(
    rsps: responses.RequestsMock, transport: _http.HttpTransport, status: int, calls: int, error: type[ApiError] | None
) -> None:
    for _ in range(calls):
        if status == 204:
            rsps.post(URL, status=204)
        else:
            rsps.post(URL, status=status, json={"status": "error", "message": "nope", "errors": None})
    if error is None:
        assert transport.request("POST", "/caliper/event", json={"a": 1}).status_code == status
    else:
        with pytest.raises(error) as info:
            transport.request("POST", "/caliper/event", json={"a": 1})
        assert type(info.value) is error
        assert info.value.status_code == status
        assert info.value.attempts == calls
    assert len(rsps.calls) == calls


def test_success_response_fields(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    rsps.post(URL, status=200, json={"jobId": "42"}, headers={"X-Thing": "1"})
    resp = transport.request("POST", "/caliper/event", json={"a": 1}, request_id="rid-1")
    assert resp.body == {"jobId": "42"}
    assert json.loads(resp.text) == {"jobId": "42"}
    assert resp.headers["x-thing"] == "1"  # case-insensitive
    assert (resp.request_id, resp.attempts) == ("rid-1", 1)
    assert "jobId" not in repr(resp)  # bodies stay out of repr (a token response holds a secret)


@pytest.mark.parametrize(
    ("content_type", "payload", "expected"),
    [
        ("application/json", b"", None),
        ("application/json", b"not json", "not json"),
        ("text/plain", b"12345", "12345"),
        ("application/problem+json", b'{"a": 1}', {"a": 1}),
        ("application/json; charset=utf-8", '"é"'.encode(), "é"),
    ],
)
def test_body_parsing(
    rsps: responses.RequestsMock, transport: _http.HttpTransport, content_type: str, payload: bytes, expected: Any
) -> None:
    rsps.get(f"{BASE}/x", body=payload, content_type=content_type)
    assert transport.request("GET", "/x").body == expected


def test_error_keeps_raw_text_body(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    rsps.get(f"{BASE}/x", status=404, body="<html>gone</html>", content_type="text/html")
    with pytest.raises(NotFoundError) as info:
        transport.request("GET", "/x", request_id="r-9")
    err = info.value
    assert (err.body, err.message, err.errors, err.request_id) == (
        "<html>gone</html>",
        "<html>gone</html>",
        None,
        "r-9",
    )
    assert str(err) == "HTTP 404 [request r-9]: <html>gone</html>"


def test_redirect_is_not_followed(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    rsps.get(f"{BASE}/x", status=307, headers={"Location": "http://evil.example/x"})
    with pytest.raises(ApiError, match="redirect to http://evil.example/x not followed"):
        transport.request("GET", "/x")


# --- error bodies: the four shapes of contract §3.2 ----------------------------------------------

ZOD = {
    "error": "Invalid request",
    "details": [{"code": "invalid_string", "path": ["url"], "message": "Invalid url"}],
}


@pytest.mark.parametrize(
    ("body", "text", "message", "errors"),
    [
        (
            {"status": "error", "message": "bad actor", "errors": [{"rule": "TB-4"}]},
            "",
            "bad actor",
            [{"rule": "TB-4"}],
        ),
        ({"status": "error", "message": "no", "errors": None}, "", "no", None),
        (ZOD, "", "Invalid request: url: Invalid url", ZOD["details"]),
        (
            {"error": "Bad request", "message": "Invalid UUID format for userId"},
            "",
            "Bad request: Invalid UUID format for userId",
            None,
        ),
        (
            {"error": "invalid_client", "error_description": "Client authentication failed"},
            "",
            "invalid_client: Client authentication failed",
            None,
        ),
        ({"error": "invalid_client"}, "", "invalid_client", None),
        ({"message": "just a message"}, "", "just a message", None),
        ("plain text", "plain text", "plain text", None),
        (None, "", "HTTP 500 Internal Server Error", None),
        ({"weird": 1}, '{"weird": 1}', '{"weird": 1}', None),
    ],
)
def test_error_details_shapes(body: Any, text: str, message: str, errors: Any) -> None:
    assert error_details(body, text, 500, "Internal Server Error") == (message, errors)


def test_zod_details_are_summarised_and_kept() -> None:
    details = [{"path": ["a", i], "message": f"m{i}"} for i in range(7)]
    message, errors = error_details({"error": "Invalid", "details": details}, "", 400)
    assert message.startswith("Invalid: a.0: m0; a.1: m1")
    assert message.endswith("... and 2 more")
    assert errors is details


def test_error_attributes_from_caliper_body(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    body = {"status": "error", "message": "actor.email is required", "errors": [{"path": ["data", 0], "rule": "TB-4"}]}
    rsps.post(URL, status=400, json=body)
    with pytest.raises(BadRequestError) as info:
        transport.request("POST", "/caliper/event", json={}, request_id="abc")
    err = info.value
    assert vars(err) | {} == {
        "message": "actor.email is required",
        "status_code": 400,
        "errors": body["errors"],
        "body": body,
        "request_id": "abc",
        "retry_after": None,
        "attempts": 1,
    }


# --- request building ----------------------------------------------------------------------------


def test_headers_and_same_bytes_and_request_id_across_retries(
    rsps: responses.RequestsMock, transport: _http.HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes = []
    real = _http._encode_json
    monkeypatch.setattr(_http, "_encode_json", lambda v: encodes.append(v) or real(v))
    rsps.post(URL, status=503)
    rsps.post(URL, status=502)
    rsps.post(URL, status=200, json={"jobId": 1})
    resp = transport.request("POST", "/caliper/event", json={"id": "urn:uuid:1", "n": "é"})
    assert len(encodes) == 1  # serialized once, before the loop
    bodies = [c.request.body for c in rsps.calls]
    assert bodies[0] == bodies[1] == bodies[2] == '{"id":"urn:uuid:1","n":"é"}'.encode()
    ids = {c.request.headers["X-Request-ID"] for c in rsps.calls}
    assert ids == {resp.request_id}
    assert uuid.UUID(hex=resp.request_id).version == 4
    headers = rsps.calls[0].request.headers
    assert headers["User-Agent"] == UA
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(bodies[0]))
    assert "Authorization" not in headers
    assert "Cookie" not in headers
    assert resp.attempts == 3


def test_data_bytes_sent_verbatim(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    raw = b'{"b": 2,   "a": 1}'
    rsps.post(URL, status=500)
    rsps.post(URL, status=200)
    transport.request("POST", "/caliper/event", data=raw)
    assert [c.request.body for c in rsps.calls] == [raw, raw]
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"


def test_caller_headers_override_and_request_id_given(
    rsps: responses.RequestsMock, transport: _http.HttpTransport
) -> None:
    rsps.post(URL, status=200)
    transport.request("POST", "/caliper/event", data=b"a=1", headers={"content-type": "text/plain"}, request_id="mine")
    sent = rsps.calls[0].request.headers
    assert sent["Content-Type"] == "text/plain"
    assert sent["X-Request-ID"] == "mine"


def test_json_and_data_together_is_refused(transport: _http.HttpTransport) -> None:
    with pytest.raises(TypeError, match="not both"):
        transport.request("POST", "/x", json={}, data=b"{}")
    with pytest.raises(TypeError, match="must be bytes"):
        transport.request("POST", "/x", data="{}")  # type: ignore[arg-type]


def test_method_is_upper_cased_and_empty_post_has_zero_length(
    rsps: responses.RequestsMock, transport: _http.HttpTransport
) -> None:
    rsps.post(f"{BASE}/x", status=204)
    transport.request("post", "/x")
    assert rsps.calls[0].request.method == "POST"
    assert rsps.calls[0].request.headers["Content-Length"] == "0"
    assert "Content-Type" not in rsps.calls[0].request.headers


def test_query_params_and_paths(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    rsps.get(f"{BASE}/caliper/events?limit=100&offset=0&actorId=a%2Fb", status=200, json={})
    rsps.get(f"{BASE}/caliper/events/urn%3Auuid%3A1", status=200, json={})
    rsps.get(f"{BASE}/caliper/events/urn%3Auuid%3A1", status=200, json={})
    transport.request("GET", "/caliper/events", params={"limit": 100, "offset": 0, "actorId": "a/b"})
    transport.request("GET", "/caliper/events/urn%3Auuid%3A1")
    transport.request("GET", "caliper/events/urn%3Auuid%3A1")  # a missing leading slash is added
    assert rsps.calls[1].request.url == f"{BASE}/caliper/events/urn%3Auuid%3A1"


def test_timeout_is_finite_and_capped_by_the_deadline(
    rsps: responses.RequestsMock, transport: _http.HttpTransport
) -> None:
    rsps.get(f"{BASE}/x", status=200)
    rsps.get(f"{BASE}/x", status=200)
    transport.request("GET", "/x")
    transport.request("GET", "/x", deadline=2.5)
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 15.0)
    assert rsps.calls[1].request.req_kwargs["timeout"] == (2.5, 2.5)


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), (1, 0), (float("nan"), 1)])
def test_timeout_must_be_finite(sessions: SessionManager, clock: FakeClock, timeout: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        make_transport(sessions, fake_policy(clock), timeout=timeout)


def test_default_user_agent() -> None:
    import sys

    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert default_user_agent("1.2.3") == f"timeback-caliper-python/1.2.3 python/{py} requests/{requests.__version__}"


# --- delays, jitter, Retry-After, deadline -------------------------------------------------------


def test_backoff_is_exponential_capped_and_fully_jittered(
    rsps: responses.RequestsMock, sessions: SessionManager
) -> None:
    clock = FakeClock()
    draws = iter([0.0, 0.5, 0.999, 1.0])
    policy = fake_policy(clock, base_delay=1.0, max_delay=3.0, max_attempts=5, deadline=100, random=lambda: next(draws))
    for _ in range(5):
        rsps.get(f"{BASE}/x", status=503)
    with pytest.raises(ServerError):
        make_transport(sessions, policy).request("GET", "/x")
    assert clock.sleeps == pytest.approx([0.0, 0.5 * 2, 0.999 * 3, 1.0 * 3])


def test_jitter_bounds_with_real_random(rsps: responses.RequestsMock, sessions: SessionManager) -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        max_attempts=8, deadline=1000, base_delay=0.5, max_delay=4, sleep=clock.sleep, clock=clock.clock
    )
    for _ in range(8):
        rsps.get(f"{BASE}/x", status=500)
    with pytest.raises(ServerError):
        make_transport(sessions, policy).request("GET", "/x")
    caps = [0.5, 1, 2, 4, 4, 4, 4]
    assert len(clock.sleeps) == 7
    assert all(0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))


def test_backoff_generator_is_lazy(
    rsps: responses.RequestsMock, transport: _http.HttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    real = _http.backoff.expo
    monkeypatch.setattr(_http.backoff, "expo", lambda **kw: made.append(kw) or real(**kw))
    rsps.get(f"{BASE}/x", status=200)
    rsps.get(f"{BASE}/x", status=503)
    rsps.get(f"{BASE}/x", status=200)
    transport.request("GET", "/x")
    assert made == []
    transport.request("GET", "/x")
    assert made == [{"base": 2, "factor": 0, "max_value": 30.0}]


def test_retry_after_seconds_is_a_floor(
    rsps: responses.RequestsMock, transport: _http.HttpTransport, clock: FakeClock
) -> None:
    rsps.post(URL, status=429, headers={"Retry-After": "7"})
    rsps.post(URL, status=200)
    transport.request("POST", "/caliper/event", json={})
    assert clock.sleeps == [7.0]


def test_retry_after_http_date(rsps: responses.RequestsMock, transport: _http.HttpTransport, clock: FakeClock) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    rsps.post(URL, status=503, headers={"Retry-After": when})
    rsps.post(URL, status=200)
    transport.request("POST", "/caliper/event", json={})
    assert 27 <= clock.sleeps[0] <= 31


def test_retry_after_is_capped(rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock) -> None:
    rsps.post(URL, status=429, headers={"Retry-After": "600"})
    rsps.post(URL, status=200)
    make_transport(sessions, fake_policy(clock, deadline=1000)).request("POST", "/caliper/event", json={})
    assert clock.sleeps == [60.0]


@pytest.mark.parametrize(("status", "error"), [(429, RateLimitError), (503, ServerError)])
def test_retry_after_crossing_the_deadline_raises_at_once(
    rsps: responses.RequestsMock,
    sessions: SessionManager,
    clock: FakeClock,
    status: int,
    error: type[ApiError],
    caplog: pytest.LogCaptureFixture,
) -> None:
    rsps.post(URL, status=status, headers={"Retry-After": "45"}, json={"status": "error", "message": "slow down"})
    with caplog.at_level(logging.WARNING, logger="timeback_caliper"), pytest.raises(error) as info:
        make_transport(sessions, fake_policy(clock, deadline=30)).request("POST", "/caliper/event", json={})
    assert info.value.retry_after == 45.0
    assert clock.sleeps == []
    assert len(rsps.calls) == 1
    assert "would cross the deadline" in caplog.text


def test_final_error_carries_retry_after(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    for _ in range(2):
        rsps.post(URL, status=429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitError) as info:
        make_transport(sessions, fake_policy(clock, max_attempts=2)).request("POST", "/caliper/event", json={})
    assert info.value.retry_after == 2.0
    assert info.value.attempts == 2


def test_deadline_stops_retries(rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock) -> None:
    policy = fake_policy(clock, base_delay=10, max_attempts=10, deadline=25)
    rsps.get(f"{BASE}/x", status=503)
    rsps.get(f"{BASE}/x", status=503)
    with pytest.raises(ServerError) as info:
        make_transport(sessions, policy).request("GET", "/x")
    assert clock.sleeps == [10.0]  # the next sleep (20 s) would end past the deadline: not started
    assert info.value.attempts == 2


def test_deadline_counts_time_spent_in_requests(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    def slow_503(request: Any) -> tuple[int, dict[str, str], str]:
        clock.advance(12)
        return 503, {}, ""

    rsps.add_callback(responses.GET, f"{BASE}/x", callback=slow_503)
    rsps.add_callback(responses.GET, f"{BASE}/x", callback=slow_503)
    with pytest.raises(ServerError):
        make_transport(sessions, fake_policy(clock, deadline=20)).request("GET", "/x")
    assert len(rsps.calls) == 2
    assert rsps.calls[1].request.req_kwargs["timeout"] == (5.0, 8.0)  # what was left of the deadline


def test_deadline_argument_overrides_policy(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    policy = fake_policy(clock, base_delay=1, max_attempts=10, deadline=1000)
    for _ in range(3):
        rsps.get(f"{BASE}/x", status=500)
    with pytest.raises(ServerError):
        make_transport(sessions, policy).request("GET", "/x", deadline=5)
    assert clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:27:30 GMT").timestamp()
    assert parse_retry_after(value, now=lambda: now) == expected


def test_retry_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="deadline"):
        RetryPolicy(deadline=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=-1)
    assert RetryPolicy() == RetryPolicy(max_attempts=4, deadline=60, retry_ambiguous=True, base_delay=0.5, max_delay=30)


# --- transport failures --------------------------------------------------------------------------


def _refused() -> requests.ConnectionError:
    reason = u3.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(u3.MaxRetryError(None, "/x", reason))  # type: ignore[arg-type]


def _aborted() -> requests.ConnectionError:
    cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(u3.ProtocolError("Connection aborted.", cause))


def _reset() -> requests.ConnectionError:
    return requests.ConnectionError(u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))


FAILURES = [
    ("connect-timeout", lambda: requests.ConnectTimeout("connect timed out"), "connect"),
    ("refused", _refused, "connect"),
    (
        "dns",
        lambda: requests.ConnectionError(u3.MaxRetryError(None, "/", u3.NameResolutionError("h", None, OSError()))),
        "connect",
    ),
    ("read-timeout", lambda: requests.ReadTimeout("read timed out"), "ambiguous"),
    ("remote-disconnected", _aborted, "ambiguous"),
    ("reset", _reset, "ambiguous"),
    ("body-cut", lambda: requests.exceptions.ChunkedEncodingError("cut"), "ambiguous"),
    (
        "read-timeout-in-body",
        lambda: requests.ConnectionError(u3.ReadTimeoutError(None, "/", "Read timed out.")),
        "ambiguous",
    ),
    (
        "cert",
        lambda: requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
        "fatal",
    ),
    ("tls-handshake", lambda: requests.exceptions.SSLError("EOF occurred in violation of protocol"), "connect"),
    ("invalid-url", lambda: requests.exceptions.InvalidURL("bad"), "fatal"),
    ("invalid-header", lambda: requests.exceptions.InvalidHeader("bad"), "fatal"),
    ("too-many-redirects", lambda: requests.TooManyRedirects("loop"), "fatal"),
]


@pytest.mark.parametrize(("name", "make", "kind"), FAILURES, ids=[f[0] for f in FAILURES])
def test_classify(name: str, make: Any, kind: str) -> None:
    assert classify(make()) == kind


@pytest.mark.parametrize("retry_ambiguous", [True, False])
@pytest.mark.parametrize(("name", "make", "kind"), FAILURES, ids=[f[0] for f in FAILURES])
def test_transport_failures_retry_by_kind(
    rsps: responses.RequestsMock,
    sessions: SessionManager,
    clock: FakeClock,
    name: str,
    make: Any,
    kind: str,
    retry_ambiguous: bool,
) -> None:
    retried = kind == "connect" or (kind == "ambiguous" and retry_ambiguous)
    calls = 3 if retried else 1
    for _ in range(calls):
        rsps.post(URL, body=make())
    transport = make_transport(sessions, fake_policy(clock, max_attempts=3, retry_ambiguous=retry_ambiguous))
    with pytest.raises(TransportError) as info:
        transport.request("POST", "/caliper/event", json={}, request_id="r1")
    err = info.value
    assert (err.ambiguous, err.attempts, err.request_id) == (kind == "ambiguous", calls, "r1")
    assert isinstance(err.__cause__, requests.RequestException)
    assert len(rsps.calls) == calls


def test_transport_error_then_success(rsps: responses.RequestsMock, transport: _http.HttpTransport) -> None:
    rsps.post(URL, body=_refused())
    rsps.post(URL, body=requests.ReadTimeout("slow"))
    rsps.post(URL, status=200, json={"jobId": "1"})
    assert transport.request("POST", "/caliper/event", json={}).attempts == 3


# --- 401 replay ----------------------------------------------------------------------------------


def test_401_invalidates_and_replays_once_without_sleeping(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    auth = FakeAuth("t1", "t2")
    rsps.get(f"{BASE}/x", status=401, json={"status": "error", "message": "expired", "errors": None})
    rsps.get(f"{BASE}/x", status=200, json={"ok": 1})
    resp = make_transport(sessions, fake_policy(clock, deadline=60), auth=auth).request("GET", "/x")
    assert [c.request.headers["Authorization"] for c in rsps.calls] == ["Bearer t1", "Bearer t2"]
    assert auth.invalidated == ["t1"]
    assert clock.sleeps == []
    assert resp.attempts == 2
    assert auth.deadlines == [clock.now + 60] * 2  # the token fetch shares the call's deadline


def test_second_401_raises_authentication_error(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    auth = FakeAuth("t1", "t2", "t3")
    rsps.get(f"{BASE}/x", status=401)
    rsps.get(f"{BASE}/x", status=401, json={"status": "error", "message": "still no", "errors": None})
    with pytest.raises(AuthenticationError, match="still no") as info:
        make_transport(sessions, fake_policy(clock), auth=auth).request("GET", "/x")
    assert auth.invalidated == ["t1"]
    assert info.value.attempts == 2


def test_401_replay_is_not_a_backoff_attempt(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    auth = FakeAuth("t1", "t2")
    rsps.get(f"{BASE}/x", status=503)
    rsps.get(f"{BASE}/x", status=401)
    rsps.get(f"{BASE}/x", status=200)
    resp = make_transport(sessions, fake_policy(clock, max_attempts=2), auth=auth).request("GET", "/x")
    assert resp.attempts == 3
    assert len(clock.sleeps) == 1


def test_401_without_auth_and_403_are_not_replayed(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    auth = FakeAuth("t1", "t2")
    rsps.get(f"{BASE}/x", status=401)
    rsps.get(f"{BASE}/x", status=403, json={"error": "Forbidden", "message": "missing scope"})
    with pytest.raises(AuthenticationError):
        make_transport(sessions, fake_policy(clock)).request("GET", "/x")
    with pytest.raises(ForbiddenError, match="Forbidden: missing scope"):
        make_transport(sessions, fake_policy(clock), auth=auth).request("GET", "/x")
    assert auth.invalidated == []


# --- logging -------------------------------------------------------------------------------------


def test_logging_levels_and_redaction(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    auth = FakeAuth("sekrit-token-1", "sekrit-token-2")
    rsps.post(URL, status=401)
    rsps.post(URL, status=503)
    rsps.post(URL, status=503)
    rsps.post(URL, status=200, json={"jobId": "7"})
    transport = make_transport(sessions, fake_policy(clock, max_attempts=3), auth=auth)
    with caplog.at_level(logging.DEBUG, logger="timeback_caliper"):
        transport.request("POST", "/caliper/event", json={"event": "payload"}, request_id="rq")
    for secret in ("sekrit-token-1", "sekrit-token-2"):
        assert secret not in caplog.text
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert [r.levelno for r in retries] == [logging.INFO, logging.INFO]
    assert retries[0].getMessage() == "retrying POST /caliper/event in 0.00s (attempt 2/3, HTTP 503, request rq)"
    bodies = [r for r in caplog.records if "payload" in r.getMessage() or "jobId" in r.getMessage()]
    assert bodies
    assert all(r.levelno == logging.DEBUG for r in bodies)


def test_give_up_logs_a_warning(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rsps.get(f"{BASE}/x", status=502)
    rsps.get(f"{BASE}/x", status=502)
    with caplog.at_level(logging.INFO, logger="timeback_caliper"), pytest.raises(ServerError):
        make_transport(sessions, fake_policy(clock, max_attempts=2)).request("GET", "/x", request_id="g")
    assert caplog.records[-1].levelno == logging.WARNING
    assert caplog.records[-1].getMessage() == "giving up on GET /x after 2 attempts (HTTP 502, request g)"


def test_sensitive_calls_never_log_bodies(
    rsps: responses.RequestsMock, transport: _http.HttpTransport, caplog: pytest.LogCaptureFixture
) -> None:
    rsps.post(f"{BASE}/token", status=200, json={"access_token": "very-secret"})
    with caplog.at_level(logging.DEBUG, logger="timeback_caliper"):
        transport.request("POST", "/token", data=b"client_secret=hush", sensitive=True)
    assert "very-secret" not in caplog.text
    assert "hush" not in caplog.text


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://caliper.alpha-1edtech.ai",
        "https://caliper.alpha-1edtech.ai/",
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://localhost:9000/base",
        "http://[::1]:8000",
        "HTTPS://Example.com/x",
    ],
)
def test_check_url_accepts(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://caliper.example.com", "TLS is required"),
        ("http://10.0.0.1", "TLS is required"),
        ("http://localhost.evil.com", "TLS is required"),
        ("ftp://example.com", "https://"),
        ("file:///etc/passwd", "https://"),
        ("example.com/path", "https://"),
        ("https://", "https://"),
        ("https://user:pw@example.com", "credentials"),
        ("https://example.com:99999", "not a valid URL"),
    ],
)
def test_check_url_refuses(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        check_url(url, what="base_url")
    assert "pw@" not in str(info.value)


def test_check_url_insecure_opt_in() -> None:
    assert check_url("http://emulator:8080", allow_insecure_http=True) == "http://emulator:8080"
    with pytest.raises(ValueError, match="token_url"):
        check_url("http://emulator:8080", what="token_url")


def test_transport_checks_its_base_url(sessions: SessionManager, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="TLS is required"):
        make_transport(sessions, fake_policy(clock), base_url="http://api.example.com")


# --- sessions ------------------------------------------------------------------------------------


def test_session_manager_builds_one_pooled_session() -> None:
    manager = SessionManager(pool_maxsize=48)
    session = manager.session
    assert manager.session is session
    adapter = session.get_adapter("https://x.example")
    assert isinstance(adapter, HTTPAdapter)
    assert adapter._pool_maxsize == 48
    assert adapter._pool_block is False
    assert adapter.max_retries.total == 0  # our loop is the only retry layer
    assert session.verify is True
    manager.close()
    manager.close()  # idempotent
    with pytest.raises(TransportError, match="closed"):
        manager.send("GET", "https://x.example", {}, None, timeout=(1, 1), origin="https://x.example")


def test_session_manager_refuses_to_disable_tls() -> None:
    with pytest.raises(ValueError, match="cannot be disabled"):
        SessionManager(verify=False)
    assert SessionManager(verify="/etc/ssl/ca.pem").session.verify == "/etc/ssl/ca.pem"


def test_caller_session_is_used_and_never_closed(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    session = requests.Session()
    session.headers["X-Team"] = "blue"
    closed = []
    session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    manager = SessionManager(session)
    assert manager.session is session
    rsps.get(f"{BASE}/x", status=200)
    make_transport(manager, fake_policy(clock)).request("GET", "/x")
    sent = rsps.calls[0].request.headers
    assert sent["X-Team"] == "blue"
    assert sent["User-Agent"] == UA
    manager.close()
    assert closed == []


def test_http_response_is_frozen() -> None:
    resp = HttpResponse(200, {}, None, "", "r", 1)
    with pytest.raises(AttributeError):
        resp.status_code = 201  # type: ignore[misc]
