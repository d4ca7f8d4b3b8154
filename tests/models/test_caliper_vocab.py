"""Caliper 1.2 vocabularies: the enums, their registration, the alternative spellings, and extension."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest

from tests.fixturepaths import FIXTURES, require_fixtures
from timeback_caliper import caliper
from timeback_caliper.errors import CaliperValidationError
from timeback_caliper.models import VOCABULARIES, register_vocabulary
from timeback_caliper.models.caliper.vocab import term, term_list, term_or_none


def restore_vocabularies(saved: dict[str, set[str]]) -> None:
    """Put the vocabularies back in place (other modules may hold the set objects themselves)."""
    for name in list(VOCABULARIES):
        if name in saved:
            VOCABULARIES[name].intersection_update(saved[name])
        else:
            del VOCABULARIES[name]


@pytest.fixture
def vocabularies() -> Iterator[None]:
    saved = copy.deepcopy(VOCABULARIES)
    yield
    restore_vocabularies(saved)


@pytest.mark.parametrize(
    ("enum", "name", "size"),
    [
        (caliper.Action, "action", 80),
        (caliper.Profile, "profile", 15),
        (caliper.Role, "role", 57),
        (caliper.Status, "status", 2),
        (caliper.Metric, "metric", 8),
        (caliper.LtiMessageType, "lti_message_type", 2),
        (caliper.SystemIdentifierType, "system_identifier_type", 13),
    ],
)
def test_each_enum_is_registered_as_its_vocabulary(enum: type, name: str, size: int) -> None:
    values = {m.value for m in enum}  # type: ignore[attr-defined]
    assert len(values) == size
    assert values <= VOCABULARIES[name]


def test_enum_members_are_their_strings() -> None:
    assert caliper.Action.VIEWED == "Viewed"
    assert caliper.Action.MARKED_AS_UNREAD == "MarkedAsUnread"
    assert caliper.Action.ENABLED_CLOSED_CAPTIONING == "EnabledClosedCaptioning"
    assert caliper.Profile.TOOL_USE == "ToolUseProfile"
    assert caliper.Role.MANAGER_MANAGER == "Manager#Manager"
    assert caliper.Role.OFFICER_VICE_CHAIR == "Officer#Vice-Chair"
    assert caliper.SystemIdentifierType.CASE_ITEM_URI == "CaseItemUri"
    assert caliper.Metric.MINUTES_ON_TASK == "MinutesOnTask"


def test_alternative_spellings_are_accepted_but_not_constants() -> None:
    for spelling in ("EnabledCloseCaptioning", "DisabledCloseCaptioning", "MarkedAsUnRead"):
        assert spelling in VOCABULARIES["action"]
        assert spelling not in {a.value for a in caliper.Action}
        assert caliper.ACTION_ALIASES[spelling] in {a.value for a in caliper.Action}
    accepted = {a.value for a in caliper.Action} | set(caliper.ACTION_ALIASES)
    assert len(accepted) == 83
    assert accepted <= VOCABULARIES["action"]


def test_role_union_of_spec_and_context() -> None:
    assert {"Manager#Manager", "Mentor#Auditor"} <= VOCABULARIES["role"]
    assert "SurveyProfile" in VOCABULARIES["profile"]


def test_vocabularies_match_the_fixture_term_envelopes() -> None:
    require_fixtures()
    valid = FIXTURES / "caliper-v1p2/valid"
    actions = [d["action"] for d in json.loads((valid / "caliperEnvelopeTermAction.json").read_text("utf-8"))["data"]]
    assert sorted(actions) == sorted(a.value for a in caliper.Action)
    roles = json.loads((valid / "caliperEnvelopeTermLISRole.json").read_text("utf-8"))["data"]
    assert {r for d in roles for r in d["roles"]} == {r.value for r in caliper.Role} - {"Mentor#Auditor"}
    metrics = json.loads((valid / "caliperEnvelopeTermMetric.json").read_text("utf-8"))["data"]
    assert {d["metric"] for d in metrics} == {m.value for m in caliper.Metric}


@pytest.mark.usefixtures("vocabularies")
def test_an_extension_adds_terms() -> None:
    with pytest.raises(CaliperValidationError):
        caliper.Membership(id="https://example.edu/m/1", roles=["Coach"])
    register_vocabulary("role", "Coach")
    assert caliper.Membership(id="https://example.edu/m/1", roles=["Coach"]).roles == ["Coach"]
    register_vocabulary("brand_new", "a", "b")
    assert VOCABULARIES["brand_new"] == {"a", "b"}


def test_term_converters_turn_members_into_plain_strings() -> None:
    assert type(term(caliper.Action.VIEWED)) is str
    assert term(caliper.Action.VIEWED) == "Viewed"
    assert term("Viewed") == "Viewed"
    assert term_or_none(None) is None
    assert term_or_none(caliper.Status.ACTIVE) == "Active"
    assert term_list([caliper.Role.LEARNER, "Mentor"]) == ["Learner", "Mentor"]
    not_a_list = "Learner"
    assert term_list(not_a_list) is not_a_list  # type: ignore[arg-type]  # kept for the validator to report
