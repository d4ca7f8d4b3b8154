"""Token routes: ``POST /oauth2/token`` (Cognito style) and ``POST /auth/1.0/token`` (platform style), contract §2."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from urllib.parse import parse_qs, unquote_plus

from .backend import Backend
from .routing import TOKEN, Reply, Request, Route

__all__ = ["ROUTES"]

logger = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, error: str, description: str | None = None, *, basic: bool = False) -> Reply:
    body = {"error": error}
    if description:
        body["error_description"] = description
    headers = dict(_NO_STORE)
    if status == 401 and basic:
        headers["WWW-Authenticate"] = 'Basic realm="token"'
    return Reply(status=status, body=body, headers=headers)


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(user), unquote_plus(password)  # RFC 6749 §2.3.1: form-encoded, then base64


def _issue(app: Backend, req: Request, issuer: str) -> Reply:
    ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        form = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "the body is not UTF-8")

    def field(name: str) -> str | None:
        values = form.get(name)
        return values[0] if values else None

    grant = field("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type")
    header = req.headers.get("Authorization")
    basic = _basic(header)
    if header and basic is None:
        return _oauth_error(401, "invalid_client", "malformed Basic credentials", basic=True)
    posted = (field("client_id"), field("client_secret"))
    if basic is not None and posted[1] is not None:
        return _oauth_error(400, "invalid_request", "use one client authentication method, not two")
    client_id, secret = basic if basic is not None else posted
    spec = app.clients.get(client_id or "")
    if client_id is None or secret is None or spec is None or not hmac.compare_digest(secret, spec.secret):
        logger.info("token request refused: invalid_client (client %r)", client_id)
        return _oauth_error(401, "invalid_client", basic=basic is not None)
    req.client_id = client_id
    requested = set((field("scope") or "").split())
    if requested - spec.scopes:
        return _oauth_error(400, "invalid_scope", f"not allowed: {' '.join(sorted(requested - spec.scopes))}")
    granted = requested or set(spec.scopes)
    token = app.issue_token(client_id, issuer, granted)
    logger.debug("issued a %s token to client %s", issuer, client_id)
    body: dict[str, object] = {"access_token": token, "token_type": "Bearer", "expires_in": app.config.token_lifetime}
    if issuer == "platform":
        body["scope"] = " ".join(sorted(granted))
    return Reply(status=200, body=body, headers=_NO_STORE)


def caliper_token(app: Backend, req: Request) -> Reply:
    """``POST /oauth2/token``: Cognito-style tokens for the Caliper routes (no ``scope`` in the answer)."""
    return _issue(app, req, "caliper")


def platform_token(app: Backend, req: Request) -> Reply:
    """``POST /auth/1.0/token``: tokens for the Insights and Applications routes (``scope`` in the answer)."""
    return _issue(app, req, "platform")


ROUTES = [
    Route("POST", "/oauth2/token", caliper_token, TOKEN),
    Route("POST", "/auth/1.0/token", platform_token, TOKEN),
]
