"""``timeback-caliper jobs status|wait``: the background ingestion jobs behind each accepted envelope."""

from __future__ import annotations

import time
from typing import Any

from ..errors import JobFailedError, JobTimeoutError
from ..models.api import JobStatus
from . import EXIT_API, EXIT_OK
from ._common import format_option, get_client, runtime
from ._deps import click
from ._errors import report
from .render import fmt_time, print_json, print_jsonl, print_table

__all__ = ["jobs"]


def _as_dict(status: JobStatus) -> dict[str, Any]:
    return {
        "id": status.id,
        "state": status.state,
        "category": status.category,
        "processed_on": status.processed_on.isoformat() if status.processed_on else None,
        "stored": len(status.results),
        "failed_reason": status.failed_reason,
    }


def _print(statuses: list[JobStatus], fmt: str) -> None:
    if fmt == "json":
        print_json([_as_dict(s) for s in statuses])
    elif fmt == "jsonl":
        print_jsonl(_as_dict(s) for s in statuses)
    else:
        rows = [
            [s.id, s.state, s.category, fmt_time(s.processed_on), len(s.results), s.failed_reason or ""]
            for s in statuses
        ]
        print_table(["Job", "State", "Category", "Processed", "Stored", "Failed reason"], rows, right=(4,))


@click.group("jobs")
def jobs() -> None:
    """Follow the ingestion jobs that store accepted envelopes."""


@jobs.command("status")
@click.argument("job_ids", nargs=-1, required=True)
@format_option("table")
@click.pass_context
def status_command(ctx: click.Context, job_ids: tuple[str, ...], fmt: str) -> None:
    """The current state of each JOB_ID (waiting, active, completed, failed...)."""
    client = get_client(ctx)
    _print([client.jobs.get_status(job) for job in job_ids], fmt)


@jobs.command("wait")
@click.argument("job_ids", nargs=-1, required=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True, metavar="SECONDS")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True, metavar="SECONDS")
@format_option("table")
@click.pass_context
def wait_command(ctx: click.Context, job_ids: tuple[str, ...], timeout: float, poll_interval: float, fmt: str) -> int:
    """Wait until every JOB_ID is completed (exit 0) or one failed or timed out (exit 1), within --timeout in all."""
    client = get_client(ctx)
    end = time.monotonic() + timeout
    done: list[JobStatus] = []
    failure: Exception | None = None
    for job in job_ids:
        try:
            remaining = max(end - time.monotonic(), poll_interval)
            done.append(
                client.jobs.wait_for_completion(
                    job, timeout=remaining, poll_interval=poll_interval, max_interval=max(10.0, poll_interval)
                )
            )
        except (JobFailedError, JobTimeoutError) as exc:
            if isinstance(exc.status, JobStatus):
                done.append(exc.status)
            failure = exc
            break
    _print(done, fmt)
    if failure is not None:
        report(failure, verbose=runtime(ctx).verbose)
        return EXIT_API
    return EXIT_OK
