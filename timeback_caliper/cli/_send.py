"""``timeback-caliper send``: check a file of events, send it in envelopes with a checkpoint, wait for the jobs."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ..client import CaliperClient
from ..errors import (
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PartialSendError,
    TimebackError,
    TransportError,
)
from . import EXIT_API, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from ._checkpoint import Checkpoint
from ._common import get_client, note, runtime
from ._deps import click
from ._errors import exit_code, report
from ._input import Input, Item, read_input
from .render import print_json

__all__ = ["batches", "load_checked", "send"]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------- input
def load_checked(ctx: click.Context, path: str, sensor: str | None, *, need_sensor: bool) -> Input:
    """Read ``path`` and print every problem on stderr (warnings with ``-v`` only)."""
    try:
        data = read_input(path, sensor=sensor, need_sensor=need_sensor)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    verbose = runtime(ctx).verbose
    for problem in data.all_problems():
        if problem.severity == "error" or verbose:
            click.echo(problem.render(data.source), err=True)
    return data


# ---------------------------------------------------------------------------------------------------- signals
class _Interrupts:
    """First Ctrl-C/SIGTERM: finish the envelope in flight, then stop. Second: stop now (never mid-checkpoint-write)."""

    def __init__(self, ctx: click.Context) -> None:
        self._ctx = ctx
        self.stop = False
        self._critical = 0
        self._abort = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._saved.items():
            signal.signal(sig, old)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.stop:
            self.stop = True
            note(self._ctx, "interrupted: finishing the envelope in flight, then stopping (again to stop now)")
            return
        if self._critical:
            self._abort = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A checkpoint write: a second interrupt waits until it is on disk."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if not self._critical and self._abort:
            raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------------- progress
class _Progress:
    """A rich progress bar on a terminal; otherwise one plain line per envelope on stderr."""

    def __init__(self, ctx: click.Context, total: int, enabled: bool | None) -> None:
        self._ctx, self.total, self.done = ctx, total, 0
        self._bar: Any = None
        quiet = runtime(ctx).quiet
        if enabled is None:
            enabled = _terminal(sys.stderr) and not quiet
        if enabled and total:
            try:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            except ImportError:
                return
            self._bar = Progress(
                TextColumn("sending"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=False,
                # Job ids go to stdout: captured into the bar's stream only when stdout is that same terminal,
                # never when it is piped (`send f | xargs ...`).
                redirect_stdout=_terminal(sys.stdout),
            )
            self._task = self._bar.add_task("send", total=total)
            self._bar.start()

    def advance(self, n: int, jobs: list[str | None]) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n)
        else:
            named = ", ".join(j for j in jobs if j) or "no job id"
            note(self._ctx, f"sent {self.done}/{self.total} events (job {named})")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------------- sending
def batches(items: list[Item], size: int) -> Iterator[tuple[str, list[Item]]]:
    """Runs of consecutive items with the same sensor, at most ``size`` long (input order is kept)."""
    run: list[Item] = []
    for item in items:
        if run and (item.sensor != run[0].sensor or len(run) >= size):
            yield str(run[0].sensor), run
            run = []
        run.append(item)
    if run:
        yield str(run[0].sensor), run


def _stored(client: CaliperClient, key: str) -> bool:
    if key.startswith(("sha256:", "line:")):
        return False  # entity describes cannot be looked up: send them again
    try:
        client.events.get(key)
    except NotFoundError:
        return False
    except TimebackError as exc:
        logger.warning("cannot check whether %s was stored (%s): sending it again", key, exc)
        return False
    return True


def _resolve_in_flight(ctx: click.Context, client: CaliperClient, point: Checkpoint, mode: str) -> None:
    pending = point.in_flight
    if not pending:
        return
    if mode == "skip":
        point.confirm(pending)
        note(
            ctx,
            f"checkpoint: {len(pending)} events were in flight when a run stopped; assumed accepted (--in-flight skip)",
        )
    elif mode == "check":
        found = [key for key in pending if _stored(client, key)]
        if found:
            point.confirm(found)
        note(
            ctx,
            f"checkpoint: {len(pending)} events were in flight when a run stopped; {len(found)} found stored, "
            f"{len(pending) - len(found)} will be sent again",
        )
    else:
        note(ctx, f"checkpoint: {len(pending)} events were in flight when a run stopped; sending them again")
    point.forget_in_flight()


class _Run:
    """One send: the batches, the checkpoint, and what happened."""

    def __init__(self, ctx: click.Context, client: CaliperClient, point: Checkpoint | None) -> None:
        self.ctx, self.client, self.point = ctx, client, point
        self.sent = 0
        self.jobs: list[str] = []
        self.failure: TimebackError | None = None
        self.interrupted = False

    def send(self, items: list[Item], batch_size: int, progress: _Progress, interrupts: _Interrupts) -> None:
        point = self.point
        for sensor, batch in batches(items, batch_size):
            if interrupts.stop:
                self.interrupted = True
                return
            keys = [item.key for item in batch]
            number = 0
            if point is not None:
                with interrupts.critical():
                    number = point.begin(keys)
            try:
                result = self.client.events.send(sensor, [item.model for item in batch if item.model is not None])
            except PartialSendError as exc:
                done = sum(len(ids) for _, ids in exc.sent)
                if point is not None:
                    with interrupts.critical():
                        point.accept(number, [job for job, _ in exc.sent], keys[:done], closed=False)
                        point.settle(number, str(exc.__cause__ or exc))
                self._accepted([job for job, _ in exc.sent], done, progress)
                self.failure = exc
                return
            except TimebackError as exc:
                ambiguous = isinstance(exc, TransportError) and exc.ambiguous
                if point is not None and not ambiguous:  # an ambiguous failure stays in flight for the next run
                    with interrupts.critical():
                        point.settle(number, str(exc))
                self.failure = exc
                return
            if point is not None:
                with interrupts.critical():
                    point.accept(number, result.job_ids, keys)
            self._accepted(result.job_ids, len(batch), progress)
        # A stop requested during the last envelope came too late to leave anything unsent: not an interruption.

    def _accepted(self, jobs: list[str | None], count: int, progress: _Progress) -> None:
        self.sent += count
        for job in jobs:
            if job:
                self.jobs.append(job)
                if not self.ctx.meta.get("timeback_json"):
                    click.echo(job)  # as soon as it exists: a killed run still printed its jobs
        progress.advance(count, jobs)


def _wait(
    ctx: click.Context, run: _Run, jobs: list[str], timeout: float
) -> tuple[dict[str, str], TimebackError | None]:
    states: dict[str, str] = {}
    end = time.monotonic() + timeout
    for job in jobs:
        try:
            status = run.client.jobs.wait_for_completion(job, timeout=max(end - time.monotonic(), 0.5))
        except (JobFailedError, JobTimeoutError) as exc:
            states[job] = exc.state or "unknown"
            if run.point is not None and isinstance(exc, JobFailedError):
                run.point.job_state(job, exc.state)
            return states, exc
        except TimebackError as exc:
            return states, exc
        states[job] = status.state
        if run.point is not None:
            run.point.job_state(job, status.state)
        note(ctx, f"job {job}: {status.state} ({len(status.results)} events stored)")
    return states, None


@click.command("send", short_help="Validate and send events from a file; print job ids.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--sensor", envvar="TIMEBACK_SENSOR", metavar="IRI", help="Sensor of bare events [TIMEBACK_SENSOR]")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Journal of accepted events: a rerun resumes where the last one stopped, never resending them",
)
@click.option("--skip-invalid", is_flag=True, help="Send the valid events and skip invalid ones (default: send none)")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=100, show_default=True, help="Events per envelope")
@click.option("--wait", is_flag=True, help="Wait for every job to complete; exit 1 if one fails")
@click.option("--wait-timeout", type=click.FloatRange(min=1), default=300.0, show_default=True, metavar="SECONDS")
@click.option(
    "--in-flight",
    type=click.Choice(["check", "resend", "skip"]),
    default="check",
    show_default=True,
    help="Events a stopped run was sending: look each up and resend the missing (check), resend all, or skip all",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal)")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of job ids")
@click.pass_context
def send(
    ctx: click.Context,
    file: str,
    sensor: str | None,
    checkpoint: str | None,
    skip_invalid: bool,
    batch_size: int,
    wait: bool,
    wait_timeout: float,
    in_flight: str,
    progress: bool | None,
    as_json: bool,
) -> int:
    """Send the events in FILE (JSON or JSON Lines of events or envelopes; - for stdin); print each job id.

    Every event is checked first and every problem is listed with its line; nothing is sent if one is invalid,
    unless --skip-invalid. Envelopes of --batch-size events go out in order, one job each.
    """
    ctx.meta["timeback_json"] = as_json
    data = load_checked(ctx, file, sensor, need_sensor=True)
    invalid = [item for item in data.items if not item.ok]
    if data.fatal or (data.errors() and not skip_invalid):
        n = len(data.errors())
        note(ctx, f"{n} problem{'s' if n != 1 else ''} in {data.source}: nothing was sent")
        return EXIT_USAGE
    items = data.valid
    if not items:
        note(ctx, f"no valid events in {data.source}: nothing was sent")
        return EXIT_USAGE
    client = get_client(ctx, max_events_per_envelope=batch_size)
    point: Checkpoint | None = None
    if checkpoint:
        point = Checkpoint.open(checkpoint, base_url=client.base_url)
        ctx.call_on_close(point.close)
        _resolve_in_flight(ctx, client, point, in_flight)
    already = [item for item in items if point is not None and item.key in point.accepted]
    todo = [item for item in items if point is None or item.key not in point.accepted]
    if already:
        note(ctx, f"checkpoint: skipping {len(already)} events accepted by an earlier run")
    run = _Run(ctx, client, point)
    bar = _Progress(ctx, len(todo), progress)
    try:
        with _Interrupts(ctx) as interrupts:
            run.send(todo, batch_size, bar, interrupts)
    finally:
        bar.close()

    states: dict[str, str] = {}
    wait_error: TimebackError | None = None
    if wait and run.failure is None and not run.interrupted:
        jobs = point.pending_jobs if point is not None else run.jobs
        states, wait_error = _wait(ctx, run, jobs, wait_timeout)

    verbose = runtime(ctx).verbose
    remaining = len(todo) - run.sent
    summary = f"sent {run.sent} events in {len(run.jobs)} jobs"
    if already:
        summary += f"; {len(already)} already sent"
    if invalid:
        summary += f"; skipped {len(invalid)} invalid"
    if remaining:
        summary += f"; {remaining} not sent"
    if run.interrupted:
        code = EXIT_INTERRUPTED
        summary += " (interrupted" + ("; rerun with the same --checkpoint to resume)" if point else ")")
    elif run.failure is not None:
        report(run.failure, verbose=verbose)
        code = EXIT_PARTIAL if run.sent else exit_code(run.failure)
        if run.sent and point is not None:
            summary += "; rerun with the same --checkpoint to send the rest"
    elif wait_error is not None:
        report(wait_error, verbose=verbose)
        code = EXIT_API
    else:
        code = EXIT_OK
    note(ctx, summary)
    if as_json:
        print_json(
            {
                "sent": run.sent,
                "jobs": run.jobs,
                "already_sent": len(already),
                "skipped_invalid": len(invalid),
                "not_sent": remaining,
                "interrupted": run.interrupted,
                "job_states": states,
                "error": None if run.failure is None and wait_error is None else str(run.failure or wait_error),
                "exit_code": code,
            }
        )
    return code
