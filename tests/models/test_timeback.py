"""The Timeback profile: models on the wire, every TB rule (strict, lenient, server), and the two factories."""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from timeback_caliper.errors import CaliperValidationError, CaliperWarning, Problem
from timeback_caliper.models import VOCABULARIES
from timeback_caliper.models.caliper.envelope import Envelope
from timeback_caliper.models.timeback import (
    SUBJECTS,
    ActivityEvent,
    ActivityMetric,
    TimebackActivity,
    TimebackActivityContext,
    TimebackActivityMetricsCollection,
    TimebackApp,
    TimebackCourse,
    TimebackTimeSpentMetricsCollection,
    TimebackUser,
    TimeSpentEvent,
    TimeSpentMetric,
    register_subject,
    subjects,
)
from timeback_caliper.serialization import dumps, parse, to_dict, validate
from timeback_caliper.timeback import create_activity_event, create_time_spent_event

USER_URL = "https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/student-123"
ACTIVITY_URL = "https://your-app.com/activities/fractions-quiz"
WHEN = datetime(2025, 11, 18, 10, 15, 0, 123000, tzinfo=timezone.utc)
URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def user(**kw: Any) -> TimebackUser:
    return TimebackUser(**{"id": USER_URL, "email": "student@example.com", **kw})


def context(**kw: Any) -> TimebackActivityContext:
    return TimebackActivityContext(**{"id": ACTIVITY_URL, "subject": "Math", "app": TimebackApp(name="Math App"), **kw})


def metrics(**values: float) -> list[ActivityMetric]:
    return [ActivityMetric(type=k, value=v) for k, v in values.items()]


def activity(**kw: Any) -> ActivityEvent:
    parts: dict[str, Any] = {
        "actor": user(),
        "object": context(),
        "metrics": metrics(totalQuestions=10, correctQuestions=8, xpEarned=100),
        "event_time": WHEN,
    }
    return create_activity_event(**{**parts, **kw})


def time_spent(**kw: Any) -> TimeSpentEvent:
    parts: dict[str, Any] = {
        "actor": user(),
        "object": context(),
        "metrics": [TimeSpentMetric(type="active", value=240), TimeSpentMetric(type="inactive", value=60)],
        "event_time": WHEN,
    }
    return create_time_spent_event(**{**parts, **kw})


def wire_activity() -> dict[str, Any]:
    return copy.deepcopy(to_dict(activity(id="urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594")))


def wire_time_spent() -> dict[str, Any]:
    return copy.deepcopy(to_dict(time_spent(id="urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594")))


def errors(exc: pytest.ExceptionInfo[CaliperValidationError]) -> list[tuple[str, str]]:
    return [(p.path, p.rule) for p in exc.value.errors if p.severity == "error"]


def rules(problems: list[Problem], severity: str = "error") -> set[tuple[str, str]]:
    return {(p.path, p.rule) for p in problems if p.severity == severity}


@pytest.fixture
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaliperWarning)
        yield


# ---------------------------------------------------------------------------------------------------- wire shape
def test_activity_event_wire_form() -> None:
    event = activity(attempt=2, generated_extensions={"pctCompleteApp": 40}, run_id="run-1", course_id="MATH-3")
    wire = to_dict(event)
    assert wire["type"] == "ActivityEvent"
    assert wire["@context"] == "http://purl.imsglobal.org/ctx/caliper/v1p2"
    assert wire["profile"] == "TimebackProfile"
    assert wire["action"] == "Completed"
    assert wire["eventTime"] == "2025-11-18T10:15:00.123Z"
    assert wire["actor"] == {"type": "TimebackUser", "id": USER_URL, "email": "student@example.com"}
    assert wire["object"] == {
        "type": "TimebackActivityContext",
        "id": ACTIVITY_URL,
        "subject": "Math",
        "app": {"name": "Math App"},
    }
    assert wire["generated"]["type"] == "TimebackActivityMetricsCollection"
    assert wire["generated"]["attempt"] == 2
    assert wire["generated"]["items"] == [
        {"type": "totalQuestions", "value": 10},
        {"type": "correctQuestions", "value": 8},
        {"type": "xpEarned", "value": 100},
    ]
    assert wire["generated"]["extensions"] == {"pctCompleteApp": 40}
    assert wire["extensions"] == {"runId": "run-1", "courseId": "MATH-3"}
    assert URN.match(wire["id"])
    assert URN.match(wire["generated"]["id"])


