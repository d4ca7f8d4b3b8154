"""The emulator's HTTP/1.1 server: keep-alive, one daemon thread per connection, faults, auth checks, dispatch."""

from __future__ import annotations

import logging
import socket
import threading
import time
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from .._version import __version__
from . import gradebook, routes_admin, routes_auth, routes_caliper, routes_platform, routes_webhooks
from .backend import Backend, RecordedRequest
from .faults import Fault
from .routing import (
    ADMIN,
    CALIPER,
    PLATFORM,
    TOKEN,
    HttpError,
    Reply,
    Request,
    Route,
    Router,
    error_reply,
    family_of,
    normalize_path,
)

__all__ = ["EmulatorServer"]

logger = logging.getLogger(__name__)

ROUTER = Router(
    [
        *routes_auth.ROUTES,
        *routes_caliper.ROUTES,
        *routes_webhooks.ROUTES,
        *routes_platform.ROUTES,
        *gradebook.ROUTES,
        *routes_admin.ROUTES,
    ]
)
_DRAIN_LIMIT = 64 * 1024 * 1024  # a larger body is not read at all: the connection is closed after the 413
_STATUS_TEXT = {
    408: "Request Timeout",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _BodyError(Exception):
    def __init__(self, status: int, message: str, *, drained: bool) -> None:
        super().__init__(message)
        self.status, self.message, self.drained = status, message, drained


class _Action:
    """What to do once the request was handled: send ``reply`` (after ``delay``, trickled), or hang up (None)."""

    __slots__ = ("delay", "reply", "trickle")

    def __init__(self, reply: Reply | None, *, delay: float = 0.0, trickle: float = 0.0) -> None:
        self.reply, self.delay, self.trickle = reply, delay, trickle


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's delayed ACK
    # (~40 ms on loopback), which made every emulated answer slow.
    disable_nagle_algorithm = True
    server_version = f"timeback-caliper-emulator/{__version__}"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is dropped after this many seconds
    server: EmulatorServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def version_string(self) -> str:
        """The ``Server`` header."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        logger.debug("%s - " + format, self.address_string(), *args)

    # ------------------------------------------------------------------------------------------ reading
    def _read_body(self, limit: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
            if length < 0:
                raise ValueError(raw)
        except ValueError:
            raise _BodyError(400, "invalid Content-Length", drained=False) from None
        if length > limit:
            drained = length <= _DRAIN_LIMIT
            if drained:
                self._discard(length)
            raise _BodyError(413, f"Payload too large: {length} bytes, the limit is {limit}", drained=drained)
        return self.rfile.read(length)

    def _discard(self, length: int) -> None:
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "malformed chunked body", drained=False) from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            total += size
            if total > limit:
                raise _BodyError(413, f"Payload too large: more than {limit} bytes", drained=False)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)
        return b"".join(parts)

    # ------------------------------------------------------------------------------------------ handling
    def _handle(self) -> None:
        app = self.server.backend
        seq = app.next_seq()
        raw_path, _, query_string = self.path.partition("?")
        path = normalize_path(raw_path)
        route, params, known = ROUTER.match(self.command, path)
        family = route.family if route is not None else family_of(path)
        req = Request(
            method=self.command,
            path=path,
            query=parse_qs(query_string, keep_blank_values=True),
            headers=self.headers,
            body=b"",
            params=params,
        )
        fault: Fault | None = None
        try:
            req.body = self._read_body(app.config.max_body_bytes)
        except _BodyError as exc:
            self.close_connection = self.close_connection or not exc.drained
            action = _Action(error_reply(family, exc.status, exc.message))
        else:
            if family != ADMIN:
                fault = app.faults.take(self.command, path, token_route=family == TOKEN)
            if fault is None:
                action = _Action(self._dispatch(app, route, known, req, family))
            else:
                action = self._faulted(app, fault, route, known, req, family)
        if family != ADMIN:  # recorded before any byte of the answer leaves: a test that got it sees the entry
            app.record(
                RecordedRequest(
                    seq=seq,
                    method=self.command,
                    path=raw_path,
                    query=req.query,
                    headers=dict(self.headers.items()),
                    body=req.body,
                    client_id=req.client_id,
                    status=action.reply.status if action.reply is not None else None,
                    fault=fault.label if fault is not None else None,
                )
            )
        if action.reply is None:
            self._hang_up()
            return
        if action.delay:
            self.server.pause(action.delay)
        self._send(action.reply, trickle=action.trickle)

    def _faulted(
        self, app: Backend, fault: Fault, route: Route | None, known: bool, req: Request, family: str
    ) -> _Action:
        logger.info("injecting fault %s into %s %s", fault.label, self.command, req.path)
        if fault.kind in ("status", "drop", "expire-token", "close") and fault.seconds:
            self.server.pause(fault.seconds)
        if fault.kind == "drop":
            return _Action(None)
        if fault.kind == "status":
            code = fault.status or 500  # never None: a status fault checks it when built
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            text = _STATUS_TEXT.get(code, "Injected fault")
            if fault.body is not None:
                return _Action(Reply(status=code, body=fault.body, headers=headers))
            return _Action(error_reply(family, code, f"{text} (injected by the emulator)", headers=headers))
        if fault.kind == "expire-token":
            token = _bearer(self.headers)
            if token:
                app.expire_tokens(token)
        req.ambiguous = fault.ambiguous
        reply = self._dispatch(app, route, known, req, family)
        if fault.kind == "close":
            return _Action(None)
        if fault.kind == "delay":
            return _Action(reply, delay=fault.seconds)
        return _Action(reply, trickle=fault.seconds if fault.kind == "trickle" else 0.0)

    def _dispatch(self, app: Backend, route: Route | None, known: bool, req: Request, family: str) -> Reply:
        if route is None:
            if known:
                return error_reply(family, 405, f"Method {self.command} not allowed on {req.path}")
            return error_reply(family, 404, f"Not found: {self.command} {req.path}")
        try:
            if route.family in (CALIPER, PLATFORM):
                refused = _authorize(app, route, req)
                if refused is not None:
                    return refused
            return route.handler(app, req)
        except HttpError as exc:
            return exc.reply
        except Exception:  # noqa: BLE001 - a bug in a route is a 500, never a dead connection
            logger.exception("unhandled error in %s %s", self.command, req.path)
            return error_reply(family, 500, "Internal server error")

    # ------------------------------------------------------------------------------------------ writing
    def _send(self, reply: Reply, *, trickle: float = 0.0) -> None:
        body, ctype = reply.encode()
        try:
            self.send_response(reply.status)
            if ctype is not None:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if trickle > 0 and body:
                pieces = min(len(body), 10)
                step = -(-len(body) // pieces)
                for start in range(0, len(body), step):
                    if start and self.server.pause(trickle / pieces):
                        break
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
            else:
                self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client went away: nothing more to do

    def _hang_up(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _bearer(headers: Message) -> str | None:
    value = headers.get("Authorization") or ""
    if value[:7].lower() != "bearer ":
        return None
    return value[7:].strip() or None


def _authorize(app: Backend, route: Route, req: Request) -> Reply | None:
    """None when the bearer token is valid for the route's family and scopes; else the 401 or 403."""
    token = _bearer(req.headers)
    row, expired = app.check_token(token) if token else (None, False)
    if row is None or row.issuer != route.family:
        if token is None:
            message, challenge = "Missing bearer token", "Bearer"
        elif expired:
            message, challenge = "The access token expired", 'Bearer error="invalid_token"'
        else:
            message, challenge = "Invalid access token", 'Bearer error="invalid_token"'
        return error_reply(route.family, 401, message, headers={"WWW-Authenticate": challenge})
    req.client_id, req.scopes = row.client_id, row.scopes
    if route.scopes and not (row.scopes & route.scopes):
        needed = " or ".join(sorted(route.scopes))
        return error_reply(
            route.family,
            403,
            f"Forbidden: the token lacks the scope {needed}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
        )
    return None


class EmulatorServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer whose connection threads are tracked, so :meth:`close` can end them all."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: Backend) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.backend = backend
        self.stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server stops first (then True)."""
        return self.stopping.wait(seconds)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection on its own daemon thread, remembering it until it ends."""
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="caliper-emulator-conn", daemon=True
        )
        with self._conn_lock:
            self._conns[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - a broken connection must not take the server down
            logger.debug("connection from %s ended with an error", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of printing a traceback to stderr (resets are routine under fault injection)."""
        logger.debug("error while serving %s", client_address, exc_info=True)

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down and wait (bounded) for their threads to end."""
        with self._conn_lock:
            conns = list(self._conns.items())
        for _, sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread, _ in conns:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = sum(t.is_alive() for t, _ in conns)
        if alive:
            logger.warning("%d connection threads still running after %.1fs", alive, timeout)
