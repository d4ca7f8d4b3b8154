"""docs/testing.md runs as written: its pytest files in a pytest process, its scripts here, its CLI for real."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.testing.helpers import read_banner, spawn

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"


def blocks() -> list[tuple[str, str]]:
    """Every fenced block as ``(language, code)``, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def files() -> dict[str, str]:
    """Python blocks that start with ``# name.py``: files of a user's project."""
    out = {}
    for lang, code in blocks():
        first = code.split("\n", 1)[0]
        if lang == "python" and re.fullmatch(r"# \w+\.py", first):
            out[first[2:]] = code
    return out


@pytest.mark.timeout(60)
def test_the_pytest_examples_pass(tmp_path: Path) -> None:
    project = files()
    assert set(project) == {"conftest.py", "test_progress.py"}
    for name, code in project.items():
        (tmp_path / name).write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


@pytest.mark.timeout(30)
def test_the_scripts_print_what_the_doc_shows() -> None:
    found = blocks()
    namespace: dict[str, Any] = {}
    checked = 0
    for i, (lang, code) in enumerate(found):
        if lang != "python" or code.startswith("# ") or i + 1 >= len(found):
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{DOC.name} block {i}", "exec"), namespace)  # noqa: S102 - the doc's own code
        assert found[i + 1][0] == "text"
        assert out.getvalue() == found[i + 1][1]
        checked += 1
    assert checked == 2


@pytest.mark.timeout(30)
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_cli_banner_is_the_documented_one() -> None:
    shell = [code for lang, code in blocks() if lang == "sh"]
    assert shell[0].strip() == "python -m timeback_caliper.testing --port 8080"
    documented = next(
        code for lang, code in blocks() if lang == "text" and code.startswith("Timeback Caliper emulator")
    )
    proc = spawn("--port", "0")
    try:
        banner = "".join(read_banner(proc))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    port = re.search(r"127\.0\.0\.1:(\d+)", banner)
    assert port is not None
    assert banner.replace(f":{port.group(1)}", ":8080") == documented