def test_time_spent_metric_uses_camel_case_and_millisecond_timestamps() -> None:
    start = datetime(2025, 11, 18, 10, 0, 0, 123456, tzinfo=timezone.utc)
    metric = TimeSpentMetric(
        type="waste", value=30, sub_type="eating", start_date=start, end_date=start + timedelta(seconds=30)
    )
    assert to_dict(metric) == {
        "type": "waste",
        "value": 30,
        "subType": "eating",
        "startDate": "2025-11-18T10:00:00.123Z",
        "endDate": "2025-11-18T10:00:30.123Z",
    }


def test_other_time_zones_are_sent_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    event = activity(event_time=datetime(2025, 11, 18, 12, 15, tzinfo=plus_two))
    assert to_dict(event)["eventTime"] == "2025-11-18T10:15:00.000Z"


def test_timeback_objects_carry_no_caliper_only_keys() -> None:
    wire = to_dict(activity())
    for key in ("dateCreated", "@context", "name", "extensions", "otherIdentifiers"):
        assert key not in wire["actor"]
        assert key not in wire["object"]
        assert key not in wire["generated"]


def test_unset_optional_fields_are_omitted_never_null() -> None:
    text = dumps(activity()).decode()
    assert "null" not in text
    for key in ("edApp", "session", "attempt", "process", "course", "role", "subType"):
        assert f'"{key}"' not in text


def test_integers_stay_integers_and_fractions_stay_fractions() -> None:
    wire = to_dict(activity(metrics=metrics(totalQuestions=10, correctQuestions=8.5, xpEarned=12.5)))
    values = [item["value"] for item in wire["generated"]["items"]]
    assert values == [10, 8.5, 12.5]
    assert type(values[0]) is int


def test_round_trip_of_every_optional_field() -> None:
    ctx = context(
        course=TimebackCourse(
            id="https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/courses/c-1", name="Math G3"
        ),
        activity=TimebackActivity(id=ACTIVITY_URL, name="Fractions Quiz", extensions={"k": 1}),
        app=TimebackApp(name="Math App", id="https://your-app.com", extensions={"v": "2"}),
        process=True,
        extensions={"x": [1, 2]},
    )
    event = activity(
        actor=user(name="Sam", role="student", extensions={"grade": 3}),
        object=ctx,
        ed_app="https://your-app.com",
        session="https://your-app.com/sessions/1",
        extensions={"runId": "r", "other": {"a": None}},
    )
    waste = TimeSpentMetric(
        type="waste", value=45, sub_type="eating", start_date=WHEN, end_date=WHEN, extensions={"e": 1}
    )
    spent = TimeSpentEvent(
        actor=user(),
        object=ctx,
        generated=TimebackTimeSpentMetricsCollection(id="https://x.com/m/t", items=[waste], extensions={"g": True}),
        event_time=WHEN,
    )
    envelope = Envelope(sensor="https://your-app.com", data=[spent, event], send_time=WHEN)
    wire = to_dict(envelope)
    back = parse(wire)
    assert back == envelope
    assert to_dict(back) == wire


# ---------------------------------------------------------------------------------------------------- ids and time
def test_id_and_event_time_are_fixed_when_built() -> None:
    event = activity(event_time=None)
    first, second = dumps(event), dumps(event)
    assert first == second
    assert URN.match(event.id)
    now = datetime.now(timezone.utc)
    assert abs((now - event.event_time).total_seconds()) < 5
    assert event.event_time.microsecond % 1000 == 0


def test_every_event_gets_a_fresh_id() -> None:
    assert len({activity().id for _ in range(20)}) == 20


def test_explicit_id_is_kept() -> None:
    assert (
        activity(id="urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594").id
        == "urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594"
    )


