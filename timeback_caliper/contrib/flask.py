"""Flask integration: ``TimebackCaliper(app)`` or ``init_app(app)``, one client per app from ``app.config``.

``app.config["TIMEBACK_CALIPER"]`` is a dict with the keys of :data:`timeback_caliper.contrib.SETTINGS`
(``ENV``, ``SENSOR``, ``CLIENT_ID``...); values it leaves out come from ``TIMEBACK_*`` environment variables.

The client is shared by every request of the app (one connection pool, one token cache: a client per request
would fetch a token per request) and closed on app teardown: when the app object is garbage-collected, at
interpreter exit, or by :meth:`TimebackCaliper.close`. Flask is imported lazily.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ..client import CaliperClient
from ..models import Envelope
from ..models._base import CaliperModel
from ..models.api import SendResult
from . import MissingExtraError, build_client, settings_sensor

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["EXTENSION", "TimebackCaliper"]

logger = logging.getLogger(__name__)

EXTENSION = "timeback_caliper"
"""The key of the app's state in ``app.extensions``."""


@attrs.define
class _AppState:
    client: CaliperClient
    sensor: str | None
    finalizer: weakref.finalize[Any, Any]


class TimebackCaliper:
    """The Flask extension: ``caliper = TimebackCaliper(app)``, or ``caliper.init_app(app)`` in an app factory.

    Args:
        app: The app to set up now (else call :meth:`init_app` later, once per app).
        config_key: The ``app.config`` key of the settings dict.
    """

    def __init__(self, app: Flask | None = None, *, config_key: str = "TIMEBACK_CALIPER") -> None:
        self.config_key = config_key
        self._app: weakref.ReferenceType[Flask] | None = None
        if app is not None:
            self.init_app(app)
            self._app = weakref.ref(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's client from ``app.config`` (no network I/O) and register its teardown.

        Raises:
            ValueError: the settings are invalid (unknown key, missing credentials, bad URL).
        """
        try:
            import flask  # noqa: F401 - fail early and clearly without the extra
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise MissingExtraError("flask", "flask", "timeback_caliper.contrib.flask") from exc
        if EXTENSION in app.extensions:
            raise RuntimeError(f"TimebackCaliper is already set up on app {app.name!r}")
        config = app.config.get(self.config_key) or {}
        client = build_client(config, where=f"app.config[{self.config_key!r}]")
        # Closed with the app, never per request: weakref.finalize runs when the app is collected or at exit.
        finalizer = weakref.finalize(app, _close, client, app.name)
        app.extensions[EXTENSION] = _AppState(client=client, sensor=settings_sensor(config), finalizer=finalizer)
        logger.debug("timeback_caliper set up on app %r: %r", app.name, client)

    def _state(self, app: Flask | None = None) -> _AppState:
        if app is None:
            from flask import current_app, has_app_context

            if has_app_context():
                app = current_app._get_current_object()  # type: ignore[attr-defined]
            elif self._app is not None:
                app = self._app()
        if app is None:
            raise RuntimeError("no Flask app: use TimebackCaliper inside an app context, or pass app=")
        state = app.extensions.get(EXTENSION)
        if not isinstance(state, _AppState):
            raise RuntimeError(f"TimebackCaliper.init_app() was not called for app {app.name!r}")
        return state

    @property
    def client(self) -> CaliperClient:
        """The current app's :class:`CaliperClient` (thread-safe; share it, do not close it)."""
        return self._state().client

    @property
    def sensor(self) -> str | None:
        """The ``SENSOR`` setting of the current app."""
        return self._state().sensor

    def client_for(self, app: Flask) -> CaliperClient:
        """``app``'s client, outside an app context (a CLI command, a worker)."""
        return self._state(app).client

    def send(self, events: Envelope | Iterable[CaliperModel], *, sensor: str | None = None) -> SendResult:
        """Send events now with the current app's client (default sensor: the envelope's, else ``SENSOR``).

        Raises:
            CaliperValidationError: invalid events or no sensor (nothing sent); ApiError, TransportError...
        """
        state = self._state()
        if isinstance(events, Envelope):
            if sensor is None:
                return state.client.events.send_envelope(events)
            return state.client.events.send(sensor, list(events.data))
        chosen = sensor or state.sensor
        if not chosen:
            raise ValueError(f"no sensor: pass sensor= or set {self.config_key}['SENSOR']")
        return state.client.events.send(chosen, list(events))

    def close(self, app: Flask | None = None) -> None:
        """Close the app's client now (the app is being torn down); safe to call twice."""
        self._state(app).finalizer()


def _close(client: CaliperClient, name: str) -> None:
    logger.debug("closing the Timeback client of app %r", name)
    client.close()
