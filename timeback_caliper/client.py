"""``CaliperClient``: checks the configuration and wires one Session, one token cache and the resources."""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs
import requests

from ._http import HttpResponse, HttpTransport, RetryPolicy, SessionManager, check_url, default_user_agent
from ._version import __version__
from .activity import Activity, ActivityConfig
from .applications import Applications
from .auth import ClientCredentialsAuth, OAuthConfig, TokenCache
from .events import DEFAULT_PATHS, Events
from .gradebook import Gradebook
from .insights import Insights
from .jobs import Jobs
from .webhooks import Webhooks

__all__ = ["ENVIRONMENTS", "CaliperClient", "Environment"]

logger = logging.getLogger(__name__)


@attrs.frozen
class Environment:
    """The hosts of one Timeback environment (contract §1)."""

    caliper_url: str
    token_url: str
    platform_url: str
    platform_token_url: str
    api_url: str


ENVIRONMENTS: dict[str, Environment] = {
    "production": Environment(
        caliper_url="https://caliper.alpha-1edtech.ai",
        token_url="https://prod-beyond-timeback-api-2-idp.auth.us-east-1.amazoncognito.com/oauth2/token",
        platform_url="https://platform.timeback.com",
        platform_token_url="https://platform.timeback.com/auth/1.0/token",
        api_url="https://api.alpha-1edtech.ai",
    ),
    "staging": Environment(
        caliper_url="https://caliper.staging.alpha-1edtech.ai",
        token_url="https://staging-beyond-timeback-api-2-idp.auth.us-east-1.amazoncognito.com/oauth2/token",
        platform_url="https://platform.dev.timeback.com",
        platform_token_url="https://platform.dev.timeback.com/auth/1.0/token",
        api_url="https://api.staging.alpha-1edtech.ai",
    ),
}

INSIGHTS_SCOPE = "https://purl.imsglobal.org/spec/caliper/v1p2/scope/events.readonly"
APPLICATIONS_SCOPE = "https://purl.imsglobal.org/spec/lti/v1p3/scope/lti.readonly"

_ENV_VARS = {
    "env": "TIMEBACK_ENV",
    "client_id": "TIMEBACK_CLIENT_ID",
    "client_secret": "TIMEBACK_CLIENT_SECRET",
    "base_url": "TIMEBACK_CALIPER_URL",
    "token_url": "TIMEBACK_TOKEN_URL",
    "platform_url": "TIMEBACK_PLATFORM_URL",
    "platform_token_url": "TIMEBACK_PLATFORM_TOKEN_URL",
    "platform_client_id": "TIMEBACK_PLATFORM_CLIENT_ID",
    "platform_client_secret": "TIMEBACK_PLATFORM_CLIENT_SECRET",
    "oneroster_url": "TIMEBACK_API_URL",
}


