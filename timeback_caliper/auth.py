"""OAuth2 client credentials: configuration, the per-client token cache, and the authenticator the retry loop uses."""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import quote_plus, urlencode

import attrs

from ._http import HttpTransport, PerProcess, check_url
from .errors import ApiError, AuthenticationError, TimebackError, TransportError

logger = logging.getLogger(__name__)

AuthMethod = Literal["client_secret_basic", "client_secret_post"]
TokenKey = tuple[str, str, "str | None"]
"""A cache key: (token URL, client id, scope)."""

DEFAULT_LIFETIME = 3600.0  # contract §2.2: a token without expires_in lives an hour
MIN_LEEWAY = 60.0


def _non_empty(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty string")


def _scope(value: str | None) -> str | None:
    if value is None:
        return None
    scope = " ".join(str(value).split())
    if not scope:
        raise ValueError("scope must be None or a non-empty, space-separated list of scopes")
    return scope


@attrs.frozen
class OAuthConfig:
    """How to get a token for one back end (client credentials grant, contract §2).

    The secret never appears in ``repr``/``str``; keep it out of logs too.
    """

    token_url: str
    """The token endpoint; https required except on loopback (or with ``allow_insecure_http``)."""
    client_id: str = attrs.field(validator=_non_empty)
    client_secret: str = attrs.field(repr=False, validator=_non_empty)
    scope: str | None = attrs.field(default=None, converter=_scope)
    """Space-separated scopes to request, or None to request none."""
    auth_method: AuthMethod = attrs.field(
        default="client_secret_basic", validator=attrs.validators.in_(("client_secret_basic", "client_secret_post"))
    )
    """``client_secret_basic``: an ``Authorization: Basic`` header; ``client_secret_post``: both in the form."""
    allow_insecure_http: bool = False

    def __attrs_post_init__(self) -> None:
        url = check_url(self.token_url, allow_insecure_http=self.allow_insecure_http, what="token_url")
        object.__setattr__(self, "token_url", url)

    @property
    def cache_key(self) -> TokenKey:
        """The key of this configuration's token in a ``TokenCache``."""
        return (self.token_url, self.client_id, self.scope)


@attrs.define(repr=False)
class _Entry:
    token: str
    refresh_at: float  # from here on, one thread refreshes while the others keep using the token
    expires_at: float


class _CacheState:
    __slots__ = ("entries", "key_locks", "mutex")

    def __init__(self) -> None:
        self.mutex = threading.Lock()  # guards entries and key_locks
        self.entries: dict[TokenKey, _Entry] = {}
        self.key_locks: dict[TokenKey, threading.Lock] = {}


class TokenCache:
    """One client's tokens, keyed by (token URL, client id, scope), shared by all threads.

    Single-flight: however many threads find the token missing or expiring, one fetches while the others wait
    (or, during early refresh, keep using the still-valid token). Lifetimes run on a monotonic clock from the
    moment a token arrived; a token is refreshed once less than max(60 s, 10% of its lifetime) remains, and
    one that lives 60 s or less is used once. A forked child starts with an empty cache and fresh locks.

    Args:
        clock: Monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._state = PerProcess(_CacheState)

    def __repr__(self) -> str:
        return f"<TokenCache with {len(self._state.get().entries)} token(s)>"

    def get(self, key: TokenKey, fetch: Callable[[], tuple[str, float | None]], *, wait: float | None = None) -> str:
        """Return the cached token for ``key``, calling ``fetch`` (once, for all threads) when needed.

        Args:
            key: The cache key (see ``OAuthConfig.cache_key``).
            fetch: Returns ``(access_token, expires_in or None)``; called with this key's lock held.
            wait: Longest wait in seconds for another thread's fetch (None: no limit).

        Returns:
            A bearer token.

        Raises:
            TransportError: ``wait`` ran out while another thread was fetching.
            TimebackError: Whatever ``fetch`` raised (unless a still-valid token can be used instead).
        """
        state = self._state.get()
        entry = state.entries.get(key)
        now = self._clock()
        if entry is not None and now < entry.refresh_at:
            return entry.token
        with state.mutex:
            lock = state.key_locks.setdefault(key, threading.Lock())
        if entry is not None and now < entry.expires_at:
            if not lock.acquire(blocking=False):
                return entry.token  # another thread is refreshing; this one is still good
        elif not lock.acquire(timeout=-1 if wait is None else max(wait, 0.0)):
            raise TransportError("deadline reached while another thread was fetching an access token")
        try:
            entry = state.entries.get(key)
            if entry is not None and self._clock() < entry.refresh_at:
                return entry.token  # fetched by the thread we waited for
            try:
                token, expires_in = fetch()
            except TimebackError as exc:
                if entry is not None and self._clock() < entry.expires_at:
                    logger.warning("token refresh failed, still using the current token until it expires: %s", exc)
                    return entry.token
                raise
            self._store(state, key, token, expires_in)
            return token
        finally:
            lock.release()

    def _store(self, state: _CacheState, key: TokenKey, token: str, expires_in: float | None) -> None:
        arrived = self._clock()
        lifetime = DEFAULT_LIFETIME if expires_in is None else expires_in
        with state.mutex:
            if lifetime <= MIN_LEEWAY:  # too short to share safely: this caller uses it once
                state.entries.pop(key, None)
            else:
                leeway = max(MIN_LEEWAY, 0.1 * lifetime)
                state.entries[key] = _Entry(token, arrived + lifetime - leeway, arrived + lifetime)

    def invalidate(self, key: TokenKey, token: str) -> None:
        """Drop ``token`` for ``key`` if the cache still holds it (a newer token is kept)."""
        state = self._state.get()
        with state.mutex:
            entry = state.entries.get(key)
            if entry is not None and entry.token == token:
                del state.entries[key]

    def clear(self) -> None:
        """Forget every token."""
        state = self._state.get()
        with state.mutex:
            state.entries.clear()


class ClientCredentialsAuth:
    """Bearer tokens for one back end: fetched through the token transport's retry loop, cached in ``cache``.

    Args:
        config: Token URL, credentials, scope and client authentication method.
        cache: The client's token cache (shared by every back end).
        token_transport: An ``HttpTransport`` without auth; the token POST goes through its retry loop,
            within the deadline of the request that needed the token (its policy's clock must be the
            API transport's).
    """

    def __init__(self, config: OAuthConfig, cache: TokenCache, token_transport: HttpTransport) -> None:
        if token_transport.auth is not None:
            raise ValueError("the token transport must not itself use bearer auth")
        self._config, self._cache, self._transport = config, cache, token_transport
        self._key = config.cache_key
        form: dict[str, str] = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        self._headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if config.auth_method == "client_secret_basic":  # RFC 6749 §2.3.1: form-encode each part, then base64
            pair = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form.update(client_id=config.client_id, client_secret=config.client_secret)
        self._form = urlencode(form).encode("ascii")

    def __repr__(self) -> str:
        c = self._config
        return f"ClientCredentialsAuth(token_url={c.token_url!r}, client_id={c.client_id!r}, scope={c.scope!r})"

    @property
    def config(self) -> OAuthConfig:
        """The configuration this authenticator uses."""
        return self._config

    def get_token(self, deadline_at: float) -> str:
        """Return a valid access token, fetching one if the cache has none.

        Args:
            deadline_at: The deadline of the request that needs the token, on the retry policy's clock.

        Raises:
            AuthenticationError: The token endpoint refused the credentials, or answered without a token.
            TransportError: The token endpoint could not be reached before the deadline.
            ApiError: The token endpoint kept failing (5xx, 429) until retries or the deadline ran out.
        """
        wait = deadline_at - self._transport.retry.clock()
        return self._cache.get(self._key, lambda: self._fetch(deadline_at), wait=wait)

    def invalidate(self, token: str) -> None:
        """Drop ``token`` from the cache (the API answered 401), unless a newer one replaced it."""
        self._cache.invalidate(self._key, token)

    def _fetch(self, deadline_at: float) -> tuple[str, float | None]:
        url = self._config.token_url
        try:
            resp = self._transport.request(
                "POST", url, data=self._form, headers=self._headers, deadline_at=deadline_at, sensitive=True
            )
        except ApiError as exc:
            raise self._refused(exc) from exc
        body = resp.body if isinstance(resp.body, dict) else {}
        token = body.get("access_token")
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token, str) or not token or not isinstance(token_type, str) or token_type.lower() != "bearer":
            problem = "no access_token" if not isinstance(token, str) or not token else f"token_type {token_type!r}"
            keys = ", ".join(sorted(map(str, body))) or "none (not a JSON object)"
            raise AuthenticationError(  # the body itself is left out: it may hold a token under another name
                f"token endpoint {url} answered HTTP {resp.status_code} with {problem} (keys: {keys})",
                status_code=resp.status_code,
                request_id=resp.request_id,
                attempts=resp.attempts,
            )
        logger.debug("fetched an access token from %s (expires_in=%r)", url, body.get("expires_in"))
        return token, _lifetime(body.get("expires_in"))

    def _refused(self, exc: ApiError) -> ApiError:
        """Rebuild a token endpoint error with a message that names it and cannot contain the secret."""
        status = exc.status_code
        cls = AuthenticationError if 400 <= status < 500 and status not in (408, 429) else type(exc)
        message = self._scrub(f"token request to {self._config.token_url} failed: {exc.message}")
        body = self._scrub(exc.body) if isinstance(exc.body, str) else exc.body
        return cls(
            message,
            status_code=status,
            errors=exc.errors,
            body=body,
            request_id=exc.request_id,
            retry_after=exc.retry_after,
            attempts=exc.attempts,
        )

    def _scrub(self, text: str) -> str:
        # A misbehaving endpoint or proxy could echo the form back; the secret must not reach an exception.
        secret = self._config.client_secret
        for form in {secret, quote_plus(secret)}:
            text = text.replace(form, "[redacted]")
        return text


def _lifetime(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None
