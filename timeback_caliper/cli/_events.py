"""``timeback-caliper events list|get|stream``: read stored events back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..models.api import StoredEvent
from ._common import format_option, get_client, parse_when
from ._deps import click
from .render import fmt_time, print_json, print_jsonl, print_table

__all__ = ["events"]

F = TypeVar("F", bound=Callable[..., Any])


def _filters(func: F) -> F:
    """The filters shared by ``list`` and ``stream``."""
    options = [
        click.option("--sensor", metavar="IRI", help="Only events sent with this sensor"),
        click.option("--actor-id", metavar="IRI", help="Only events whose actor.id is this"),
        click.option("--actor-email", metavar="EMAIL", help="Only events whose actor.email is this"),
        click.option("--since", metavar="WHEN", help="eventTime at or after (2025-01-15 or 2025-01-15T09:00:00Z)"),
        click.option("--until", metavar="WHEN", help="eventTime before (same forms)"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filter_kwargs(
    sensor: str | None, actor_id: str | None, actor_email: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    return {
        "sensor": sensor,
        "actor_id": actor_id,
        "actor_email": actor_email,
        "start_date": parse_when(since, "--since"),
        "end_date": parse_when(until, "--until"),
    }


def _actor(event: StoredEvent) -> str:
    actor = event.actor
    if isinstance(actor, dict):
        return str(actor.get("email") or actor.get("id") or "-")
    return str(actor) if actor else "-"


def _object(event: StoredEvent) -> str:
    obj = event.object
    if isinstance(obj, dict):
        return str(obj.get("id") or "-")
    return str(obj) if obj else "-"


_HEADERS = ["Event time", "Type", "Action", "Actor", "Object", "Id"]


def _row(event: StoredEvent) -> list[str]:
    return [
        fmt_time(event.event_time),
        event.type or "-",
        event.action or "-",
        _actor(event),
        _object(event),
        event.external_id or "-",
    ]


def print_events(rows: Iterable[StoredEvent], fmt: str, *, title: str | None = None) -> int:
    """Print stored events as a table, a JSON array or JSON Lines (the rows as the server sent them)."""
    if fmt == "jsonl":
        return print_jsonl(e.raw for e in rows)
    found = list(rows)
    if fmt == "json":
        print_json([e.raw for e in found])
    else:
        print_table(_HEADERS, [_row(e) for e in found], title=title)
    return len(found)


@click.group("events")
def events() -> None:
    """Read stored events: list a page, get one, or stream them all."""


@events.command("list")
@_filters
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@format_option("table")
@click.pass_context
def list_command(
    ctx: click.Context,
    sensor: str | None,
    actor_id: str | None,
    actor_email: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """One page of stored events, newest first."""
    client = get_client(ctx)
    page = client.events.list(limit=limit, offset=offset, **_filter_kwargs(sensor, actor_id, actor_email, since, until))
    total = page.pagination.total
    title = f"{len(page.events)} events (offset {offset}" + (f" of {total})" if total is not None else ")")
    print_events(page.events, fmt, title=title)


@events.command("get")
@click.argument("event_id")
@format_option("json")
@click.pass_context
def get_command(ctx: click.Context, event_id: str, fmt: str) -> None:
    """One stored event by the id it was sent with (urn:uuid:...)."""
    event = get_client(ctx).events.get(event_id)
    if fmt == "json":
        print_json(event.raw)
    else:
        print_events([event], fmt)


@events.command("stream")
@_filters
@click.option("--page-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--max", "max_items", type=click.IntRange(min=0), help="Stop after this many events")
@format_option("jsonl")
@click.pass_context
def stream_command(
    ctx: click.Context,
    sensor: str | None,
    actor_id: str | None,
    actor_email: str | None,
    since: str | None,
    until: str | None,
    page_size: int,
    max_items: int | None,
    fmt: str,
) -> None:
    """Every stored event matching the filters, page by page (jsonl prints each as it arrives)."""
    client = get_client(ctx)
    stream = client.events.stream(
        page_size=page_size, max_items=max_items, **_filter_kwargs(sensor, actor_id, actor_email, since, until)
    )
    print_events(stream, fmt)