@pytest.mark.parametrize("bad", ["c51570e4-f8ed-4c18-bb3a-dfe51b2cc594", "urn:uuid:nope", "https://x.com/1"])
def test_event_id_must_be_urn_uuid(bad: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(id=bad)
    assert ("id", "EVT-1") in errors(err)


def test_naive_event_time_is_refused() -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(event_time=datetime(2025, 11, 18, 10, 15))
    assert [path for path, _ in errors(err)] == ["eventTime"]


def test_event_time_string() -> None:
    assert activity(event_time="2025-11-18T10:15:00.123Z").event_time == WHEN
    with pytest.raises(CaliperValidationError) as err:
        activity(event_time="yesterday")
    assert errors(err) == [("eventTime", "EVT-3")]


# ---------------------------------------------------------------------------------------------------- TB-1, TB-2
def test_tb1_timeback_profile_needs_a_timeback_event_type() -> None:
    wire = wire_activity()
    wire["type"] = "Event"
    assert ("type", "TB-1") in rules(validate(wire))


def test_timeback_event_types_belong_to_the_timeback_profile() -> None:
    wire = wire_activity()
    wire["profile"] = "GeneralProfile"
    assert "profile" in {path for path, _ in rules(validate(wire))}  # the Caliper profile table's rule


@pytest.mark.parametrize(("factory", "wrong"), [(activity, "SpentTime"), (time_spent, "Completed")])
def test_tb2_action_matches_the_event_type(factory: Any, wrong: str) -> None:
    event = factory()
    with pytest.raises(CaliperValidationError) as err:
        type(event)(actor=event.actor, object=event.object, generated=event.generated, action=wrong)
    assert errors(err) == [("action", "TB-2")]


# ---------------------------------------------------------------------------------------------------- TB-3, TB-6
def test_tb3_generated_is_required() -> None:
    wire = wire_activity()
    del wire["generated"]
    assert rules(validate(wire)) == {("generated", "TB-3")}


@pytest.mark.parametrize(("make", "other"), [(wire_activity, wire_time_spent), (wire_time_spent, wire_activity)])
def test_tb3_generated_must_be_the_matching_collection(make: Any, other: Any) -> None:
    wire = make()
    wire["generated"] = other()["generated"]
    assert ("generated", "TB-3") in rules(validate(wire))


def test_tb3_generated_cannot_be_an_iri() -> None:
    wire = wire_activity()
    wire["generated"] = "https://your-app.com/metrics/1"
    assert rules(validate(wire)) == {("generated", "TB-3")}


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        ({"attempt": 0}, "generated.attempt"),
        ({"attempt": True}, "generated.attempt"),
        ({"attempt": 1.5}, "generated.attempt"),
        ({"id": "metrics-123"}, "generated.id"),
        ({"extensions": "x"}, "generated.extensions"),
        ({"items": "x"}, "generated.items"),
        ({"sourcedId": "x"}, "generated.sourcedId"),
        ({"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2"}, "generated.@context"),
    ],
)
def test_tb6_collection_fields(edit: dict[str, Any], path: str) -> None:
    wire = wire_activity()
    wire["generated"].update(edit)
    found = rules(validate(wire))
    assert any(p == path and r in ("TB-6", "TB-7") for p, r in found), found


def test_tb6_collection_id_error_suggests_an_app_url() -> None:
    with pytest.raises(CaliperValidationError, match="https://your-app.com/metrics"):
        activity(generated_id="metrics-123")


def test_tb6_empty_items_is_only_a_warning() -> None:
    with pytest.warns(CaliperWarning, match=r"no metrics.*\[TB-6\]"):
        TimebackActivityMetricsCollection(id="https://x.com/m/1", items=[])
    wire = wire_activity()
    wire["generated"]["items"] = []
    problems = validate(wire)
    assert rules(problems) == set()
    assert ("generated.items", "TB-6") in rules(problems, "warning")


def test_tb6_pct_complete_app_range_is_a_client_rule() -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(generated_extensions={"pctCompleteApp": 101})
    assert errors(err) == [("generated.extensions.pctCompleteApp", "TB-6")]
    wire = wire_activity()
    wire["generated"]["extensions"] = {"pctCompleteApp": 101}
    assert rules(validate(wire, server=True)) == set()


