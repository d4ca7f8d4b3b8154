"""``/_emulator/*``: control and introspection over HTTP, for tests that run the emulator in another process.

Not part of the Timeback API. No token needed (the emulator listens on loopback); faults never apply here.

* ``GET /_emulator/state``: counts (events, duplicates, jobs by state, requests) and the fault tallies.
* ``POST /_emulator/faults``: ``{"faults": ["503x2@/caliper/event", ...]}`` and/or
  ``{"random": {"rate": 0.2, "seed": 7}}``.
* ``DELETE /_emulator/faults``: disarm every fault and the random mode.
* ``POST /_emulator/expire-tokens``: every issued token expires now.
* ``POST /_emulator/release-jobs``: ``delayed`` jobs run.
* ``POST /_emulator/reset``: forget events, jobs, tokens, webhooks, filters, faults and the request log.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from .backend import Backend
from .faults import RandomFaults
from .routing import ADMIN, Reply, Request, Route, json_body

__all__ = ["ROUTES", "reset", "state"]


def state(app: Backend) -> dict[str, Any]:
    """A JSON summary of what the emulator holds."""
    counts = app.store.event_counts()
    jobs = Counter(j.state for j in app.store.jobs())
    stats = app.faults.stats()
    return {
        "events": sum(counts.values()),
        "distinctEvents": len(counts),
        "duplicates": sum(n - 1 for n in counts.values()),
        "jobs": dict(jobs),
        "requests": len(app.requests()),
        "faults": {"injected": stats.injected, "ambiguous": stats.ambiguous, "random": stats.random},
        "pendingFaults": len(app.faults.pending()),
    }


def reset(app: Backend) -> None:
    """Forget everything but the clients and the application catalogue."""
    app.faults.clear()
    app.faults.reset_stats()
    app.worker.clear()
    app.store.clear()
    app.clear_requests()


def get_state(app: Backend, req: Request) -> Reply:
    """``GET /_emulator/state``."""
    return Reply(status=200, body=state(app))


def post_faults(app: Backend, req: Request) -> Reply:
    """``POST /_emulator/faults``."""
    body = json_body(req, ADMIN)
    if not isinstance(body, dict):
        return Reply(status=400, body={"error": "expected a JSON object"})
    try:
        specs = body.get("faults") or []
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            raise ValueError("faults must be a list of spec strings")
        app.faults.add(*specs)
        random = body.get("random")
        if isinstance(random, dict):
            app.faults.set_random(RandomFaults(**random))
    except (TypeError, ValueError) as exc:
        return Reply(status=400, body={"error": str(exc)})
    return Reply(status=200, body={"pending": [attrs.asdict(f) for f in app.faults.pending()]})


def delete_faults(app: Backend, req: Request) -> Reply:
    """``DELETE /_emulator/faults``."""
    app.faults.clear()
    return Reply(status=200, body={"pending": []})


def expire_tokens(app: Backend, req: Request) -> Reply:
    """``POST /_emulator/expire-tokens``."""
    return Reply(status=200, body={"expired": app.expire_tokens()})


def release_jobs(app: Backend, req: Request) -> Reply:
    """``POST /_emulator/release-jobs``."""
    return Reply(status=200, body={"released": app.worker.release_delayed()})


def post_reset(app: Backend, req: Request) -> Reply:
    """``POST /_emulator/reset``."""
    reset(app)
    return Reply(status=200, body=state(app))


ROUTES = [
    Route("GET", "/_emulator/state", get_state, ADMIN),
    Route("POST", "/_emulator/faults", post_faults, ADMIN),
    Route("DELETE", "/_emulator/faults", delete_faults, ADMIN),
    Route("POST", "/_emulator/expire-tokens", expire_tokens, ADMIN),
    Route("POST", "/_emulator/release-jobs", release_jobs, ADMIN),
    Route("POST", "/_emulator/reset", post_reset, ADMIN),
]
