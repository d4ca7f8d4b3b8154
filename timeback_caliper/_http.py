"""The HTTP layer: one Session per process, finite timeouts, the single retry loop, 401 replay, status -> error."""

from __future__ import annotations

import email.utils
import errno
import http.client
import ipaddress
import json as _json
import logging
import math
import os
import random as _random
import socket
import ssl
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import timezone
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import attrs
import backoff
import requests
import urllib3.exceptions as u3
import urllib3.util as u3_util
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, select_proxy
from urllib3._collections import HTTPHeaderDict
from urllib3.response import HTTPResponse
from urllib3.util.response import assert_header_parsing

from .errors import ApiError, TransportError, error_for_status

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_encode_json = _json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _seconds(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)) or (attribute.name == "deadline" and value == 0):
        raise ValueError(f"{attribute.name} must be a finite number of seconds >= 0 (deadline > 0), got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How often, how long and how patiently one HTTP request is retried.

    The clock, sleep and random source are injectable so tests never sleep.
    """

    max_attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    """Attempts per HTTP request, the first one included (a 401 replay is not counted)."""
    deadline: float = attrs.field(default=60.0, validator=_seconds)
    """Seconds per HTTP request, covering every attempt, sleep and the token fetch it needed."""
    retry_ambiguous: bool = True
    """Retry read timeouts and resets after sending (the server may have processed the request)."""
    base_delay: float = attrs.field(default=0.5, validator=_seconds)
    """First backoff step in seconds, before jitter."""
    max_delay: float = attrs.field(default=30.0, validator=_seconds)
    """Largest backoff step in seconds, before jitter."""
    retry_after_cap: float = attrs.field(default=60.0, validator=_seconds)
    """Longest server-requested ``Retry-After`` wait honoured, in seconds."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    """Monotonic clock measuring the deadline."""
    random: Callable[[], float] = _random.random
    """Source of full jitter, in [0, 1)."""


class Auth(Protocol):
    """What the retry loop needs from an authenticator (see ``auth.ClientCredentialsAuth``)."""

    def get_token(self, deadline_at: float) -> str:
        """Return a bearer token, fetching one if needed before ``deadline_at`` (on the retry policy's clock)."""
        ...

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the server refused it), unless a newer one already replaced it."""
        ...


@attrs.frozen
class HttpResponse:
    """A successful (2xx) answer, reduced to plain values."""

    status_code: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    """Response headers; lookups ignore case."""
    body: Any = attrs.field(repr=False)  # repr=False: a token response body holds a secret
    """Parsed JSON when the reply is JSON and parses, else the text; ``None`` when empty."""
    text: str = attrs.field(repr=False)
    request_id: str
    """The ``X-Request-ID`` sent, the same on every attempt."""
    attempts: int
    """HTTP requests sent for this call, retries and a 401 replay included."""


def default_user_agent(version: str) -> str:
    """Return ``timeback-caliper-python/<version> python/<x.y> requests/<version>``."""
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"timeback-caliper-python/{version} python/{py} requests/{requests.__version__}"


def check_url(url: str, *, allow_insecure_http: bool = False, what: str = "base_url") -> str:
    """Check that ``url`` is an absolute https URL and return it without trailing slashes.

    Args:
        url: The URL to check.
        allow_insecure_http: Accept ``http://`` on any host, not only loopback (127.0.0.0/8, ::1, localhost).
        what: The setting's name, for the error message.

    Raises:
        ValueError: Malformed, with credentials, another scheme, or http:// where TLS is required.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{what} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"{what} must be an absolute https:// URL, got {url!r}")
    if parts.username is not None or parts.password is not None:  # never echo the URL: it holds credentials
        raise ValueError(f"{what} must not contain credentials (user:password@); pass them separately")
    if scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        raise ValueError(
            f"{what} {url!r} uses plain http://: TLS is required except for loopback hosts "
            "(pass allow_insecure_http=True to override, e.g. for an emulator in another container)"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date); ``None`` if absent or unreadable.

    An HTTP-date is measured against real wall time (``now``), never 0 or less.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now()
    return max(0.0, seconds) if math.isfinite(seconds) else None


# --- Sessions, threads and fork ------------------------------------------------------------------
# One requests.Session per client per process, shared by every thread: urllib3's pool is thread-safe,
# and we never touch the Session's mutable settings after building it. A forked child must not reuse
# the parent's pooled sockets (both processes would read each other's replies) nor its locks (one may
# have been held by a thread that does not exist in the child), so per-process state is rebuilt when
# os.getpid() changes. The module lock below only serialises that rebuild; a fork hook replaces it in
# the child for the same reason.

_fork_lock = threading.Lock()
_fork_hooked = False


def _new_fork_lock() -> None:
    global _fork_lock
    _fork_lock = threading.Lock()


class PerProcess(Generic[T]):
    """A value private to one process: a forked child gets a fresh one from ``factory``, never the parent's."""

    __slots__ = ("_factory", "_pid", "_value")

    def __init__(self, factory: Callable[[], T]) -> None:
        global _fork_hooked
        if not _fork_hooked and hasattr(os, "register_at_fork"):  # lazily: importing the package does nothing
            _fork_hooked = True
            os.register_at_fork(after_in_child=_new_fork_lock)
        self._factory = factory
        self._value = factory()
        self._pid = os.getpid()

    def get(self) -> T:
        """Return this process's value."""
        if self._pid == os.getpid():
            return self._value
        with _fork_lock:
            pid = os.getpid()
            if self._pid != pid:
                self._value = self._factory()  # value before pid: a racing reader that sees the pid sees the value
                self._pid = pid
        return self._value


@attrs.define
class _SessionState:
    session: requests.Session | None
    lock: threading.Lock = attrs.Factory(threading.Lock)
    settings: dict[str, tuple[BaseAdapter, dict[str, Any]]] = attrs.Factory(dict)  # origin -> adapter, kwargs
    routes: dict[str, _Route | None] = attrs.Factory(dict)  # origin -> the direct urllib3 route, None: not eligible
    base_headers: dict[str, Any] | None = None  # our own Session's default headers, as a plain dict


# --- The direct route ----------------------------------------------------------------------------
# HTTPAdapter.send spends more CPU than the request itself on loopback: it re-derives the urllib3 pool and its TLS
# settings from the URL, wraps everything in PreparedRequest/Response objects and copies headers twice. When the
# adapter for a host is exactly requests' HTTPAdapter (not a subclass, not patched by a mock library such as
# `responses`) and no proxy applies, we resolve its pool once (through the adapter's own methods, so the pool and
# TLS settings are the ones it would use) and call urllib3 with the arguments HTTPAdapter.send passes, mapping
# urllib3's exceptions to the same requests exceptions it raises. Anything else takes adapter.send.

_ADAPTER_SEND = HTTPAdapter.send
_ADAPTER_SEND_MODULE = getattr(_ADAPTER_SEND, "__module__", None)


def _adapter_is_plain(adapter: BaseAdapter) -> bool:
    return (
        type(adapter) is HTTPAdapter
        and HTTPAdapter.send is _ADAPTER_SEND
        and _ADAPTER_SEND_MODULE == "requests.adapters"  # captured before any mock library could patch it
    )


class _Route:
    """One host's urllib3 pool, resolved once per process the way HTTPAdapter.send resolves it per request."""

    __slots__ = ("adapter", "cert", "origin", "pool", "proxies", "verify")

    def __init__(self, adapter: HTTPAdapter, origin: str, settings: dict[str, Any]) -> None:
        self.adapter, self.origin = adapter, origin
        self.verify, self.cert, self.proxies = (
            settings.get("verify", True),
            settings.get("cert"),
            settings.get("proxies"),
        )
        self.pool: Any = None
        self.resolve()

    def resolve(self) -> Any:
        request = PreparedRequest()
        request.url = self.origin
        pool = self.adapter.get_connection_with_tls_context(request, self.verify, proxies=self.proxies, cert=self.cert)
        self.adapter.cert_verify(pool, self.origin, self.verify, self.cert)  # type: ignore[no-untyped-call]
        self.pool = pool
        return pool


class _Reply:
    """What HttpTransport reads from an answer (a requests.Response's fields), filled straight from urllib3."""

    __slots__ = ("_encoding", "content", "headers", "reason", "status_code")

    def __init__(self, status_code: int, reason: str | None, headers: Any, content: bytes) -> None:
        self.status_code, self.reason, self.headers, self.content = status_code, reason, headers, content
        self._encoding: Any = _UNSET

    @property
    def encoding(self) -> str | None:
        """As requests.Response.encoding: from the Content-Type header."""
        if self._encoding is _UNSET:
            kind = self.headers.get("Content-Type")
            self._encoding = "utf-8" if kind == "application/json" else get_encoding_from_headers(self.headers)
        return typing.cast("str | None", self._encoding)


_UNSET = object()
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _request_id() -> str:
    """A uuid4 in hex (what ``uuid.uuid4().hex`` gives), for the X-Request-ID, at a third of the cost."""
    h = os.urandom(16).hex()
    return f"{h[:12]}4{h[13:16]}{_VARIANT[h[16]]}{h[17:]}"


_CHUNK = 10 * 1024  # requests.models.CONTENT_CHUNK_SIZE
_TIMEOUTS: dict[tuple[float, float], u3_util.Timeout] = {}
_PATHS: dict[str, str] = {}


def _path_url(url: str) -> str:
    # PreparedRequest.path_url, cached: the request target sent on the wire.
    path = _PATHS.get(url)
    if path is None:
        parts = urlsplit(url)
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        if len(_PATHS) >= 512:
            _PATHS.clear()
        _PATHS[url] = path
    return path


_NAMES: dict[tuple[str, ...], bool | None] = {}


def _header_names(names: tuple[str, ...]) -> bool | None:
    """For a set of header names: None if two differ only in case, else whether Content-Length is among them."""
    try:
        return _NAMES[names]
    except KeyError:
        pass
    lower = [n.lower() for n in names]
    found = None if len(set(lower)) != len(lower) else "content-length" in lower
    if len(_NAMES) >= 256:
        _NAMES.clear()
    _NAMES[names] = found
    return found


def _urlopen(
    route: _Route,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
    has_length: bool,
) -> _Reply:
    """HTTPAdapter.send + Response.content over the route's pool, raising what those raise."""
    pool = route.pool
    if pool.pool is None:  # closed: evicted by the PoolManager (more hosts than pool_connections), or the session
        pool = route.resolve()
    retries = route.adapter.max_retries
    path = _path_url(url)
    try:
        if retries.total == 0 and (body is None or (type(body) is bytes and has_length)):
            reply = _reuse(pool, retries, method, path, headers, body, timeout)
            if reply is not None:
                return reply
        return _open(pool, retries, method, path, headers, body, timeout, has_length)
    except requests.RequestException:
        raise  # already mapped (reading the body): requests' exceptions are OSErrors too
    # HTTPAdapter.send's mapping of urllib3's exceptions, clause for clause.
    except (u3.ProtocolError, OSError) as e:
        raise requests.ConnectionError(e) from e
    except u3.MaxRetryError as e:
        if isinstance(e.reason, u3.ConnectTimeoutError) and not isinstance(e.reason, u3.NewConnectionError):
            raise requests.ConnectTimeout(e) from e
        if isinstance(e.reason, u3.ResponseError):
            raise requests.exceptions.RetryError(e) from e
        if isinstance(e.reason, u3.ProxyError):
            raise requests.exceptions.ProxyError(e) from e
        if isinstance(e.reason, u3.SSLError):
            raise requests.exceptions.SSLError(e) from e
        raise requests.ConnectionError(e) from e
    except u3.ClosedPoolError as e:
        raise requests.ConnectionError(e) from e
    except u3.ProxyError as e:
        raise requests.exceptions.ProxyError(e) from e
    except u3.SSLError as e:
        raise requests.exceptions.SSLError(e) from e
    except u3.ReadTimeoutError as e:
        raise requests.ReadTimeout(e) from e
    except u3.InvalidHeader as e:
        raise requests.exceptions.InvalidHeader(e) from e


def _open(
    pool: Any,
    retries: Any,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
    has_length: bool,
) -> _Reply:
    # The full urllib3 path: new connections (connect errors, TLS handshakes) and anything unusual.
    u3_timeout = _TIMEOUTS.get(timeout)
    if u3_timeout is None:
        if len(_TIMEOUTS) >= 64:
            _TIMEOUTS.clear()
        u3_timeout = _TIMEOUTS[timeout] = u3_util.Timeout(connect=timeout[0], read=timeout[1])
    resp = pool.urlopen(
        method=method,
        url=path,
        body=body,
        headers=headers,
        redirect=False,
        assert_same_host=False,
        preload_content=False,
        decode_content=False,
        retries=retries,
        timeout=u3_timeout,
        chunked=body is not None and not has_length,
    )
    return _Reply(resp.status, resp.reason, resp.headers, _content(resp))


def _content(resp: Any) -> bytes:
    """Response.content: the body read the way requests reads it, with its error mapping."""
    try:
        return b"".join(resp.stream(_CHUNK, decode_content=True)) or b""
    except u3.ProtocolError as e:
        raise requests.exceptions.ChunkedEncodingError(e) from e
    except u3.DecodeError as e:
        raise requests.exceptions.ContentDecodingError(e) from e
    except u3.ReadTimeoutError as e:
        raise requests.ConnectionError(e) from e
    except u3.SSLError as e:
        raise requests.exceptions.SSLError(e) from e


# A request on a pooled keep-alive connection, written and read with http.client's own methods (the ones urllib3's
# connection extends), so none of urlopen's bookkeeping runs: what urllib3 does for a reused connection, step by
# step (HTTPConnectionPool.urlopen/_make_request, HTTPConnection.request/getresponse, HTTPResponse._error_catcher),
# raising the same urllib3 exceptions. A connection that is new or was dropped goes back to the pool and the request
# takes urlopen, which connects it.
_BASE_REQUEST = http.client.HTTPConnection.request
_BASE_GETRESPONSE = http.client.HTTPConnection.getresponse
_CONNECTION_ERRORS = (
    u3.TimeoutError,
    http.client.HTTPException,
    OSError,
    u3.ProtocolError,
    ssl.SSLError,
    u3.SSLError,
    ssl.CertificateError,
    u3.ProxyError,
)
_BLOCKING_ERRNOS = {errno.EAGAIN, errno.EWOULDBLOCK}
_u3_log = logging.getLogger("urllib3.connectionpool")


def _reuse(
    pool: Any,
    retries: Any,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: tuple[float, float],
) -> _Reply | None:
    conn = pool._get_conn()
    if conn.sock is None:
        pool._put_conn(conn)
        return None
    connect_timeout, read_timeout = timeout
    pool.num_requests += 1
    try:
        conn.timeout = connect_timeout
        try:
            conn.sock.settimeout(connect_timeout)
            _BASE_REQUEST(conn, method, path, body, headers)
        except BrokenPipeError:
            pass  # the server may have answered before closing: read the answer
        except OSError as e:
            if e.errno != errno.EPROTOTYPE and e.errno != errno.ECONNRESET:
                raise
        if not conn.is_closed:
            conn.timeout = read_timeout
        try:
            conn.sock.settimeout(conn.timeout)
            response = _BASE_GETRESPONSE(conn)
        except (ssl.SSLError, OSError) as e:
            if isinstance(e, socket.timeout) or getattr(e, "errno", None) in _BLOCKING_ERRNOS:
                raise u3.ReadTimeoutError(pool, path, f"Read timed out. (read timeout={read_timeout})") from e
            raise
    except _CONNECTION_ERRORS as e:
        conn.close()
        pool._put_conn(None)
        error: Exception = u3.SSLError(e) if isinstance(e, (ssl.SSLError, ssl.CertificateError)) else e
        if isinstance(error, (OSError, http.client.HTTPException)):
            error = u3.ProtocolError("Connection aborted.", error)
        retries.increment(method, path, error=error, _pool=pool, _stacktrace=sys.exc_info()[2])
        raise error from e  # not reached: a policy with no retries left raises above
    except BaseException:
        conn.close()
        pool._put_conn(None)
        raise
    try:
        assert_header_parsing(response.msg)
    except (u3.HeaderParsingError, TypeError) as hpe:
        _u3_log.warning(
            "Failed to parse headers (url=%s): %s", pool.scheme + "://" + pool.host + path, hpe, exc_info=True
        )
    headers_out = HTTPHeaderDict(response.msg.items())
    if _u3_log.isEnabledFor(logging.DEBUG):
        _u3_log.debug(
            '%s://%s:%s "%s %s %s" %s %s',
            *(pool.scheme, pool.host, pool.port, method, path),
            *(getattr(conn, "_http_vsn_str", "HTTP/?"), response.status, response.length),
        )
    length = headers_out.get("content-length")
    if response.chunked or response.length is None or "," in (length or ",") or "content-encoding" in headers_out:
        # Chunked, encoded or oddly framed: urllib3's own response object reads it (and judges the framing).
        try:
            wrapped = HTTPResponse(
                body=response,
                headers=headers_out,
                status=response.status,
                version=response.version,
                version_string=getattr(conn, "_http_vsn_str", "HTTP/?"),
                reason=response.reason,
                preload_content=False,
                decode_content=False,
                original_response=response,
                enforce_content_length=True,
                request_method=method,
                request_url=path,
                retries=retries,
                connection=conn,
                pool=pool,
            )
        except BaseException:
            conn.close()
            pool._put_conn(None)
            raise
        return _Reply(wrapped.status, wrapped.reason, wrapped.headers, _content(wrapped))
    clean = False
    try:
        content = response.read()
        clean = True
    except TimeoutError as e:
        raise requests.ConnectionError(u3.ReadTimeoutError(pool, None, "Read timed out.")) from e
    except ssl.SSLError as e:
        raise requests.exceptions.SSLError(u3.SSLError(e)) from e
    except (http.client.HTTPException, OSError) as e:
        raise requests.exceptions.ChunkedEncodingError(u3.ProtocolError(f"Connection broken: {e!r}", e)) from e
    finally:
        if not clean:
            response.close()
            conn.close()
        if response.isclosed():
            pool._put_conn(conn)
    return _Reply(response.status, response.reason, headers_out, content)


class SessionManager:
    """Owns the client's one ``requests.Session`` per process, its connection pool and its fork policy.

    Args:
        session: A caller-supplied Session, used as-is in every process and never closed by us
            (its adapters, proxies, verify, cert and headers apply; its cookies, auth and hooks do not).
        pool_maxsize: Connections kept per host; size it for the threads sharing the client.
        pool_connections: Hosts whose pools are kept.
        verify: ``True`` or the path of a CA bundle; TLS verification cannot be turned off.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        pool_maxsize: int = 32,
        pool_connections: int = 10,
        verify: bool | str = True,
    ) -> None:
        if verify is not True and not (isinstance(verify, str) and verify):
            raise ValueError("verify must be True or the path of a CA bundle: TLS verification cannot be disabled")
        if pool_maxsize < 1 or pool_connections < 1:
            raise ValueError("pool_maxsize and pool_connections must be >= 1")
        self._given = session
        self._pool_maxsize, self._pool_connections, self._verify = pool_maxsize, pool_connections, verify
        self._closed = False
        self._state = PerProcess(lambda: _SessionState(self._given))

    @property
    def session(self) -> requests.Session:
        """The Session of the current process (built on first use)."""
        state = self._state.get()
        return state.session or self._open(state)

    def _open(self, state: _SessionState) -> requests.Session:
        with state.lock:
            if state.session is None:
                session = requests.Session()
                adapter = HTTPAdapter(
                    pool_connections=self._pool_connections,
                    pool_maxsize=self._pool_maxsize,
                    pool_block=False,  # extra threads open a throwaway connection rather than wait
                    max_retries=0,  # our loop is the only retry layer
                )
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.verify = self._verify
                state.session = session
            return state.session

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        timeout: tuple[float, float],
        origin: str,
    ) -> requests.Response:
        """Send one request (``url`` already encoded; ``headers`` override the Session's); no redirects or cookies.

        ``origin`` is a URL on the same host: the key under which proxy and CA settings are read once per process.
        Raises ``TransportError`` once closed, and lets ``requests`` exceptions through for ``HttpTransport``.
        """
        if self._closed:
            raise TransportError("the HTTP session is closed")
        state = self._state.get()
        session = state.session or self._open(state)
        found = state.settings.get(origin)
        if found is None:
            # Session.request re-reads the environment (proxies, netrc, CA bundle) and merges cookies on
            # every call, which costs more than the request itself on loopback; we resolve the adapter
            # (the caller's mounts apply) and those settings once per process and host.
            settings: dict[str, Any] = dict(session.merge_environment_settings(origin, {}, False, None, None))
            found = state.settings[origin] = (session.get_adapter(origin), settings)
        adapter, settings = found
        if _adapter_is_plain(adapter):
            route = state.routes.get(origin, _UNSET)
            if route is _UNSET:
                route = state.routes[origin] = (
                    _Route(typing.cast(HTTPAdapter, adapter), origin, settings)
                    if not select_proxy(origin, settings.get("proxies"))
                    else None
                )
            if route is not None:
                # Our own Session's headers never change: read them once (a caller's Session may change its own).
                base = state.base_headers if self._given is None else None
                if base is None:
                    base = {**session.headers}
                    if self._given is None:
                        state.base_headers = base
                merged = {**base, **headers}
                names = _header_names(tuple(merged))
                if names is not None:  # no two names differ only in case (else CaseInsensitiveDict must merge them)
                    reply = _urlopen(typing.cast(_Route, route), method, url, merged, body, timeout, names)
                    return typing.cast(requests.Response, reply)
        prepared = PreparedRequest()  # prepare() would re-parse the URL and build a cookie jar we never use
        prepared.method, prepared.url, prepared.body = method, url, body
        prepared.headers = CaseInsensitiveDict({**session.headers, **headers})  # type: ignore[arg-type]
        resp = adapter.send(prepared, timeout=timeout, **settings)  # no redirects, cookies or hooks: a JSON API
        resp.content  # noqa: B018 - read it all now, so the connection goes back to the pool
        return resp

    def close(self) -> None:
        """Close the Session we own in this process (a caller's is left open); safe to call twice."""
        self._closed = True
        state = self._state.get()  # in a forked child this is the child's state: the parent's is never touched
        with state.lock:
            session, state.session = state.session, None
        if session is not None and self._given is None:
            session.close()


# --- Failure classification ----------------------------------------------------------------------
# Connect-side failures (DNS, refused, connect timeout, proxy or TLS handshake) happen before any byte
# of the request left, so a retry cannot duplicate it. Read-side failures (read timeout, reset or close
# after sending, a cut-off body) are ambiguous: the server may have processed the request, and since it
# does not de-duplicate (contract §11) a retry may store an event twice; retry_ambiguous decides.
# requests wraps both in ConnectionError, so we look inside: urllib3 raises ProtocolError("Connection
# aborted.") and ReadTimeoutError only after the request was written; connect failures arrive as
# MaxRetryError(reason=NewConnectionError / ConnectTimeoutError). Anything else is a local error.

_CONNECT, _AMBIGUOUS, _FATAL = "connect", "ambiguous", "fatal"
_READ_SIDE = (u3.ProtocolError, u3.ReadTimeoutError, u3.IncompleteRead, ConnectionResetError, BrokenPipeError)
_AMBIGUOUS_ERRORS = (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError, requests.exceptions.RetryError)


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:  # args, MaxRetryError.reason, __cause__ and __context__: wherever requests/urllib3 nest them
        err = todo.pop()
        if isinstance(err, BaseException) and not any(err is f for f in found):
            found.append(err)
            todo.extend([*err.args, getattr(err, "reason", None), err.__cause__, err.__context__])
    return found


def classify(exc: Exception) -> str:
    """Return ``"connect"`` (not sent), ``"ambiguous"`` (maybe processed) or ``"fatal"`` (local; never retried)."""
    if isinstance(exc, requests.ConnectTimeout):
        return _CONNECT
    if isinstance(exc, _AMBIGUOUS_ERRORS):
        return _AMBIGUOUS
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc)  # a certificate problem is configuration: retrying cannot fix it
        return _FATAL if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text else _CONNECT
    if isinstance(exc, requests.ConnectionError):
        causes = _causes(exc)
        if any(isinstance(c, u3.ClosedPoolError) for c in causes):
            return _FATAL  # the Session was closed under us
        if any(isinstance(c, (u3.NewConnectionError, u3.ConnectTimeoutError, ConnectionRefusedError)) for c in causes):
            return _CONNECT
        return _AMBIGUOUS if any(isinstance(c, _READ_SIDE) for c in causes) else _CONNECT
    # ContentDecodingError and bare urllib3 errors surface while reading an answer that was already coming.
    return _AMBIGUOUS if isinstance(exc, (requests.exceptions.ContentDecodingError, u3.HTTPError)) else _FATAL


_DESCRIPTION = {_CONNECT: "could not connect", _AMBIGUOUS: "no complete answer", _FATAL: "request failed"}


# --- Error bodies --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _encode_json(value) if value is not None else ""


def error_details(body: Any, text: str, status: int, reason: str = "") -> tuple[str, Any]:
    """Return ``(message, errors)`` from an error reply in any of the contract's four shapes (§3.2).

    Caliper generic ``{"status", "message", "errors"}``, zod ``{"error", "details"}`` (``errors`` = details),
    platform ``{"error", "message"}`` and OAuth ``{"error", "error_description"}``; other bodies give their text.
    """
    if isinstance(body, dict):
        error, message, details = body.get("error"), body.get("message"), body.get("details")
        if error is not None and isinstance(details, list):
            parts = [
                f"{'.'.join(map(str, d.get('path') or [])) or '<root>'}: {_text(d.get('message'))}"
                if isinstance(d, dict)
                else _text(d)
                for d in details[:5]
            ]
            more = f"; ... and {len(details) - 5} more" if len(details) > 5 else ""
            return f"{_text(error)}: {'; '.join(parts)}{more}" if parts else _text(error), details
        if error is not None and body.get("error_description"):
            return f"{_text(error)}: {_text(body['error_description'])}", body.get("errors")
        if message is not None:
            prefix = f"{_text(error)}: " if error is not None and body.get("status") != "error" else ""
            return prefix + _text(message), body.get("errors")
        if error is not None:
            return _text(error), body.get("errors")
    if text.strip():
        snippet = " ".join(text.split())
        return snippet if len(snippet) <= 300 else snippet[:300] + "...", None
    return f"HTTP {status}{' ' + reason if reason else ''}", None


def _decode(resp: requests.Response) -> tuple[Any, str]:
    content = resp.content
    if not content:
        return None, ""
    text = content.decode(resp.encoding or "utf-8", errors="replace")
    if "json" in resp.headers.get("Content-Type", ""):
        try:
            return _json.loads(text), text
        except ValueError:
            pass
    return text, text


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in ("authorization", "proxy-authorization") else v) for k, v in headers.items()}


