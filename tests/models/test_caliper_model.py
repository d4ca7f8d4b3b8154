"""The Caliper 1.2 model: its type tree, wire names, constructors and the checks they run."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from tests.fixturepaths import FIXTURES, require_fixtures
from timeback_caliper import caliper
from timeback_caliper.errors import CaliperValidationError
from timeback_caliper.models import TYPE_REGISTRY
from timeback_caliper.models._base import WireModel
from timeback_caliper.models._validate import wire_name
from timeback_caliper.serialization import parse, to_dict

CTX = "http://purl.imsglobal.org/ctx/caliper/v1p2"
WHEN = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
CALIPER_CLASSES = [getattr(caliper, n) for n in caliper.__all__ if isinstance(getattr(caliper, n), type)]
MODEL_CLASSES = [c for c in CALIPER_CLASSES if issubclass(c, WireModel) and c is not caliper.Envelope]


def errors(exc: pytest.ExceptionInfo[CaliperValidationError]) -> list[tuple[str, str]]:
    return [(p.path, p.rule) for p in exc.value.errors]


# ---------------------------------------------------------------------------------------------------- the type tree
def test_every_context_type_has_a_registered_class() -> None:
    require_fixtures()
    context = json.loads((FIXTURES / "caliper-v1p2/context/caliper-v1p2.jsonld").read_text(encoding="utf-8"))
    terms = {k for k, v in context["@context"].items() if isinstance(v, str) and v.startswith("caliper:")}
    types = {t for t in terms if t[0].isupper() and "/" not in context["@context"][t]}
    assert len(types) == 95
    for name in types:
        assert TYPE_REGISTRY[name].TYPE == name
        assert getattr(caliper, name) is TYPE_REGISTRY[name]


def test_the_namespace_exports_every_class_under_its_type_name() -> None:
    assert len(MODEL_CLASSES) == 95
    for cls in MODEL_CLASSES:
        assert cls.__name__ == cls.TYPE
        assert TYPE_REGISTRY[cls.TYPE] is cls
    assert set(caliper.__all__) <= set(dir(caliper))
    assert {"Action", "Profile", "Role", "Status", "Metric", "LtiMessageType", "SystemIdentifierType"} <= set(
        caliper.__all__
    )


def test_event_has_its_21_subtypes() -> None:
    events = [c for c in MODEL_CLASSES if issubclass(c, caliper.Event) and c is not caliper.Event]
    assert len(events) == 21
    assert all(c.__bases__ == (caliper.Event,) for c in events)


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (caliper.Assessment, (caliper.DigitalResourceCollection, caliper.AssignableDigitalResource)),
        (caliper.DigitalResourceCollection, (caliper.Collection, caliper.DigitalResource)),
        (caliper.AssessmentItem, (caliper.AssignableDigitalResource,)),
        (caliper.Forum, (caliper.DigitalResourceCollection,)),
        (caliper.Thread, (caliper.DigitalResourceCollection,)),
        (caliper.Questionnaire, (caliper.DigitalResourceCollection,)),
        (caliper.Survey, (caliper.Collection,)),
        (caliper.AggregateMeasureCollection, (caliper.Collection,)),
        (caliper.QuestionnaireItem, (caliper.DigitalResource,)),
        (caliper.SurveyInvitation, (caliper.DigitalResource,)),
        (caliper.LtiLink, (caliper.DigitalResource,)),
        (caliper.Link, (caliper.Entity,)),
        (caliper.CourseSection, (caliper.CourseOffering,)),
        (caliper.Group, (caliper.Organization,)),
        (caliper.LtiSession, (caliper.Session,)),
        (caliper.TextPositionSelector, (caliper.Selector,)),
    ],
)
def test_supertypes_follow_the_spec(cls: type, bases: tuple[type, ...]) -> None:
    assert cls.__bases__ == bases


def test_isinstance_works_through_multiple_inheritance() -> None:
    assessment = caliper.Assessment(id="https://example.edu/assess/1", max_score=10.0, items=[])
    for cls in (caliper.Collection, caliper.DigitalResource, caliper.AssignableDigitalResource, caliper.Entity):
        assert isinstance(assessment, cls)
    assert not isinstance(assessment, caliper.AssessmentItem)
    fields = attrs.fields_dict(caliper.Assessment)
    assert {"items", "max_score", "media_type", "date_to_submit"} <= set(fields)


def test_id_less_nodes_have_no_id() -> None:
    for cls in (caliper.SystemIdentifier, caliper.TextPositionSelector):
        assert "id" not in attrs.fields_dict(cls)
        assert not issubclass(cls, caliper.Entity)


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.TYPE)
def test_field_names_give_the_wire_names(cls: type[WireModel]) -> None:
    for field in attrs.fields(cls):
        if field.name in ("extra", "context"):
            continue
        wire = wire_name(field.name)
        assert "_" not in wire
        assert wire[0].islower()
        assert field.name == "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in wire)


def _is_entity(tp: Any) -> bool:
    # `list[X]` passes isinstance(..., type) on 3.11, hence the origin test.
    return typing.get_origin(tp) is None and isinstance(tp, type) and issubclass(tp, caliper.Entity)


def _entity_slots_without_iri(tp: Any) -> list[Any]:
    """Unions (at any depth) that name an Entity class but do not also allow a string, and bare Entity slots."""
    found: list[Any] = []
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        if any(_is_entity(a) for a in args) and str not in args:
            found.append(tp)
        args = tuple(a for a in args if not _is_entity(a))
    elif _is_entity(tp):
        found.append(tp)
    for arg in args:
        found += _entity_slots_without_iri(arg)
    return found


def test_every_entity_valued_slot_accepts_an_iri() -> None:
    checked = 0
    for cls in MODEL_CLASSES:
        for name, hint in typing.get_type_hints(cls).items():
            if name not in ("extra", "TYPE"):
                assert _entity_slots_without_iri(hint) == [], f"{cls.TYPE}.{name}"
                checked += 1
    assert checked > 300
    assert _entity_slots_without_iri(list[caliper.Person] | None) != []  # the helper does find a bare entity slot


# ---------------------------------------------------------------------------------------------------- constructors
def test_construction_checks_fields_and_lists_every_problem() -> None:
    with pytest.raises(CaliperValidationError) as err:
        caliper.SoftwareApplication(id="not an iri", host=1, version=2.5)  # type: ignore[arg-type]
    assert errors(err) == [("id", "iri"), ("host", "type"), ("version", "type")]


def test_decimal_slot_given_an_int_stores_a_float() -> None:
    score = caliper.Score(id="https://example.edu/scores/1", max_score=25, score_given=0)
    assert score.max_score == 25.0
    assert type(score.max_score) is float
    assert type(score.score_given) is float
    assert to_dict(score) == {
        "type": "Score",
        "id": "https://example.edu/scores/1",
        "maxScore": 25.0,
        "scoreGiven": 0.0,
    }
    assert json.dumps(to_dict(score)).count(".0") == 2


def test_integer_slot_rejects_a_float() -> None:
    with pytest.raises(CaliperValidationError) as err:
        caliper.Attempt(id="https://example.edu/attempts/1", count=1.0)  # type: ignore[arg-type]
    assert errors(err) == [("count", "type")]


def test_required_fields_without_defaults_are_enforced() -> None:
    with pytest.raises(TypeError):
        caliper.AggregateMeasure(id="https://example.edu/m/1")  # type: ignore[call-arg]
    with pytest.raises(CaliperValidationError) as err:
        caliper.AggregateMeasure(id="https://example.edu/m/1", metric=None, metric_value=None)  # type: ignore[arg-type]
    assert errors(err) == [("metric", "required"), ("metricValue", "required")]


def test_naive_datetime_is_refused_at_construction() -> None:
    with pytest.raises(CaliperValidationError) as err:
        caliper.Session(id="https://example.edu/sessions/1", started_at_time=datetime(2024, 1, 1))
    assert errors(err) == [("startedAtTime", "datetime")]
    assert "timezone-aware" in err.value.errors[0].message


def test_enum_members_become_plain_strings() -> None:
    membership = caliper.Membership(
        id="https://example.edu/memberships/1",
        roles=[caliper.Role.LEARNER, "Instructor#TeachingAssistant"],
        status=caliper.Status.ACTIVE,
    )
    assert membership.roles == ["Learner", "Instructor#TeachingAssistant"]
    assert [type(r) for r in membership.roles or []] == [str, str]
    assert type(membership.status) is str
    measure = caliper.AggregateMeasure(id="https://x.edu/m", metric=caliper.Metric.WORDS_READ, metric_value=1.0)
    assert to_dict(measure)["metric"] == "WordsRead"
    assert type(to_dict(measure)["metric"]) is str


def test_unknown_vocabulary_terms_are_refused() -> None:
    with pytest.raises(CaliperValidationError) as err:
        caliper.Membership(id="https://example.edu/m/1", roles=["Learner", "Overlord"], status="Asleep")
    assert errors(err) == [("roles[1]", "vocabulary"), ("status", "vocabulary")]
    with pytest.raises(CaliperValidationError):
        caliper.SystemIdentifier(identifier_type="Passport", identifier="X1")
    with pytest.raises(CaliperValidationError):
        caliper.LtiLink(id="https://tool.example.com/1", message_type="LtiSomething")


def test_children_are_checked_when_built_not_again() -> None:
    person = caliper.Person(id="https://example.edu/users/1")
    with pytest.raises(CaliperValidationError) as err:
        caliper.Attempt(id="https://example.edu/a/1", assignee=caliper.Document(id="https://example.edu/d"))
    assert errors(err) == [("assignee", "range")]
    attempt = caliper.Attempt(id="https://example.edu/a/1", assignee=person, count=2)
    assert attempt.assignee is person


def test_entity_lists_keep_order_and_form() -> None:
    page = caliper.Page(id="https://example.edu/pages/2")
    collection = caliper.DigitalResourceCollection(
        id="https://example.edu/c/1", items=["https://example.edu/pages/1", page, "https://example.edu/pages/3"]
    )
    assert to_dict(collection)["items"] == [
        "https://example.edu/pages/1",
        {"type": "Page", "id": "https://example.edu/pages/2"},
        "https://example.edu/pages/3",
    ]


def test_collections_narrow_their_items() -> None:
    with pytest.raises(CaliperValidationError) as err:
        caliper.Forum(id="https://example.edu/forums/1", items=[caliper.Message(id="https://example.edu/m/1")])
    assert errors(err) == [("items[0]", "range")]
    caliper.Collection(id="https://example.edu/c/1", items=[caliper.Person(id="https://example.edu/u/1")])


def test_subclass_in_a_base_typed_slot_keeps_its_own_fields() -> None:
    video = caliper.VideoObject(id="https://example.edu/videos/1", duration="PT1H", version="2")
    event = caliper.ViewEvent(
        actor="https://example.edu/users/1", action="Viewed", object=video, event_time=WHEN, profile="ReadingProfile"
    )
    wire = to_dict(event)
    assert wire["object"] == {
        "type": "VideoObject",
        "id": "https://example.edu/videos/1",
        "version": "2",
        "duration": "PT1H",
    }
    back = parse(wire)
    assert type(back.object) is caliper.VideoObject
    assert back.object.duration == "PT1H"


def test_highlight_selection_is_an_id_less_selector() -> None:
    highlight = caliper.HighlightAnnotation(
        id="https://example.edu/highlights/1",
        selection=caliper.TextPositionSelector(start=0, end=10),
        selection_text="Caliper is",
    )
    wire = to_dict(highlight)
    assert wire["selection"] == {"type": "TextPositionSelector", "start": 0, "end": 10}
    assert parse({"@context": CTX, **wire}).selection == caliper.TextPositionSelector(start=0, end=10)


def test_system_identifier_source_must_be_an_application() -> None:
    ok = caliper.SystemIdentifier(identifier_type="LtiUserId", identifier="42", source="https://lms.example.com")
    assert to_dict(ok) == {
        "type": "SystemIdentifier",
        "identifierType": "LtiUserId",
        "identifier": "42",
        "source": "https://lms.example.com",
    }
    with pytest.raises(CaliperValidationError) as err:
        caliper.SystemIdentifier(
            identifier_type="LtiUserId",
            identifier="42",
            source=caliper.Person(id="https://example.edu/u"),  # type: ignore[arg-type]
        )
    assert errors(err) == [("source", "range")]


def test_lti_session_message_parameters_are_opaque() -> None:
    params: dict[str, Any] = {
        "https://purl.imsglobal.org/spec/lti/claim/roles": ["x"],
        "exp": 1,
        "nested": {"type": ["a"]},
    }
    session = caliper.LtiSession(id="https://example.edu/lti/sessions/1", message_parameters=params)
    assert to_dict(session)["messageParameters"] == params
    doc = {"@context": CTX, "id": "https://example.edu/lti/1", "type": "LtiSession", "messageParameters": params}
    assert to_dict(parse(doc)) == doc
