"""The emulator's request and reply values, the route table type and the path router (no I/O here)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from email.message import Message
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import attrs

from ._wire import caliper_error, platform_error

if TYPE_CHECKING:
    from .backend import Backend

__all__ = ["HttpError", "Reply", "Request", "Route", "Router", "family_of", "json_body", "normalize_path"]

CALIPER, PLATFORM, TOKEN, ADMIN = "caliper", "platform", "token", "admin"


@attrs.define(kw_only=True)
class Request:
    """One HTTP request as the routes see it."""

    method: str
    path: str
    """The path without query, still percent-encoded, without a trailing slash."""
    query: dict[str, list[str]]
    headers: Message
    body: bytes = attrs.field(repr=False)
    params: dict[str, str] = attrs.field(factory=dict)
    """Path parameters, percent-decoded."""
    client_id: str | None = None
    """The authenticated client (set by the token check or the token route)."""
    scopes: frozenset[str] = frozenset()
    ambiguous: bool = False
    """An ambiguous fault (close, delay, trickle) hit this request: its answer may never arrive."""

    def arg(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@attrs.frozen(kw_only=True)
class Reply:
    """An answer: a JSON value (default), raw text, or no body at all."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    text: str | None = None
    """Send this as ``text/plain`` instead of ``body`` as JSON."""
    empty: bool = False
    """Send no body (``Content-Length: 0``)."""

    def encode(self) -> tuple[bytes, str | None]:
        """The body bytes and their content type."""
        if self.empty:
            return b"", None
        if self.text is not None:
            return self.text.encode(), "text/plain; charset=utf-8"
        data = json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()
        return data, "application/json; charset=utf-8"


class HttpError(Exception):
    """Raised by a route to answer at once with ``reply``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


Handler = Callable[["Backend", Request], Reply]


def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


@attrs.frozen
class Route:
    """One endpoint: method, path template (``/jobs/{jobId}/status``), handler, family and scopes."""

    method: str
    template: str
    handler: Handler
    family: str
    """``token``, ``caliper`` or ``platform`` (bearer tokens from that family's token route), or ``admin``."""
    scopes: frozenset[str] = frozenset()
    """The token needs at least one of these (empty: any token of the family)."""
    pattern: re.Pattern[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self.template))


class Router:
    """Finds the route of a path; 404 and 405 are told apart."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = list(routes)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """``(route, params, path_known)``: route is None when nothing matches this method."""
        known = False
        for route in self._routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            known = True
            if route.method == method:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}, True
        return None, {}, known


def normalize_path(raw: str) -> str:
    """The path without its query and trailing slashes (``/webhooks/`` -> ``/webhooks``)."""
    path = raw.split("?", 1)[0].split("#", 1)[0] or "/"
    return path.rstrip("/") or "/"


def family_of(path: str) -> str:
    """The route family a path belongs to, for paths no route matched (picks the error shape)."""
    if path.startswith(("/insights", "/applications")):
        return PLATFORM
    if path in ("/oauth2/token", "/auth/1.0/token"):
        return TOKEN
    if path.startswith("/_emulator"):
        return ADMIN
    return CALIPER


def error_reply(family: str, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> Reply:
    """An error answer in the family's documented shape."""
    if family == PLATFORM:
        words = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 429: "Too many requests"}
        body = platform_error(words.get(status, "Internal server error" if status >= 500 else "Error"), message)
    elif family == TOKEN:
        body = {
            "error": "temporarily_unavailable" if status >= 429 else "invalid_request",
            "error_description": message,
        }
    else:
        body = caliper_error(message)
    return Reply(status=status, body=body, headers=dict(headers or {}))


def json_body(req: Request, family: str = CALIPER) -> Any:
    """The request's JSON body, or a 400 in the family's shape."""
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError) as exc:
        if family == CALIPER:
            errors = [{"path": [], "rule": "json", "message": f"the body is not valid JSON: {exc}"}]
            raise HttpError(Reply(status=400, body=caliper_error("Invalid JSON body", errors))) from exc
        raise HttpError(error_reply(family, 400, f"the body is not valid JSON: {exc}")) from exc


def int_param(req: Request, name: str, default: int, *, low: int, high: int | None = None, family: str) -> int:
    """An integer query parameter within ``[low, high]`` (or a 400 in the family's shape)."""
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        message = f"Invalid {name}: must be an integer {bound}, got {raw!r}"
        if family == CALIPER:
            body = caliper_error(message, [{"path": [name], "message": message}])
            raise HttpError(Reply(status=400, body=body))
        raise HttpError(error_reply(family, 400, message))
    return value
