"""``make demo``: the bundled emulator, then what a user does: record an activity, wait, list, read insights, plot.

Run it with ``python -m timeback_caliper.demo [--png FILE]`` (or ``TIMEBACK_DEMO_PNG=FILE``). Nothing leaves the
machine: every call goes over real HTTP to a local emulator of the Timeback API that this process starts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .cli.render import fmt_time, print_overview, print_table
from .client import CaliperClient
from .contrib import MissingExtraError
from .errors import TimebackError
from .models.api import StoredEvent
from .testing import Emulator
from .timeback import create_time_spent_event
from .xp import compute_xp

DEFAULT_PNG = "timeback-demo-overview.png"
SENSOR = "https://demo-math.example.com"
APP = "Demo Math App"
STUDENT = {"email": "ada@example.com", "timeback_id": "5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a"}
ONEROSTER_USERS = "https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/"
# Earlier days of study time, so the weekly overview has a trend: (days ago, active minutes, [(waste kind, minutes)]).
HISTORY: list[tuple[int, int, list[tuple[str, str | None, int]]]] = [
    (6, 25, [("waste", "game", 6)]),
    (5, 30, [("waste", "eating", 8)]),
    (4, 18, [("waste", "phone", 4)]),
    (3, 35, [("waste", "TopicShopping", 5)]),
    (2, 22, [("waste", "video", 7), ("inactive", None, 3)]),
    (1, 28, [("waste", "chat", 4)]),
]


def _step(n: int, text: str) -> None:
    print(f"\n{n}. {text}", flush=True)


def _metrics(event: StoredEvent) -> str:
    generated = event.generated if isinstance(event.generated, dict) else {}
    items = generated.get("items")
    parts = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            unit = "s" if event.type == "TimeSpentEvent" else ""
            label = item.get("type") if not item.get("subType") else f"{item.get('type')}:{item.get('subType')}"
            parts.append(f"{label} {item.get('value')}{unit}")
    return ", ".join(parts)


def _backfill(client: CaliperClient, now: datetime) -> Any:
    actor = {"id": ONEROSTER_USERS + STUDENT["timeback_id"], "email": STUDENT["email"]}
    context = {
        "id": f"{SENSOR}/activities/fractions-practice",
        "subject": "Math",
        "app": {"name": APP},
        "course": {"name": "Math G3"},
    }
    events = []
    for days_ago, active, waste in HISTORY:
        day = (now - timedelta(days=days_ago)).replace(hour=16, minute=0, second=0, microsecond=0)
        items: list[dict[str, Any]] = [{"type": "active", "value": active * 60}]
        for kind, sub_type, minutes in waste:
            item: dict[str, Any] = {"type": kind, "value": minutes * 60}
            if sub_type:
                item["subType"] = sub_type
            items.append(item)
        events.append(create_time_spent_event(actor=actor, object=context, metrics=items, event_time=day))
    return client.events.send(SENSOR, events)


def run_demo(png: Path, *, out_of_band_plot: bool = True) -> int:
    """The whole demo; returns the exit code."""
    started = time.perf_counter()
    print("Timeback Caliper demo: a local emulator of the Timeback API, used exactly as a real app would use the API.")
    with Emulator() as emu:
        _step(1, f"Started the bundled emulator at {emu.url} (client id {emu.client_id})")
        client = emu.client(
            app_name=APP,
            sensor=SENSOR,
            activity_base_url=f"{SENSOR}/activities",
            courses={"MATH-3": {"subject": "Math", "grade": 3, "name": "Math G3"}},
        )
        with client:
            now = datetime.now(timezone.utc)
            history = _backfill(client, now)
            client.jobs.wait_for_completion(str(history.job_id), timeout=30)
            _step(
                2, f"Backfilled {len(HISTORY)} earlier days of study time for {STUDENT['email']} (job {history.job_id})"
            )

            xp = compute_xp(13, total_questions=20, correct_questions=17)
            _step(3, "Recorded a completed activity: 'Fractions quiz', course MATH-3")
            print(f"   13 active minutes, 17/20 correct, first attempt -> compute_xp(...) = {xp:g} XP")
            result = client.activity.record(
                user=STUDENT,
                activity={"id": "fractions-quiz", "name": "Fractions quiz", "course": {"code": "MATH-3"}},
                metrics={"xp_earned": xp, "total_questions": 20, "correct_questions": 17},
                time={
                    "started_at": now - timedelta(minutes=15),
                    "ended_at": now,
                    "active_ms": 13 * 60_000,
                    "inactive_ms": 2 * 60_000,
                },
            )
            print(f"   sent a TimeSpentEvent and an ActivityEvent in one envelope: job {result.job_id}")

            tick = time.perf_counter()
            status = client.jobs.wait_for_completion(str(result.job_id), timeout=30)
            took = time.perf_counter() - tick
            _step(4, f"Job {status.id} is {status.state} after {took:.2f}s: {len(status.results)} events stored")

            page = client.events.list(actor_email=STUDENT["email"], limit=20)
            _step(5, f"Stored events of {STUDENT['email']} (newest first, {len(page.events)} of them):")
            print_table(
                ["Event time", "Type", "Metrics"],
                [[fmt_time(e.event_time), e.type, _metrics(e)] for e in page.events],
            )

            end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            start = end - timedelta(days=7)
            overview = client.insights.overview(
                STUDENT["timeback_id"], started_after=start, started_before=end, target_timezone="UTC"
            )
            _step(6, f"Insights overview of user {STUDENT['timeback_id']}, last 7 days (UTC):")
            print_overview(overview)

            _step(7, "Overview plot")
            try:
                from .cli.plot import plot_overview

                written = plot_overview(overview, png, title=f"{STUDENT['email']}: last 7 days")
            except MissingExtraError as exc:
                print(f"   skipped: {exc}")
            else:
                print(f"   wrote {written}")
    print(
        f"\nDone in {time.perf_counter() - started:.1f}s. Next: README.md (the timeback-caliper command, integrations)."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m timeback_caliper.demo``."""
    parser = argparse.ArgumentParser(prog="python -m timeback_caliper.demo", description=__doc__)
    parser.add_argument(
        "--png",
        default=os.environ.get("TIMEBACK_DEMO_PNG", DEFAULT_PNG),
        help=f"where to write the overview plot (default $TIMEBACK_DEMO_PNG or ./{DEFAULT_PNG})",
    )
    args = parser.parse_args(argv)
    try:
        return run_demo(Path(args.png))
    except TimebackError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
