"""Shared helpers for the HTTP and auth tests: a fake clock, a strict responses mock, a tiny real HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import responses
from responses.registries import OrderedRegistry

from timeback_caliper._http import Auth, HttpTransport, RetryPolicy, SessionManager

BASE = "https://api.example.test"
TOKEN_URL = "https://auth.example.test/oauth2/token"
UA = "timeback-caliper-python/0.0.test python/3.x requests/x"


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps (or a test advances it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_policy(clock: FakeClock, **overrides: Any) -> RetryPolicy:
    """A zero-delay policy on a fake clock: no test ever sleeps for real."""
    kwargs: dict[str, Any] = {"base_delay": 0, "sleep": clock.sleep, "clock": clock.clock, "random": lambda: 1.0}
    kwargs.update(overrides)
    return RetryPolicy(**kwargs)


@contextmanager
def strict_responses() -> Iterator[responses.RequestsMock]:
    """Stubs answer in the order they were added; an unmatched or unused stub fails the test."""
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as rsps:
        yield rsps


def make_transport(
    sessions: SessionManager,
    policy: RetryPolicy,
    *,
    base_url: str = BASE,
    auth: Auth | None = None,
    timeout: float | tuple[float, float] = (5, 15),
) -> HttpTransport:
    return HttpTransport(sessions, base_url, auth=auth, timeout=timeout, retry=policy, user_agent=UA)


class FakeAuth:
    """Hands out tokens from a list and records invalidations and deadlines."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.current = self.tokens.pop(0)
        self.invalidated: list[str] = []
        self.deadlines: list[float] = []

    def get_token(self, deadline_at: float) -> str:
        self.deadlines.append(deadline_at)
        return self.current

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        if token == self.current and self.tokens:
            self.current = self.tokens.pop(0)


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Handler = Callable[["_Handler", bytes], None]


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1:<free port>, with per-path handlers and hit counters.

    It stops itself after ``max_seconds`` even if a test forgets to, and slow handlers wake up on stop.
    """

    def __init__(self, max_seconds: float = 60.0) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.ports: defaultdict[str, list[int]] = defaultdict(list)
        self.bodies: defaultdict[str, list[bytes]] = defaultdict(list)
        self.headers: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Bound(_Handler):
            owner = server

        self.httpd = _Server(("127.0.0.1", 0), Bound)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._watchdog = threading.Timer(max_seconds, self.stop)
        self._watchdog.daemon = True

    def start(self) -> LocalServer:
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._watchdog.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def record(self, path: str, port: int, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            self.hits[path] += 1
            self.ports[path].append(port)
            self.bodies[path].append(body)
            self.headers[path].append(headers)

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default backlog of 5 drops SYNs when 10 threads connect at once (1 s retry)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid delayed-ACK stalls
    owner: LocalServer

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        self.owner.record(path, self.client_address[1], body, dict(self.headers.items()))
        handler = self.owner.routes.get(path)
        if handler is None:
            reply(self, 404, {"status": "error", "message": f"no route {path}", "errors": None})
        else:
            handler(self, body)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


def reply(
    handler: BaseHTTPRequestHandler, status: int, body: Any = None, headers: dict[str, str] | None = None
) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except OSError:  # the client gave up (timeout test): nothing to answer
        handler.close_connection = True


def ok(body: Any = None) -> Handler:
    return lambda h, _: reply(h, 200, {"ok": True} if body is None else body)


def slow(seconds: float, body: Any = None) -> Handler:
    def handle(h: _Handler, _: bytes) -> None:
        h.owner.stopping.wait(seconds)  # bounded, and cut short when the server stops
        reply(h, 200, {"late": True} if body is None else body)

    return handle


def drop(h: _Handler, _: bytes) -> None:
    """Read the request, then close the connection without a word: the client cannot know if it was processed."""
    h.close_connection = True


def token_endpoint(delay: float = 0.0, expires_in: int = 3600) -> Handler:
    counter = iter(range(1, 1_000_000))

    def handle(h: _Handler, _: bytes) -> None:
        if delay:
            time.sleep(delay)  # short: lets every thread pile up behind the single fetch
        reply(h, 200, {"access_token": f"tok-{next(counter)}", "token_type": "Bearer", "expires_in": expires_in})

    return handle


@contextmanager
def local_server(max_seconds: float = 60.0) -> Iterator[LocalServer]:
    server = LocalServer(max_seconds).start()
    try:
        yield server
    finally:
        server.stop()
