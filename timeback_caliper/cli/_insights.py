"""``timeback-caliper insights user|sessions|session|overview``: what Timeback derived from a learner's events."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta, tzinfo

from ..models.insights import InsightsPage
from ._common import format_option, get_client, note, parse_when
from ._deps import click
from .render import fmt_duration, fmt_time, print_json, print_jsonl, print_overview, print_table

__all__ = ["insights"]


def _print_insights(page: InsightsPage, fmt: str) -> None:
    if fmt == "json":
        print_json(page.raw)
        return
    if fmt == "jsonl":
        print_jsonl(i.raw for i in page.insights)
        return
    if page.session is not None:
        s = page.session
        click.echo(
            f"Session {fmt_time(s.started_at_time)} to {fmt_time(s.ended_at_time)}: "
            f"{fmt_duration(s.duration_in_seconds)}, waste {fmt_duration(s.waste_duration_in_seconds)} "
            f"({s.waste_percentage:g}%)"
        )
    rows = [
        [
            fmt_time(i.started_at_time),
            fmt_time(i.ended_at_time),
            i.insight_type,
            fmt_duration(i.duration_in_seconds),
            i.reason,
        ]
        for i in page.insights
    ]
    total = f" of {page.total}" if page.total is not None else ""
    print_table(
        ["Started", "Ended", "Type", "Duration", "Reason"],
        rows,
        title=f"{len(rows)} insights (offset {page.offset}{total})",
        right=(3,),
    )


def _types(values: tuple[str, ...]) -> list[str] | None:
    found = [t.strip() for v in values for t in v.split(",") if t.strip()]
    return found or None


@click.group("insights", short_help="Read a learner's insights, sessions and overview.")
def insights() -> None:
    """Read a learner's insights, sessions and overview (the platform back end)."""


