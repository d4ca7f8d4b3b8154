"""Input of ``send`` and ``validate``: events or envelopes, JSON or JSON Lines, checked item by item with lines.

A file holds one JSON document (an envelope, an event, or an array of either) or JSON Lines (one of those per
line). Every item is checked with the client's strict rules before anything is sent, and every problem is kept
with the line the item starts on, so one run reports all of them. No click here: the commands turn the result
into output and exit codes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from ..errors import CaliperValidationError
from ..models._base import CaliperModel
from ..serialization import parse, validate

__all__ = ["Input", "InputProblem", "Item", "read_input"]

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_DATA_INDEX = re.compile(r"^data\[(\d+)\]")


@attrs.frozen
class InputProblem:
    """One problem in the input, with the line where its item (or document) starts."""

    line: int
    path: str
    message: str
    rule: str
    severity: str = "error"

    def render(self, source: str) -> str:
        """``events.jsonl:7: actor.email: ... [TB-4]``."""
        where = f"{self.path}: " if self.path else ""
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{source}:{self.line}: {tag}{where}{self.message} [{self.rule}]"


@attrs.define
class Item:
    """One event or entity describe to send."""

    line: int
    """The line its JSON starts on (1-based)."""
    where: str
    """Its place in an envelope (``data[3]``), or ``""`` for a bare item."""
    sensor: str | None
    """The envelope's sensor, or the ``--sensor`` given for bare items."""
    raw: Any
    key: str
    """What the checkpoint remembers: the event id, or a hash of an entity describe."""
    problems: list[InputProblem] = attrs.Factory(list)
    envelope_ok: bool = True
    """False when the surrounding envelope itself is invalid (its problems are listed once, on the input)."""
    model: CaliperModel | None = None

    @property
    def ok(self) -> bool:
        """Valid and parsed: ready to send."""
        return self.envelope_ok and self.model is not None and not any(p.severity == "error" for p in self.problems)

    @property
    def is_event(self) -> bool:
        """An event (it has an ``action``), as opposed to an entity describe."""
        return isinstance(self.raw, dict) and "action" in self.raw


@attrs.define
class Input:
    """Everything read from one source."""

    source: str
    items: list[Item] = attrs.Factory(list)
    problems: list[InputProblem] = attrs.Factory(list)
    """Problems not owned by one item: unreadable JSON, invalid envelopes, a missing sensor."""

    def all_problems(self) -> list[InputProblem]:
        """Every problem (input-level and per item), by line."""
        found = list(self.problems) + [p for item in self.items for p in item.problems]
        return sorted(found, key=lambda p: (p.line, p.severity != "error"))

    def errors(self) -> list[InputProblem]:
        """Problems of severity ``error``, by line."""
        return [p for p in self.all_problems() if p.severity == "error"]

    @property
    def valid(self) -> list[Item]:
        """Items ready to send, in input order."""
        return [item for item in self.items if item.ok]

    @property
    def fatal(self) -> bool:
        """A problem no item owns: with it, even ``--skip-invalid`` cannot tell what to send."""
        return any(p.severity == "error" and p.rule in ("json", "input") for p in self.problems)


class _Lines:
    """Offset -> 1-based line number."""

    def __init__(self, text: str) -> None:
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _array_offsets(text: str, pos: int) -> tuple[list[int], int]:
    if text[pos] != "[":
        raise ValueError("not an array")
    offsets: list[int] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return offsets, pos + 1
    while True:
        offsets.append(pos)
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == "]":
            return offsets, pos + 1
        if text[pos] != ",":
            raise ValueError("expected , or ]")
        pos = _skip(text, pos + 1)


def _data_offsets(text: str, pos: int) -> list[int] | None:
    if text[pos] != "{":
        raise ValueError("not an object")
    found: list[int] | None = None
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise ValueError("expected :")
        pos = _skip(text, pos + 1)
        if key == "data" and text[pos] == "[":
            found, pos = _array_offsets(text, pos)  # the last "data" wins, as in json.loads
        else:
            _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return found


def _element_lines(text: str, value: Any, lines: _Lines) -> list[int] | None:
    """Lines of a top-level array's elements, or of an envelope's ``data`` items (None: use the document's line)."""
    pos = _skip(text, 0)
    try:
        if isinstance(value, list):
            offsets: list[int] | None = _array_offsets(text, pos)[0]
        elif isinstance(value, dict) and isinstance(value.get("data"), list):
            offsets = _data_offsets(text, pos)
        else:
            return None
    except (ValueError, IndexError):  # text json.loads accepted always scans; be safe anyway
        return None
    return None if offsets is None else [lines.at(o) for o in offsets]


def _documents(text: str, problems: list[InputProblem]) -> Iterator[tuple[Any, int, list[int] | None]]:
    """``(value, line, element lines)`` for the one JSON document, or for every JSON Lines record."""
    lines = _Lines(text)
    first = _skip(text, 0)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        records = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if exc.msg != "Extra data" and not (len(records) > 1 and _parses(records[0][1])):
            problems.append(InputProblem(exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})", "json"))
            return
        for n, line in records:
            try:
                yield json.loads(line), n, None
            except json.JSONDecodeError as err:
                problems.append(InputProblem(n, "", f"not valid JSON: {err.msg} (column {err.colno})", "json"))
        return
    yield value, lines.at(first), _element_lines(text, value, lines)


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and ("dataVersion" in value or ("sensor" in value and "data" in value))


