"""Every code block of the "Command line" and "Integrations" docs runs, against the bundled emulator.

The sections come from README.md when it has them (``## Command line``, ``## Integrations``), else from
docs/cli.md and docs/integrations.md (their sources). ``sh`` blocks run in bash (``-e -o pipefail``) with the real
``timeback-caliper`` command, in a directory holding the files they name; ``python`` blocks run in order in one
namespace, and the test functions they define are called. A block that cannot run must say so with ``text``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from timeback_caliper import to_dict
from timeback_caliper.testing import Emulator
from timeback_caliper.timeback import create_time_spent_event

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
USER = "5b3e6c1e-7a1c-4d6e-9a51-0f2c1d3e4b5a"


def section(title: str, source: str) -> str:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    start = text.find(f"\n{title}\n")
    if start < 0:
        return (ROOT / "docs" / source).read_text(encoding="utf-8")
    body = text[start + 1 :]
    end = re.search(r"^## ", body[len(title) :], flags=re.MULTILINE)
    return body if end is None else body[: len(title) + end.start()]


def subsection(text: str, title: str) -> str:
    start = text.index(f"\n{title}\n")
    end = text.find("\n### ", start + 1)
    return text[start : None if end < 0 else end]


def blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


CLI = section("## Command line", "cli.md")
INTEGRATIONS = section("## Integrations", "integrations.md")


@pytest.mark.parametrize(
    ("name", "text", "allowed"),
    [("cli", CLI, {"sh", "text"}), ("integrations", INTEGRATIONS, {"sh", "python", "text"})],
)
def test_every_block_is_runnable_or_marked_text(name: str, text: str, allowed: set[str]):
    found = blocks(text)
    assert found, name
    assert {lang for lang, _ in found} <= allowed, f"{name}: a block is neither run by this test nor marked text"
    assert text.count("```") == 2 * len(found)


# ---------------------------------------------------------------------------------------------------- the CLI
def _event(i: int, waste: str | None = None) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"type": "active", "value": 60}]
    if waste:
        items.append({"type": "waste", "value": 30, "subType": waste})
    return to_dict(
        create_time_spent_event(
            actor={
                "id": f"https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/{USER}",
                "email": "ada@example.com",
            },
            object={
                "id": "https://myapp.example.com/activities/fractions",
                "subject": "Math",
                "app": {"name": "My App"},
            },
            metrics=items,
            event_time=f"2025-01-15T09:{i // 60:02d}:{i % 60:02d}.000Z",
            id=f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        )
    )


def _workdir(path: Path) -> None:
    """The files the docs' commands name."""
    events = [_event(i, "game" if i % 50 == 7 else None) for i in range(250)]
    (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    bad = [_event(1000 + i) for i in range(3)]
    bad[1]["actor"]["email"] = "ada-at-example.com"
    bad[2]["generated"]["items"][0]["sub_type"] = "eating"
    (path / "bad.jsonl").write_text("".join(json.dumps(e) + "\n" for e in bad), encoding="utf-8")
    envelope = {
        "sensor": "https://myapp.example.com",
        "sendTime": "2025-01-15T10:00:00.000Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": [_event(2000 + i) for i in range(3)],
    }
    (path / "envelope.json").write_text(json.dumps(envelope, indent=2), encoding="utf-8")
    (path / "examples").symlink_to(ROOT / "examples")
    (path / "exports").mkdir()
    (path / "exports" / "events-2025-01-15.jsonl").write_text(
        "".join(json.dumps(_event(3000 + i)) + "\n" for i in range(20)), encoding="utf-8"
    )


def _environ(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBACK_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TIMEBACK_CALIPER_URL=emu.url,
        TIMEBACK_TOKEN_URL=emu.token_url,
        TIMEBACK_PLATFORM_URL=emu.url,
        TIMEBACK_PLATFORM_TOKEN_URL=emu.platform_token_url,
        TIMEBACK_CLIENT_ID=emu.client_id,
        TIMEBACK_CLIENT_SECRET=emu.client_secret,
    )
    return env


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_every_shell_block_of_the_cli_docs_runs(emu: Emulator, tmp_path: Path):
    _workdir(tmp_path)
    env = _environ(emu)
    found = blocks(CLI)
    shell = [i for i, (lang, _) in enumerate(found) if lang == "sh"]
    assert len(shell) >= 8
    exports: list[str] = []  # one shell session: what an earlier block exported stays set
    for i in shell:
        code = found[i][1]
        first = i == shell[0]
        script = "\n".join([*exports, code])
        # The first block's output is shown in the docs: run it with stderr merged, as a terminal would show it.
        result = _bash(f"{{ {script}\n}} 2>&1" if first else script, tmp_path, env)
        exports += [line for line in code.splitlines() if line.startswith("export ")]
        assert result.returncode == 0, (
            f"block {i} failed:\n{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        assert "Traceback" not in result.stdout + result.stderr
        if first:
            assert found[i + 1][0] == "text" and result.stdout == found[i + 1][1]
    assert (tmp_path / "week.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "page.json").read_text(encoding="utf-8"))
    assert len((tmp_path / "all-events.jsonl").read_text(encoding="utf-8").splitlines()) >= 250
    assert emu.wait_for_jobs(10)


# ---------------------------------------------------------------------------------------------------- integrations
def test_django_blocks_run_and_their_test_passes(emu: Emulator):
    pytest.importorskip("django")
    from django.test import override_settings

    from timeback_caliper.contrib.django import reset_client

    from .contrib.django_setup import configure

    configure()
    namespace: dict[str, Any] = {"__name__": "docs_django"}
    for i, (lang, code) in enumerate(blocks(subsection(INTEGRATIONS, "### Django"))):
        if lang == "python":
            exec(compile(code, f"<integrations django block {i}>", "exec"), namespace)  # noqa: S102 - the docs' code
    assert namespace["TIMEBACK_CALIPER"]["SENSOR"] == "https://myapp.example.com"
    try:
        with override_settings(TIMEBACK_CALIPER=namespace["TIMEBACK_CALIPER"]):
            namespace["test_complete_lesson_sends_the_completion"]()
    finally:
        reset_client()


def test_flask_blocks_run_and_their_test_passes():
    pytest.importorskip("flask")
    namespace: dict[str, Any] = {"__name__": "docs_flask"}
    for i, (lang, code) in enumerate(blocks(subsection(INTEGRATIONS, "### Flask"))):
        if lang == "python":
            exec(compile(code, f"<integrations flask block {i}>", "exec"), namespace)  # noqa: S102 - the docs' code
    namespace["test_complete_lesson_records_xp"]()


def test_cron_blocks_run(emu: Emulator, tmp_path: Path):
    _workdir(tmp_path)
    env = _environ(emu)
    shell = [code for lang, code in blocks(subsection(INTEGRATIONS, "### Cron")) if lang == "sh"]
    assert shell
    for code in shell:
        for _ in range(2):  # the second run resumes and sends nothing
            result = _bash(code, tmp_path, env)
            assert result.returncode == 0, result.stderr
    assert "20 already sent" in result.stderr
    assert emu.wait_for_jobs(10) and len(emu.stored_events()) == 20 and emu.duplicates == 0
