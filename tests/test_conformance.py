"""Caliper 1.2 conformance: every upstream valid fixture round-trips strictly, every invalid one is rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixturepaths import fixture_params, load, require_fixtures
from timeback_caliper.errors import CaliperValidationError
from timeback_caliper.serialization import parse, to_dict

VALID = fixture_params("caliper-v1p2/valid")
INVALID = fixture_params("caliper-v1p2/invalid")
NOT_JSON = {"caliperEntity-BadJson.json", "caliperEntitySurvey-MalformedItemsContainsWrongEntityType.json"}


def canonical(doc: object) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("path", VALID)
def test_valid_fixture_round_trips_in_strict_mode(path: Path) -> None:
    doc = load(path)
    assert canonical(to_dict(parse(doc))) == canonical(doc)


@pytest.mark.parametrize("path", INVALID)
def test_invalid_fixture_is_rejected_in_strict_mode(path: Path) -> None:
    require_fixtures(path)
    text = path.read_text(encoding="utf-8")  # raw text: two of these files are not JSON at all
    with pytest.raises(CaliperValidationError) as err:
        parse(text)
    problems = err.value.errors
    assert problems, "a rejection must say what is wrong"
    assert all(p.severity == "error" for p in problems)
    if path.name in NOT_JSON:
        assert [p.rule for p in problems] == ["json"]
        assert "not valid JSON" in problems[0].message


def test_the_fixture_sets_are_complete() -> None:
    require_fixtures()
    # Guards against a fixture folder silently going missing (which would shrink the parametrized lists).
    assert len(VALID) == 103
    assert len(INVALID) == 204
    assert {p.id for p in INVALID} >= NOT_JSON
