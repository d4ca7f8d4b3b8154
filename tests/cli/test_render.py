"""Tables, durations, the overview table and plot, without a server."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from timeback_caliper.cli.plot import plot_overview
from timeback_caliper.cli.render import fmt_duration, fmt_time, print_overview, print_table, use_rich
from timeback_caliper.models.insights import Overview

OVERVIEW = Overview.from_wire(
    {
        "summary": {
            "totalDurationInSeconds": 5400,
            "totalWasteDurationInSeconds": 900,
            "wastePercentage": 17,
            "biggestInsight": {"level": "OnDeviceDistractions", "durationInSeconds": 600, "wastePercentage": 11},
        },
        "trend": {
            "buckets": [
                {
                    "startedAtTime": "2025-01-14T00:00:00Z",
                    "endedAtTime": "2025-01-15T00:00:00Z",
                    "totalDurationInSeconds": 3600,
                    "wasteDurationInSeconds": 600,
                    "wastePercentage": 17,
                    "levels": [{"level": "OnDeviceDistractions", "durationInSeconds": 600}],
                },
                {
                    "startedAtTime": "2025-01-15T00:00:00Z",
                    "endedAtTime": "2025-01-16T00:00:00Z",
                    "totalDurationInSeconds": 1800,
                    "wasteDurationInSeconds": 300,
                    "wastePercentage": 17,
                    "levels": [
                        {"level": "StudentNotPresent", "durationInSeconds": 200},
                        {"level": "BrandNewLevel", "durationInSeconds": 100},
                    ],
                },
            ]
        },
        "breakdown": {
            "levels": [
                {
                    "level": "OnDeviceDistractions",
                    "durationInSeconds": 600,
                    "wastePercentage": 11,
                    "subtypes": [{"insightType": "Game", "durationInSeconds": 600}],
                }
            ]
        },
    }
)


def test_durations_and_times():
    assert [fmt_duration(v) for v in (None, 0, 59.6, 900, 3725, -61)] == [
        "-",
        "0:00:00",
        "0:01:00",
        "0:15:00",
        "1:02:05",
        "-0:01:01",
    ]
    when = datetime(2025, 1, 15, 9, 0, 5, tzinfo=timezone.utc)
    assert fmt_time(when) == "2025-01-15 09:00:05Z" and fmt_time(None) == "-"


def test_plain_table_aligns_columns_and_right_aligns_numbers():
    out = io.StringIO()
    print_table(["Name", "Count"], [["a", 5], ["longer", None]], title="T", right=(1,), file=out)
    assert out.getvalue().splitlines() == ["T", "Name    Count", "a           5", "longer      -"]
    assert not use_rich(out)


def test_rich_table_on_a_terminal():
    out = io.StringIO()
    print_table(["Name", "Count"], [["alpha", 5]], title="Things", file=out, fancy=True)
    text = out.getvalue()
    assert "Things" in text and "alpha" in text and "┃" in text or "│" in text


def test_overview_table_has_a_column_per_level_in_documented_order():
    out = io.StringIO()
    print_overview(OVERVIEW, file=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Total time 1:30:00, waste 0:15:00 (17%); biggest: OnDeviceDistractions 0:10:00 (11%)"
    header = lines[2]
    assert header.index("Not present") < header.index("On device") < header.index("BrandNewLevel")
    assert lines[3].startswith("Tue 2025-01-14") and "0:10:00" in lines[3]
    assert any(line.startswith("OnDeviceDistractions") and "Game 0:10:00" in line for line in lines)


def test_plot_writes_a_png(tmp_path: Path):
    written = plot_overview(OVERVIEW, tmp_path / "sub" / "o.png", title="test")
    assert written == (tmp_path / "sub" / "o.png").resolve()
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(60)
def test_plot_without_matplotlib_names_the_extra():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from timeback_caliper.cli.plot import plot_overview\n"
        "from timeback_caliper.contrib import MissingExtraError\n"
        "from timeback_caliper.models.insights import Overview\n"
        "try:\n"
        "    plot_overview(Overview.from_wire({'summary': {}}), 'x.png')\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "the overview plot needs matplotlib: pip install 'timeback-caliper-sync[plot]'"