# ---------------------------------------------------------------------------------------------------- TB-4, TB-5
@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"id": "student-123"}, "id"),
        ({"id": "https://x.com/a b"}, "id"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": None}, "email"),
        ({"id": None}, "id"),
        ({"role": "parent"}, "role"),
        ({"name": 5}, "name"),
        ({"extensions": [1]}, "extensions"),
    ],
)
def test_tb4_timeback_user(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        user(**kwargs)
    assert errors(err) == [(path, "TB-4")]


@pytest.mark.parametrize("role", ["student", "teacher", "admin", "guide"])
def test_tb4_roles(role: str) -> None:
    assert user(role=role).role == role


def test_tb4_actor_must_be_a_timeback_user_on_the_wire() -> None:
    wire = wire_activity()
    wire["actor"] = {"id": USER_URL, "type": "Person"}
    assert ("actor", "TB-4") in rules(validate(wire))
    wire["actor"] = USER_URL
    assert ("actor", "TB-4") in rules(validate(wire))


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"id": "fractions-quiz"}, "id"),
        ({"subject": ""}, "subject"),
        ({"subject": "math"}, "subject"),  # case-sensitive
        ({"subject": "Music"}, "subject"),
        ({"app": None}, "app"),
        ({"process": "yes"}, "process"),
        ({"extensions": "x"}, "extensions"),
    ],
)
def test_tb5_activity_context(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        context(**kwargs)
    assert errors(err) == [(path, "TB-5")]


def test_tb5_object_id_error_suggests_an_app_url() -> None:
    with pytest.raises(CaliperValidationError, match="prefix it with your app's URL"):
        context(id="fractions-quiz")


@pytest.mark.parametrize(
    ("cls", "kwargs", "path"),
    [
        (TimebackApp, {"name": None}, "name"),
        (TimebackApp, {"name": "A", "id": "app"}, "id"),
        (TimebackCourse, {"name": None}, "name"),
        (TimebackCourse, {"name": "C", "id": "course-123"}, "id"),
        (TimebackActivity, {"name": None}, "name"),
        (TimebackActivity, {"name": "A", "id": "quiz"}, "id"),
    ],
)
def test_tb5_app_course_activity(cls: type, kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        cls(**kwargs)
    assert errors(err) == [(path, "TB-5")]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_tb5_every_documented_subject_is_accepted(subject: str) -> None:
    assert context(subject=subject).subject == subject


def test_tb5_unknown_subject_is_an_error_strictly_and_a_warning_leniently() -> None:
    wire = wire_activity()
    wire["object"]["subject"] = "Music"
    with pytest.raises(CaliperValidationError) as err:
        parse(wire)
    assert errors(err) == [("object.subject", "TB-5")]
    with pytest.warns(CaliperWarning, match="unknown subject 'Music'"):
        event = parse(wire, strict=False)
    assert event.object.subject == "Music"
    assert to_dict(event) == wire


def test_register_subject_extends_strict_mode_but_not_the_server_enum() -> None:
    wire = wire_activity()
    wire["object"]["subject"] = "Robotics"
    try:
        register_subject("Robotics")
        assert "Robotics" in subjects()
        assert context(subject="Robotics").subject == "Robotics"
        assert rules(validate(wire)) == set()
        assert rules(validate(wire, server=True)) == {("object.subject", "TB-5")}  # the server's enum is fixed
    finally:
        VOCABULARIES["timeback_subject"].discard("Robotics")


@pytest.mark.parametrize("bad", ["", "  ", 5, None])
def test_register_subject_needs_names(bad: Any) -> None:
    with pytest.raises(ValueError, match="subject"):
        register_subject(bad)


# ---------------------------------------------------------------------------------------------------- TB-7, TB-9
@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"type": "pctComplete", "value": 100}, "type"),
        ({"type": "xp_earned", "value": 1}, "type"),
        ({"type": "xpEarned", "value": True}, "value"),
        ({"type": "xpEarned", "value": "10"}, "value"),
        ({"type": "xpEarned", "value": float("nan")}, "value"),
        ({"type": "xpEarned", "value": None}, "value"),
        ({"type": "totalQuestions", "value": -1}, "value"),
        ({"type": "correctQuestions", "value": -0.5}, "value"),
        ({"type": "masteredUnits", "value": -1}, "value"),
    ],
)
def test_tb7_activity_metric(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        ActivityMetric(**kwargs)
    assert errors(err) == [(path, "TB-7")]


@pytest.mark.parametrize(
    ("kind", "value"), [("xpEarned", -20), ("xpEarned", 12.5), ("masteredUnits", 0.5), ("totalQuestions", 0)]
)
def test_tb7_accepted_values(kind: str, value: float) -> None:
    assert ActivityMetric(type=kind, value=value).value == value  # xpEarned may be negative: a correction (§8.7)


def test_negative_counts_are_a_client_rule_only() -> None:
    wire = wire_activity()
    wire["generated"]["items"].append({"type": "masteredUnits", "value": -1})
    assert rules(validate(wire)) == {("generated.items[3].value", "TB-7")}
    assert rules(validate(wire, server=True)) == set()


@pytest.mark.parametrize("keep", ["totalQuestions", "correctQuestions"])
def test_tb9_question_counts_come_in_pairs(keep: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(metrics=[ActivityMetric(type=keep, value=5), ActivityMetric(type="xpEarned", value=5)])
    assert errors(err) == [("generated.items", "TB-9")]


def test_tb9_is_a_server_rule_too() -> None:
    wire = wire_activity()
    del wire["generated"]["items"][0]
    assert rules(validate(wire, server=True)) == {("generated.items", "TB-9")}


def test_correct_above_total_is_a_client_rule_only() -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(metrics=metrics(totalQuestions=10, correctQuestions=11, xpEarned=1))
    assert errors(err) == [("generated.items[1]", "TB-9")]
    wire = wire_activity()
    wire["generated"]["items"][1]["value"] = 11
    assert rules(validate(wire, server=True)) == set()


def test_correct_equal_to_total_and_fractional_counts() -> None:
    assert activity(metrics=metrics(totalQuestions=10, correctQuestions=10, xpEarned=1)).generated.items[1].value == 10
    assert (
        activity(metrics=metrics(totalQuestions=10, correctQuestions=9.5, xpEarned=1)).generated.items[1].value == 9.5
    )


def test_duplicate_metric_types_are_a_client_rule_only() -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(metrics=metrics(xpEarned=10) + metrics(xpEarned=5))
    assert errors(err) == [("generated.items[1]", "TB-6")]
    wire = wire_activity()
    wire["generated"]["items"].append({"type": "xpEarned", "value": 1})
    assert rules(validate(wire, server=True)) == set()


def test_missing_xp_earned_is_only_a_warning() -> None:
    with pytest.warns(CaliperWarning, match=r"no xpEarned.*\[TB-7\]"):
        activity(metrics=metrics(totalQuestions=10, correctQuestions=8))
    event = wire_activity()
    event["generated"]["items"] = event["generated"]["items"][:2]
    problems = validate(event)
    assert rules(problems) == set()
    assert ("generated.items", "TB-7") in rules(problems, "warning")


# ---------------------------------------------------------------------------------------------------- TB-8
@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"type": "idle", "value": 1}, "type"),
        ({"type": "active", "value": -1}, "value"),
        ({"type": "active", "value": True}, "value"),
        ({"type": "active", "value": 1, "sub_type": 3}, "subType"),
        ({"type": "active", "value": 1, "start_date": datetime(2025, 1, 1)}, "startDate"),
        ({"type": "active", "value": 1, "start_date": WHEN, "end_date": WHEN - timedelta(seconds=1)}, "endDate"),
    ],
)
def test_tb8_time_spent_metric(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        TimeSpentMetric(**kwargs)
    assert errors(err) == [(path, "TB-8")]


@pytest.mark.parametrize("kind", ["active", "inactive", "waste", "unknown", "anti-pattern"])
def test_tb8_every_time_type(kind: str) -> None:
    assert TimeSpentMetric(type=kind, value=0).type == kind


@pytest.mark.parametrize("key", ["sub_type", "start_date", "end_date", "subtype", "duration"])
def test_tb8_closed_key_list_on_the_wire(key: str) -> None:
    wire = wire_time_spent()
    wire["generated"]["items"][0][key] = "x"
    assert rules(validate(wire)) == {(f"generated.items[0].{key}", "TB-8")}
    assert rules(validate(wire, server=True)) == {(f"generated.items[0].{key}", "TB-8")}


def test_negative_time_and_reversed_windows_are_client_rules_only() -> None:
    wire = wire_time_spent()
    wire["generated"]["items"][0].update(
        value=-5, startDate="2025-11-18T10:15:00.000Z", endDate="2025-11-18T10:00:00.000Z"
    )
    assert rules(validate(wire)) == {("generated.items[0].value", "TB-8"), ("generated.items[0].endDate", "TB-8")}
    assert rules(validate(wire, server=True)) == set()


def test_time_spent_duplicates_only_for_the_same_bucket() -> None:
    ok = [
        TimeSpentMetric(type="waste", value=5, sub_type="eating"),
        TimeSpentMetric(type="waste", value=5, sub_type="games"),
    ]
    assert len(time_spent(metrics=ok).generated.items) == 2
    twice = [TimeSpentMetric(type="active", value=5), TimeSpentMetric(type="active", value=5)]
    with pytest.raises(CaliperValidationError) as err:
        time_spent(metrics=twice)
    assert errors(err) == [("generated.items[1]", "TB-6")]


def test_time_collection_has_no_attempt() -> None:
    wire = wire_time_spent()
    wire["generated"]["attempt"] = 1
    assert rules(validate(wire)) == {("generated.attempt", "TB-6")}
    with pytest.raises(TypeError):
        TimebackTimeSpentMetricsCollection(id="https://x.com/m", items=[], attempt=1)  # type: ignore[call-arg]


# ---------------------------------------------------------------------------------------------------- unknown keys
@pytest.mark.parametrize(
    ("where", "rule"),
    [
        (("actor",), "TB-4"),
        (("object",), "TB-5"),
        (("object", "app"), "TB-5"),
        (("generated",), "TB-6"),
        (("generated", "items", 0), "TB-7"),
    ],
)
def test_unknown_keys_are_errors_strictly_and_kept_leniently(where: tuple[Any, ...], rule: str) -> None:
    wire = wire_activity()
    wire["object"]["course"] = {"name": "Math G3"}
    node: Any = wire
    for step in where:
        node = node[step]
    node["sourcedId"] = "abc"
    path = ".".join(str(s) for s in where).replace(".0", "[0]") + ".sourcedId"
    with pytest.raises(CaliperValidationError) as err:
        parse(wire)
    assert errors(err) == [(path, rule)]
    with pytest.warns(CaliperWarning, match="sourcedId"):
        event = parse(wire, strict=False)
    assert to_dict(event) == wire


def test_lenient_parse_reports_every_rule_as_a_warning_and_keeps_the_data() -> None:
    wire = wire_activity()
    wire["actor"]["email"] = "nope"
    wire["generated"]["items"][1]["value"] = 11  # correct > total
    wire["generated"]["items"].append({"type": "xpEarned", "value": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        event = parse(wire, strict=False)
    messages = " | ".join(str(w.message) for w in caught)
    assert "[TB-4]" in messages
    assert "[TB-9]" in messages
    assert "[TB-6]" in messages
    assert to_dict(event) == wire


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*path, key)
        yield from _leaves(value, (*path, key))


@pytest.mark.parametrize("odd", [None, True, -1, 1.5, "x", [], ["x"], {}, {"a": [1]}])
@pytest.mark.parametrize("make", [wire_activity, wire_time_spent])
def test_any_json_anywhere_is_read_leniently_without_crashing(make: Any, odd: Any) -> None:
    base = make()
    base["generated"]["items"][0].update(startDate="2025-11-18T10:00:00.000Z", subType="eating")
    for where in _leaves(base):
        doc = copy.deepcopy(base)
        node = doc
        for step in where[:-1]:
            node = node[step]
        typed_slot = isinstance(node[where[-1]], dict) and "type" in node[where[-1]]
        node[where[-1]] = odd
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CaliperWarning)
            read = parse(doc, strict=False)
        if not (typed_slot and isinstance(odd, dict)):  # a type-less object in a typed slot gains a "type"
            assert to_dict(read) == doc, where
        validate(doc, server=True)
        validate(doc)


def test_problem_paths_inside_an_envelope() -> None:
    env = {
        "sensor": "https://your-app.com",
        "sendTime": "2025-11-18T10:15:00.000Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": [wire_time_spent(), wire_activity()],
    }
    env["data"][1]["actor"]["email"] = "bad"
    with pytest.raises(CaliperValidationError) as err:
        parse(env)
    assert errors(err) == [("data[1].actor.email", "TB-4")]


def test_run_id_and_course_id_properties() -> None:
    event = activity(run_id="run-1", course_id="MATH-3", extensions={"other": 1})
    assert (event.run_id, event.course_id) == ("run-1", "MATH-3")
    assert event.extensions == {"other": 1, "runId": "run-1", "courseId": "MATH-3"}
    assert (activity().run_id, activity().course_id) == (None, None)
    parsed = parse(to_dict(event))
    assert parsed.run_id == "run-1"
    assert parsed.course_id == "MATH-3"


# ---------------------------------------------------------------------------------------------------- factories
def test_factories_accept_documented_dicts() -> None:
    event = create_activity_event(
        actor={"id": USER_URL, "type": "TimebackUser", "email": "student@example.com"},
        object={
            "id": ACTIVITY_URL,
            "type": "TimebackActivityContext",
            "subject": "Math",
            "app": {"name": "Math App"},
            "course": {"name": "Math G5"},
            "activity": {"name": "Fractions Quiz"},
            "process": False,
        },
        metrics=[
            {"type": "totalQuestions", "value": 10},
            {"type": "correctQuestions", "value": 8},
            {"type": "xpEarned", "value": 150},
        ],
    )
    assert event.actor == user()
    assert event.object.course == TimebackCourse(name="Math G5")
    assert event.object.process is False
    assert [m.value for m in event.generated.items] == [10, 8, 150]


def test_type_is_optional_in_dicts() -> None:
    event = create_activity_event(
        actor={"id": USER_URL, "email": "student@example.com"},
        object={"id": ACTIVITY_URL, "subject": "Math", "app": {"name": "Math App"}},
        metrics=[{"type": "xpEarned", "value": 150}],
        event_time=WHEN,
    )
    assert event == create_activity_event(
        actor=user(),
        object=context(),
        metrics=metrics(xpEarned=150),
        event_time=WHEN,
        id=event.id,
        generated_id=event.generated.id,
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"actor": {"id": USER_URL, "email": "a@b.co", "type": "Person"}}, ("actor.type", "TB-4")),
        (
            {"object": {"id": ACTIVITY_URL, "subject": "Math", "app": {"name": "A"}, "type": "Entity"}},
            ("object.type", "TB-5"),
        ),
        ({"actor": {"id": USER_URL, "email": "a@b.co", "Email": "x"}}, ("actor.Email", "TB-4")),
        ({"actor": {"id": USER_URL}}, ("actor.email", "TB-4")),
        ({"object": {"id": ACTIVITY_URL, "subject": "Math"}}, ("object.app", "TB-5")),
        ({"object": {"id": ACTIVITY_URL, "subject": "Math", "app": {"title": "A"}}}, ("object.app.title", "TB-5")),
        ({"object": {"id": ACTIVITY_URL, "subject": "Math", "app": {}}}, ("object.app.name", "TB-5")),
        ({"metrics": [{"type": "xpEarned", "value": 1, "unit": "xp"}]}, ("metrics[0].unit", "TB-7")),
        ({"metrics": [{"type": "xpEarned"}]}, ("metrics[0].value", "TB-7")),
        ({"metrics": [{"value": 1}]}, ("metrics[0].type", "TB-7")),
        ({"metrics": [TimeSpentMetric(type="active", value=1)]}, ("metrics[0]", "TB-7")),
        ({"metrics": {"xpEarned": 1}}, ("metrics", "TB-7")),
        ({"actor": "https://x.com/u/1"}, ("actor", "TB-4")),
        ({"object": ["x"]}, ("object", "TB-5")),
    ],
)
def test_factory_input_errors_name_path_and_rule(kwargs: dict[str, Any], expected: tuple[str, str]) -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(**kwargs)
    assert expected in errors(err)


