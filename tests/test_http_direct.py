"""The direct urllib3 route of SessionManager.send answers and fails exactly as HTTPAdapter.send does.

Each scenario runs three ways against the same raw-socket server: through ``adapter.send`` (requests), through
``pool.urlopen`` (the route for new connections) and through the keep-alive shortcut (``_reuse``, http.client on a
pooled connection). The first request of each run succeeds, so the scenario's behaviour hits a reused connection.
"""

from __future__ import annotations

import gzip
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from timeback_caliper import _http
from timeback_caliper._http import SessionManager, classify

pytestmark = pytest.mark.timeout(60)

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
Behaviour = Callable[[socket.socket], None]


def _read_request(c: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"Content-Length: 2" in head:
        while len(rest) < 2:
            chunk = c.recv(65536)
            if not chunk:
                break
            rest += chunk
    return data


def _serve(behaviour: Behaviour) -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def handle(c: socket.socket) -> None:
        with c:
            if _read_request(c):
                c.sendall(OK)  # the first request of a connection always succeeds (it stays in the pool)
                behaviour(c)

    def accept() -> None:
        while True:
            try:
                c, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/x"
    finally:
        listener.close()


def _answer_forever(reply: bytes) -> Behaviour:
    def behaviour(c: socket.socket) -> None:
        while _read_request(c):
            c.sendall(reply)

    return behaviour


def _then(reply: bytes, *, pause: float = 0.0, close: bool = True) -> Behaviour:
    def behaviour(c: socket.socket) -> None:
        if _read_request(c):
            if reply:
                c.sendall(reply)
            time.sleep(pause)
            if not close:
                _answer_forever(OK)(c)

    return behaviour


GZIPPED = gzip.compress(b'{"jobId":"1"}')
SCENARIOS: dict[str, Behaviour] = {
    "keep-alive": _answer_forever(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=latin-1\r\nX-A: 1\r\nX-A: 2\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    ),
    "closed-without-answer": _then(b""),
    "read-timeout": _then(b"", pause=0.6),
    "partial-body": _then(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a":'),
    "slow-body": _then(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab", pause=0.6),
    "bad-chunk": _then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n"),
    "chunked": _then(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", close=False),
    "gzip": _then(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZIPPED) + GZIPPED,
        close=False,
    ),
    "bad-gzip": _then(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde", pause=0.2),
    "not-http": _then(b"NOT HTTP\r\n\r\n"),
    "connection-close": _then(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"),
    "read-to-close": _then(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"),
    "two-lengths": _then(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"),
    "error-status": _then(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", close=False),
    "no-content": _then(b"HTTP/1.1 204 No Content\r\n\r\n", close=False),
    "continue-first": _then(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", close=False
    ),
}


def _run(mode: str, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    with monkeypatch.context() as m:
        if mode == "adapter":
            m.setattr(_http, "_adapter_is_plain", lambda adapter: False)
        elif mode == "urlopen":
            m.setattr(_http, "_reuse", lambda *args: None)
        sessions = SessionManager()
        headers = {"Content-Type": "application/json", "Content-Length": "2"}

        def send() -> Any:
            return sessions.send("POST", url, headers, b"{}", timeout=(0.5, 0.3), origin=url)

        try:
            send()
            replies = []
            for _ in range(2):
                r = send()
                replies += [r.status_code, r.reason, r.content, r.encoding, r.headers.get("x-a")]
            return ("ok", *map(str, replies))
        except requests.RequestException as exc:
            return (type(exc).__name__, classify(exc), re.sub(r"port=\d+|0x[0-9a-f]+", "?", str(exc)))
        finally:
            sessions.close()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_three_routes_agree(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    results = {}
    for mode in ("adapter", "urlopen", "reuse"):
        for url in _serve(SCENARIOS[scenario]):
            results[mode] = _run(mode, url, monkeypatch)
    assert results["reuse"] == results["adapter"]
    assert results["urlopen"] == results["adapter"]


def test_keep_alive_requests_take_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[bool] = []
    reuse = _http._reuse

    def spy(*args: Any) -> Any:
        reply = reuse(*args)
        taken.append(reply is not None)
        return reply

    monkeypatch.setattr(_http, "_reuse", spy)
    for url in _serve(_answer_forever(OK)):
        result = _run("reuse", url, monkeypatch)
    assert result[0] == "ok"
    assert taken == [False, True, True]  # the first request opens the connection; the next two reuse it


def test_a_mocked_adapter_is_honoured() -> None:
    responses = pytest.importorskip("responses")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, "https://api.test/x", json={"jobId": "1"})
        sessions = SessionManager()
        reply = sessions.send("POST", "https://api.test/x", {}, b"{}", timeout=(1, 1), origin="https://api.test")
        assert reply.status_code == 200 and reply.content == b'{"jobId": "1"}'
        sessions.close()
