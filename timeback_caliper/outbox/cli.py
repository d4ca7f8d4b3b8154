"""The ``outbox`` command group: add events from a file, drain (once or as a worker), inspect and repair.

Mounted by the ``timeback-caliper`` command as ``timeback-caliper outbox ...``; also runnable on its own as
``python -m timeback_caliper.outbox ...``. Needs the ``[cli]`` extra (click).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CaliperValidationError, MissingExtraError, TimebackError
from ._common import OutboxError
from ._outbox import DEFAULT_TABLE_PREFIX, Outbox

try:
    import click
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("click", "cli", "the outbox command") from exc

__all__ = ["main", "outbox"]

logger = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///timeback-outbox.db"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``12h`` or ``7d`` -> seconds."""
    text = text.strip().lower()
    scale = _UNITS.get(text[-1:], None)
    try:
        value = float(text[:-1] if scale is not None else text) * (scale or 1.0)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration (like 90, 15m, 12h or 7d)") from None
    if value < 0:
        raise click.BadParameter("a duration must be >= 0")
    return value


def _open(ctx: click.Context, **settings: Any) -> Outbox:
    opts = ctx.find_root().meta.get("timeback_outbox", {})
    try:
        box = Outbox(opts["url"], table_prefix=opts["table_prefix"], schema=opts["schema"], **settings)
    except (OutboxError, MissingExtraError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    ctx.call_on_close(box.close)
    return box


@click.group(name="outbox")
@click.option(
    "--url",
    envvar="TIMEBACK_OUTBOX_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="sqlite:///file.db, sqlite:////abs/file.db or postgresql://user@host/db [env TIMEBACK_OUTBOX_URL]",
)
@click.option(
    "--table-prefix",
    envvar="TIMEBACK_OUTBOX_TABLE_PREFIX",
    default=DEFAULT_TABLE_PREFIX,
    show_default=True,
    help="Table names start with this [env TIMEBACK_OUTBOX_TABLE_PREFIX]",
)
@click.option(
    "--schema", envvar="TIMEBACK_OUTBOX_SCHEMA", default=None, help="PostgreSQL schema [env TIMEBACK_OUTBOX_SCHEMA]"
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Library log level [default warning]",
)
@click.pass_context
def outbox(ctx: click.Context, url: str, table_prefix: str, schema: str | None, log_level: str | None) -> None:
    """A durable outbox: store events first, deliver them with a drain worker."""
    if ctx.parent is None:  # run on its own: this is the program, so it sets logging up
        level = (log_level or "warning").upper()
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif log_level:  # mounted: the root command owns the handlers; only the level is ours to change
        logging.getLogger("timeback_caliper").setLevel(log_level.upper())
    ctx.find_root().meta["timeback_outbox"] = {"url": url, "table_prefix": table_prefix, "schema": schema}


# ---------------------------------------------------------------------------------------------------- add
def _read_events(path: str, sensor: str | None) -> tuple[list[Any], str]:
    raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        docs: list[Any] = [json.loads(raw)]
    except ValueError:
        try:  # JSON Lines: one event (or envelope) per line
            docs = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except ValueError as exc:
            raise click.BadParameter(f"{path}: not JSON or JSON Lines ({exc})", param_hint="FILE") from None
    events: list[Any] = []
    for doc in docs:
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if isinstance(item, dict) and ("dataVersion" in item or ("sensor" in item and "data" in item)):
                sensor = sensor or item.get("sensor")  # an envelope brings its sensor
                events.extend(item.get("data") or [])
            else:
                events.append(item)
    if not sensor:
        raise click.UsageError("--sensor is required when FILE holds bare events (an envelope brings its own)")
    return events, sensor


@outbox.command("add")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--sensor", help="Sensor IRI (default: the envelope's)")
@click.option("--json", "as_json", is_flag=True, help="Print the stored ids as JSON")
@click.pass_context
def add_command(ctx: click.Context, file: str, sensor: str | None, as_json: bool) -> None:
    """Validate the events in FILE (an envelope, an event, a list, or JSON Lines; - for stdin) and store them."""
    events, sensor = _read_events(file, sensor)
    box = _open(ctx)
    try:
        ids = box.add(events, sensor=sensor)
    except CaliperValidationError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"added": ids}))
    else:
        click.echo(f"stored {len(ids)} events in {box.url}")


