"""The command line's one import of click, guarded so a missing ``[cli]`` extra gives an error that names it."""

from __future__ import annotations

from ..contrib import MissingExtraError

try:
    import click
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("click", "cli", "the timeback-caliper command") from exc

__all__ = ["click"]
