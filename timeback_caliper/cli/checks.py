"""Credential checks shared by ``timeback-caliper auth check`` and Django's ``timeback_caliper_check`` command.

Each back end gets two cheap authenticated reads: the first fetches a token and makes the request, the second
reuses the cached token, so their difference is the token round trip. No secret or token is ever reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from ..client import CaliperClient
from ..errors import TimebackError

__all__ = ["BACKENDS", "AuthCheck", "check_auth"]

logger = logging.getLogger(__name__)

BACKENDS = ("caliper", "platform")
"""The back ends with their own credentials: Caliper (Cognito) and platform (Insights, Applications)."""


@attrs.frozen(kw_only=True)
class AuthCheck:
    """The outcome of one back end's check."""

    backend: str
    """``caliper`` or ``platform``."""
    url: str
    """The back end's base URL."""
    probe: str
    """The request used, e.g. ``GET /caliper/events?limit=1``."""
    ok: bool
    first_ms: float | None = None
    """Milliseconds of the first call: token request plus the probe."""
    cached_ms: float | None = None
    """Milliseconds of the second call, with the cached token."""
    error: str | None = None
    """The error, one line (no secrets: the client never puts them in messages)."""
    error_type: str | None = None

    @property
    def token_ms(self) -> float | None:
        """Estimated token round trip: first call minus cached call (never below 0)."""
        if self.first_ms is None or self.cached_ms is None:
            return None
        return max(self.first_ms - self.cached_ms, 0.0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (milliseconds rounded to 0.1)."""

        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 1)

        return {
            "backend": self.backend,
            "url": self.url,
            "probe": self.probe,
            "ok": self.ok,
            "first_ms": r(self.first_ms),
            "cached_ms": r(self.cached_ms),
            "token_ms": r(self.token_ms),
            "error": self.error,
            "error_type": self.error_type,
        }


def check_auth(
    client: CaliperClient,
    backends: Iterable[str] = BACKENDS,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> list[AuthCheck]:
    """Check the credentials of each back end with a token round trip and a cheap read; never raises API errors.

    Args:
        client: The client to check (use a fresh one: a token it already cached hides the token round trip).
        backends: Any of ``"caliper"`` and ``"platform"``.
        clock: A monotonic clock in seconds (injectable for tests).

    Returns:
        One :class:`AuthCheck` per back end, in the order asked.
    """
    probes: dict[str, tuple[str, str, Callable[[], object]]] = {
        "caliper": (client.base_url, "GET /caliper/events?limit=1", lambda: client.events.list(limit=1)),
        "platform": (client.platform_url, "GET /applications/1.0?limit=1", lambda: client.applications.list(limit=1)),
    }
    results = []
    for name in backends:
        if name not in probes:
            raise ValueError(f"unknown back end {name!r}; choose from {', '.join(BACKENDS)}")
        url, probe, call = probes[name]
        timings: list[float] = []
        try:
            for _ in range(2):
                start = clock()
                call()
                timings.append((clock() - start) * 1000)
        except TimebackError as exc:
            logger.info("auth check of %s failed: %s", name, exc)
            first = timings[0] if timings else None
            results.append(
                AuthCheck(
                    backend=name,
                    url=url,
                    probe=probe,
                    ok=False,
                    first_ms=first,
                    error=str(exc).splitlines()[0],
                    error_type=type(exc).__name__,
                )
            )
            continue
        results.append(
            AuthCheck(backend=name, url=url, probe=probe, ok=True, first_ms=timings[0], cached_ms=timings[1])
        )
    return results
