"""client.activity: record() and build() (contract §9.2 and §13 "XP and recording"), tested through the envelope."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from timeback_caliper.activity import DEFAULT_API_URL, Activity, ActivityConfig
from timeback_caliper.errors import CaliperValidationError, TimebackError
from timeback_caliper.models.caliper.envelope import Envelope
from timeback_caliper.models.timeback import ActivityEvent, TimeSpentEvent
from timeback_caliper.serialization import parse, to_dict, validate

NOW = datetime(2025, 11, 18, 10, 15, 0, tzinfo=timezone.utc)
START = datetime(2025, 11, 18, 10, 0, 0, tzinfo=timezone.utc)
END = datetime(2025, 11, 18, 10, 14, 45, tzinfo=timezone.utc)
RUN = "9b2f4c1e-7a3d-4e8b-b6f1-2d5c8a9e0f13"
COURSES = {
    "MATH-3": {"subject": "Math", "grade": 3, "name": "Math G3"},
    "FM-3": {
        "subject": "FastMath",
        "grade": 3,
        "name": "FastMath G3",
        "id": "https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/courses/course-123",
    },
}


def config(**kw: Any) -> ActivityConfig:
    parts: dict[str, Any] = {
        "app_name": "Math App",
        "sensor": "https://your-app.com",
        "activity_base_url": "https://your-app.com/activities",
        "courses": COURSES,
    }
    return ActivityConfig(**{**parts, **kw})


def activity_resource(send: Any = None, **kw: Any) -> Activity:
    return Activity(config(**kw), send, clock=lambda: NOW)


def build(resource: Activity | None = None, **kw: Any) -> Envelope:
    parts: dict[str, Any] = {
        "user": {"email": "student@example.com", "timeback_id": "student-123"},
        "activity": {"id": "addition-facts-1", "name": "Addition Facts 1", "course": {"code": "FM-3"}},
        "metrics": {"xp_earned": 13, "total_questions": 20, "correct_questions": 17},
        "run_id": RUN,
    }
    return (resource or activity_resource()).build(**{**parts, **kw})


def wire(envelope: Envelope) -> dict[str, Any]:
    result: dict[str, Any] = to_dict(envelope)
    return result


# ---------------------------------------------------------------------------------------------------- shape
def test_build_gives_one_activity_event_in_one_envelope() -> None:
    env = build()
    assert isinstance(env, Envelope)
    assert [type(e) for e in env.data] == [ActivityEvent]
    doc = wire(env)
    assert doc["sensor"] == "https://your-app.com"
    assert doc["sendTime"] == "2025-11-18T10:15:00.000Z"
    event = doc["data"][0]
    assert event["eventTime"] == "2025-11-18T10:15:00.000Z"
    assert event["actor"] == {
        "type": "TimebackUser",
        "id": "https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/student-123",
        "email": "student@example.com",
    }
    assert event["object"] == {
        "type": "TimebackActivityContext",
        "id": "https://your-app.com/activities/addition-facts-1",
        "subject": "FastMath",
        "app": {"name": "Math App"},
        "course": {"id": COURSES["FM-3"]["id"], "name": "FastMath G3"},
        "activity": {"name": "Addition Facts 1"},
    }
    assert event["generated"] == {
        "type": "TimebackActivityMetricsCollection",
        "id": f"https://your-app.com/activities/addition-facts-1/runs/{RUN}/completion",
        "items": [
            {"type": "xpEarned", "value": 13},
            {"type": "totalQuestions", "value": 20},
            {"type": "correctQuestions", "value": 17},
        ],
    }
    assert event["extensions"] == {"runId": RUN, "courseId": "FM-3"}
    assert "process" not in event["object"]  # omitted unless the caller sets it


def test_envelope_is_valid_on_client_and_server_rules_and_round_trips() -> None:
    doc = wire(build(time={"active_ms": 780_000, "inactive_ms": 60_000, "started_at": START, "ended_at": END}))
    assert [p for p in validate(doc) if p.severity == "error"] == []
    assert [p for p in validate(doc, server=True) if p.severity == "error"] == []
    assert to_dict(parse(doc)) == doc


def test_time_adds_a_time_spent_event_in_the_same_envelope() -> None:
    env = build(time={"started_at": START, "ended_at": END, "active_ms": 780_000, "inactive_ms": 60_000})
    assert [type(e) for e in env.data] == [TimeSpentEvent, ActivityEvent]
    spent, done = wire(env)["data"]
    assert spent["action"] == "SpentTime"
    assert spent["generated"] == {
        "type": "TimebackTimeSpentMetricsCollection",
        "id": f"https://your-app.com/activities/addition-facts-1/runs/{RUN}/time",
        "items": [
            {
                "type": "active",
                "value": 780,
                "startDate": "2025-11-18T10:00:00.000Z",
                "endDate": "2025-11-18T10:14:45.000Z",
            },
            {
                "type": "inactive",
                "value": 60,
                "startDate": "2025-11-18T10:00:00.000Z",
                "endDate": "2025-11-18T10:14:45.000Z",
            },
        ],
    }
    assert spent["eventTime"] == "2025-11-18T10:14:45.000Z"  # the end of its window
    assert spent["extensions"] == done["extensions"] == {"runId": RUN, "courseId": "FM-3"}
    assert spent["actor"] == done["actor"]
    assert spent["object"] == done["object"]
    assert spent["id"] != done["id"]


@pytest.mark.parametrize(
    ("time", "items"),
    [
        ({"active_ms": 1500}, [{"type": "active", "value": 1.5}]),
        ({"active_ms": 0}, [{"type": "active", "value": 0}]),
        ({"inactive_ms": 30_000}, [{"type": "inactive", "value": 30}]),
        ({"active_ms": 12_345.0}, [{"type": "active", "value": 12.345}]),
    ],
)
def test_milliseconds_become_seconds(time: dict[str, Any], items: list[dict[str, Any]]) -> None:
    spent = wire(build(time=time))["data"][0]
    assert spent["generated"]["items"] == items


def test_active_time_from_the_window_when_not_given() -> None:
    spent = wire(build(time={"started_at": START, "ended_at": END, "inactive_ms": 60_000}))["data"][0]
    assert [(i["type"], i["value"]) for i in spent["generated"]["items"]] == [("active", 825), ("inactive", 60)]


def test_mastered_units_and_pct_complete() -> None:
    event = wire(build(metrics={"xp_earned": 5.5, "mastered_units": 1, "pct_complete": 40}))["data"][0]
    assert event["generated"]["items"] == [{"type": "xpEarned", "value": 5.5}, {"type": "masteredUnits", "value": 1}]
    assert event["generated"]["extensions"] == {"pctCompleteApp": 40}


def test_actor_without_timeback_id_is_a_mailto_iri() -> None:
    event = wire(build(user={"email": "student@example.com"}))["data"][0]
    assert event["actor"]["id"] == "mailto:student@example.com"


def test_timeback_id_uses_the_configured_api_host_and_is_escaped() -> None:
    env = build(
        activity_resource(api_url="https://api.staging.alpha-1edtech.ai/"),
        user={"email": "a@b.co", "timeback_id": "a/b c"},
    )
    assert env.data[0].actor.id == "https://api.staging.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/a%2Fb%20c"
    assert config().api_url == DEFAULT_API_URL


def test_run_id_is_generated_when_omitted_and_shared_by_both_events() -> None:
    env = build(run_id=None, time={"active_ms": 1000})
    run_ids = {e.run_id for e in env.data}
    assert len(run_ids) == 1
    (run_id,) = run_ids
    assert run_id is not None
    assert uuid.UUID(run_id).version == 4
    assert f"/runs/{run_id}/completion" in env.data[1].generated.id
    assert build(run_id=None).data[0].run_id != run_id


def test_ids_and_times_are_fixed_at_build() -> None:
    resource = activity_resource()
    env = build(resource)
    assert to_dict(env) == to_dict(env)
    assert env.data[0].id.startswith("urn:uuid:")
    assert build(resource).data[0].id != env.data[0].id


def test_sensor_override_process_attempt_and_event_time() -> None:
    when = NOW - timedelta(days=1)
    env = build(sensor="https://other.example.com", process=True, attempt=2, event_time=when)
    assert env.sensor == "https://other.example.com"
    event = env.data[0]
    assert event.object.process is True
    assert event.generated.attempt == 2
    assert event.event_time == when
    assert build(process=False).data[0].object.process is False


def test_app_id_from_config() -> None:
    env = build(activity_resource(app_id="https://your-app.com"))
    assert wire(env)["data"][0]["object"]["app"] == {"name": "Math App", "id": "https://your-app.com"}


def test_activity_id_is_appended_to_the_base_url_escaped() -> None:
    env = build(activity={"id": "Math/g3/lesson 1", "name": "L1", "course": {"code": "MATH-3"}})
    assert env.data[0].object.id == "https://your-app.com/activities/Math/g3/lesson%201"


# ---------------------------------------------------------------------------------------------------- courses
def test_course_code_resolves_through_the_course_map() -> None:
    event = build(activity={"id": "a", "name": "A", "course": {"code": "MATH-3"}}).data[0]
    assert event.object.subject == "Math"
    assert event.object.course is not None
    assert event.object.course.name == "Math G3"
    assert event.object.course.id is None
    assert event.course_id == "MATH-3"


def test_unknown_course_code_is_a_validation_error() -> None:
    with pytest.raises(CaliperValidationError, match="unknown course code 'SCI-9'") as err:
        build(activity={"id": "a", "name": "A", "course": {"code": "SCI-9"}})
    assert err.value.errors[0].path == "activity.course.code"


def test_course_by_subject_and_grade() -> None:
    event = build(activity={"id": "a", "name": "A", "course": {"subject": "Reading", "grade": 4}}).data[0]
    assert event.object.subject == "Reading"
    assert event.object.course is not None
    assert event.object.course.name == "Reading G4"
    assert event.course_id is None
    assert "courseId" not in (event.extensions or {})


def test_course_by_subject_and_grade_finds_its_code_in_the_map() -> None:
    event = build(activity={"id": "a", "name": "A", "course": {"subject": "Math", "grade": 3}}).data[0]
    assert event.course_id == "MATH-3"
    assert event.object.course is not None
    assert event.object.course.name == "Math G3"


def test_code_with_subject_needs_no_map_entry() -> None:
    event = build(
        activity={"id": "a", "name": "A", "course": {"code": "SCI-5", "subject": "Science", "grade": 5}}
    ).data[0]
    assert (event.object.subject, event.course_id) == ("Science", "SCI-5")


@pytest.mark.parametrize("course", [{"subject": "Math"}, {"grade": 3}, {}, {"name": "X"}])
def test_course_needs_code_or_subject_and_grade(course: dict[str, Any]) -> None:
    with pytest.raises(CaliperValidationError, match="code, or a subject and a grade"):
        build(activity={"id": "a", "name": "A", "course": course})


def test_course_with_unknown_subject_is_refused() -> None:
    with pytest.raises(CaliperValidationError) as err:
        build(activity={"id": "a", "name": "A", "course": {"subject": "Music", "grade": 3}})
    assert [(p.path, p.rule) for p in err.value.errors] == [("activity.subject", "TB-5")]


# ---------------------------------------------------------------------------------------------------- input errors
@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"user": {}}, "user.email"),
        ({"user": {"email": "nope"}}, "user.email"),
        ({"user": {"email": "a@b.co", "timebackId": "x"}}, "user.timebackId"),
        ({"user": "a@b.co"}, "user"),
        ({"activity": {"name": "A", "course": {"code": "MATH-3"}}}, "activity.id"),
        ({"activity": {"id": "a", "course": {"code": "MATH-3"}}}, "activity.name"),
        ({"activity": {"id": "a", "name": "A"}}, "activity.course"),
        ({"activity": {"id": "", "name": "A", "course": {"code": "MATH-3"}}}, "activity.id"),
        ({"activity": {"id": "a", "name": "A", "course": {"code": "MATH-3", "level": 1}}}, "activity.course.level"),
        ({"metrics": {}}, "metrics.xp_earned"),
        ({"metrics": {"xpEarned": 5}}, "metrics.xpEarned"),
        ({"metrics": {"xp_earned": True}}, "metrics.xp_earned.value"),
        ({"metrics": {"xp_earned": 1, "total_questions": 10}}, "metrics"),
        ({"metrics": {"xp_earned": 1, "correct_questions": 10}}, "metrics"),
        ({"metrics": {"xp_earned": 1, "mastered_units": -1}}, "metrics.mastered_units.value"),
        ({"metrics": {"xp_earned": 1, "pct_complete": 101}}, "metrics.pct_complete"),
        ({"metrics": {"xp_earned": 1, "pct_complete": -1}}, "metrics.pct_complete"),
        ({"metrics": {"xp_earned": 1, "pct_complete": True}}, "metrics.pct_complete"),
        ({"time": {}}, "time"),
        ({"time": {"active_ms": -1}}, "time.active_ms"),
        ({"time": {"active_ms": True}}, "time.active_ms"),
        ({"time": {"inactive_ms": float("nan")}}, "time.inactive_ms"),
        ({"time": {"activeMs": 1000}}, "time.activeMs"),
        ({"time": {"active_ms": 1, "started_at": datetime(2025, 1, 1)}}, "time.started_at"),
        ({"time": {"active_ms": 1, "started_at": END, "ended_at": START}}, "time.endDate"),
        ({"run_id": ""}, "run_id"),
        ({"sensor": "your-app"}, "sensor"),
        ({"attempt": 0}, "generated.attempt"),
    ],
)
def test_input_errors_name_the_input(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(CaliperValidationError) as err:
        build(**kwargs)
    assert path in [p.path for p in err.value.errors], err.value


def test_camel_case_input_keys_get_a_hint() -> None:
    with pytest.raises(CaliperValidationError, match="did you mean 'xp_earned'"):
        build(metrics={"xpEarned": 5})
    with pytest.raises(CaliperValidationError, match="did you mean 'timeback_id'"):
        build(user={"email": "a@b.co", "timebackId": "x"})


def test_correct_above_total_is_refused() -> None:
    with pytest.raises(CaliperValidationError) as err:
        build(metrics={"xp_earned": 1, "total_questions": 5, "correct_questions": 6})
    assert "TB-9" in {p.rule for p in err.value.errors}


# ---------------------------------------------------------------------------------------------------- record
def test_record_sends_the_built_envelope_once_and_returns_the_result() -> None:
    sent: list[Envelope] = []

    def send(envelope: Envelope) -> str:
        sent.append(envelope)
        return "job-42"

    resource = activity_resource(send)
    result = resource.record(
        user={"email": "student@example.com"},
        activity={"id": "a", "name": "A", "course": {"code": "MATH-3"}},
        metrics={"xp_earned": 3},
        time={"active_ms": 180_000},
        run_id=RUN,
    )
    assert result == "job-42"
    assert len(sent) == 1
    assert [e.TYPE for e in sent[0].data] == ["TimeSpentEvent", "ActivityEvent"]
    assert {e.run_id for e in sent[0].data} == {RUN}


def test_record_validates_before_sending() -> None:
    sent: list[Envelope] = []
    resource = activity_resource(sent.append)
    with pytest.raises(CaliperValidationError):
        resource.record(
            user={"email": "x"},
            activity={"id": "a", "name": "A", "course": {"code": "MATH-3"}},
            metrics={"xp_earned": 1},
        )
    assert sent == []


def test_record_without_a_send_function() -> None:
    with pytest.raises(TimebackError, match="build"):
        activity_resource().record(
            user={"email": "a@b.co"},
            activity={"id": "a", "name": "A", "course": {"code": "MATH-3"}},
            metrics={"xp_earned": 1},
        )


# ---------------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sensor": "your-app.com"}, "sensor"),
        ({"activity_base_url": "/activities"}, "activity_base_url"),
        ({"api_url": "api.alpha-1edtech.ai"}, "api_url"),
        ({"app_name": ""}, "app_name"),
        ({"courses": {"X": {"grade": 3}}}, "subject"),
        ({"courses": {"X": {"subject": "Math", "teacher": "Y"}}}, "unknown keys"),
        ({"courses": {"X": "Math"}}, "dict"),
    ],
)
def test_config_is_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(CaliperValidationError, match=match):
        config(**kwargs)


def test_config_trailing_slashes_are_dropped() -> None:
    cfg = config(activity_base_url="https://your-app.com/activities/", sensor="https://your-app.com/")
    assert cfg.activity_base_url == "https://your-app.com/activities"
    assert cfg.sensor == "https://your-app.com/"  # a sensor is an identifier: kept exactly


def test_activity_needs_a_config() -> None:
    with pytest.raises(TypeError):
        Activity({"app_name": "x"}, None)  # type: ignore[arg-type]
