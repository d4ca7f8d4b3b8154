"""Output for the command line and the demo: tables (rich on a terminal, aligned text otherwise), JSON, JSON Lines.

Tables go through rich only when the stream is a terminal and rich is installed: piped output stays plain,
stable text that scripts and tests can read (rich would wrap or cut columns to the guessed width of a pipe).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any, TextIO

from ..models.insights import Overview

__all__ = [
    "LEVEL_LABELS",
    "LEVEL_ORDER",
    "fmt_duration",
    "fmt_time",
    "overview_levels",
    "print_json",
    "print_jsonl",
    "print_overview",
    "print_table",
    "use_rich",
]

LEVEL_ORDER = ("StudentNotPresent", "EnvironmentalDistractions", "OnDeviceDistractions", "LearningAppBestPractices")
"""The documented overview levels, in the order the API lists them."""
LEVEL_LABELS = {
    "StudentNotPresent": "Not present",
    "EnvironmentalDistractions": "Environment",
    "OnDeviceDistractions": "On device",
    "LearningAppBestPractices": "App practices",
}
"""Short column labels for the levels (JSON output keeps the wire names)."""


def use_rich(stream: TextIO) -> bool:
    """Whether to draw with rich: only on a terminal, and only when rich is installed."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
    try:
        import rich  # noqa: F401 - presence check
    except ImportError:
        return False
    return True


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Iterable[int] = (),
    file: TextIO | None = None,
    fancy: bool | None = None,
) -> None:
    """Print rows under headers; ``right`` lists the columns aligned right (numbers).

    Args:
        headers: Column titles.
        rows: Cell values (``None`` prints as ``-``).
        title: A line above the table.
        right: Indexes of right-aligned columns.
        file: Where to print (default ``sys.stdout``, looked up at call time).
        fancy: Force rich (True) or plain text (False); default: rich on a terminal.
    """
    out = sys.stdout if file is None else file
    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    right_set = set(right)
    if fancy if fancy is not None else use_rich(out):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left", header_style="bold")
        for i, header in enumerate(headers):
            table.add_column(header, justify="right" if i in right_set else "left", overflow="fold")
        for row in cells:
            table.add_row(*row)
        Console(file=out).print(table)
        return
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in right_set else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ]
        return "  ".join(parts).rstrip()

    if title:
        out.write(title + "\n")
    out.write(line(list(headers)) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.flush()


def print_json(value: Any, *, file: TextIO | None = None) -> None:
    """Pretty JSON (non-ASCII kept), one document."""
    out = sys.stdout if file is None else file
    out.write(json.dumps(value, indent=2, ensure_ascii=False, default=_default) + "\n")
    out.flush()


def print_jsonl(values: Iterable[Any], *, file: TextIO | None = None) -> int:
    """One compact JSON document per line, flushed per line (so a stream can be piped); returns the count."""
    out = sys.stdout if file is None else file
    n = 0
    for value in values:
        out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_default) + "\n")
        out.flush()
        n += 1
    return n


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def fmt_duration(seconds: float | None) -> str:
    """``h:mm:ss`` (``0:15:00``); ``-`` for None."""
    if seconds is None:
        return "-"
    total = round(seconds)
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def fmt_time(value: datetime | None, zone: tzinfo | None = None) -> str:
    """``2025-01-15 09:00:00Z`` in UTC, or local time with its offset when ``zone`` is given; ``-`` for None."""
    if value is None:
        return "-"
    if zone is None:
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S%z")


def overview_levels(overview: Overview) -> list[str]:
    """Every level that appears in the trend or the breakdown: the documented ones first, then any others."""
    seen = {lv.level for b in overview.trend for lv in b.levels if lv.level}
    seen |= {b.level for b in overview.breakdown if b.level}
    return [lv for lv in LEVEL_ORDER if lv in seen] + sorted(seen - set(LEVEL_ORDER))


def print_overview(
    overview: Overview,
    *,
    zone: tzinfo | None = None,
    file: TextIO | None = None,
    fancy: bool | None = None,
) -> None:
    """The summary line, the daily trend (waste by level) and the breakdown, as tables.

    Args:
        overview: What ``client.insights.overview`` returned.
        zone: The time zone of the buckets (their dates are printed in it); UTC by default.
        file: Where to print (default ``sys.stdout``).
        fancy: As for :func:`print_table`.
    """
    out = sys.stdout if file is None else file
    s = overview.summary
    line = (
        f"Total time {fmt_duration(s.total_duration_in_seconds)}, "
        f"waste {fmt_duration(s.total_waste_duration_in_seconds)} ({s.waste_percentage:g}%)"
    )
    if s.biggest_insight is not None and s.biggest_insight.level:
        big = s.biggest_insight
        line += f"; biggest: {big.level} {fmt_duration(big.duration_in_seconds)} ({big.waste_percentage:g}%)"
    out.write(line + "\n")
    levels = overview_levels(overview)
    headers = ["Day", "Total", "Waste", "Waste %", *[LEVEL_LABELS.get(lv, lv) for lv in levels]]
    rows = []
    for b in overview.trend:
        by_level = {lv.level: lv.duration_in_seconds for lv in b.levels}
        day = b.started_at_time.astimezone(zone or timezone.utc).strftime("%a %Y-%m-%d") if b.started_at_time else "-"
        rows.append(
            [
                day,
                fmt_duration(b.total_duration_in_seconds),
                fmt_duration(b.waste_duration_in_seconds),
                f"{b.waste_percentage:g}%",
                *[fmt_duration(by_level[lv]) if lv in by_level else "" for lv in levels],
            ]
        )
    print_table(headers, rows, title="Daily trend", right=range(1, len(headers)), file=out, fancy=fancy)
    if overview.breakdown:
        rows = [
            [
                b.level or "-",
                fmt_duration(b.duration_in_seconds),
                f"{b.waste_percentage:g}%",
                ", ".join(f"{t.insight_type} {fmt_duration(t.duration_in_seconds)}" for t in b.subtypes),
            ]
            for b in overview.breakdown
        ]
        print_table(
            ["Level", "Waste", "Share", "Insight types"], rows, title="Breakdown", right=(1, 2), file=out, fancy=fancy
        )
