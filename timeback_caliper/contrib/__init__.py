"""Integrations with optional frameworks (Django, Flask) and what they share: settings -> client, missing extras.

Each integration reads one mapping of settings (``TIMEBACK_CALIPER = {...}`` in Django settings or Flask's
``app.config``) with the keys of :data:`SETTINGS`. Values not given there come from the ``TIMEBACK_*`` environment
variables (``CaliperClient.from_env``) unless ``USE_ENV`` is false, so secrets can stay out of settings files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..client import CaliperClient
from ..errors import MissingExtraError

__all__ = ["SETTINGS", "MissingExtraError", "build_client", "emulator_settings", "settings_sensor"]

logger = logging.getLogger(__name__)


SETTINGS: dict[str, str] = {
    "ENV": "env",
    "CLIENT_ID": "client_id",
    "CLIENT_SECRET": "client_secret",
    "BASE_URL": "base_url",
    "TOKEN_URL": "token_url",
    "PLATFORM_URL": "platform_url",
    "PLATFORM_TOKEN_URL": "platform_token_url",
    "PLATFORM_CLIENT_ID": "platform_client_id",
    "PLATFORM_CLIENT_SECRET": "platform_client_secret",
    "API_URL": "oneroster_url",
    "SENSOR": "sensor",
    "APP_NAME": "app_name",
    "ACTIVITY_BASE_URL": "activity_base_url",
    "COURSES": "courses",
    "TIMEOUT": "timeout",
    "DEADLINE": "deadline",
    "MAX_ATTEMPTS": "max_attempts",
    "POOL_MAXSIZE": "pool_maxsize",
}
"""Settings key -> ``CaliperClient`` keyword. ``USE_ENV`` (default True) and ``OPTIONS`` (any other keyword) too."""
_EXTRA_KEYS = frozenset({"USE_ENV", "OPTIONS"})


def _checked(config: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    if not isinstance(config, Mapping):
        raise ValueError(f"{where} must be a dict of settings, got {type(config).__name__}")
    unknown = sorted(set(config) - set(SETTINGS) - _EXTRA_KEYS)
    if unknown:
        known = ", ".join(sorted(set(SETTINGS) | _EXTRA_KEYS))
        raise ValueError(f"{where}: unknown keys {', '.join(unknown)} (known: {known})")
    options = config.get("OPTIONS", {})
    if not isinstance(options, Mapping):
        raise ValueError(f"{where}['OPTIONS'] must be a dict of CaliperClient keyword arguments")
    return config


def build_client(config: Mapping[str, Any], *, where: str = "TIMEBACK_CALIPER") -> CaliperClient:
    """A :class:`CaliperClient` from a settings mapping (keys of :data:`SETTINGS`, ``USE_ENV``, ``OPTIONS``).

    Args:
        config: The settings, e.g. ``{"ENV": "staging", "CLIENT_ID": ..., "SENSOR": "https://app.example"}``.
        where: The settings' name, for error messages.

    Raises:
        ValueError: an unknown key, or a value the client refuses (missing credentials, a bad URL...).
    """
    config = _checked(config, where)
    kwargs: dict[str, Any] = {arg: config[key] for key, arg in SETTINGS.items() if config.get(key) is not None}
    kwargs.update(config.get("OPTIONS", {}))
    try:
        if config.get("USE_ENV", True):
            return CaliperClient.from_env(**kwargs)
        return CaliperClient(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def settings_sensor(config: Mapping[str, Any]) -> str | None:
    """The ``SENSOR`` setting (the default sensor IRI of sends), if any."""
    value = config.get("SENSOR") if isinstance(config, Mapping) else None
    return value if isinstance(value, str) and value else None


def emulator_settings(emulator: Any, **extra: Any) -> dict[str, Any]:
    """Settings that point an integration at a local emulator, for your tests (nothing read from the environment).

    Args:
        emulator: A started :class:`timeback_caliper.testing.Emulator`.
        **extra: More settings (``SENSOR``, ``APP_NAME``...), same keys as the real settings.

    Returns:
        ``{"USE_ENV": False, "CLIENT_ID": ..., "CLIENT_SECRET": ..., "BASE_URL": ..., ...}``.
    """
    return {
        "USE_ENV": False,
        "CLIENT_ID": emulator.client_id,
        "CLIENT_SECRET": emulator.client_secret,
        "BASE_URL": emulator.url,
        "TOKEN_URL": emulator.token_url,
        "PLATFORM_URL": emulator.url,
        "PLATFORM_TOKEN_URL": emulator.platform_token_url,
        **extra,
    }
