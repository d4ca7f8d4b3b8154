"""Reading ``send``/``validate`` input: JSON or JSON Lines, events or envelopes, every problem with its line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from timeback_caliper.cli._input import read_input

from .conftest import SENSOR, activity_dict, envelope, event_dicts, write_jsonl


def test_jsonl_of_bare_events_gives_one_item_per_line(tmp_path: Path):
    data = read_input(str(write_jsonl(tmp_path / "e.jsonl", event_dicts(3))), sensor=SENSOR)
    assert [item.line for item in data.items] == [1, 2, 3]
    assert all(item.ok and item.sensor == SENSOR for item in data.items)
    assert [item.key for item in data.items] == [e["id"] for e in event_dicts(3)]
    assert data.errors() == []


def test_pretty_envelope_reports_the_line_of_each_data_item(tmp_path: Path):
    events = event_dicts(3)
    events[2]["actor"] = {"id": "not a url", "type": "TimebackUser"}
    path = tmp_path / "env.json"
    text = json.dumps(envelope(events), indent=2)
    path.write_text(text, encoding="utf-8")
    data = read_input(str(path))
    lines = text.splitlines()
    starts = [n for n, line in enumerate(lines, 1) if line == "    {"]  # the data items' opening braces
    assert [item.line for item in data.items] == starts
    bad = data.items[2]
    assert not bad.ok and {p.rule for p in bad.problems} == {"TB-4"}
    assert {p.line for p in bad.problems} == {starts[2]}
    assert all(p.path.startswith("data[2].actor") for p in bad.problems)
    assert data.items[0].ok and data.items[0].sensor == SENSOR


def test_array_of_events_and_envelopes_per_line(tmp_path: Path):
    events = event_dicts(4)
    path = write_jsonl(tmp_path / "mix.jsonl", [envelope(events[:2]), events[2], [events[3]]])
    data = read_input(str(path), sensor="https://bare.example")
    assert [(i.line, i.where, i.sensor) for i in data.items] == [
        (1, "data[0]", SENSOR),
        (1, "data[1]", SENSOR),
        (2, "", "https://bare.example"),
        (3, "", "https://bare.example"),
    ]


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path):
    rows = event_dicts(5)
    rows[1]["actor"]["email"] = "nope"
    del rows[3]["profile"]
    rows[4]["id"] = rows[0]["id"]
    data = read_input(str(write_jsonl(tmp_path / "e.jsonl", rows)), sensor=SENSOR)
    by_line = {(p.line, p.rule) for p in data.errors()}
    assert (2, "TB-4") in by_line
    assert (4, "EVT-2") in by_line
    assert (5, "EVT-1") in by_line
    assert [i.ok for i in data.items] == [True, False, True, False, False]
    dup = next(p for p in data.errors() if p.rule == "EVT-1")
    assert "first on line 1" in dup.message


def test_broken_json_lines_are_reported_and_the_rest_read(tmp_path: Path):
    good = event_dicts(2)
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(good[0]) + "\n{oops\n\n" + json.dumps(good[1]) + "\n", encoding="utf-8")
    data = read_input(str(path), sensor=SENSOR)
    assert [i.line for i in data.items] == [1, 4]
    [problem] = data.problems
    assert (problem.line, problem.rule) == (2, "json") and data.fatal


def test_a_broken_json_document_names_its_line(tmp_path: Path):
    path = tmp_path / "e.json"
    path.write_text('{\n  "sensor": "x",\n  "data": [\n    {"a": 1,}\n  ]\n}\n', encoding="utf-8")
    data = read_input(str(path))
    [problem] = data.problems
    assert problem.line == 4 and problem.rule == "json" and "not valid JSON" in problem.message


def test_bare_events_need_a_sensor_only_to_send(tmp_path: Path):
    path = write_jsonl(tmp_path / "e.jsonl", event_dicts(1))
    assert read_input(str(path), need_sensor=False).errors() == []
    [problem] = read_input(str(path)).errors()
    assert "--sensor" in problem.message and problem.rule == "input"
    [problem] = read_input(str(path), sensor="no scheme").errors()
    assert "absolute IRI" in problem.message


def test_an_invalid_envelope_blocks_its_items_and_is_reported_once(tmp_path: Path):
    env = envelope(event_dicts(2), sensor="not an iri")
    data = read_input(str(write_jsonl(tmp_path / "e.jsonl", [env])))
    assert [p.rule for p in data.problems] == ["ENV-1"]
    assert not any(item.ok for item in data.items)
    assert all(item.problems == [] for item in data.items)


def test_empty_input_and_non_objects(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n \n", encoding="utf-8")
    assert [p.message for p in read_input(str(empty)).problems] == ["no events: the input is empty"]
    numbers = write_jsonl(tmp_path / "n.jsonl", [1, 2])
    assert {p.rule for p in read_input(str(numbers)).problems} == {"input"}


def test_stdin_and_a_byte_order_mark(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeff" + json.dumps(activity_dict()) + "\n"))
    data = read_input("-", sensor=SENSOR)
    assert data.source == "<stdin>" and [i.ok for i in data.items] == [True]


def test_entity_describes_are_keyed_by_content(tmp_path: Path):
    entity = {"id": "https://example.edu/people/1", "type": "Person"}
    data = read_input(str(write_jsonl(tmp_path / "e.jsonl", [envelope([entity])])))
    [item] = data.items
    assert item.ok and not item.is_event and item.key.startswith("sha256:")
