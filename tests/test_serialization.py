"""The wire format of the Caliper model: round trips, the traps of SOURCE.md, strict and lenient parsing, validate()."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeback_caliper import caliper
from timeback_caliper.errors import CaliperValidationError, CaliperWarning
from timeback_caliper.serialization import dumps, parse, to_dict, validate

CTX = "http://purl.imsglobal.org/ctx/caliper/v1p2"
EVENT_ID = "urn:uuid:9f1c9a39-0f3b-4e1a-b9f4-6a1a53a6f2d1"
WHEN = "2024-05-06T07:08:09.123Z"


def view(**more: Any) -> dict[str, Any]:
    return {
        "@context": CTX,
        "id": EVENT_ID,
        "type": "ViewEvent",
        "profile": "ReadingProfile",
        "actor": {"id": "https://example.edu/users/1", "type": "Person"},
        "action": "Viewed",
        "object": {"id": "https://example.edu/docs/1", "type": "Document"},
        "eventTime": WHEN,
        **more,
    }


def entity(kind: str, **more: Any) -> dict[str, Any]:
    return {"@context": CTX, "id": f"https://example.edu/{kind.lower()}/1", "type": kind, **more}


def round_trip(doc: dict[str, Any]) -> Any:
    return to_dict(parse(doc))


def rules(exc: pytest.ExceptionInfo[CaliperValidationError]) -> list[tuple[str, str]]:
    return [(p.path, p.rule) for p in exc.value.errors]


# ---------------------------------------------------------------------------------------------------- numbers
def test_decimal_keeps_its_fraction() -> None:
    doc = entity("Score", maxScore=25.0, scoreGiven=0.0)
    out = round_trip(doc)
    assert out == doc
    assert type(out["maxScore"]) is float
    assert json.dumps(out["maxScore"]) == "25.0"


def test_int_in_a_decimal_slot_is_rejected_when_strict() -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse(entity("Score", maxScore=25))
    assert rules(err) == [("maxScore", "type")]


def test_int_in_a_decimal_slot_is_kept_when_lenient() -> None:
    doc = entity("Score", maxScore=25)
    with pytest.warns(CaliperWarning, match="maxScore"):
        out = to_dict(parse(doc, strict=False))
    assert out == doc
    assert type(out["maxScore"]) is int


def test_integers_stay_integers_and_bools_are_not_integers() -> None:
    assert round_trip(entity("Attempt", count=3)) == entity("Attempt", count=3)
    with pytest.raises(CaliperValidationError) as err:
        parse(entity("Attempt", count=True))
    assert rules(err) == [("count", "type")]


# ---------------------------------------------------------------------------------------------------- lists and IRIs
def test_empty_and_missing_lists_stay_distinct() -> None:
    empty = entity("DigitalResource", keywords=[], creators=[])
    assert round_trip(empty) == empty
    missing = entity("DigitalResource")
    assert round_trip(missing) == missing
    assert to_dict(caliper.DigitalResource(id="https://example.edu/d", keywords=[]))["keywords"] == []
    assert "keywords" not in to_dict(caliper.DigitalResource(id="https://example.edu/d"))


def test_mixed_iri_and_object_lists_keep_order_and_form() -> None:
    creators = [
        "https://example.edu/users/1",
        {"id": "https://example.edu/users/2", "type": "Person"},
        "https://example.edu/users/3",
    ]
    doc = entity("Document", creators=creators, isPartOf="https://example.edu/books/1")
    parsed = parse(doc)
    assert isinstance(parsed.creators[1], caliper.Person)
    assert parsed.creators[0] == creators[0]
    assert to_dict(parsed) == doc


def test_the_same_entity_may_appear_in_both_forms() -> None:
    doc = view(edApp="https://example.edu", referrer={"id": "https://example.edu", "type": "SoftwareApplication"})
    doc["type"], doc["action"], doc["profile"] = "NavigationEvent", "NavigatedTo", "ReadingProfile"
    assert round_trip(doc) == doc


@pytest.mark.parametrize(
    "iri", ["https://example.edu/x", "urn:uuid:9f1c9a39-0f3b-4e1a-b9f4-6a1a53a6f2d1", "mailto:a@b.c"]
)
def test_absolute_iris_are_accepted(iri: str) -> None:
    assert round_trip({"id": iri, "type": "Person"}) == {"id": iri, "type": "Person"}
    assert round_trip(view(object=iri))["object"] == iri


@pytest.mark.parametrize("bad", ["users/1", "has space://x", "https://example.edu/a b", ""])
def test_invalid_iris_are_rejected(bad: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse(view(object=bad))
    assert rules(err) == [("object", "iri")]


def test_string_arrays_are_strings_even_when_they_look_like_iris() -> None:
    doc = entity("MultiselectQuestion", itemValues=["https://example.edu/objectives/1"], itemLabels=["A"], points=1)
    parsed = parse(doc)
    assert parsed.item_values == ["https://example.edu/objectives/1"]
    assert to_dict(parsed) == doc


# ---------------------------------------------------------------------------------------------------- unknown things
def test_unknown_property_strict_names_its_path() -> None:
    doc = view(object={"id": "https://example.edu/docs/1", "type": "Document", "colour": "red"})
    with pytest.raises(CaliperValidationError) as err:
        parse(doc)
    assert rules(err) == [("object.colour", "unknown-property")]


def test_unknown_property_lenient_is_kept_and_warned() -> None:
    doc = view(object={"id": "https://example.edu/docs/1", "type": "Document", "colour": "red"}, vendor={"x": 1})
    with pytest.warns(CaliperWarning) as record:
        parsed = parse(doc, strict=False)
    assert sorted(str(w.message).split(":")[0] for w in record) == ["object.colour", "vendor"]
    assert to_dict(parsed) == doc


def test_unknown_type_strict_and_lenient() -> None:
    doc = view(object={"id": "https://example.edu/things/1", "type": "Hologram", "depth": 3})
    with pytest.raises(CaliperValidationError) as err:
        parse(doc)
    assert ("object.type", "type") in rules(err)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaliperWarning)
        parsed = parse(doc, strict=False)
    assert isinstance(parsed.object, caliper.Entity)
    assert to_dict(parsed) == doc


def test_unknown_top_level_type_is_rejected() -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse(entity("Hologram"))
    assert rules(err) == [("type", "type")]


# ---------------------------------------------------------------------------------------------------- @context
@pytest.mark.parametrize(
    "context",
    [CTX, ["https://schema.org/docs/jsonldcontext.json", CTX], {"@vocab": "http://example.org/", "x": {"@id": "y"}}],
)
def test_context_forms_round_trip_unchanged(context: Any) -> None:
    doc = view()
    doc["@context"] = context
    assert round_trip(doc) == doc


def test_absent_context_stays_absent_but_built_events_get_one() -> None:
    doc = view()
    del doc["@context"]
    assert "@context" not in round_trip(doc)
    built = caliper.ViewEvent(actor="https://example.edu/users/1", action="Viewed", object="https://example.edu/docs/1")
    assert to_dict(built)["@context"] == CTX


def test_nested_context_is_rejected() -> None:
    doc = view(object={"@context": CTX, "id": "https://example.edu/docs/1", "type": "Document"})
    with pytest.raises(CaliperValidationError) as err:
        parse(doc)
    assert rules(err) == [("object.@context", "context")]


def test_unknown_context_string_is_rejected() -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse(view(**{"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2/"}))  # the trailing slash is wrong
    assert rules(err) == [("@context", "context")]


# ---------------------------------------------------------------------------------------------------- timestamps
def test_timestamps_are_emitted_in_milliseconds_utc() -> None:
    tz = timezone(timedelta(hours=-5))
    built = caliper.ViewEvent(
        actor="https://example.edu/users/1",
        action="Viewed",
        object="https://example.edu/docs/1",
        event_time=datetime(2024, 1, 31, 22, 30, 0, 987654, tzinfo=tz),
    )
    assert to_dict(built)["eventTime"] == "2024-02-01T03:30:00.987Z"  # converted to UTC, truncated, never rounded


def test_naive_datetime_is_refused_with_a_clear_error() -> None:
    with pytest.raises(CaliperValidationError) as err:
        caliper.ViewEvent(
            actor="https://example.edu/users/1",
            action="Viewed",
            object="https://example.edu/docs/1",
            event_time=datetime(2024, 1, 1),
        )
    assert err.value.errors[0].path == "eventTime"
    assert "timezone-aware" in err.value.errors[0].message


@pytest.mark.parametrize(
    "stamp", ["2024-05-06T07:08:09Z", "2024-05-06T07:08:09.123456Z", "2024-05-06T07:08:09.123+00:00"]
)
def test_other_timestamp_forms_fail_strict_and_are_kept_lenient(stamp: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse(view(eventTime=stamp))
    assert err.value.errors[0].path == "eventTime"
    with pytest.warns(CaliperWarning):
        assert to_dict(parse(view(eventTime=stamp), strict=False))["eventTime"] == stamp


def test_durations_are_kept_verbatim() -> None:
    doc = entity("MediaLocation", currentTime="PT05M00S")
    assert round_trip(doc) == doc
    assert round_trip(entity("Session", duration="PT3000S"))["duration"] == "PT3000S"


# ---------------------------------------------------------------------------------------------------- values
def test_falsy_values_are_kept() -> None:
    doc = entity("AudioObject", muted=False, name="", volumeLevel="0")
    assert round_trip(doc) == doc
    assert (
        round_trip(entity("AggregateMeasure", metric="WordsRead", metricValue=0.0, maxMetricValue=0.0))["metricValue"]
        == 0.0
    )
    built = caliper.Attempt(id="https://example.edu/a/1", count=0, duration="PT0S")
    assert to_dict(built) == {"type": "Attempt", "id": "https://example.edu/a/1", "count": 0, "duration": "PT0S"}


def test_numeric_looking_strings_stay_strings() -> None:
    doc = entity("TrueFalseResponse", value="true")
    assert round_trip(doc) == doc
    assert round_trip(entity("SoftwareApplication", version="2.0"))["version"] == "2.0"


def test_extensions_are_opaque() -> None:
    extensions = {"https://x.org/ns#k": {"id": "not an iri", "type": ["A", "B"]}, "when": "2024-01-01", "n": 1}
    doc = view(extensions=extensions)
    assert round_trip(doc) == doc
    assert parse(doc).extensions is not None


def test_nulls_are_rejected_and_left_out_on_output() -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse(view(edApp=None))
    assert rules(err) == [("edApp", "null")]
    assert "edApp" not in to_dict(caliper.ViewEvent(actor="https://x.edu/u", action="Viewed", object="https://x.edu/d"))


def test_dumps_is_compact_utf8_with_plain_strings() -> None:
    built = caliper.ViewEvent(
        id=EVENT_ID,
        actor=caliper.Person(id="https://example.edu/users/1", name="Zoë 🎓"),
        action=caliper.Action.VIEWED,
        object="https://example.edu/docs/1",
        profile=caliper.Profile.READING,
        event_time=datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc),
    )
    data = dumps(built)
    assert b'"action":"Viewed"' in data
    assert b'"profile":"ReadingProfile"' in data
    assert "Zoë 🎓".encode() in data
    assert json.loads(data) == to_dict(built)


# ---------------------------------------------------------------------------------------------------- problems
def test_every_problem_is_listed_with_its_path() -> None:
    event = view(
        type="NavigationEvent",
        action="NavigatedTo",
        object={
            "id": "https://example.edu/collections/1",
            "type": "DigitalResourceCollection",
            "items": [
                "https://example.edu/pages/1",
                {"id": "https://example.edu/pages/2", "type": "Page"},
                {"id": "https://example.edu/users/3", "type": "Person"},
                {"id": "not an iri", "type": "Page", "version": 2},
            ],
        },
        referrer={"id": "https://example.edu/users/4", "type": "Person"},
    )
    envelope = {
        "sensor": "https://example.edu/sensor",
        "sendTime": WHEN,
        "dataVersion": CTX,
        "data": [entity("Person"), event],
    }
    with pytest.raises(CaliperValidationError) as err:
        parse(envelope)
    assert [p.path for p in err.value.errors] == [
        "data[1].object.items[2]",
        "data[1].object.items[3].id",
        "data[1].object.items[3].version",
        "data[1].referrer",
    ]
    assert "data[1].referrer" in str(err.value)


def test_validate_returns_problems_instead_of_raising() -> None:
    assert validate(view()) == []
    found = validate(view(action="Paused", object={"id": "https://example.edu/p", "type": "Person"}))
    assert sorted(p.path for p in found) == ["action", "object"]
    assert all(p.severity == "error" for p in found)
    assert validate(json.dumps(view())) == []
    assert [p.rule for p in validate("{not json")] == ["json"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaliperWarning)
        lenient = parse(view(object={"id": "https://example.edu/p", "type": "Person"}), strict=False)
    assert [p.path for p in validate(lenient)] == ["object"]


def test_not_json_text_is_rejected_at_load() -> None:
    with pytest.raises(CaliperValidationError) as err:
        parse('{"id": "https://example.edu/p", "type": "Person",}')
    assert err.value.__cause__ is not None
    assert rules(err) == [("", "json")]


def test_envelope_round_trip() -> None:
    doc = {
        "sensor": "https://example.edu/sensor",
        "sendTime": WHEN,
        "dataVersion": CTX,
        "data": [view(), entity("Person")],
    }
    parsed = parse(doc)
    assert isinstance(parsed, caliper.Envelope)
    assert isinstance(parsed.data[0], caliper.ViewEvent)
    assert to_dict(parsed) == doc


# ---------------------------------------------------------------------------------------------------- property
_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=12)
IRIS = st.builds(lambda a, b: f"https://{a}.example.edu/{b}", _SEGMENT, _SEGMENT)
ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
TIMES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30), timezones=ZONES)
DECIMALS = st.floats(allow_nan=False, allow_infinity=False, width=64)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | DECIMALS | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
TEXT = st.text(max_size=20)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


PEOPLE = st.builds(caliper.Person, id=IRIS, name=maybe(TEXT), date_created=maybe(TIMES)) | IRIS
APPS = st.builds(caliper.SoftwareApplication, id=IRIS, version=maybe(TEXT), user_agent=maybe(TEXT)) | IRIS
DOCUMENTS = st.builds(
    caliper.Document,
    id=IRIS,
    name=maybe(TEXT),
    keywords=maybe(st.lists(TEXT, max_size=3)),
    creators=maybe(st.lists(PEOPLE, max_size=3)),
    date_published=maybe(TIMES),
    extensions=maybe(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3)),
)
MEASURES = st.builds(
    caliper.AggregateMeasure,
    id=IRIS,
    metric=st.sampled_from(list(caliper.Metric)),
    metric_value=DECIMALS,
    max_metric_value=maybe(DECIMALS),
    started_at_time=maybe(TIMES),
)
COMMON: dict[str, Any] = {"event_time": TIMES, "ed_app": maybe(APPS), "session": maybe(IRIS)}
EVENTS = st.one_of(
    st.builds(
        caliper.ViewEvent,
        actor=PEOPLE,
        action=st.just("Viewed"),
        object=DOCUMENTS | IRIS,
        profile=st.just("ReadingProfile"),
        **COMMON,
    ),
    st.builds(
        caliper.ToolUseEvent,
        actor=PEOPLE,
        action=st.just(caliper.Action.USED),
        object=APPS,
        profile=maybe(st.just(caliper.Profile.TOOL_USE)),
        generated=maybe(
            st.builds(caliper.AggregateMeasureCollection, id=IRIS, items=st.lists(MEASURES | IRIS, max_size=3))
        ),
        **COMMON,
    ),
    st.builds(
        caliper.NavigationEvent,
        actor=PEOPLE,
        action=st.just("NavigatedTo"),
        object=DOCUMENTS | APPS,
        referrer=maybe(DOCUMENTS | APPS),
        profile=st.sampled_from(["ReadingProfile", "GeneralProfile", "MediaProfile"]),
        **COMMON,
    ),
    st.builds(
        caliper.Event,
        actor=PEOPLE,
        action=st.sampled_from(list(caliper.Action)),
        object=DOCUMENTS | IRIS,
        profile=maybe(st.just("GeneralProfile")),
        extensions=maybe(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3)),
        **COMMON,
    ),
)


@settings(max_examples=60, deadline=None)
@given(EVENTS)
def test_generated_events_round_trip(event: caliper.Event) -> None:
    wire = to_dict(event)
    assert to_dict(parse(wire)) == wire
    text = dumps(event)
    assert to_dict(parse(text)) == json.loads(text)
    assert validate(wire) == []
