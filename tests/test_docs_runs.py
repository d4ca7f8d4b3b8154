"""Every python block of "Tracking an activity run" and "Recording results in the gradebook" runs, in order.

The blocks come from README.md's sections when it has them, else from docs/activity-runs.md and docs/gradebook.md
(the sections' sources). The Timeback hosts are stubbed with ``responses`` (a small in-memory gradebook that answers
409 for a taken ``sourcedId``); the emulator example talks to a real local emulator. Every envelope the examples send
must pass the strict client rules and the server rules.
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
RUNS = ("## Tracking an activity run", "activity-runs.md")
GRADEBOOK = ("## Recording results in the gradebook", "gradebook.md")
GB = r"https://[^/]+/ims/oneroster/gradebook/v1p2/"


def section(heading: str, fallback: str) -> str:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    start = text.find(f"\n{heading}\n")
    if start < 0:
        return (ROOT / "docs" / fallback).read_text(encoding="utf-8")
    body = text[start + 1 :]
    end = re.search(r"^(## |<!-- )", body[len(heading) :], flags=re.MULTILINE)
    return body if end is None else body[: len(heading) + end.start()]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


class Stub:
    """What the examples sent: envelopes and gradebook records."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.records: dict[str, dict[str, Any]] = {}

    def on_send(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.envelopes.append(json.loads(request.body))
        return 200, {}, json.dumps({"status": "success", "message": "ok", "jobId": str(len(self.envelopes))})

    def on_create(self, request: Any) -> tuple[int, dict[str, str], str]:
        ((key, record),) = json.loads(request.body).items()
        if record["sourcedId"] in self.records:
            error = {
                "imsx_codeMajor": "failure",
                "imsx_severity": "error",
                "imsx_description": f"sourcedId {record['sourcedId']} already exists",
                "imsx_CodeMinor": {"imsx_codeMinorField": [{"imsx_codeMinorFieldValue": "invalid_sourcedid"}]},
            }
            return 409, {"Content-Type": "application/json"}, json.dumps(error)
        self.records[record["sourcedId"]] = {"kind": key, **record}
        return 201, {"Content-Type": "application/json"}, json.dumps({key: record})


@pytest.fixture
def stub() -> Iterator[Stub]:
    found = Stub()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+"))  # the emulator example's own server
        rsps.post(re.compile(r"https://[^/]+/oauth2/token$"), json={"access_token": "t-1", "expires_in": 3600})
        rsps.add_callback(responses.POST, re.compile(r"https://[^/]+/caliper/event$"), callback=found.on_send)
        for path in ("assessmentLineItems", "assessmentResults"):
            rsps.add_callback(responses.POST, re.compile(GB + path + "$"), callback=found.on_create)
        yield found


def test_sections_have_examples() -> None:
    runs = "\n".join(python_blocks(section(*RUNS)))
    for call in ("client.activity.start(", ".flush_time_spent()", ".pause()", ".resume()", ".end(", ".to_state()"):
        assert call in runs
    assert "ActivityRun.resume_from(" in runs and "on_error=" in runs and "monotonic=" in runs
    gradebook = "\n".join(python_blocks(section(*GRADEBOOK)))
    for call in ("gradebook=True", "create_line_item(", "create_result(", "write_gradebook(", "Emulator()"):
        assert call in gradebook


@pytest.mark.timeout(60)
def test_every_python_block_runs(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "docs"}
    blocks = [("runs", b) for b in python_blocks(section(*RUNS))]
    blocks += [("gradebook", b) for b in python_blocks(section(*GRADEBOOK))]
    for i, (name, block) in enumerate(blocks):
        try:
            exec(compile(block, f"<{name} block {i}>", "exec"), namespace)  # noqa: S102 - the docs' own code
        except Exception as exc:  # noqa: BLE001 - report which block failed, with its source
            pytest.fail(f"{name} block {i} raised {exc!r}:\n{block}")
    assert stub.envelopes
    for envelope in stub.envelopes:
        assert [p for p in validate(envelope) if p.severity == "error"] == [], envelope
        assert [p for p in validate(envelope, server=True) if p.severity == "error"] == [], envelope
    types = [e["type"] for envelope in stub.envelopes for e in envelope["data"]]
    assert "ActivityEvent" in types
    kinds = sorted(r["kind"] for r in stub.records.values())
    assert kinds == ["assessmentLineItem", "assessmentLineItem", "assessmentResult", "assessmentResult"]
    assert stub.records["fractions-quiz"]["title"] == "Fractions Quiz"
    out = capsys.readouterr().out
    assert "HTTP 409" in out and "already exists" in out  # the printed conflict shows OneRoster's description
