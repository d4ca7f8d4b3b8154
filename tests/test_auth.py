"""Tests of OAuth2 client credentials (auth.py): config, token cache, wire format, errors and secrecy."""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote_plus

import pytest
import requests
import responses

from tests.http_helpers import BASE, TOKEN_URL, FakeClock, fake_policy, make_transport, strict_responses
from timeback_caliper._http import HttpTransport, SessionManager
from timeback_caliper.auth import ClientCredentialsAuth, OAuthConfig, TokenCache
from timeback_caliper.errors import AuthenticationError, RateLimitError, ServerError, TransportError

SECRET = "s3cr3t+/=&:value"
KEY = (TOKEN_URL, "client-1", None)


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


def build(
    sessions: SessionManager, clock: FakeClock, *, config: OAuthConfig | None = None, **policy: Any
) -> tuple[HttpTransport, ClientCredentialsAuth, TokenCache]:
    """An API transport over ClientCredentialsAuth, wired as the client does (shared policy, clock and cache)."""
    retry = fake_policy(clock, **policy)
    cache = TokenCache(clock=clock.clock)
    config = config or OAuthConfig(TOKEN_URL, "client-1", SECRET)
    auth = ClientCredentialsAuth(config, cache, make_transport(sessions, retry, base_url=config.token_url))
    return make_transport(sessions, retry, auth=auth), auth, cache


def token(value: str, expires_in: Any = 3600, **extra: Any) -> dict[str, Any]:
    return {"access_token": value, "token_type": "Bearer", "expires_in": expires_in, **extra}


# --- OAuthConfig ---------------------------------------------------------------------------------