@pytest.mark.parametrize(
    ("key", "hint"), [("sub_type", "subType"), ("start_date", "startDate"), ("end_date", "endDate")]
)
def test_snake_case_keys_in_dicts_are_rejected_with_a_hint(key: str, hint: str) -> None:
    with pytest.raises(CaliperValidationError, match=f"did you mean '{hint}'") as err:
        time_spent(metrics=[{"type": "waste", "value": 30, key: "eating"}])
    assert errors(err) == [(f"metrics[0].{key}", "TB-8")]


def test_time_metric_dicts_with_timestamps() -> None:
    event = time_spent(
        metrics=[
            {
                "type": "active",
                "value": 780,
                "startDate": "2025-11-18T10:00:00.000Z",
                "endDate": "2025-11-18T10:13:00Z",
            },
            {
                "type": "waste",
                "value": 45,
                "subType": "eating",
                "startDate": WHEN,
                "endDate": "2025-11-18T12:15:00.5+02:00",
            },
        ]
    )
    first, second = event.generated.items
    assert first.start_date == datetime(2025, 11, 18, 10, 0, tzinfo=timezone.utc)
    assert to_dict(first)["endDate"] == "2025-11-18T10:13:00.000Z"
    assert second.sub_type == "eating"
    assert to_dict(second)["endDate"] == "2025-11-18T10:15:00.500Z"