def _data_index(path: str) -> int | None:
    match = _DATA_INDEX.match(path)
    return int(match.group(1)) if match else None


def _key(raw: Any, line: int, where: str) -> str:
    ident = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(ident, str) and "action" in raw:
        return ident
    if isinstance(raw, dict):
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return f"line:{line}:{where}"


def _from_problems(found: list[Any], line: int, prefix: str = "") -> list[InputProblem]:
    return [
        InputProblem(line, prefix + p.path if p.path else prefix.rstrip("."), p.message, p.rule, p.severity)
        for p in found
    ]


class _Reader:
    def __init__(self, source: str, sensor: str | None, need_sensor: bool) -> None:
        self.input = Input(source)
        self.sensor, self.need_sensor = sensor, need_sensor
        self.bare_lines: list[int] = []

    def document(self, value: Any, line: int, element_lines: list[int] | None) -> None:
        if isinstance(value, list):
            for i, element in enumerate(value):
                at = element_lines[i] if element_lines and i < len(element_lines) else line
                self.one(element, at, None)
        else:
            self.one(value, line, element_lines)

    def one(self, value: Any, line: int, element_lines: list[int] | None) -> None:
        if not isinstance(value, dict):
            self.input.problems.append(
                InputProblem(
                    line, "", f"expected an event or an envelope (a JSON object), got {type(value).__name__}", "input"
                )
            )
        elif _is_envelope(value):
            self.envelope(value, line, element_lines)
        else:
            self.bare_lines.append(line)
            item = Item(line, "", self.sensor, value, _key(value, line, ""))
            item.problems.extend(_from_problems(validate(value), line))
            self.input.items.append(item)

    def envelope(self, env: dict[str, Any], line: int, element_lines: list[int] | None) -> None:
        data = env.get("data")
        found = validate(env)
        own = [p for p in found if _data_index(p.path) is None]
        self.input.problems.extend(_from_problems(own, line))
        if not isinstance(data, list):
            return
        envelope_ok = not any(p.severity == "error" for p in own)
        sensor = env.get("sensor") if isinstance(env.get("sensor"), str) else None
        for i, raw in enumerate(data):
            at = element_lines[i] if element_lines and i < len(element_lines) else line
            where = f"data[{i}]"
            item = Item(at, where, sensor, raw, _key(raw, at, where), envelope_ok=envelope_ok)
            mine = [p for p in found if _data_index(p.path) == i]
            item.problems.extend(_from_problems(mine, at))
            self.input.items.append(item)

    def finish(self) -> Input:
        seen: dict[str, int] = {}
        for item in self.input.items:
            prefix = f"{item.where}." if item.where else ""
            if item.is_event and "profile" not in item.raw:
                item.problems.append(
                    InputProblem(item.line, prefix + "profile", "profile is required to send an event", "EVT-2")
                )
            if item.key in seen and not item.key.startswith("line:"):
                what = "event id" if item.is_event else "entity describe"
                item.problems.append(
                    InputProblem(
                        item.line, prefix + "id", f"duplicate {what} (first on line {seen[item.key]})", "EVT-1"
                    )
                )
            seen.setdefault(item.key, item.line)
        if self.bare_lines and self.need_sensor:
            if not self.sensor:
                self.input.problems.append(
                    InputProblem(
                        self.bare_lines[0],
                        "sensor",
                        "bare events need a sensor: pass --sensor or set TIMEBACK_SENSOR (an envelope brings its own)",
                        "input",
                    )
                )
            elif ":" not in self.sensor or any(c.isspace() for c in self.sensor):
                self.input.problems.append(
                    InputProblem(
                        self.bare_lines[0], "sensor", f"--sensor must be an absolute IRI, got {self.sensor!r}", "input"
                    )
                )
        for item in self.input.items:
            if not any(p.severity == "error" for p in item.problems):
                self._parse(item)
        return self.input

    @staticmethod
    def _parse(item: Item) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # warnings are already listed from validate()
                model = parse(item.raw, strict=True)
        except CaliperValidationError as exc:
            item.problems.extend(_from_problems(list(exc.errors), item.line, f"{item.where}." if item.where else ""))
            return
        if isinstance(model, CaliperModel) and not _is_envelope(item.raw):
            item.model = model
        else:
            item.problems.append(InputProblem(item.line, item.where, "an envelope cannot be nested in data", "ENV-4"))


def read_input(path: str, *, sensor: str | None = None, need_sensor: bool = True) -> Input:
    """Read and check ``path`` (``-`` for stdin): every item, every problem, with line numbers.

    Args:
        path: A file of JSON or JSON Lines, or ``-``.
        sensor: The sensor of bare events (envelopes bring their own).
        need_sensor: Report bare events without a sensor (sending needs one; a local check does not).

    Raises:
        OSError: the file cannot be read. UnicodeDecodeError: it is not UTF-8.
    """
    source = "<stdin>" if path == "-" else path
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    text = text.removeprefix("\ufeff")
    reader = _Reader(source, sensor, need_sensor)
    if not text.strip():
        reader.input.problems.append(InputProblem(1, "", "no events: the input is empty", "input"))
        return reader.input
    for value, line, element_lines in _documents(text, reader.input.problems):
        reader.document(value, line, element_lines)
    if not reader.input.items and not reader.input.problems:
        reader.input.problems.append(InputProblem(1, "", "no events in the input", "input"))
    return reader.finish()