def test_config_repr_and_str_hide_the_secret() -> None:
    config = OAuthConfig(TOKEN_URL, "client-1", SECRET, scope="a  b")
    for text in (repr(config), str(config)):
        assert SECRET not in text
        assert "client-1" in text
    assert config.scope == "a b"
    assert config.cache_key == (TOKEN_URL, "client-1", "a b")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"token_url": "http://auth.example.com/token"}, "TLS is required"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": "  "}, "client_secret"),
        ({"scope": " "}, "scope"),
        ({"auth_method": "client_secret_jwt"}, "auth_method"),
    ],
)
def test_config_validation(kwargs: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {"token_url": TOKEN_URL, "client_id": "c", "client_secret": "s"}
    with pytest.raises(ValueError, match=match):
        OAuthConfig(**{**base, **kwargs})


def test_config_insecure_and_loopback() -> None:
    assert OAuthConfig("http://127.0.0.1:9/oauth2/token/", "c", "s").token_url == "http://127.0.0.1:9/oauth2/token"
    assert OAuthConfig("http://emulator:9/t", "c", "s", allow_insecure_http=True).token_url == "http://emulator:9/t"


def test_token_transport_must_not_use_bearer_auth(sessions: SessionManager, clock: FakeClock) -> None:
    api, auth, cache = build(sessions, clock)
    with pytest.raises(ValueError, match="bearer"):
        ClientCredentialsAuth(auth.config, cache, api)


# --- the token request on the wire --------------------------------------------------------------


def test_client_secret_basic_on_the_wire(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    config = OAuthConfig(TOKEN_URL, "id with space/ü", SECRET, scope="https://purl.imsglobal.org/x.readonly")
    api, _, _ = build(sessions, clock, config=config)
    rsps.post(TOKEN_URL, json=token("t-1"))
    rsps.get(f"{BASE}/x", json={})
    api.request("GET", "/x")
    sent = rsps.calls[0].request
    expected = base64.b64encode(f"{quote_plus('id with space/ü')}:{quote_plus(SECRET)}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert base64.b64decode(expected).decode() == "id+with+space%2F%C3%BC:s3cr3t%2B%2F%3D%26%3Avalue"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Accept"] == "application/json"
    assert parse_qs(sent.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["https://purl.imsglobal.org/x.readonly"],
    }
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer t-1"


def test_client_secret_post_on_the_wire(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    config = OAuthConfig(TOKEN_URL, "id&x=1", SECRET, auth_method="client_secret_post")
    api, _, _ = build(sessions, clock, config=config)
    rsps.post(TOKEN_URL, json=token("t-1"))
    rsps.get(f"{BASE}/x", json={})
    api.request("GET", "/x")
    sent = rsps.calls[0].request
    assert "Authorization" not in sent.headers
    assert parse_qs(sent.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["id&x=1"],
        "client_secret": [SECRET],
    }


# --- replay, caching and refresh through the whole stack -----------------------------------------


def test_401_invalidates_fetches_a_new_token_and_replays_once(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, json=token("t-1"))
    rsps.get(f"{BASE}/x", status=401, json={"status": "error", "message": "expired", "errors": None})
    rsps.post(TOKEN_URL, json=token("t-2"))
    rsps.get(f"{BASE}/x", json={"ok": True})
    rsps.get(f"{BASE}/x", json={"ok": True})
    assert api.request("GET", "/x").body == {"ok": True}
    api.request("GET", "/x")  # the new token is cached
    auths = [c.request.headers.get("Authorization") for c in rsps.calls if c.request.url.startswith(BASE)]
    assert auths == ["Bearer t-1", "Bearer t-2", "Bearer t-2"]
    assert clock.sleeps == []


def test_second_401_raises(rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, json=token("t-1"))
    rsps.get(f"{BASE}/x", status=401)
    rsps.post(TOKEN_URL, json=token("t-2"))
    rsps.get(f"{BASE}/x", status=401, json={"status": "error", "message": "revoked", "errors": None})
    with pytest.raises(AuthenticationError, match="revoked"):
        api.request("GET", "/x")


def test_token_endpoint_503_then_200_is_retried(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, status=503)
    rsps.post(TOKEN_URL, status=429, headers={"Retry-After": "3"})
    rsps.post(TOKEN_URL, json=token("t-1"))
    rsps.get(f"{BASE}/x", json={})
    api.request("GET", "/x")
    assert clock.sleeps == [0.0, 3.0]


def test_token_fetch_shares_the_callers_deadline(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, status=503, headers={"Retry-After": "10"})
    with pytest.raises(ServerError, match="token request") as info:
        api.request("GET", "/x", deadline=5)  # a 10 s wait would cross the API call's deadline
    assert info.value.retry_after == 10.0
    assert clock.sleeps == []


def test_token_endpoint_rate_limit_keeps_its_class(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock, max_attempts=2)
    rsps.post(TOKEN_URL, status=429)
    rsps.post(TOKEN_URL, status=429)
    with pytest.raises(RateLimitError):
        api.request("GET", "/x")


def test_token_network_failure_outlasting_retries(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock, max_attempts=3)
    for _ in range(3):
        rsps.post(TOKEN_URL, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(TransportError) as info:
        api.request("GET", "/x")
    assert info.value.attempts == 3
    assert not info.value.ambiguous


# --- token endpoint refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401])
@pytest.mark.parametrize("error", ["invalid_client", "invalid_grant", "invalid_scope", "unsupported_grant_type"])
def test_token_endpoint_refusal(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock, status: int, error: str
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, status=status, json={"error": error, "error_description": "Client authentication failed"})
    with pytest.raises(AuthenticationError) as info:
        api.request("GET", "/x")
    err = info.value
    assert err.status_code == status
    assert f"{error}: Client authentication failed" in str(err)
    assert TOKEN_URL in str(err)
    for text in (str(err), repr(err), str(err.__cause__), repr(err.__cause__)):
        assert SECRET not in text
        assert quote_plus(SECRET) not in text


def test_echoed_secret_is_scrubbed(rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock) -> None:
    config = OAuthConfig(TOKEN_URL, "c", SECRET, auth_method="client_secret_post")
    api, _, _ = build(sessions, clock, config=config)
    echo = f"bad request: client_secret={quote_plus(SECRET)} / {SECRET}"
    rsps.post(TOKEN_URL, status=400, body=echo, content_type="text/plain")
    with pytest.raises(AuthenticationError) as info:
        api.request("GET", "/x")
    assert SECRET not in str(info.value)
    assert quote_plus(SECRET) not in str(info.value)
    assert "[redacted]" in str(info.value)
    assert SECRET not in info.value.body


@pytest.mark.parametrize(
    "body",
    [{"token": "leaky-token-value", "expires_in": 3600}, {"access_token": "", "expires_in": 10}, ["x"], None],
)
def test_200_without_access_token(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock, body: Any
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, json=body)
    with pytest.raises(AuthenticationError, match="no access_token") as info:
        api.request("GET", "/x")
    assert "leaky-token-value" not in str(info.value)
    assert info.value.body is None


def test_non_bearer_token_type_is_refused(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, json=token("tok-mac", token_type="mac"))
    with pytest.raises(AuthenticationError, match="token_type 'mac'") as info:
        api.request("GET", "/x")
    assert "tok-mac" not in str(info.value)


def test_lowercase_bearer_and_missing_expiry(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock
) -> None:
    api, _, _ = build(sessions, clock)
    rsps.post(TOKEN_URL, json={"access_token": "t-1", "token_type": "bearer"})
    rsps.get(f"{BASE}/x", json={})
    rsps.get(f"{BASE}/x", json={})
    rsps.post(TOKEN_URL, json=token("t-2"))
    rsps.get(f"{BASE}/x", json={})
    api.request("GET", "/x")
    clock.advance(3239)  # missing expires_in -> 3600 s, refreshed 360 s early
    api.request("GET", "/x")
    clock.advance(1)
    api.request("GET", "/x")
    assert [c.request.headers["Authorization"] for c in rsps.calls if c.request.url.startswith(BASE)] == [
        "Bearer t-1",
        "Bearer t-1",
        "Bearer t-2",
    ]


# --- TokenCache ----------------------------------------------------------------------------------


class Fetcher:
    def __init__(self, *results: tuple[str, float | None]) -> None:
        self.results = list(results)
        self.calls = 0

    def __call__(self) -> tuple[str, float | None]:
        self.calls += 1
        return self.results.pop(0)


@pytest.mark.parametrize(
    ("expires_in", "refresh_after"),
    [(3600, 3240), (1000, 900), (300, 240), (61, 1), (None, 3240)],
)
def test_early_refresh_leeway(clock: FakeClock, expires_in: float | None, refresh_after: float) -> None:
    cache = TokenCache(clock=clock.clock)
    fetch = Fetcher(("t-1", expires_in), ("t-2", expires_in))
    assert cache.get(KEY, fetch) == "t-1"
    clock.advance(refresh_after - 0.001)
    assert cache.get(KEY, fetch) == "t-1"
    clock.advance(0.001)
    assert cache.get(KEY, fetch) == "t-2"
    assert fetch.calls == 2


@pytest.mark.parametrize("expires_in", [60, 30, 0, -5])
def test_short_lived_tokens_are_used_once(clock: FakeClock, expires_in: float) -> None:
    cache = TokenCache(clock=clock.clock)
    fetch = Fetcher(("t-1", expires_in), ("t-2", expires_in))
    assert [cache.get(KEY, fetch), cache.get(KEY, fetch)] == ["t-1", "t-2"]


def test_lifetime_runs_from_arrival(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock.clock)

    def slow_fetch() -> tuple[str, float | None]:
        clock.advance(50)  # the token endpoint took 50 s to answer
        return "t-1", 3600

    cache.get(KEY, slow_fetch)
    clock.advance(3239)
    assert cache.get(KEY, Fetcher()) == "t-1"


def test_invalidate_only_drops_the_same_token(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock.clock)
    fetch = Fetcher(("t-1", 3600), ("t-2", 3600))
    cache.get(KEY, fetch)
    cache.invalidate(KEY, "t-0")  # a stale token from a concurrent refresh: ignored
    assert cache.get(KEY, fetch) == "t-1"
    cache.invalidate(KEY, "t-1")
    assert cache.get(KEY, fetch) == "t-2"
    cache.invalidate((TOKEN_URL, "other", None), "t-2")
    assert cache.get(KEY, fetch) == "t-2"


def test_keys_are_separate(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock.clock)
    a = cache.get((TOKEN_URL, "c", "scope-a"), Fetcher(("t-a", 3600)))
    b = cache.get((TOKEN_URL, "c", "scope-b"), Fetcher(("t-b", 3600)))
    assert (a, b) == ("t-a", "t-b")
    cache.clear()
    assert cache.get((TOKEN_URL, "c", "scope-a"), Fetcher(("t-c", 3600))) == "t-c"


def test_refresh_failure_keeps_a_still_valid_token(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    cache = TokenCache(clock=clock.clock)
    cache.get(KEY, Fetcher(("t-1", 3600)))
    clock.advance(3300)  # inside the refresh window, 300 s before expiry

    def failing() -> tuple[str, float | None]:
        raise TransportError("token endpoint down")

    with caplog.at_level(logging.WARNING, logger="timeback_caliper"):
        assert cache.get(KEY, failing) == "t-1"
    assert "token refresh failed" in caplog.text
    clock.advance(300)  # expired now: the failure surfaces
    with pytest.raises(TransportError):
        cache.get(KEY, failing)


def test_single_flight_on_an_empty_cache() -> None:
    cache = TokenCache()
    calls = []
    barrier = threading.Barrier(10)

    def fetch() -> tuple[str, float | None]:
        calls.append(1)
        time.sleep(0.05)  # long enough for every other thread to queue up behind this one
        return "t-1", 3600

    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get(KEY, fetch))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1
    assert results == ["t-1"] * 10


def test_others_keep_the_old_token_while_one_thread_refreshes(clock: FakeClock) -> None:
    cache = TokenCache(clock=clock.clock)
    cache.get(KEY, Fetcher(("t-1", 3600)))
    clock.advance(3300)
    started, release = threading.Event(), threading.Event()

    def slow() -> tuple[str, float | None]:
        started.set()
        release.wait(5)
        return "t-2", 3600

    refresher = threading.Thread(target=lambda: cache.get(KEY, slow))
    refresher.start()
    assert started.wait(5)
    assert cache.get(KEY, Fetcher()) == "t-1"  # not blocked behind the refresh
    release.set()
    refresher.join(5)
    assert cache.get(KEY, Fetcher()) == "t-2"


def test_waiting_for_another_fetch_respects_the_deadline() -> None:
    cache = TokenCache()
    started, release = threading.Event(), threading.Event()

    def slow() -> tuple[str, float | None]:
        started.set()
        release.wait(5)
        return "t-1", 3600

    leader = threading.Thread(target=lambda: cache.get(KEY, slow))
    leader.start()
    assert started.wait(5)
    try:
        with pytest.raises(TransportError, match="deadline"):
            cache.get(KEY, Fetcher(("never", 3600)), wait=0.05)
    finally:
        release.set()
        leader.join(5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() in a process with threads (3.12+)
def test_forked_child_starts_with_an_empty_cache() -> None:
    cache = TokenCache()
    cache.get(KEY, Fetcher(("parent-token", 3600)))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it sees, then leave without running pytest's teardown
        try:
            got = cache.get(KEY, Fetcher(("child-token", 3600)))
            os.write(write, got.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_saw = pipe.read()
    os.waitpid(pid, 0)
    assert child_saw == "child-token"
    assert cache.get(KEY, Fetcher()) == "parent-token"


# --- secrets -------------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_reprs(
    rsps: responses.RequestsMock, sessions: SessionManager, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = OAuthConfig(TOKEN_URL, "client-1", SECRET, auth_method="client_secret_post")
    api, auth, cache = build(sessions, clock, config=config)
    rsps.post(TOKEN_URL, json=token("access-token-AAA"))
    rsps.get(f"{BASE}/x", status=401)
    rsps.post(TOKEN_URL, json=token("access-token-BBB"))
    rsps.get(f"{BASE}/x", json={"fine": True})
    rsps.post(TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": "bad secret"})
    with caplog.at_level(logging.DEBUG):
        api.request("GET", "/x")
        cache.clear()
        with pytest.raises(AuthenticationError) as info:
            api.request("GET", "/x")
    texts = [caplog.text, str(info.value), repr(info.value), repr(config), str(config), repr(auth), repr(cache)]
    for secret in (SECRET, quote_plus(SECRET), "access-token-AAA", "access-token-BBB"):
        for text in texts:
            assert secret not in text
    assert "invalid_client: bad secret" in str(info.value)