# ---------------------------------------------------------------------------------------------------- drain
@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop``: the drain finishes its current send, hands back the rest, and returns."""

    def handler(signum: int, _frame: Any) -> None:
        logger.warning("outbox drain: got %s, stopping after the current send", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _client(
    ctx: click.Context,
    timeout: float | None,
    deadline: float | None,
    attempts: int | None,
    retry_delay: float,
    retry_ambiguous: bool,
) -> Any:
    """The API client: this command's options, then the ``timeback-caliper`` global options, then ``TIMEBACK_*``."""
    from .. import RetryPolicy
    from ..client import CaliperClient

    # Mounted under `timeback-caliper`, the root group's settings (--base-url, --client-secret-file, --deadline...)
    # apply; duck-typed so this module does not depend on that package's internals.
    overrides = getattr(getattr(ctx.find_root().obj, "settings", None), "overrides", None)
    given: dict[str, Any] = dict(overrides()) if callable(overrides) else {}
    root_retry = given.pop("retry", None)
    if timeout is not None:
        given["timeout"] = (min(timeout, 5.0), timeout)
    policy = RetryPolicy(
        max_attempts=attempts if attempts is not None else getattr(root_retry, "max_attempts", 4),
        deadline=deadline if deadline is not None else getattr(root_retry, "deadline", 60.0),
        retry_ambiguous=retry_ambiguous,
        base_delay=retry_delay,
    )
    try:
        return CaliperClient.from_env(**given, retry=policy)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(f"cannot build the API client (TIMEBACK_* variables): {exc}") from exc