@insights.command("user")
@click.argument("user_id")
@click.option("--application-id", metavar="UUID", help="Only this application")
@click.option("--after", metavar="WHEN", help="Insights at or after (2025-01-15 or 2025-01-15T09:00:00Z)")
@click.option("--before", metavar="WHEN", help="Insights at or before")
@click.option(
    "--type", "types", multiple=True, metavar="TYPE", help="Only these insight types (repeat or comma-separate)"
)
@click.option("--allow-unknown-types", is_flag=True, help="Send type names this client does not know")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@format_option("table")
@click.pass_context
def user_command(
    ctx: click.Context,
    user_id: str,
    application_id: str | None,
    after: str | None,
    before: str | None,
    types: tuple[str, ...],
    allow_unknown_types: bool,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """One page of USER_ID's insights (a Timeback user id, a UUID)."""
    page = get_client(ctx).insights.user(
        user_id,
        application_id=application_id,
        after=parse_when(after, "--after"),
        before=parse_when(before, "--before"),
        types=_types(types),
        allow_unknown_types=allow_unknown_types,
        limit=limit,
        offset=offset,
    )
    _print_insights(page, fmt)


@insights.command("sessions")
@click.argument("user_id")
@click.option("--application-id", metavar="UUID", help="Only this application")
@click.option("--started-after", metavar="WHEN", help="Sessions started at or after")
@click.option("--started-before", metavar="WHEN", help="Sessions started at or before")
@click.option("--proctored/--not-proctored", default=None, help="Only proctored (or unproctored) sessions")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@format_option("table")
@click.pass_context
def sessions_command(
    ctx: click.Context,
    user_id: str,
    application_id: str | None,
    started_after: str | None,
    started_before: str | None,
    proctored: bool | None,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """One page of USER_ID's learning sessions."""
    page = get_client(ctx).insights.sessions(
        user_id,
        application_id=application_id,
        started_after=parse_when(started_after, "--started-after"),
        started_before=parse_when(started_before, "--started-before"),
        is_proctored=proctored,
        limit=limit,
        offset=offset,
    )
    if fmt == "json":
        print_json(page.raw)
    elif fmt == "jsonl":
        print_jsonl(s.raw for s in page.sessions)
    else:
        rows = [
            [
                s.id,
                s.application_id,
                fmt_time(s.started_at_time),
                fmt_duration(s.duration_in_seconds),
                fmt_duration(s.waste_duration_in_seconds),
                f"{s.waste_percentage:g}%",
                "yes" if s.is_proctored else "no",
            ]
            for s in page.sessions
        ]
        total = f" of {page.total}" if page.total is not None else ""
        print_table(
            ["Session", "Application", "Started", "Duration", "Waste", "Waste %", "Proctored"],
            rows,
            title=f"{len(rows)} sessions (offset {page.offset}{total})",
            right=(3, 4, 5),
        )


@insights.command("session")
@click.argument("session_id")
@click.option("--proctored/--not-proctored", default=None, help="Only if the session is (or is not) proctored")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only these insight types")
@click.option("--allow-unknown-types", is_flag=True, help="Send type names this client does not know")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@format_option("table")
@click.pass_context
def session_command(
    ctx: click.Context,
    session_id: str,
    proctored: bool | None,
    types: tuple[str, ...],
    allow_unknown_types: bool,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """The insights of one session (SESSION_ID from `insights sessions`)."""
    page = get_client(ctx).insights.session(
        session_id,
        is_proctored=proctored,
        types=_types(types),
        allow_unknown_types=allow_unknown_types,
        limit=limit,
        offset=offset,
    )
    _print_insights(page, fmt)


def overview_period(
    zone: tzinfo, days: int, start: str | None, end: str | None, today: date | None = None
) -> tuple[datetime, datetime]:
    """``[start, end)`` as local midnights in ``zone``: the last ``days`` days up to today, or the dates given."""

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone)

    try:
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
    except ValueError:
        raise click.BadParameter("--start and --end are dates: 2025-01-13") from None
    if first is None and last is None:
        last = (today or datetime.now(zone).date()) + timedelta(days=1)
    if first is None:
        assert last is not None
        first = last - timedelta(days=days)
    if last is None:
        last = first + timedelta(days=days)
    if last <= first:
        raise click.BadParameter("--end must be after --start")
    return midnight(first), midnight(last)


@insights.command("overview")
@click.argument("user_id")
@click.option(
    "--tz", "tz_name", default="UTC", show_default=True, metavar="ZONE", help="IANA zone of the daily buckets"
)
@click.option(
    "--days", type=click.IntRange(1, 366), default=7, show_default=True, help="Days up to today (or from --start)"
)
@click.option("--start", metavar="DATE", help="First day (local date, 2025-01-13)")
@click.option("--end", metavar="DATE", help="Day after the last (exclusive)")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    metavar="FILE.png",
    help="Also draw the trend (needs [plot])",
)
@format_option("table", ("table", "json"))
@click.pass_context
def overview_command(
    ctx: click.Context,
    user_id: str,
    tz_name: str,
    days: int,
    start: str | None,
    end: str | None,
    plot_path: str | None,
    fmt: str,
) -> None:
    """USER_ID's time over a period: summary, one bucket per local day, breakdown by level."""
    try:
        zone = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{tz_name!r} is not an IANA time zone (e.g. America/Chicago)", param_hint="--tz"
        ) from None
    after, before = overview_period(zone, days, start, end)
    overview = get_client(ctx).insights.overview(
        user_id, started_after=after, started_before=before, target_timezone=tz_name
    )
    if fmt == "json":
        print_json(overview.raw)
    else:
        click.echo(f"Overview of {user_id}, {after.date()} to {(before - timedelta(days=1)).date()} ({tz_name})")
        print_overview(overview, zone=zone)
    if plot_path:
        from .plot import plot_overview

        written = plot_overview(overview, plot_path, title=f"{user_id}: {after.date()} to {before.date()}", zone=zone)
        note(ctx, f"wrote {written}")
