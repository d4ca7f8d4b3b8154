"""``make demo`` (``python -m timeback_caliper.demo``) in a subprocess, against the emulator it starts itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_demo(
    *args: str, cwd: Path, env: dict[str, str] | None = None, code: str | None = None
) -> tuple[int, str, float]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "timeback_caliper.demo", *args]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBACK_")}
    environ.update(env or {})
    started = time.monotonic()
    out = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=110, env=environ)
    assert out.stderr == "", out.stderr
    return out.returncode, out.stdout, time.monotonic() - started


def test_demo_records_lists_reads_insights_and_plots(tmp_path: Path):
    png = tmp_path / "overview.png"
    code, out, took = run_demo("--png", str(png), cwd=tmp_path)
    assert code == 0, out
    assert took < 60
    assert re.search(r"^1\. Started the bundled emulator at http://127\.0\.0\.1:\d+", out, re.MULTILINE)
    assert "2. Backfilled 6 earlier days of study time for ada@example.com (job 1)" in out
    assert "compute_xp(...) = 13 XP" in out
    assert "sent a TimeSpentEvent and an ActivityEvent in one envelope: job 2" in out
    assert re.search(r"4\. Job 2 is completed after [\d.]+s: 2 events stored", out)
    assert "xpEarned 13.0, totalQuestions 20, correctQuestions 17" in out
    assert "active 780s, inactive 120s" in out
    assert "Stored events of ada@example.com (newest first, 8 of them)" in out
    assert "Insights overview of user 5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a, last 7 days (UTC)" in out
    # the recorded activity's window is measured on the wall clock: it may add a second
    assert re.search(r"Total time 3:30:0[01], waste 0:39:00 \(19%\)", out)
    trend = out[out.index("Daily trend") : out.index("Breakdown")].splitlines()
    assert len(trend) == 2 + 7  # title, header, one row per day
    assert f"wrote {png.resolve()}" in out
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert re.search(r"^Done in \d+\.\ds\.", out, re.MULTILINE)


def test_demo_default_path_and_environment_override(tmp_path: Path):
    code, out, _ = run_demo(cwd=tmp_path)
    assert code == 0 and (tmp_path / "timeback-demo-overview.png").read_bytes()[:8] == PNG_MAGIC
    target = tmp_path / "custom" / "plot.png"
    code, out, _ = run_demo(cwd=tmp_path, env={"TIMEBACK_DEMO_PNG": str(target)})
    assert code == 0 and target.exists() and f"wrote {target}" in out


def test_demo_without_matplotlib_skips_the_plot_and_names_the_extra(tmp_path: Path):
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from timeback_caliper.demo import main\n"
        "sys.exit(main(['--png', 'never.png']))\n"
    )
    status, out, _ = run_demo(cwd=tmp_path, code=code)
    assert status == 0
    assert "skipped: the overview plot needs matplotlib: pip install 'timeback-caliper-sync[plot]'" in out
    assert not (tmp_path / "never.png").exists()