@outbox.command("drain")
@click.option("--forever", is_flag=True, help="Keep polling for new events (a worker) instead of stopping when idle")
@click.option("--max-seconds", type=float, help="Start no new batch after this many seconds")
@click.option("--max-events", type=int, help="Claim at most this many events")
@click.option("--batch-size", type=int, default=100, show_default=True)
@click.option("--poll-interval", type=float, default=1.0, show_default=True, help="Seconds between polls when idle")
@click.option("--lease", type=float, default=120.0, show_default=True, help="Seconds a claim is held")
@click.option("--backoff-base", type=float, default=1.0, show_default=True, help="First retry delay (seconds)")
@click.option("--backoff-cap", type=float, default=300.0, show_default=True, help="Largest retry delay (seconds)")
@click.option("--max-attempts", type=int, help="Give up (dead) after this many retryable failures")
@click.option("--timeout", type=float, help="HTTP read timeout in seconds [default 15]")
@click.option("--deadline", type=float, help="Seconds per HTTP request, retries included [default 60]")
@click.option("--http-attempts", type=int, help="Attempts per HTTP request [default 4]")
@click.option("--retry-delay", type=float, default=0.5, show_default=True, help="First HTTP retry delay (seconds)")
@click.option(
    "--retry-ambiguous/--no-retry-ambiguous",
    default=False,
    show_default=True,
    help="Let the client resend at once after a timeout after sending; by default the outbox retries it later "
    "and counts it, so stats' 'ambiguous' bounds the duplicates",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON")
@click.pass_context
def drain_command(
    ctx: click.Context,
    forever: bool,
    max_seconds: float | None,
    max_events: int | None,
    batch_size: int,
    poll_interval: float,
    lease: float,
    backoff_base: float,
    backoff_cap: float,
    max_attempts: int | None,
    timeout: float | None,
    deadline: float | None,
    http_attempts: int | None,
    retry_delay: float,
    retry_ambiguous: bool,
    as_json: bool,
) -> None:
    """Send due events (API settings from TIMEBACK_* variables); SIGTERM stops cleanly."""
    box = _open(ctx, lease_seconds=lease, backoff_base=backoff_base, backoff_cap=backoff_cap, max_attempts=max_attempts)
    client = _client(ctx, timeout, deadline, http_attempts, retry_delay, retry_ambiguous)
    ctx.call_on_close(client.close)
    stop = threading.Event()
    failure: TimebackError | None = None
    totals: dict[str, Any] = {}
    with _stop_on_signals(stop):
        pause = 1.0
        while True:
            try:
                report = box.drain(
                    client,
                    max_events=max_events,
                    max_seconds=max_seconds,
                    batch_size=batch_size,
                    forever=forever,
                    poll_interval=poll_interval,
                    stop=stop,
                )
            except TimebackError as exc:  # 401/403/404...: not the events' fault; they were rescheduled
                failure = exc
                if not forever or stop.is_set():
                    break
                logger.error("outbox drain: %s; retrying in %.0fs", exc, pause)
                stop.wait(pause)
                pause = min(pause * 2, 60.0)
                continue
            failure, totals = None, report.as_dict()
            break
    if as_json:
        click.echo(json.dumps({**totals, "error": str(failure) if failure else None}))
    elif totals:
        click.echo(
            f"claimed {totals['claimed']}, sent {totals['sent']}, retried {totals['retried']} "
            f"({totals['ambiguous']} ambiguous), dead {totals['dead']}, released {totals['released']} "
            f"in {totals['seconds']:.2f}s ({totals['stopped']})"
        )
    if failure is not None and not (forever and stop.is_set()):
        raise click.ClickException(f"drain stopped: {failure}")


# ---------------------------------------------------------------------------------------------------- inspect
@outbox.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> None:
    """Counts per state, the oldest undelivered event's age, and ambiguous attempts."""
    stats = _open(ctx).stats()
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
        return
    age = "-" if stats.oldest_pending_age is None else f"{stats.oldest_pending_age:.1f}s"
    rows = [
        ("pending", stats.pending),
        ("in flight", stats.in_flight),
        ("sent", stats.sent),
        ("dead", stats.dead),
        ("ambiguous", stats.ambiguous),
        ("oldest pending", age),
    ]
    for name, value in rows:
        click.echo(f"{name:<16}{value:>12}")


@outbox.command("dead")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON (with each stored event)")
@click.pass_context
def dead_command(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List events refused permanently, with the reason."""
    dead = _open(ctx).dead(limit)
    if as_json:
        rows = [
            {
                "id": d.id,
                "sensor": d.sensor,
                "reason": d.reason,
                "attempts": d.attempts,
                "dead_at": d.dead_at.isoformat() if d.dead_at else None,
                "event": d.event,
            }
            for d in dead
        ]
        click.echo(json.dumps(rows))
        return
    for d in dead:
        click.echo(f"{d.id}  attempts={d.attempts}  {d.reason}")


@outbox.command("requeue")
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Requeue every dead event")
@click.pass_context
def requeue_command(ctx: click.Context, ids: tuple[str, ...], everything: bool) -> None:
    """Put dead events (by id, or --all) back in the queue after fixing the cause."""
    if not ids and not everything:
        raise click.UsageError("give event ids or --all")
    box = _open(ctx)
    count = box.requeue(ids)
    if everything:  # in pages: a requeued event leaves the dead list, so each page is new
        while page := [d.id for d in box.dead(1000)]:
            done = box.requeue(page)
            count += done
            if done == 0:
                break
    click.echo(f"requeued {count} events")


@outbox.command("purge")
@click.option("--older-than", required=True, help="Age of sent events to delete: 3600, 90m, 12h, 7d")
@click.pass_context
def purge_command(ctx: click.Context, older_than: str) -> None:
    """Delete events sent longer ago than --older-than (undelivered events are never purged)."""
    click.echo(f"purged {_open(ctx).purge_sent(_duration(older_than))} sent events")


def main() -> None:
    """Entry point of ``python -m timeback_caliper.outbox``."""
    outbox(prog_name="python -m timeback_caliper.outbox")
