"""Every code block in README.md runs.

Python blocks run in order, one namespace per ``## `` section, against a stand-in API that answers on any host
(tokens, sends, validation, jobs). Sections pasted from ``docs/*.md`` must equal their source file exactly: those
files have their own tests that run their blocks (e.g. tests/test_readme_timeback.py), so nothing in the README
goes untested. Shell blocks name only make targets or commands documented and tested elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from timeback_caliper.serialization import validate

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"


def sections() -> dict[str, str]:
    parts = re.split(r"^(## .+)$", README, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def own_sections() -> list[Any]:
    """Sections written in README.md itself (not pasted from a docs/ file)."""
    pasted = {t for p in DOCS.glob("*.md") for t in _titles(p.read_text(encoding="utf-8"))} if DOCS.is_dir() else set()
    return [
        pytest.param(title, id=title[3:])
        for title, body in sections().items()
        if title not in pasted and python_blocks(body)
    ]


def _titles(text: str) -> set[str]:
    return {m.strip() for m in re.findall(r"^## .+$", text, flags=re.MULTILINE)}


@pytest.fixture
def api() -> Iterator[list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def on_send(request: Any) -> tuple[int, dict[str, str], str]:
        envelope = json.loads(request.body)
        assert [p for p in validate(envelope) if p.severity == "error"] == []  # the README never sends bad data
        sent.append(envelope)
        return 200, {}, json.dumps({"status": "success", "message": "Events received", "jobId": str(len(sent))})

    job = {"job": {"id": "1", "state": "completed", "returnValue": {"status": "success"}, "processedOn": None}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(re.compile(r"https://[^/]+/oauth2/token$"), json={"access_token": "t-1", "expires_in": 3600})
        rsps.add_callback(responses.POST, re.compile(r"https://[^/]+/caliper/event$"), callback=on_send)
        rsps.get(re.compile(r"https://[^/]+/jobs/[^/]+/status$"), json=job)
        yield sent


@pytest.mark.parametrize("title", own_sections())
def test_section_code_runs(title: str, api: list[dict[str, Any]]):
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in python_blocks(sections()[title]):
        exec(compile(block, f"README.md {title}", "exec"), namespace)  # noqa: S102 - the README is our own text


def test_pasted_sections_equal_their_source():
    """A docs/*.md file pasted into the README appears there verbatim (so its tests cover the README)."""
    if not DOCS.is_dir():
        pytest.skip("no docs/ folder")
    for doc in sorted(DOCS.glob("*.md")):
        text = doc.read_text(encoding="utf-8").strip()
        assert text in README, f"README.md lacks the current text of {doc.name}"


def test_readme_opens_with_the_two_commands():
    quick = sections()["## Quick start: two commands"]
    assert "make demo" in quick and "make test" in quick


def test_shell_blocks_use_known_make_targets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    for block in re.findall(r"^```sh\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("make "):
                assert line.split()[1] in targets, line
