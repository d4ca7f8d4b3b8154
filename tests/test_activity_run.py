"""Activity runs (client.activity.start): time arithmetic on injected clocks, windows, failures, state round trips."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from timeback_caliper import CaliperClient
from timeback_caliper.activity import Activity, ActivityConfig
from timeback_caliper.activity_run import ActivityRun, ActivityRunError, RecordResult
from timeback_caliper.errors import CaliperValidationError, ServerError, TimebackError, TransportError
from timeback_caliper.models.caliper.envelope import Envelope
from timeback_caliper.models.gradebook import AssessmentResult
from timeback_caliper.serialization import to_dict, validate

T0 = datetime(2025, 11, 18, 10, 0, 0, tzinfo=timezone.utc)
USER = {"email": "student@example.com", "timeback_id": "student-123"}
COURSES = {"MATH-3": {"subject": "Math", "grade": 3, "name": "Math G3"}}
BASE = "https://your-app.com/activities"


class Clocks:
    """A wall clock and a monotonic clock that move together, unless a test moves one alone."""

    def __init__(self) -> None:
        self.mono = 5000.0
        self.now = T0

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.now += timedelta(seconds=seconds)


class Sender:
    """Records every envelope as wire JSON; fails the next ``fail`` sends with ``error``."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail = 0
        self.error: TimebackError = ServerError("busy", status_code=503)

    def __call__(self, envelope: Envelope) -> str:
        self.attempts += 1
        if self.fail:
            self.fail -= 1
            raise self.error
        self.sent.append(to_dict(envelope))
        return f"job-{len(self.sent)}"

    def events(self) -> list[dict[str, Any]]:
        return [event for envelope in self.sent for event in envelope["data"]]


