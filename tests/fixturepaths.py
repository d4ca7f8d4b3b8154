"""Where the shared conformance fixtures live, and pytest params over them (never copied into the repo)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("TIMEBACK_CALIPER_FIXTURES") or ROOT.parent / "shared" / "fixtures")


def require_fixtures(path: Path | None = None) -> Path:
    """The fixture path, or skip (locally) / fail (when CI=true) if ../shared is absent."""
    target = path or FIXTURES
    if not target.exists():
        msg = f"shared fixtures not found at {target} (set TIMEBACK_CALIPER_FIXTURES)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return target


def fixture_params(sub: str, pattern: str = "*.json") -> list[Any]:
    """One pytest param per fixture file under ``sub`` (ids are the file names)."""
    folder = FIXTURES / sub
    if not folder.is_dir():
        return [pytest.param(folder / "missing", id=f"{sub}-missing")]
    return [pytest.param(p, id=p.name) for p in sorted(folder.glob(pattern))]


def load(path: Path) -> Any:
    """Read a fixture as UTF-8 JSON (skipping or failing when the fixtures are absent)."""
    require_fixtures(path)
    return json.loads(path.read_text(encoding="utf-8"))
