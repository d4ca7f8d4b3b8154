"""Imports point one way: models know nothing of HTTP, the HTTP layer knows nothing of Caliper (style.md §3).

Each module is parsed with ``ast`` and its imports are checked against the table below, because ruff's
banned-api has no per-package rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "timeback_caliper"

THIRD_PARTY_CORE = {"attrs", "cattrs", "requests", "backoff", "urllib3"}
OPTIONAL = {"click", "rich", "matplotlib", "psycopg", "django", "flask", "orjson"}

# module (relative path prefix) -> package-internal modules it must NOT import
FORBIDDEN_INTERNAL: dict[str, set[str]] = {
    "models/": {
        "_http",
        "auth",
        "client",
        "events",
        "jobs",
        "insights",
        "applications",
        "webhooks",
        "activity",
        "gradebook",
        "serialization",
        "testing",
        "outbox",
        "cli",
        "contrib",
    },
    "_http.py": {"models", "serialization", "events", "jobs", "client", "caliper", "insights", "activity"},
    "auth.py": {"models", "serialization", "events", "jobs", "client", "caliper"},
    "errors.py": {"models", "_http", "auth", "client", "serialization", "events"},
    "xp.py": {"models", "_http", "auth", "client", "serialization", "events", "errors"},
    "serialization.py": {"_http", "auth", "client", "events", "jobs"},
}
# modules allowed to import requests (style.md §4)
REQUESTS_OK = ("_http.py", "auth.py", "client.py", "testing/", "contrib/", "cli/")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(internal module names, top-level third-party names) imported at module level or anywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(PACKAGE)
    depth = len(rel.parts) - 1
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "timeback_caliper":
                    internal.add(alias.name.split(".")[1] if "." in alias.name else "")
                else:
                    external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top = (node.module or "").split(".")[0]
                if top == "timeback_caliper":
                    internal.add((node.module or "").split(".")[1] if "." in (node.module or "") else "")
                else:
                    external.add(top)
            else:
                # resolve a relative import to the package-level module it names
                base = list(rel.parts[:-1])[: max(0, depth - (node.level - 1))]
                target = [*base, *((node.module or "").split(".") if node.module else [])]
                if target:
                    internal.add(target[0])
                else:
                    internal.update(alias.name for alias in node.names)
    return internal, external


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_the_layering_table(path: Path):
    rel = str(path.relative_to(PACKAGE))
    internal, external = _imports(path)
    for prefix, banned in FORBIDDEN_INTERNAL.items():
        if rel.startswith(prefix):
            assert not (internal & banned), f"{rel} imports {sorted(internal & banned)}"
    if "requests" in external:
        assert rel.startswith(REQUESTS_OK), f"{rel} imports requests"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_optional_dependencies_are_imported_lazily(path: Path):
    """An optional extra is never imported at module level: importing the package must work without it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [(node.module or "").split(".")[0]]
        assert not (set(names) & OPTIONAL), f"{path.name} imports {names} at module level"


def test_importing_the_package_does_no_io_and_adds_one_null_handler():
    """No sockets or logging configuration at import time (style.md rule 3), in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import logging, socket\n"
        "def refuse(*a, **k): raise AssertionError('network I/O at import time')\n"
        "socket.create_connection = refuse\n"
        "socket.socket.connect = refuse\n"
        "import timeback_caliper, timeback_caliper.caliper, timeback_caliper.client\n"
        "handlers = logging.getLogger('timeback_caliper').handlers\n"
        "assert [type(h).__name__ for h in handlers] == ['NullHandler'], handlers\n"
        "assert logging.getLogger().handlers == [], 'the root logger was configured'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