class FakeGradebook:
    """Stands in for client.gradebook: records record_activity_result calls, fails on demand."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = 0

    def record_activity_result(self, **kwargs: Any) -> AssessmentResult:
        if self.fail:
            self.fail -= 1
            raise ServerError("gradebook down", status_code=502)
        self.calls.append(kwargs)
        return AssessmentResult(sourced_id=kwargs["result_id"], score=None)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def sender() -> Sender:
    return Sender()


@pytest.fixture
def resource(clocks: Clocks, sender: Sender) -> Activity:
    config = ActivityConfig(app_name="Math App", sensor="https://your-app.com", activity_base_url=BASE, courses=COURSES)
    return Activity(config, sender, clock=clocks.wall, monotonic=clocks.monotonic)


def start(resource: Activity, **kw: Any) -> ActivityRun:
    parts: dict[str, Any] = {"user": USER, "id": "fractions-1", "name": "Fractions 1", "course": {"code": "MATH-3"}}
    return resource.start(**{**parts, **kw})


def items(event: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(i["type"], i["value"]) for i in event["generated"]["items"]]


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------------------------------------------- start
def test_start_gives_a_running_run(resource: Activity) -> None:
    run = start(resource)
    assert uuid.UUID(run.run_id)
    assert run.started_at == T0
    assert (run.is_paused, run.is_ended, run.total_active_ms, run.elapsed_ms) == (False, False, 0, 0)
    assert start(resource, id="other", run_id="my-run").run_id == "my-run"


def test_active_time_follows_the_monotonic_clock_not_the_wall_clock(resource: Activity, clocks: Clocks) -> None:
    run = start(resource)
    clocks.mono += 12.5
    clocks.now += timedelta(hours=3)  # an NTP jump must not count
    assert run.total_active_ms == 12_500
    clocks.now -= timedelta(hours=5)
    assert run.total_active_ms == 12_500


def test_flush_sends_one_window_in_seconds_with_dates_and_run_id(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    run = start(resource)
    clocks.advance(30)
    assert run.flush_time_spent() == "job-1"
    clocks.advance(15.25)
    run.flush_time_spent()
    first, second = sender.events()
    assert first["type"] == "TimeSpentEvent" and first["action"] == "SpentTime"
    assert first["generated"]["items"] == [
        {"type": "active", "value": 30, "startDate": ts(0), "endDate": ts(30)},
    ]
    assert first["generated"]["id"] == f"{BASE}/fractions-1/runs/{run.run_id}/time/1"
    assert first["extensions"] == {"runId": run.run_id, "courseId": "MATH-3"}
    assert first["eventTime"] == ts(30)
    assert second["generated"]["id"].endswith("/time/2")
    assert second["generated"]["items"][0]["startDate"] == ts(30)  # windows are contiguous
    assert items(second) == [("active", 15.25)]
    assert run.time_sent and run.total_active_ms == 45_250


def test_flush_with_nothing_measured_sends_nothing(resource: Activity, sender: Sender) -> None:
    run = start(resource)
    assert run.flush_time_spent() is None
    assert sender.attempts == 0


def test_pause_flushes_and_paused_time_is_inactive(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    clocks.advance(60)
    run.pause()
    assert run.is_paused and items(sender.events()[0]) == [("active", 60)]
    clocks.advance(20)
    assert run.flush_time_spent() is None  # a no-op while paused
    assert run.total_active_ms == 60_000 and run.total_inactive_ms == 20_000
    run.resume()
    clocks.advance(10)
    run.flush_time_spent()
    last = sender.events()[-1]
    assert items(last) == [("active", 10), ("inactive", 20)]
    assert last["generated"]["items"][1]["startDate"] == ts(60)
    assert (run.total_active_ms, run.total_inactive_ms, run.elapsed_ms) == (70_000, 20_000, 90_000)


def test_pause_twice_and_resume_when_running_are_no_ops(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    run.resume()
    clocks.advance(5)
    run.pause()
    assert run.pause() is None
    assert len(sender.sent) == 1


def test_time_false_measures_but_never_sends_time(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource, time=False)
    clocks.advance(13 * 60)
    assert run.flush_time_spent() is None
    assert run.pause() is None
    run.resume()
    result = run.end(total_questions=20, correct_questions=17)
    assert isinstance(result, RecordResult)
    (event,) = sender.events()
    assert event["type"] == "ActivityEvent"
    assert items(event) == [("xpEarned", 13), ("totalQuestions", 20), ("correctQuestions", 17)]  # compute_xp
    assert run.total_active_ms == 13 * 60_000


# ---------------------------------------------------------------------------------------------------- end
def test_end_without_metrics_only_flushes_time(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    clocks.advance(42)
    result = run.end()
    assert result is not None and result.job_id is None and result.send == "job-1"
    assert [e["type"] for e in sender.events()] == ["TimeSpentEvent"]
    assert run.is_ended and not run.has_unsent and run.ended_at == T0 + timedelta(seconds=42)


def test_end_sends_remaining_time_then_the_completion_in_one_envelope(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    run = start(resource)
    clocks.advance(90)
    run.end(xp_earned=2, total_questions=5, correct_questions=5, mastered_units=1, pct_complete=40, attempt=2)
    (envelope,) = sender.sent
    spent, done = envelope["data"]
    assert (spent["type"], done["type"]) == ("TimeSpentEvent", "ActivityEvent")
    assert items(done) == [("xpEarned", 2), ("totalQuestions", 5), ("correctQuestions", 5), ("masteredUnits", 1)]
    assert done["generated"]["attempt"] == 2
    assert done["generated"]["extensions"] == {"pctCompleteApp": 40}
    assert done["generated"]["id"] == f"{BASE}/fractions-1/runs/{run.run_id}/completion"
    assert spent["extensions"]["runId"] == done["extensions"]["runId"] == run.run_id
    assert done["eventTime"] == ts(90)
    assert [p for p in validate(envelope) if p.severity == "error"] == []
    assert [p for p in validate(envelope, server=True) if p.severity == "error"] == []


def test_xp_is_computed_from_measured_active_time_when_not_given(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    run = start(resource)
    clocks.advance(10 * 60)
    run.pause()
    clocks.advance(60 * 60)  # paused time earns nothing
    run.resume()
    clocks.advance(3 * 60)
    run.end(total_questions=4, correct_questions=4, attempt=1)  # 13 minutes at 100 %: 13 x 1.25
    assert items(sender.events()[-1])[0] == ("xpEarned", 16.3)


@pytest.mark.parametrize(
    ("metrics", "rule"),
    [
        ({"total_questions": 10}, "TB-9"),
        ({"correct_questions": 3}, "TB-9"),
        ({"total_questions": 3, "correct_questions": 4}, "TB-7"),
        ({"pct_complete": 140}, "TB-6"),
        ({"xp_earned": 1, "attempt": 0}, "TB-6"),
    ],
)
def test_invalid_completion_is_refused_and_the_run_keeps_running(
    resource: Activity, clocks: Clocks, sender: Sender, metrics: dict[str, Any], rule: str
) -> None:
    run = start(resource)
    clocks.advance(5)
    with pytest.raises(CaliperValidationError) as err:
        run.end(**metrics)
    assert rule in {p.rule for p in err.value.errors}
    assert not run.is_ended and sender.attempts == 0
    clocks.advance(5)
    assert run.total_active_ms == 10_000


def test_an_ended_run_refuses_more(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    clocks.advance(5)
    run.end(xp_earned=1)
    with pytest.raises(ActivityRunError, match="already ended"):
        run.end()
    with pytest.raises(ActivityRunError, match="has ended"):
        run.pause()
    with pytest.raises(ActivityRunError, match="has ended"):
        run.resume()
    assert run.flush_time_spent() is None
    clocks.advance(100)
    assert run.total_active_ms == 5000  # the clock stopped at end()


# ---------------------------------------------------------------------------------------------------- failures
def test_failed_flush_keeps_the_window_for_the_next_one(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    clocks.advance(20)
    sender.fail = 1
    with pytest.raises(ServerError):
        run.flush_time_spent()
    assert not run.time_sent and run.has_unsent
    clocks.advance(25)
    run.flush_time_spent()
    (event,) = sender.events()
    assert event["generated"]["items"] == [{"type": "active", "value": 45, "startDate": ts(0), "endDate": ts(45)}]
    assert event["generated"]["id"].endswith("/time/1")


def test_on_error_gets_the_failure_and_its_window_instead_of_an_exception(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    seen: list[tuple[TimebackError, dict[str, Any]]] = []
    run = start(resource, on_error=lambda error, context: seen.append((error, context)))
    clocks.advance(20)
    sender.fail, sender.error = 1, TransportError("connection refused")
    assert run.flush_time_spent() is None
    ((error, context),) = seen
    assert isinstance(error, TransportError)
    assert context["type"] == "timeSpent" and context["run_id"] == run.run_id
    assert context["activity_id"] == "fractions-1" and context["email"] == USER["email"]
    assert (context["active_ms"], context["started_at"], context["ended_at"]) == (20_000, T0, clocks.now)
    run.pause()  # the pause flush carries the kept window
    assert items(sender.events()[0]) == [("active", 20)]


def test_pause_is_effective_even_when_its_flush_fails(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    clocks.advance(10)
    sender.fail = 1
    with pytest.raises(ServerError):
        run.pause()
    assert run.is_paused
    clocks.advance(30)
    run.resume()
    clocks.advance(5)
    run.flush_time_spent()
    assert items(sender.events()[0]) == [("active", 15), ("inactive", 30)]


def test_failed_end_keeps_everything_and_end_again_resends_it(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    seen: list[dict[str, Any]] = []
    run = start(resource, on_error=lambda error, context: seen.append(context))
    clocks.advance(60)
    sender.fail = 2
    assert run.end(xp_earned=3) is None
    assert seen[-1]["type"] == "completion"
    assert run.is_ended and run.has_unsent
    clocks.advance(600)  # time after end() is not counted
    assert run.end() is None
    result = run.end()
    assert result is not None and result.send == "job-1" and not run.has_unsent
    (envelope,) = sender.sent
    spent, done = envelope["data"]
    assert items(spent) == [("active", 60)] and spent["generated"]["items"][0]["endDate"] == ts(60)
    assert items(done) == [("xpEarned", 3)] and done["eventTime"] == ts(60)
    with pytest.raises(ActivityRunError, match="already ended"):
        run.end()


def test_failed_time_only_end_reports_time_spent(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    seen: list[dict[str, Any]] = []
    run = start(resource, on_error=lambda error, context: seen.append(context))
    clocks.advance(1)
    sender.fail = 1
    run.end()
    assert [c["type"] for c in seen] == ["timeSpent"]


def test_new_metrics_after_the_completion_was_sent_are_refused(resource: Activity, clocks: Clocks) -> None:
    run = start(resource)
    run.end(xp_earned=1)
    with pytest.raises(ActivityRunError, match="already sent"):
        run.end(xp_earned=2)


def test_metrics_can_change_until_the_completion_is_accepted(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    run = start(resource, time=False)
    sender.fail = 1
    with pytest.raises(ServerError):
        run.end(xp_earned=1)
    run.end(xp_earned=2)
    assert items(sender.events()[0]) == [("xpEarned", 2)]


def test_wall_clock_set_back_never_gives_an_end_before_the_start(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    run = start(resource)
    clocks.mono += 10
    clocks.now -= timedelta(minutes=5)
    run.flush_time_spent()
    item = sender.events()[0]["generated"]["items"][0]
    assert item["value"] == 10 and item["startDate"] == item["endDate"] == ts(0)


# ---------------------------------------------------------------------------------------------------- one run at a time
def test_one_active_run_per_learner_and_activity(resource: Activity) -> None:
    first = start(resource)
    with pytest.raises(ActivityRunError, match=first.run_id):
        start(resource, user={"email": "STUDENT@example.com"})
    start(resource, id="fractions-2")  # another activity
    start(resource, user={"email": "other@example.com"})  # another learner
    first.end()
    start(resource)  # the slot is free again


# ---------------------------------------------------------------------------------------------------- state
def test_state_round_trip_continues_the_same_run(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    run = start(resource)
    clocks.advance(30)
    run.flush_time_spent()
    clocks.advance(12)
    state = json.loads(json.dumps(run.to_state()))  # e.g. a session store
    assert state["version"] == 1 and state["run_id"] == run.run_id
    assert state["window"] == {"started_at": ts(30), "active_ms": 12_000, "inactive_ms": 0}
    clocks.advance(8)  # the learner keeps working between two requests
    again = ActivityRun.resume_from(resource, state)
    assert again.run_id == run.run_id and again.started_at == T0
    assert again.total_active_ms == 50_000
    with pytest.raises(ActivityRunError, match="resumed"):
        run.flush_time_spent()  # the old copy is superseded
    clocks.advance(10)
    again.end(xp_earned=1)
    spent, done = sender.sent[-1]["data"]
    assert spent["generated"]["id"].endswith("/time/2")
    assert spent["generated"]["items"][0] == {"type": "active", "value": 30, "startDate": ts(30), "endDate": ts(60)}
    assert done["extensions"]["runId"] == run.run_id


def test_a_paused_run_resumes_paused_and_the_gap_is_inactive(resource: Activity, clocks: Clocks) -> None:
    run = start(resource, time=False)
    clocks.advance(10)
    run.pause()
    state = run.to_state()
    clocks.advance(40)
    again = ActivityRun.resume_from(resource, state)
    assert again.is_paused and (again.total_active_ms, again.total_inactive_ms) == (10_000, 40_000)


def test_a_gap_longer_than_max_gap_is_not_counted(resource: Activity, clocks: Clocks) -> None:
    run = start(resource)
    clocks.advance(10)
    state = run.to_state()
    clocks.advance(3600)
    again = ActivityRun.resume_from(resource, state, max_gap_s=600)
    assert again.elapsed_ms == 10_000


def test_resume_from_takes_the_client_and_new_callbacks(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    class Client:
        activity = resource

    state = start(resource).to_state()
    seen: list[str] = []
    again = ActivityRun.resume_from(Client(), state, on_error=lambda error, context: seen.append(context["type"]))
    clocks.advance(1)
    sender.fail = 1
    again.flush_time_spent()
    assert seen == ["timeSpent"]
    with pytest.raises(TypeError, match="CaliperClient"):
        ActivityRun.resume_from(object(), state)


def test_an_ended_run_with_unsent_parts_can_be_saved_and_finished_elsewhere(
    resource: Activity, clocks: Clocks, sender: Sender
) -> None:
    run = start(resource)
    clocks.advance(7)
    sender.fail = 1
    with pytest.raises(ServerError):
        run.end(total_questions=2, correct_questions=2)
    state = run.to_state()
    assert state["ended_at"] == ts(7) and state["completion"]["total_questions"] == 2
    clocks.advance(50)
    again = ActivityRun.resume_from(resource, state)
    assert again.is_ended and again.has_unsent
    again.end()
    assert [e["type"] for e in sender.events()] == ["TimeSpentEvent", "ActivityEvent"]
    assert items(sender.events()[0]) == [("active", 7)]


def test_resuming_while_another_run_is_active_is_refused(resource: Activity) -> None:
    state = start(resource).to_state()
    fresh = Activity(resource.config, lambda envelope: None)
    start(fresh)
    with pytest.raises(ActivityRunError, match="already has an active run"):
        ActivityRun.resume_from(fresh, state)


@pytest.mark.parametrize(
    "change",
    [
        {"version": 2},
        {"run_id": 7},
        {"active_ms": -1},
        {"paused": "no"},
        {"window": None},
        {"started_at": "yesterday"},
        {"windows_sent": True},
        {"completion": {"xp": 1}},
    ],
)
def test_a_bad_state_is_refused(resource: Activity, change: dict[str, Any]) -> None:
    state = {**start(resource).to_state(), **change}
    with pytest.raises(ActivityRunError, match="invalid run state"):
        ActivityRun.resume_from(Activity(resource.config, lambda envelope: None), state)
    with pytest.raises(ActivityRunError, match="invalid run state"):
        ActivityRun.resume_from(resource, ["not", "a", "state"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- double counting
def test_record_refuses_time_for_a_run_that_sends_its_own(resource: Activity, sender: Sender) -> None:
    run = start(resource, run_id="run-1")
    record: dict[str, Any] = {
        "user": USER,
        "activity": {"id": "fractions-1", "name": "Fractions 1", "course": {"code": "MATH-3"}},
        "metrics": {"xp_earned": 3},
        "run_id": run.run_id,
    }
    with pytest.raises(CaliperValidationError) as err:
        resource.record(**record, time={"active_ms": 60_000})
    assert err.value.errors[0].rule == "double-count" and "twice" in str(err.value)
    assert sender.attempts == 0
    resource.record(**record)  # the completion alone is fine


def test_a_run_refuses_an_id_whose_time_record_sent(resource: Activity) -> None:
    resource.record(
        user=USER,
        activity={"id": "fractions-1", "name": "Fractions 1", "course": {"code": "MATH-3"}},
        metrics={"xp_earned": 3},
        time={"active_ms": 60_000},
        run_id="imported",
    )
    with pytest.raises(CaliperValidationError, match="twice"):
        start(resource, run_id="imported")
    start(resource, run_id="imported", time=False)  # measures only: nothing sent twice


def test_a_resumed_run_keeps_its_time_claim(resource: Activity) -> None:
    state = start(resource, run_id="run-9").to_state()
    fresh = Activity(resource.config, lambda envelope: None)
    ActivityRun.resume_from(fresh, state)
    with pytest.raises(CaliperValidationError, match="twice"):
        fresh.record(
            user=USER,
            activity={"id": "x", "name": "X", "course": {"code": "MATH-3"}},
            metrics={"xp_earned": 1},
            time={"active_ms": 1},
            run_id="run-9",
        )


# ---------------------------------------------------------------------------------------------------- gradebook
@pytest.fixture
def graded(clocks: Clocks, sender: Sender) -> tuple[Activity, FakeGradebook]:
    book = FakeGradebook()
    config = ActivityConfig(app_name="Math App", sensor="https://your-app.com", activity_base_url=BASE, courses=COURSES)
    resource = Activity(config, sender, clock=clocks.wall, monotonic=clocks.monotonic, gradebook=book)  # type: ignore[arg-type]
    return resource, book


def test_end_with_gradebook_writes_the_result_after_the_completion(
    graded: tuple[Activity, FakeGradebook], clocks: Clocks, sender: Sender
) -> None:
    resource, book = graded
    run = start(resource)
    clocks.advance(10 * 60)
    result = run.end(total_questions=10, correct_questions=9, mastered_units=1, gradebook=True)
    assert result is not None and result.gradebook is not None and result.gradebook_error is None
    (call,) = book.calls
    assert call["activity_id"] == "fractions-1" and call["title"] == "Fractions 1" and call["student"] == "student-123"
    assert (call["xp_earned"], call["total_questions"], call["correct_questions"], call["mastered_units"]) == (
        10,
        10,
        9,
        1,
    )
    assert call["score_date"] == T0 + timedelta(minutes=10)
    assert call["result_id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{BASE}/fractions-1/runs/{run.run_id}/result"))
    assert len(sender.sent) == 1


def test_a_failed_gradebook_write_is_reported_apart_and_retried_alone(
    graded: tuple[Activity, FakeGradebook], clocks: Clocks, sender: Sender
) -> None:
    resource, book = graded
    seen: list[str] = []
    run = start(resource, on_error=lambda error, context: seen.append(context["type"]))
    clocks.advance(60)
    book.fail = 1
    result = run.end(xp_earned=1, gradebook=True)
    assert result is not None and isinstance(result.gradebook_error, ServerError) and result.send == "job-1"
    assert seen == ["gradebook"] and run.has_unsent
    retry = run.end()
    assert retry is not None and retry.send is None and retry.gradebook is not None
    assert len(sender.sent) == 1 and len(book.calls) == 1  # the events were not sent again


def test_gradebook_can_be_asked_for_after_the_completion(
    graded: tuple[Activity, FakeGradebook], sender: Sender
) -> None:
    resource, book = graded
    run = start(resource)
    run.end(xp_earned=1)
    run.end(gradebook=True)
    assert len(book.calls) == 1 and len(sender.sent) == 1


@pytest.mark.parametrize(
    ("kw", "end_kw", "match"),
    [
        ({"process": True}, {"xp_earned": 1}, "two results"),
        ({"user": {"email": "a@b.co"}}, {"xp_earned": 1}, "timeback_id"),
        ({}, {}, "completion metrics"),
    ],
)
def test_gradebook_end_refusals(
    graded: tuple[Activity, FakeGradebook], sender: Sender, kw: dict[str, Any], end_kw: dict[str, Any], match: str
) -> None:
    resource, _ = graded
    run = start(resource, **kw)
    with pytest.raises(CaliperValidationError, match=match):
        run.end(gradebook=True, **end_kw)
    assert not run.is_ended and sender.attempts == 0


def test_gradebook_needs_one_configured(resource: Activity) -> None:
    with pytest.raises(TimebackError, match="no gradebook"):
        start(resource).end(xp_earned=1, gradebook=True)


# ---------------------------------------------------------------------------------------------------- the client
def test_client_activity_start_in_dry_run() -> None:
    client = CaliperClient(
        dry_run=True,
        app_name="Math App",
        sensor="https://your-app.com",
        activity_base_url=BASE,
        courses=COURSES,
    )
    clocks = Clocks()
    run = client.activity.start(
        user=USER,
        id="fractions-1",
        name="Fractions 1",
        course={"code": "MATH-3"},
        clock=clocks.wall,
        monotonic=clocks.monotonic,
    )
    clocks.advance(61)
    run.flush_time_spent()
    clocks.advance(59)
    run.end(total_questions=5, correct_questions=4)
    assert [[e["type"] for e in env["data"]] for env in client.recorded] == [
        ["TimeSpentEvent"],
        ["TimeSpentEvent", "ActivityEvent"],
    ]
    assert items(client.recorded[-1]["data"][1])[0] == ("xpEarned", 2)


def test_a_run_needs_a_send_function(clocks: Clocks) -> None:
    config = ActivityConfig(app_name="A", sensor="https://a.example", activity_base_url="https://a.example/x")
    with pytest.raises(TimebackError, match="send function"):
        Activity(config).start(user=USER, id="a", name="A", course={"subject": "Math", "grade": 3})


def test_repr_names_the_run(resource: Activity) -> None:
    run = start(resource)
    assert run.run_id in repr(run) and "running" in repr(run)


def test_concurrent_flushes_neither_lose_nor_repeat_time(resource: Activity, clocks: Clocks, sender: Sender) -> None:
    import threading

    run = start(resource)
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            with lock:
                clocks.advance(0.25)
            run.flush_time_spent()
            run.pause()
            run.resume()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    sent_ms = sum(
        round(i["value"] * 1000) for e in sender.events() for i in e["generated"]["items"] if i["type"] == "active"
    )
    assert sent_ms == run.total_active_ms  # every active millisecond sent exactly once
    assert run.elapsed_ms == 50_000  # and none lost: active plus paused is everything the clock moved
    windows = [e["generated"]["id"].rsplit("/", 1)[1] for e in sender.events()]
    assert windows == [str(n) for n in range(1, len(windows) + 1)]
