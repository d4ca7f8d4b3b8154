"""The HTTP layer over real loopback sockets: timeouts, dropped connections, refused ports, threads and fork."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.http_helpers import (
    LocalServer,
    closed_port,
    drop,
    local_server,
    make_transport,
    ok,
    slow,
    token_endpoint,
)
from timeback_caliper._http import HttpTransport, RetryPolicy, SessionManager
from timeback_caliper.auth import ClientCredentialsAuth, OAuthConfig, TokenCache
from timeback_caliper.errors import TransportError

pytestmark = pytest.mark.timeout(30)

READ_TIMEOUT = 0.2


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server(max_seconds=30) as srv:
        yield srv


@pytest.fixture
def sessions() -> Iterator[SessionManager]:
    manager = SessionManager()
    yield manager
    manager.close()


def policy(**overrides: Any) -> RetryPolicy:
    """Real clock (these tests measure real timeouts), but no backoff sleeps."""
    kwargs: dict[str, Any] = {"max_attempts": 3, "base_delay": 0, "sleep": lambda _: None}
    kwargs.update(overrides)
    return RetryPolicy(**kwargs)


def transport(sessions: SessionManager, base_url: str, **overrides: Any) -> HttpTransport:
    return make_transport(sessions, policy(**overrides), base_url=base_url, timeout=(1.0, READ_TIMEOUT))


def test_json_round_trip_and_keep_alive(server: LocalServer, sessions: SessionManager) -> None:
    server.route("/caliper/event", ok({"jobId": "42"}))
    http = transport(sessions, server.url)
    for _ in range(3):
        assert http.request("POST", "/caliper/event", json={"data": [1]}).body == {"jobId": "42"}
    assert len(set(server.ports["/caliper/event"])) == 1  # one pooled connection, reused
    assert server.bodies["/caliper/event"][0] == b'{"data":[1]}'


@pytest.mark.parametrize(("retry_ambiguous", "hits"), [(True, 3), (False, 1)])
def test_read_timeout_is_ambiguous(
    server: LocalServer, sessions: SessionManager, retry_ambiguous: bool, hits: int
) -> None:
    server.route("/slow", slow(READ_TIMEOUT * 5))
    http = transport(sessions, server.url, retry_ambiguous=retry_ambiguous)
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        http.request("POST", "/slow", json={"n": 1})
    assert info.value.ambiguous
    assert info.value.attempts == hits
    assert server.hits["/slow"] == hits
    assert time.monotonic() - started < hits * READ_TIMEOUT + 2


@pytest.mark.parametrize(("retry_ambiguous", "hits"), [(True, 3), (False, 1)])
def test_connection_closed_without_answer_is_ambiguous(
    server: LocalServer, sessions: SessionManager, retry_ambiguous: bool, hits: int
) -> None:
    server.route("/drop", drop)
    http = transport(sessions, server.url, retry_ambiguous=retry_ambiguous)
    with pytest.raises(TransportError) as info:
        http.request("POST", "/drop", json={"n": 1})
    assert info.value.ambiguous
    assert server.hits["/drop"] == hits
    assert info.value.attempts == hits


def test_dropped_then_answered_is_retried_with_the_same_bytes(server: LocalServer, sessions: SessionManager) -> None:
    answers = iter([drop, ok({"jobId": "7"})])
    server.route("/flaky", lambda h, body: next(answers)(h, body))
    resp = transport(sessions, server.url).request("POST", "/flaky", json={"id": "urn:uuid:1"})
    assert resp.body == {"jobId": "7"}
    assert resp.attempts == 2
    first, second = server.bodies["/flaky"]
    assert first == second
    ids = [h["X-Request-ID"] for h in server.headers["/flaky"]]
    assert ids == [resp.request_id] * 2


@pytest.mark.parametrize("retry_ambiguous", [True, False])
def test_connect_refused_is_not_ambiguous_and_retried(sessions: SessionManager, retry_ambiguous: bool) -> None:
    http = transport(sessions, f"http://127.0.0.1:{closed_port()}", retry_ambiguous=retry_ambiguous)
    with pytest.raises(TransportError) as info:
        http.request("POST", "/caliper/event", json={})
    assert not info.value.ambiguous
    assert info.value.attempts == 3
    assert "could not connect" in str(info.value)


def test_deadline_bounds_the_whole_call(server: LocalServer, sessions: SessionManager) -> None:
    server.route("/slow", slow(5))
    http = make_transport(sessions, policy(max_attempts=10, deadline=0.5), base_url=server.url, timeout=(1, 3))
    started = time.monotonic()
    with pytest.raises(TransportError):
        http.request("GET", "/slow")
    assert time.monotonic() - started < 1.5  # not 10 x 3 s: each read timeout is cut to what is left


def test_many_threads_share_one_transport(server: LocalServer, sessions: SessionManager) -> None:
    server.route("/oauth2/token", token_endpoint())
    server.route("/caliper/event", lambda h, body: ok({"echo": json.loads(body)["n"]})(h, body))
    http = authed(sessions, server)
    errors: list[BaseException] = []
    seen: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        try:
            for i in range(50):
                n = k * 1000 + i
                got = http.request("POST", "/caliper/event", json={"n": n}).body["echo"]
                with lock:
                    seen.append(got)
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    assert errors == []
    assert sorted(seen) == sorted(k * 1000 + i for k in range(8) for i in range(50))
    assert server.hits["/oauth2/token"] == 1
    assert server.hits["/caliper/event"] == 400


def test_single_flight_token_fetch_over_sockets(server: LocalServer, sessions: SessionManager) -> None:
    server.route("/oauth2/token", token_endpoint(delay=0.1))
    server.route("/x", ok())
    http = authed(sessions, server)
    barrier = threading.Barrier(10)
    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(http.request("GET", "/x").status_code)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == [200] * 10
    assert server.hits["/oauth2/token"] == 1
    assert {h["Authorization"] for h in server.headers["/x"]} == {"Bearer tok-1"}


def authed(sessions: SessionManager, server: LocalServer) -> HttpTransport:
    retry = policy()
    config = OAuthConfig(f"{server.url}/oauth2/token", "client", "secret")
    token_http = make_transport(sessions, retry, base_url=config.token_url, timeout=(1, 2))
    auth = ClientCredentialsAuth(config, TokenCache(), token_http)
    return make_transport(sessions, retry, base_url=server.url, auth=auth, timeout=(1, 2))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() in a process with threads (3.12+)
def test_forked_child_gets_its_own_session_and_connection(server: LocalServer, sessions: SessionManager) -> None:
    server.route("/x", ok({"from": "server"}))
    http = transport(sessions, server.url)
    assert http.request("GET", "/x").body == {"from": "server"}
    parent_session = sessions.session  # held, so the child cannot get a new Session at the same id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 1
        try:
            body = http.request("GET", "/x").body
            report = {"same_session": sessions.session is parent_session, "body": body}
            os.write(write, json.dumps(report).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = json.loads(pipe.read() or "{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child["body"] == {"from": "server"}
    assert child["same_session"] is False
    parent_port, child_port = server.ports["/x"]
    assert parent_port != child_port  # the child opened its own connection
    assert http.request("GET", "/x").body == {"from": "server"}  # the parent's pool is intact
    assert server.ports["/x"][2] == parent_port
    assert sessions.session is parent_session
