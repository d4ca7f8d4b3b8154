"""Django integration: one shared client per process from ``settings.TIMEBACK_CALIPER``, and ``send_on_commit``.

Add ``"timeback_caliper.contrib.django"`` to ``INSTALLED_APPS`` (for the ``timeback_caliper_check`` management
command, and to rebuild the client when tests override the settings), then::

    TIMEBACK_CALIPER = {"ENV": "staging", "SENSOR": "https://myapp.example.com"}  # secrets from TIMEBACK_* vars

Django is imported lazily: importing this module needs none of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ...client import CaliperClient
from ...errors import CaliperValidationError, Problem, TimebackError
from ...models import Envelope, Event
from ...models._base import CaliperModel
from ...models.api import SendResult
from ...serialization import validate
from .. import MissingExtraError, build_client, settings_sensor

__all__ = ["SETTING", "get_client", "reset_client", "send_on_commit"]

logger = logging.getLogger(__name__)

SETTING = "TIMEBACK_CALIPER"
"""The settings name: a dict with the keys of :data:`timeback_caliper.contrib.SETTINGS`."""


class _Shared:
    """The process's client, built on first use; a forked worker keeps using it (the client reconnects)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: CaliperClient | None = None
        self.sensor: str | None = None


_shared = _Shared()


def _django() -> tuple[Any, type[Exception]]:
    """Django's settings object and ImproperlyConfigured, imported on first use."""
    try:
        from django.conf import settings  # type: ignore[import-untyped]
        from django.core.exceptions import ImproperlyConfigured  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError("django", "django", "timeback_caliper.contrib.django") from exc
    return settings, ImproperlyConfigured


def get_client() -> CaliperClient:
    """The process's shared :class:`CaliperClient`, built from ``settings.TIMEBACK_CALIPER`` on first use.

    Thread-safe, and safe across ``fork()`` (gunicorn ``--preload``): share it, never close it per request.

    Raises:
        django.core.exceptions.ImproperlyConfigured: the setting is missing or invalid.
    """
    with _shared.lock:
        if _shared.client is None:
            settings, improperly_configured = _django()
            config = getattr(settings, SETTING, None)
            if not isinstance(config, dict):
                raise improperly_configured(
                    f"set {SETTING} = {{...}} (a dict) in your Django settings; an empty dict reads everything "
                    f"from TIMEBACK_* environment variables"
                )
            try:
                client = build_client(config, where=SETTING)
            except ValueError as exc:
                raise improperly_configured(str(exc)) from exc
            _shared.client, _shared.sensor = client, settings_sensor(config)
            logger.debug("built the shared Timeback client: %r", client)
        return _shared.client


def reset_client() -> None:
    """Close the shared client; the next :func:`get_client` builds a new one (after a settings change)."""
    with _shared.lock:
        client, _shared.client, _shared.sensor = _shared.client, None, None
    if client is not None:
        client.close()


def _default_sensor() -> str | None:
    get_client()
    return _shared.sensor


def _check(sensor: str | None, data: list[CaliperModel]) -> str:
    problems: list[Problem] = []
    if not sensor:
        problems.append(Problem("sensor", f"no sensor: pass sensor= or set {SETTING}['SENSOR']", "ENV-1"))
    elif ":" not in sensor or any(c.isspace() for c in sensor):
        problems.append(Problem("sensor", f"the sensor must be an absolute IRI, got {sensor!r}", "ENV-1"))
    if not data:
        problems.append(Problem("data", "send_on_commit() needs at least one event", "ENV-4"))
    seen: set[str] = set()
    for i, model in enumerate(data):
        if not isinstance(model, CaliperModel):
            problems.append(Problem(f"data[{i}]", f"expected an event model, got {type(model).__name__}", "ENV-4"))
            continue
        problems += [
            Problem(f"data[{i}].{p.path}" if p.path else f"data[{i}]", p.message, p.rule)
            for p in validate(model)
            if p.severity == "error"
        ]
        if isinstance(model, Event):
            if model.profile is None:
                problems.append(Problem(f"data[{i}].profile", "profile is required to send an event", "EVT-2"))
            if model.id in seen:
                problems.append(Problem(f"data[{i}].id", f"duplicate event id {model.id!r}", "EVT-1"))
            seen.add(model.id)
    if problems:
        raise CaliperValidationError("send_on_commit(): invalid events, nothing will be sent", problems)
    assert sensor is not None
    return sensor


def send_on_commit(
    events: Envelope | Iterable[CaliperModel],
    *,
    sensor: str | None = None,
    using: str | None = None,
    on_sent: Callable[[SendResult], None] | None = None,
    on_error: Callable[[TimebackError, list[CaliperModel]], None] | None = None,
) -> None:
    """Send events once the surrounding database transaction commits (never if it rolls back).

    The events are checked now, inside the transaction, so invalid data raises here and can roll it back. The
    send itself runs after the commit, in the committing thread (outside a transaction: at once). A send that
    fails after the commit cannot undo it: the error is logged and passed to ``on_error``, never raised into
    the code that committed. For delivery that survives crashes and outages, use the outbox
    (``timeback_caliper.outbox``) in the same transaction instead.

    Args:
        events: Event models (``create_activity_event(...)``...), or an envelope such as
            ``get_client().activity.build(...)`` (its sensor is used).
        sensor: The sensor IRI; default: the envelope's, else ``TIMEBACK_CALIPER["SENSOR"]``.
        using: The database alias whose transaction to follow (Django's default when None).
        on_sent: Called with the :class:`SendResult` after a successful send.
        on_error: Called with the error and the events when the send failed (after logging it).

    Raises:
        CaliperValidationError: an event is invalid or no sensor is known (nothing will be sent).
        django.core.exceptions.ImproperlyConfigured: the settings are missing or invalid.
    """
    try:
        from django.db import transaction  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError("django", "django", "send_on_commit") from exc
    if isinstance(events, Envelope):
        data = list(events.data)
        sensor = sensor or events.sensor
    else:
        data = list(events)
    chosen = _check(sensor or _default_sensor(), data)

    def _send() -> None:
        try:
            result = get_client().events.send(chosen, data)
        except TimebackError as exc:
            logger.error("send_on_commit: %d events were not sent: %s", len(data), exc)
            if on_error is not None:
                on_error(exc, data)
            return
        logger.info("send_on_commit: sent %d events (jobs %s)", len(data), ", ".join(map(str, result.job_ids)))
        if on_sent is not None:
            on_sent(result)

    transaction.on_commit(_send, using=using)