class CaliperClient:
    """The synchronous Timeback Caliper client: ``client.events``, ``client.jobs`` and more.

    One client is meant to be shared: it is thread-safe (an app-wide singleton in Django or Flask) and survives
    ``fork()`` (gunicorn ``--preload``): a child process opens its own connections. Constructing it does no
    network I/O; the first call fetches the first token.

    Args:
        env: ``"production"`` (default) or ``"staging"``: picks the default hosts.
        client_id: OAuth2 client id (Cognito app client).
        client_secret: OAuth2 client secret; never logged or shown in ``repr``.
        base_url: Caliper API base URL (overrides the environment's).
        token_url: Token endpoint (overrides the environment's).
        scope: Scopes to request for the Caliper API (none by default).
        auth_method: ``"client_secret_basic"`` (default) or ``"client_secret_post"``.
        auth: ``"oauth"`` (default), or ``None`` for an unauthenticated local server (loopback only).
        timeout: ``(connect, read)`` seconds for every request, the token request included.
        deadline: Seconds one HTTP request may take, all retries and sleeps included.
        max_attempts: Attempts per HTTP request (1 disables retries).
        retry_ambiguous: Retry read timeouts and resets after sending (at-least-once delivery; see README).
        retry: A full :class:`RetryPolicy` (overrides ``deadline``/``max_attempts``/``retry_ambiguous``).
        session: A ``requests.Session`` to use (yours to close); by default the client owns one.
        verify: ``True`` or the path of a CA bundle; verification cannot be turned off.
        allow_insecure_http: Accept ``http://`` URLs on non-loopback hosts (never needed in production).
        pool_maxsize: Pooled connections per host: at least the number of threads sharing the client.
        paths: Endpoint path overrides, e.g. ``{"send": "/caliper/events"}``.
        max_events_per_envelope: Events per envelope when a send is split (default 100).
        max_envelope_bytes: Request body limit per envelope (default 1 MiB).
        platform_url, platform_token_url, platform_client_id, platform_client_secret: the Insights and
            Applications back end (defaults: the environment's hosts and the Caliper credentials).
        oneroster_url: The Timeback API host (OneRoster user URLs, gradebook).
        applications_cache_ttl: Seconds ``client.applications.lookup()`` reuses the catalogue (0: no cache).
        app_name, sensor, activity_base_url, courses: defaults for ``client.activity.record()``.
        dry_run: Validate and record envelopes in ``client.recorded`` instead of sending (no network at all).
    """

    def __init__(
        self,
        env: str = "production",
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        base_url: str | None = None,
        token_url: str | None = None,
        scope: str | None = None,
        auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic",
        auth: Literal["oauth"] | None = "oauth",
        timeout: float | tuple[float, float] = (5, 15),
        deadline: float = 60.0,
        max_attempts: int = 4,
        retry_ambiguous: bool = True,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
        pool_maxsize: int = 32,
        paths: Mapping[str, str] | None = None,
        max_events_per_envelope: int = 100,
        max_envelope_bytes: int = 1_048_576,
        platform_url: str | None = None,
        platform_token_url: str | None = None,
        platform_client_id: str | None = None,
        platform_client_secret: str | None = None,
        oneroster_url: str | None = None,
        applications_cache_ttl: float = 300.0,
        app_name: str | None = None,
        sensor: str | None = None,
        activity_base_url: str | None = None,
        courses: Mapping[str, Mapping[str, Any]] | None = None,
        dry_run: bool = False,
    ) -> None:
        if env not in ENVIRONMENTS:
            raise ValueError(f"env must be one of {sorted(ENVIRONMENTS)}, got {env!r}")
        if auth not in ("oauth", None):
            raise ValueError(f"auth must be 'oauth' or None, got {auth!r}")
        hosts = ENVIRONMENTS[env]
        self.env = env
        insecure = allow_insecure_http
        self.base_url = check_url(base_url or hosts.caliper_url, allow_insecure_http=insecure, what="base_url")
        self.token_url = check_url(token_url or hosts.token_url, allow_insecure_http=insecure, what="token_url")
        self.platform_url = check_url(
            platform_url or hosts.platform_url, allow_insecure_http=insecure, what="platform_url"
        )
        self.platform_token_url = check_url(
            platform_token_url or hosts.platform_token_url, allow_insecure_http=insecure, what="platform_token_url"
        )
        self.oneroster_url = check_url(
            oneroster_url or hosts.api_url, allow_insecure_http=insecure, what="oneroster_url"
        )
        if auth == "oauth" and not dry_run and (not client_id or not client_secret):
            raise ValueError(
                "client_id and client_secret are required (use CaliperClient.from_env() to read TIMEBACK_CLIENT_ID "
                "and TIMEBACK_CLIENT_SECRET, or auth=None for a local emulator)"
            )
        if auth is None and not insecure and not _all_loopback(self.base_url):
            raise ValueError("auth=None is only for a local server: base_url must be a loopback host")
        unknown_paths = set(paths or {}) - set(DEFAULT_PATHS)
        if unknown_paths:
            raise ValueError(f"unknown paths {sorted(unknown_paths)}; known: {sorted(DEFAULT_PATHS)}")
        self.paths = {**DEFAULT_PATHS, **(paths or {})}
        self.retry = retry or RetryPolicy(max_attempts=max_attempts, deadline=deadline, retry_ambiguous=retry_ambiguous)
        self.dry_run = dry_run
        self.timeout = timeout
        self._insecure = insecure
        self._auth_mode = auth
        self._lock = threading.Lock()
        self._closed = False
        self._sessions = SessionManager(session, pool_maxsize=pool_maxsize, verify=verify)
        self._user_agent = default_user_agent(__version__)
        self._tokens = TokenCache(clock=self.retry.clock)
        self._caliper_oauth = (
            OAuthConfig(
                self.token_url,
                client_id,
                client_secret,
                scope=scope,
                auth_method=auth_method,
                allow_insecure_http=insecure,
            )
            if auth == "oauth" and client_id and client_secret
            else None
        )
        self._platform_client_id = platform_client_id or client_id
        self._platform_secret = _Secret(platform_client_secret or client_secret)
        self._auth_method = auth_method
        self._http = self._transport(self.base_url, self._caliper_oauth)

        self.recorded: list[dict[str, Any]] = []
        """Envelopes recorded instead of sent, when ``dry_run=True`` (parsed JSON, in order)."""
        self.events = Events(
            self._http,
            paths=self.paths,
            max_events_per_envelope=max_events_per_envelope,
            max_envelope_bytes=max_envelope_bytes,
            recorder=self._record if dry_run else None,
        )
        """Send, validate, list and get events."""
        self.jobs = Jobs(self._http, paths=self.paths, sleep=self.retry.sleep, clock=self.retry.clock)
        """Background ingestion jobs."""
        self.insights = Insights(self._platform_transport(INSIGHTS_SCOPE))
        """Insights, sessions and overviews (platform back end, ``events.readonly`` scope)."""
        self.applications = Applications(
            self._platform_transport(APPLICATIONS_SCOPE), cache_ttl=applications_cache_ttl, clock=self.retry.clock
        )
        """The application catalogue and its cached lookup (platform back end, ``lti.readonly`` scope)."""
        self.webhooks = Webhooks(self._http)
        """Webhook and webhook-filter registrations (Caliper back end)."""
        # OneRoster lives on the Timeback API host; contract §5.6 assumes the Caliper (Cognito) credentials work there.
        self._oneroster_http = self._transport(self.oneroster_url, self._caliper_oauth)
        self.gradebook = Gradebook(self._oneroster_http, dry_run=dry_run)
        """OneRoster assessment line items and results (Timeback API host, Caliper credentials)."""
        self._activity: Activity | None = None
        self._activity_defaults: dict[str, Any] = {
            "app_name": app_name,
            "sensor": sensor,
            "activity_base_url": activity_base_url,
            "courses": dict(courses or {}),
        }

    @property
    def activity(self) -> Activity:
        """Record completed activities server-side (``record``/``build``), or run them (``start``).

        Needs ``app_name``, ``sensor`` and ``activity_base_url`` on the client.
        """
        if self._activity is None:
            missing = [k for k in ("app_name", "sensor", "activity_base_url") if not self._activity_defaults[k]]
            if missing:
                raise ValueError(
                    f"client.activity needs {', '.join(missing)}: pass them to CaliperClient(...) once, "
                    "e.g. app_name='Math App', sensor='https://your-app.example', "
                    "activity_base_url='https://your-app.example/activities'"
                )
            config = ActivityConfig(
                app_name=self._activity_defaults["app_name"],
                sensor=self._activity_defaults["sensor"],
                activity_base_url=self._activity_defaults["activity_base_url"],
                courses=self._activity_defaults["courses"],
                api_url=self.oneroster_url,
            )
            self._activity = Activity(config, send=self.events.send_envelope, gradebook=self.gradebook)
        return self._activity

    # ---------------------------------------------------------------------------------------------- wiring
    def _transport(self, base_url: str, oauth: OAuthConfig | None) -> HttpTransport:
        auth = None
        if oauth is not None:
            token_http = HttpTransport(
                self._sessions,
                oauth.token_url,
                auth=None,
                timeout=self.timeout,
                retry=self.retry,
                user_agent=self._user_agent,
                allow_insecure_http=self._insecure,
            )
            auth = ClientCredentialsAuth(oauth, self._tokens, token_http)
        return HttpTransport(
            self._sessions,
            base_url,
            auth=auth,
            timeout=self.timeout,
            retry=self.retry,
            user_agent=self._user_agent,
            allow_insecure_http=self._insecure,
        )

    def _platform_transport(self, scope: str) -> HttpTransport:
        client_id, secret = self._platform_client_id, self._platform_secret.value
        oauth = None
        if self._auth_mode == "oauth" and client_id and secret:
            oauth = OAuthConfig(
                self.platform_token_url, client_id, secret, scope=scope, allow_insecure_http=self._insecure
            )
        return self._transport(self.platform_url, oauth)

    def _record(self, body: bytes) -> HttpResponse:
        import json

        from .serialization import parse

        envelope = json.loads(body)
        parse(envelope)  # the same strict check the server would apply to what we send
        with self._lock:
            self.recorded.append(envelope)
            job_id = str(len(self.recorded))
        return HttpResponse(
            status_code=200,
            headers={},
            body={"status": "success", "message": "recorded (dry run)", "jobId": job_id},
            text="",
            request_id=f"dry-run-{job_id}",
            attempts=1,
        )

    # ---------------------------------------------------------------------------------------------- lifecycle
    @classmethod
    def from_env(cls, **overrides: Any) -> CaliperClient:
        """Build a client from ``TIMEBACK_*`` environment variables; explicit keyword arguments win.

        Reads ``TIMEBACK_ENV``, ``TIMEBACK_CLIENT_ID``, ``TIMEBACK_CLIENT_SECRET``, ``TIMEBACK_CALIPER_URL``,
        ``TIMEBACK_TOKEN_URL``, ``TIMEBACK_PLATFORM_URL``, ``TIMEBACK_PLATFORM_TOKEN_URL``,
        ``TIMEBACK_PLATFORM_CLIENT_ID``, ``TIMEBACK_PLATFORM_CLIENT_SECRET`` and ``TIMEBACK_API_URL``.
        """
        kwargs: dict[str, Any] = {}
        for arg, var in _ENV_VARS.items():
            value = os.environ.get(var)
            if value:
                kwargs[arg] = value
        kwargs.update(overrides)
        return cls(**kwargs)

    def close(self) -> None:
        """Close the connections this client owns (a Session you passed in stays open). Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._sessions.close()

    def __enter__(self) -> CaliperClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = " dry_run" if self.dry_run else ""
        return f"<CaliperClient env={self.env!r} base_url={self.base_url!r}{mode}>"


class _Secret:
    """Holds a secret so that no ``repr``, ``vars()`` dump or log line can show it."""

    __slots__ = ("value",)

    def __init__(self, value: str | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>" if self.value else "<no secret>"


def _all_loopback(*urls: str) -> bool:
    for url in urls:
        host = urlsplit(url).hostname or ""
        if host == "localhost":
            continue
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return False
        except ValueError:
            return False
    return True
