"""The Django app config: rebuilds the shared client when ``TIMEBACK_CALIPER`` changes (``override_settings``)."""

from __future__ import annotations

from typing import Any

from .. import MissingExtraError

try:
    from django.apps import AppConfig  # type: ignore[import-untyped]
    from django.core.signals import setting_changed  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("django", "django", "timeback_caliper.contrib.django") from exc

__all__ = ["TimebackCaliperConfig"]


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    from . import SETTING, reset_client

    if setting == SETTING:
        reset_client()


class TimebackCaliperConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """``timeback_caliper.contrib.django``: the ``timeback_caliper_check`` command and settings-change handling."""

    name = "timeback_caliper.contrib.django"
    label = "timeback_caliper"
    verbose_name = "Timeback Caliper"

    def ready(self) -> None:
        """Connect the settings-change handler (once: the dispatch uid makes a second connect a no-op)."""
        setting_changed.connect(_setting_changed, dispatch_uid="timeback_caliper.reset_client")