@pytest.mark.parametrize("stamp", ["2025-11-18 10:00", "2025-11-18T10:00:00", "2025-13-18T10:00:00.000Z", "now"])
def test_time_metric_dicts_with_bad_timestamps(stamp: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        time_spent(metrics=[{"type": "active", "value": 1, "startDate": stamp}])
    assert errors(err) == [("metrics[0].startDate", "TB-8")]


def test_every_problem_is_reported_not_only_the_first() -> None:
    with pytest.raises(CaliperValidationError) as err:
        activity(
            metrics=[
                {"type": "bogus", "value": 1},
                {"type": "xpEarned", "value": True},
                {"type": "xpEarned", "value": 1, "x": 1},
            ]
        )
    assert errors(err) == [("metrics[0].type", "TB-7"), ("metrics[1].value", "TB-7"), ("metrics[2].x", "TB-7")]


def test_models_are_used_as_given() -> None:
    actor, obj = user(), context()
    items = metrics(xpEarned=1)
    event = create_activity_event(actor=actor, object=obj, metrics=items)
    assert event.actor is actor
    assert event.object is obj
    assert event.generated.items[0] is items[0]


def test_run_id_conflicting_with_extensions_is_an_error() -> None:
    assert activity(run_id="r", extensions={"runId": "r"}).run_id == "r"
    with pytest.raises(CaliperValidationError, match="runId given twice"):
        activity(run_id="r", extensions={"runId": "other"})
    with pytest.raises(CaliperValidationError, match="non-empty"):
        activity(course_id="")


def test_caller_extensions_dict_is_not_mutated() -> None:
    ext = {"other": 1}
    activity(extensions=ext, run_id="r")
    assert ext == {"other": 1}


def test_ed_app_and_session() -> None:
    wire = to_dict(activity(ed_app="https://your-app.com", session="https://your-app.com/sessions/1"))
    assert wire["edApp"] == "https://your-app.com"
    assert wire["session"] == "https://your-app.com/sessions/1"


def test_attempt_must_be_a_positive_int() -> None:
    assert activity(attempt=3).generated.attempt == 3
    for bad in (0, -1, True, 1.0):
        with pytest.raises(CaliperValidationError) as err:
            activity(attempt=bad)
        assert errors(err) == [("generated.attempt", "TB-6")]


def test_time_spent_factory_wire_form() -> None:
    wire = to_dict(time_spent(run_id="run-1"))
    assert wire["type"] == "TimeSpentEvent"
    assert wire["action"] == "SpentTime"
    assert wire["profile"] == "TimebackProfile"
    assert wire["generated"]["type"] == "TimebackTimeSpentMetricsCollection"
    assert wire["generated"]["items"] == [{"type": "active", "value": 240}, {"type": "inactive", "value": 60}]
    assert wire["extensions"] == {"runId": "run-1"}


def test_built_events_validate_clean_on_both_rule_sets(quiet: None) -> None:
    for event in (activity(), time_spent()):
        assert rules(validate(event)) == set()
        assert rules(validate(to_dict(event), server=True)) == set()
