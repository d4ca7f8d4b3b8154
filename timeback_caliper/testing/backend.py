"""The emulator's state shared by every route: settings, clients and tokens, the store, the worker, faults, the log."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from ._wire import ALL_SCOPES
from .faults import FaultController
from .store import Store, TokenRow
from .worker import JobWorker

__all__ = ["Backend", "ClientSpec", "EmulatorConfig", "RecordedRequest"]

DedupeMode = Literal["off", "ignore", "reject"]
SuccessBody = Literal["json", "job-id", "empty"]


@attrs.define(kw_only=True)
class EmulatorConfig:
    """Behaviour switches; each is read on every request, so tests may change them while the server runs."""

    token_lifetime: int = attrs.field(default=3600, validator=attrs.validators.ge(1))
    """``expires_in`` of issued tokens, in seconds (short values exercise the client's refresh)."""
    job_delay: float = attrs.field(default=0.005, validator=attrs.validators.ge(0.0))
    """Seconds a job stays ``active`` before it completes."""
    dedupe: DedupeMode = attrs.field(default="off", validator=attrs.validators.in_(("off", "ignore", "reject")))
    """Repeated event ids: ``off`` stores every copy (the real service), ``ignore`` keeps the first, ``reject`` 409s."""
    success_status: int = attrs.field(default=200, validator=attrs.validators.in_((200, 201, 202)))
    """Status of an accepted ``POST /caliper/event``."""
    success_body: SuccessBody = attrs.field(default="json", validator=attrs.validators.in_(("json", "job-id", "empty")))
    """``json`` (``{"status", "message", "jobId"}``), ``job-id`` (the bare id as text) or ``empty``."""
    max_body_bytes: int = attrs.field(default=1_048_576, validator=attrs.validators.ge(1))
    """Larger request bodies get a 413."""
    list_max_limit: int = attrs.field(default=1000, validator=attrs.validators.ge(1))
    """``GET /caliper/events`` caps ``limit`` here (and reports the cap in ``pagination.limit``)."""
    session_gap: float = attrs.field(default=600.0, validator=attrs.validators.ge(0.0))
    """Insights: windows further apart than this (seconds) start a new session."""
    max_recorded_requests: int = attrs.field(default=10_000, validator=attrs.validators.ge(0))
    """The request log keeps this many of the latest requests."""


def _scopes(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset(scopes)


@attrs.frozen
class ClientSpec:
    """A client the token routes accept."""

    secret: str = attrs.field(repr=False)
    scopes: frozenset[str] = attrs.field(default=frozenset(ALL_SCOPES), converter=_scopes)
    """What it may be granted (a token request without ``scope`` gets all of them)."""


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """A request the emulator received, as sent (credentials included: it is never logged)."""

    seq: int
    """Arrival order, from 1."""
    method: str
    path: str
    """Path as sent (percent-encoded), without the query."""
    query: dict[str, list[str]]
    headers: dict[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    client_id: str | None
    """The client whose token (or credentials, on a token route) came with it."""
    status: int | None
    """The status answered; None when the connection was closed without an answer."""
    fault: str | None
    """The fault injected into it (``"503"``, ``"close"``...), if any."""

    def header(self, name: str) -> str | None:
        """A header's value, whatever its case."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def event_ids(self) -> list[str]:
        """The event ids in an envelope body (empty for other bodies)."""
        try:
            data = self.json().get("data")
        except (ValueError, AttributeError, UnicodeDecodeError):
            return []
        return [e["id"] for e in data if isinstance(e, dict) and "action" in e] if isinstance(data, list) else []


class Backend:
    """Everything the routes share. Thread-safe; built and owned by :class:`Emulator`."""

    def __init__(self, config: EmulatorConfig, store: Store, clients: Mapping[str, ClientSpec]) -> None:
        self.config, self.store = config, store
        self.clients: dict[str, ClientSpec] = dict(clients)
        self.faults = FaultController()
        self.worker = JobWorker(store, lambda: self.config.job_delay, lambda: self.config.dedupe == "ignore")
        self._lock = threading.Lock()
        self._seq = 0
        self._log: deque[RecordedRequest] = deque(maxlen=config.max_recorded_requests or None)

    # ---------------------------------------------------------------------------------------------- tokens
    def issue_token(self, client_id: str, issuer: str, scopes: Iterable[str]) -> str:
        """Issue an opaque bearer token that expires after ``config.token_lifetime`` seconds."""
        token = "emu_" + secrets.token_urlsafe(24)
        row = TokenRow(client_id, issuer, frozenset(scopes), time.time() + self.config.token_lifetime)
        self.store.add_token(token, row)
        return token

    def check_token(self, token: str) -> tuple[TokenRow | None, bool]:
        """``(row, expired)``: the row of a valid token, or None (``expired`` tells why)."""
        row = self.store.token(token)
        if row is None:
            return None, False
        if row.expires_at <= time.time():
            return None, True
        return row, False

    def expire_tokens(self, token: str | None = None) -> int:
        """Make one token, or every token, expire now."""
        return self.store.expire_tokens(time.time(), token)

    # ---------------------------------------------------------------------------------------------- request log
    def next_seq(self) -> int:
        """The next arrival number."""
        with self._lock:
            self._seq += 1
            return self._seq

    def record(self, entry: RecordedRequest) -> None:
        """Keep a request in the log (the oldest fall off past ``max_recorded_requests``)."""
        if self.config.max_recorded_requests:
            with self._lock:
                if self._log.maxlen != self.config.max_recorded_requests:
                    self._log = deque(self._log, maxlen=self.config.max_recorded_requests)
                self._log.append(entry)

    def requests(self) -> list[RecordedRequest]:
        """The logged requests in arrival order."""
        with self._lock:
            entries = list(self._log)
        return sorted(entries, key=lambda r: r.seq)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()

    # ---------------------------------------------------------------------------------------------- applications
    def catalogue(self) -> dict[str, str]:
        """Application names (lower case) -> sourcedId, for the Insights derivation."""
        return {str(a.get("name", "")).lower(): str(a["sourcedId"]) for a in self.store.docs("application")}

    def seed_application(
        self,
        name: str,
        *,
        sourced_id: str | None = None,
        description: str = "",
        logo_url: str | None = None,
        application_type: str = "learning_app",
        waste_meter: str = "on",
        proctoring_mode: str = "off",
    ) -> dict[str, Any]:
        """Add (or replace) an application in the catalogue; its id defaults to ``uuid5(NAMESPACE_URL, name)``."""
        app_id = sourced_id or str(uuid.uuid5(uuid.NAMESPACE_URL, "timeback-app:" + name))
        record = {
            "sourcedId": app_id,
            "name": name,
            "description": description,
            "logoUrl": logo_url,
            "applicationType": application_type,
            "wasteMeter": waste_meter,
            "proctoringMode": proctoring_mode,
        }
        self.store.put_doc("application", app_id, record)
        return record


DEFAULT_APPLICATIONS: tuple[dict[str, Any], ...] = (
    {
        "name": "Math Learning Suite",
        "description": "Comprehensive math learning platform",
        "logo_url": "https://example.com/logo.png",
    },
    {"name": "Reading Coach", "description": "Guided reading practice", "logo_url": "https://example.com/reading.png"},
    {
        "name": "Proctored Test Center",
        "description": "Proctored assessments",
        "logo_url": "https://example.com/tests.png",
        "application_type": "assessment_app",
        "proctoring_mode": "on",
    },
)
"""Seeded on first start unless ``seed_applications=False``."""
