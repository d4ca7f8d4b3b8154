"""What every command shares: the run's settings, building the client, status messages and option parsing."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .._http import RetryPolicy
from ..client import CaliperClient
from ._deps import click

__all__ = ["Runtime", "Settings", "format_option", "get_client", "note", "parse_when", "runtime"]

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen(kw_only=True)
class Settings:
    """Connection settings from the global options; anything not given comes from ``TIMEBACK_*`` variables."""

    env: str | None = None
    base_url: str | None = None
    token_url: str | None = None
    platform_url: str | None = None
    platform_token_url: str | None = None
    client_id: str | None = None
    client_secret_file: str | None = None
    platform_client_id: str | None = None
    platform_client_secret_file: str | None = None
    timeout: float | None = None
    deadline: float | None = None
    max_attempts: int | None = None

    def overrides(self) -> dict[str, Any]:
        """The ``CaliperClient.from_env`` keyword arguments these options set (secrets read from their files)."""
        given: dict[str, Any] = {
            "env": self.env,
            "base_url": self.base_url,
            "token_url": self.token_url,
            "platform_url": self.platform_url,
            "platform_token_url": self.platform_token_url,
            "client_id": self.client_id,
            "platform_client_id": self.platform_client_id,
        }
        out = {k: v for k, v in given.items() if v}
        if self.client_secret_file:
            out["client_secret"] = _read_secret(self.client_secret_file, "--client-secret-file")
        if self.platform_client_secret_file:
            out["platform_client_secret"] = _read_secret(
                self.platform_client_secret_file, "--platform-client-secret-file"
            )
        if self.timeout is not None:
            out["timeout"] = (min(self.timeout, 5.0), self.timeout)
        if self.deadline is not None or self.max_attempts is not None:
            defaults = RetryPolicy()
            out["retry"] = RetryPolicy(
                deadline=self.deadline if self.deadline is not None else defaults.deadline,
                max_attempts=self.max_attempts if self.max_attempts is not None else defaults.max_attempts,
            )
        return out

    def client(self, **extra: Any) -> CaliperClient:
        """A new client: these options, then ``TIMEBACK_*`` variables, then the library's defaults.

        Raises:
            click.UsageError: the credentials are missing or a value is refused (exit code 2).
        """
        kwargs = {**self.overrides(), **extra}
        if not kwargs.get("client_id") and not os.environ.get("TIMEBACK_CLIENT_ID"):
            raise click.UsageError("no client id: set TIMEBACK_CLIENT_ID or pass --client-id")
        if not kwargs.get("client_secret") and not os.environ.get("TIMEBACK_CLIENT_SECRET"):
            raise click.UsageError(
                "no client secret: set TIMEBACK_CLIENT_SECRET, or TIMEBACK_CLIENT_SECRET_FILE / --client-secret-file "
                "naming a file that holds it"
            )
        try:
            return CaliperClient.from_env(**kwargs)
        except (TypeError, ValueError) as exc:
            raise click.UsageError(f"cannot configure the client: {exc}") from exc


def _read_secret(path: str, option: str) -> str:
    try:
        secret = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise click.UsageError(f"{option}: cannot read {path}: {exc.strerror or exc}") from exc
    if not secret:
        raise click.UsageError(f"{option}: {path} is empty")
    return secret


@attrs.define
class Runtime:
    """State of one run of the command, passed as click's ``obj``."""

    verbose: int = 0
    quiet: bool = False
    settings: Settings = attrs.Factory(Settings)


def runtime(ctx: click.Context) -> Runtime:
    """The run's :class:`Runtime` (set up by the root group)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Runtime):  # invoked without run(): e.g. click's test runner on a subcommand
        obj = ctx.find_root().obj = Runtime()
    return obj


def get_client(ctx: click.Context, **extra: Any) -> CaliperClient:
    """A client for this command, closed when the command ends."""
    client = runtime(ctx).settings.client(**extra)
    ctx.call_on_close(client.close)
    return client


def note(ctx: click.Context, message: str) -> None:
    """A status line on stderr (stdout carries results); silent with ``--quiet``."""
    if not runtime(ctx).quiet:
        click.echo(message, err=True)


def format_option(default: str, choices: tuple[str, ...] = ("table", "json", "jsonl")) -> Callable[[F], F]:
    """The ``--format`` option of the reading commands."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="table for people, json (one document) or jsonl (one record per line) for programs",
    )


def parse_when(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time; a date means its midnight UTC, and a time without offset is UTC."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (2025-01-15) or date-time (2025-01-15T09:00:00Z)", param_hint=name
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