# --- The transport -------------------------------------------------------------------------------


class HttpTransport:
    """Sends JSON requests to one back end: headers, timeouts, the retry loop, 401 replay and error mapping.

    It knows nothing of Caliper: it takes and returns plain JSON values.

    Args:
        sessions: The client's SessionManager (shared by every back end).
        base_url: Prefix of relative paths; checked with :func:`check_url`.
        auth: Supplies bearer tokens; ``None`` sends no ``Authorization`` (the token endpoint itself, an emulator).
        timeout: ``(connect, read)`` seconds per attempt, or one number for both.
        retry: The retry policy (attempts, deadline, delays, injectable clock and sleep).
        user_agent: The ``User-Agent`` header (see :func:`default_user_agent`).
        default_headers: Extra headers sent on every request.
        allow_insecure_http: Accept a plain ``http://`` base URL on a non-loopback host.
    """

    def __init__(
        self,
        sessions: SessionManager,
        base_url: str,
        *,
        auth: Auth | None,
        timeout: float | tuple[float, float] = (5, 15),
        retry: RetryPolicy,
        user_agent: str,
        default_headers: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if not all(isinstance(t, (int, float)) and t > 0 and math.isfinite(t) for t in (connect, read)):
            raise ValueError(f"timeout must be finite positive seconds (connect, read), got {timeout!r}")
        self._sessions = sessions
        self.auth, self.retry = auth, retry  # read by auth.py: the token fetch shares this policy's clock
        self.base_url = check_url(base_url, allow_insecure_http=allow_insecure_http)
        self._timeout = (float(connect), float(read))
        self._longest_timeout = max(self._timeout)
        self._headers = {"User-Agent": user_agent, "Accept": "application/json", **(default_headers or {})}
        self._urls: dict[str, str] = {}  # path -> prepared URL, so the hot path skips URL parsing

    def _url(self, path: str, params: Mapping[str, Any] | None) -> tuple[str, str]:
        absolute = "://" in path  # the token endpoint lives on another host
        origin = path if absolute else self.base_url
        url = self._urls.get(path) if params is None else None
        if url is not None:
            return url, origin
        full = path if absolute else self.base_url + (path if not path or path.startswith("/") else "/" + path)
        prepared = PreparedRequest()
        prepared.prepare_url(full, params)  # percent-encodes the query, IDNA host, re-quotes the path
        url = str(prepared.url)
        if params is None:
            if len(self._urls) >= 256:  # ids in paths make this unbounded otherwise
                self._urls.clear()
            self._urls[path] = url
        return url, origin

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        deadline: float | None = None,
        deadline_at: float | None = None,
        sensitive: bool = False,
    ) -> HttpResponse:
        """Send one request, retrying transient failures, and return its 2xx answer.

        Args:
            method: HTTP method.
            path: Path under ``base_url`` (already percent-encoded), or an absolute URL checked by the caller.
            params: Query parameters.
            json: A JSON value, serialized once (so every retry sends the same bytes).
            data: Pre-serialized bytes, sent verbatim as ``application/json`` unless ``headers`` says otherwise.
            headers: Extra headers; they override the defaults.
            request_id: The ``X-Request-ID`` (default: a new uuid4 hex), the same on every attempt.
            deadline: Seconds for the whole call (default: the policy's ``deadline``).
            deadline_at: An absolute deadline on the policy's clock (the earlier of the two applies).
            sensitive: Never log the bodies of this call (token requests).

        Returns:
            The answer, with its body parsed.

        Raises:
            ApiError: A non-2xx final answer, as the subclass for its status (``error_for_status``).
            TransportError: No answer (connection, timeout), after the retries allowed.
        """
        policy = self.retry
        clock = policy.clock
        limit = clock() + (policy.deadline if deadline is None else deadline)
        if deadline_at is not None and deadline_at < limit:
            limit = deadline_at
        method = method.upper()
        if json is not None:
            if data is not None:
                raise TypeError("pass json= or data=, not both")
            data = _encode_json(json).encode()
        elif isinstance(data, str):  # len() would miscount Content-Length for non-ASCII text
            raise TypeError("data= must be bytes: encode the JSON text first")
        rid = request_id or _request_id()
        url, origin = self._url(path, params)
        hdrs = self._headers.copy()
        hdrs["X-Request-ID"] = rid
        if data is not None:
            hdrs["Content-Type"] = "application/json"
            hdrs["Content-Length"] = str(len(data))
        elif method in _BODY_METHODS:
            hdrs["Content-Length"] = "0"
        if headers:
            hdrs.update(headers)
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            shown = "<redacted>" if sensitive else (data or b"").decode("utf-8", "replace")
            logger.debug("%s %s [request %s] headers=%s body=%s", method, url, rid, _redacted(hdrs), shown)

        sent = tries = 0
        replayed = False
        delays: Iterator[float] | None = None
        error: ApiError | TransportError | None = None
        cause: BaseException | None = None
        while True:
            token = None
            if self.auth is not None:
                token = self.auth.get_token(limit)
                hdrs["Authorization"] = "Bearer " + token
            remaining = limit - clock()
            if remaining <= 0:  # the token fetch used up the deadline
                raise (
                    error or TransportError(f"{method} {path}: deadline reached before sending", request_id=rid)
                ) from cause
            timeout = self._timeout
            if remaining < self._longest_timeout:  # the last attempt must not outlive the deadline
                timeout = (min(timeout[0], remaining), min(timeout[1], remaining))
            sent += 1
            retry_after: float | None = None
            try:
                resp = self._sessions.send(method, url, hdrs, data, timeout=timeout, origin=origin)
            except (requests.RequestException, u3.HTTPError) as exc:
                kind = classify(exc)
                ambiguous = kind == _AMBIGUOUS
                error = TransportError(
                    f"{method} {path}: {_DESCRIPTION[kind]}: {exc}", ambiguous=ambiguous, request_id=rid, attempts=sent
                )
                cause, what = exc, f"{type(exc).__name__}{' (ambiguous)' if ambiguous else ''}"
                retryable = kind == _CONNECT or (ambiguous and policy.retry_ambiguous)
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    body, text = _decode(resp)
                    if debug:
                        logger.debug("HTTP %d [request %s] body=%s", status, rid, "<redacted>" if sensitive else text)
                    return HttpResponse(status, resp.headers, body, text, rid, sent)
                if status == 401 and token is not None and self.auth is not None and not replayed:
                    replayed = True  # the token may have been revoked or expired early: one fresh token, one replay
                    self.auth.invalidate(token)
                    logger.info("%s %s got HTTP 401; replaying once with a new token (request %s)", method, path, rid)
                    continue
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                error = self._api_error(resp, rid, sent, retry_after, sensitive)
                cause, what = None, f"HTTP {status}"
                retryable = status in RETRY_STATUSES
            tries += 1
            if not retryable:
                raise error from cause
            if tries >= policy.max_attempts:
                logger.warning("giving up on %s %s after %d attempts (%s, request %s)", method, path, sent, what, rid)
                raise error from cause
            if delays is None:  # built only once a retry is needed: the success path stays cheap
                delays = backoff.expo(base=2, factor=policy.base_delay, max_value=policy.max_delay)
                next(delays)  # backoff 2.2 generators yield None first
            delay = policy.random() * next(delays)
            if retry_after is not None:
                delay = max(delay, min(retry_after, policy.retry_after_cap))
            if clock() + delay > limit:
                logger.warning(
                    "giving up on %s %s: waiting %.2fs would cross the deadline (%s, request %s)",
                    *(method, path, delay, what, rid),
                )
                raise error from cause
            logger.info(
                "retrying %s %s in %.2fs (attempt %d/%d, %s, request %s)",
                *(method, path, delay, tries + 1, policy.max_attempts, what, rid),
            )
            policy.sleep(delay)

    def _api_error(
        self, resp: requests.Response, rid: str, attempts: int, retry_after: float | None, sensitive: bool
    ) -> ApiError:
        body, text = _decode(resp)
        status = resp.status_code
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("HTTP %d [request %s] body=%s", status, rid, "<redacted>" if sensitive else text)
        message, errors = error_details(body, text, status, resp.reason or "")
        if 300 <= status < 400:  # redirects are never followed: a bearer token must not be sent elsewhere
            message = f"redirect to {resp.headers.get('Location', '?')} not followed (check the base URL)"
        fields: dict[str, Any] = {"errors": errors, "body": body, "retry_after": retry_after, "attempts": attempts}
        return error_for_status(status)(message, status_code=status, request_id=rid, **fields)
