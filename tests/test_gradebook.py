"""client.gradebook (OneRoster line items and results) and record(gradebook=True), on a strict responses mock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import responses
from responses import matchers

from tests.http_helpers import strict_responses
from timeback_caliper import CaliperClient
from timeback_caliper._http import RetryPolicy
from timeback_caliper.activity_run import RecordResult
from timeback_caliper.errors import (
    BadRequestError,
    CaliperValidationError,
    ConflictError,
    NotFoundError,
    ServerError,
    TimebackError,
)
from timeback_caliper.gradebook import Gradebook
from timeback_caliper.models.gradebook import AssessmentLineItem, AssessmentResult

BASE = "https://caliper.test"
TOKEN = "https://auth.test/oauth2/token"
API = "https://api.test"
LINE_ITEMS = f"{API}/ims/oneroster/gradebook/v1p2/assessmentLineItems"
RESULTS = f"{API}/ims/oneroster/gradebook/v1p2/assessmentResults"
WHEN = datetime(2025, 11, 18, 10, 15, tzinfo=timezone.utc)
SENSOR = "https://your-app.com"
ACTIVITIES = "https://your-app.com/activities"
COURSES = {"MATH-3": {"subject": "Math", "grade": 3, "name": "Math G3"}}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with strict_responses() as rsps:
        rsps.post(TOKEN, json={"access_token": "t-1", "expires_in": 3600})
        yield rsps


@pytest.fixture
def client() -> Iterator[CaliperClient]:
    with CaliperClient(
        client_id="id",
        client_secret="secret",
        base_url=BASE,
        token_url=TOKEN,
        oneroster_url=API,
        retry=RetryPolicy(base_delay=0),
        app_name="Math App",
        sensor=SENSOR,
        activity_base_url=ACTIVITIES,
        courses=COURSES,
    ) as c:
        yield c


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def bearer() -> Any:
    return matchers.header_matcher({"Authorization": "Bearer t-1", "Content-Type": "application/json"})


def imsx(description: str, minor: str = "invalid_data") -> dict[str, Any]:
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [{"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}]
        },
    }


# ---------------------------------------------------------------------------------------------------- line items
def test_create_line_item_posts_the_documented_body(api: responses.RequestsMock, client: CaliperClient) -> None:
    stored = {
        "sourcedId": "fractions-quiz",
        "status": "active",
        "title": "Fractions Quiz",
        "componentResource": {"sourcedId": "cr-1"},
        "dateLastModified": "2025-11-18T10:15:00Z",
    }
    api.post(LINE_ITEMS, status=201, json={"assessmentLineItem": stored}, match=[bearer()])
    item = client.gradebook.create_line_item(
        title="Fractions Quiz", component_resource="cr-1", sourced_id="fractions-quiz"
    )
    assert body(api.calls[1]) == {
        "assessmentLineItem": {
            "sourcedId": "fractions-quiz",
            "status": "active",
            "title": "Fractions Quiz",
            "componentResource": {"sourcedId": "cr-1"},
        }
    }
    assert item == AssessmentLineItem(
        sourced_id="fractions-quiz",
        title="Fractions Quiz",
        status="active",
        component_resource="cr-1",
        date_last_modified=WHEN,
    )
    assert item.raw == stored


def test_the_client_chooses_the_id_so_a_retry_resends_the_same_record(
    api: responses.RequestsMock, client: CaliperClient
) -> None:
    api.post(LINE_ITEMS, status=503)
    api.post(LINE_ITEMS, status=201, body=b"")  # an empty answer: the item as sent
    item = client.gradebook.create_line_item(title="Quiz", component_resource="cr-1")
    first, second = (body(c) for c in api.calls[1:])
    assert first == second
    assert uuid.UUID(first["assessmentLineItem"]["sourcedId"])
    assert item.sourced_id == first["assessmentLineItem"]["sourcedId"] and item.title == "Quiz"


@pytest.mark.parametrize(
    ("answer", "sourced_id"),
    [
        ({"sourcedIdPairs": {"suppliedSourcedId": "mine", "allocatedSourcedId": "theirs"}}, "theirs"),
        ({"sourcedId": "mine", "title": "Renamed"}, "mine"),
        ({"unexpected": True}, "mine"),
    ],
)
def test_create_answers_are_read_leniently(
    api: responses.RequestsMock, client: CaliperClient, answer: dict[str, Any], sourced_id: str
) -> None:
    api.post(LINE_ITEMS, status=200, json=answer)
    item = client.gradebook.create_line_item(title="Quiz", component_resource="cr", sourced_id="mine")
    assert item.sourced_id == sourced_id
    assert item.title == ("Renamed" if "title" in answer else "Quiz")


def test_ensure_line_item_posts_once_and_takes_409_as_existing(
    api: responses.RequestsMock, client: CaliperClient
) -> None:
    api.post(LINE_ITEMS, status=201, json={})
    api.post(LINE_ITEMS, status=409, json=imsx("sourcedId b already exists", "invalid_sourcedid"))
    gb = client.gradebook
    assert gb.ensure_line_item(sourced_id="a", title="A", component_resource="a") is True
    assert gb.ensure_line_item(sourced_id="a", title="A", component_resource="a") is False  # remembered: no call
    assert gb.ensure_line_item(sourced_id="b", title="B", component_resource="b") is False
    assert gb.ensure_line_item(sourced_id="b", title="B", component_resource="b") is False
    assert len(api.calls) == 3


# ---------------------------------------------------------------------------------------------------- results
def test_create_result_posts_score_status_date_and_metadata(api: responses.RequestsMock, client: CaliperClient) -> None:
    api.post(RESULTS, status=201, json={"assessmentResult": {"sourcedId": "r-1", "dateLastModified": 1763460900000}})
    metadata = {"xp": 100, "accuracy": 85, "totalQuestions": 10, "correctQuestions": 8.5, "masteredUnits": 1}
    result = client.gradebook.create_result(
        line_item=AssessmentLineItem(sourced_id="fractions-quiz"),
        student="student-123",
        score=85,
        score_date=WHEN,
        metadata=metadata,
        sourced_id="r-1",
    )
    assert body(api.calls[1]) == {
        "assessmentResult": {
            "sourcedId": "r-1",
            "status": "active",
            "assessmentLineItem": {"sourcedId": "fractions-quiz"},
            "student": {"sourcedId": "student-123"},
            "scoreStatus": "fully graded",
            "scoreDate": "2025-11-18T10:15:00.000Z",
            "score": 85,
            "metadata": metadata,
        }
    }
    assert isinstance(result, AssessmentResult)
    assert (result.sourced_id, result.line_item, result.student, result.score) == (
        "r-1",
        "fractions-quiz",
        "student-123",
        85,
    )
    assert (result.xp, result.accuracy, result.score_status, result.score_date) == (100, 85, "fully graded", WHEN)
    assert result.date_last_modified == WHEN


def test_no_score_is_left_out_and_the_date_defaults_to_now(api: responses.RequestsMock) -> None:
    api.post(RESULTS, status=201, json={})
    with CaliperClient(client_id="id", client_secret="s", token_url=TOKEN, oneroster_url=API) as client:
        gb = Gradebook(client._oneroster_http, clock=lambda: WHEN)
        result = gb.create_result(line_item="li", student="s", score=None, score_status="submitted")
    sent = body(api.calls[1])["assessmentResult"]
    assert "score" not in sent and "metadata" not in sent
    assert sent["scoreDate"] == "2025-11-18T10:15:00.000Z" and sent["scoreStatus"] == "submitted"
    assert result.score is None and result.xp is None


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"line_item": ""}, "line_item"),
        ({"student": None}, "student"),
        ({"score": True}, "score"),
        ({"score": float("nan")}, "score"),
        ({"score_status": "graded"}, "score_status"),
        ({"status": "deleted"}, "status"),
        ({"score_date": datetime(2025, 1, 1)}, "score_date"),  # noqa: DTZ001 - naive on purpose
        ({"metadata": {"accuracy": 170}}, "metadata.accuracy"),
        ({"metadata": {"xp": "ten"}}, "metadata.xp"),
        ({"metadata": {"totalQuestions": 2, "correctQuestions": 3}}, "metadata.correctQuestions"),
        ({"metadata": {"masteredUnits": -1}}, "metadata.masteredUnits"),
        ({"metadata": {"note": object()}}, "metadata"),
        ({"metadata": ["xp", 1]}, "metadata"),
        ({"sourced_id": " "}, "sourced_id"),
    ],
)
def test_result_arguments_are_checked_before_any_call(client: CaliperClient, kwargs: dict[str, Any], path: str) -> None:
    args: dict[str, Any] = {"line_item": "li", "student": "s", "score": 1, **kwargs}
    with responses.RequestsMock():  # any call would fail the test
        with pytest.raises(CaliperValidationError) as err:
            client.gradebook.create_result(**args)
    assert path in [p.path for p in err.value.errors]


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [({"title": " "}, "title"), ({"component_resource": 3}, "component_resource"), ({"status": "x"}, "status")],
)
def test_line_item_arguments_are_checked_before_any_call(
    client: CaliperClient, kwargs: dict[str, Any], path: str
) -> None:
    args: dict[str, Any] = {"title": "T", "component_resource": "cr", **kwargs}
    with responses.RequestsMock(), pytest.raises(CaliperValidationError) as err:
        client.gradebook.create_line_item(**args)
    assert [p.path for p in err.value.errors] == [path]


# ---------------------------------------------------------------------------------------------------- errors
def test_oneroster_errors_show_their_description(api: responses.RequestsMock, client: CaliperClient) -> None:
    api.post(RESULTS, status=404, json=imsx("assessmentLineItem nope not found", "unknownobject"))
    with pytest.raises(NotFoundError) as err:
        client.gradebook.create_result(line_item="nope", student="s", score=1)
    assert err.value.message == "assessmentLineItem nope not found (unknownobject)"
    assert "HTTP 404" in str(err.value) and err.value.request_id
    assert err.value.body["imsx_codeMajor"] == "failure"
    assert err.value.errors == imsx("", "unknownobject")["imsx_CodeMinor"]  # the structured detail, kept
    assert isinstance(err.value.__cause__, NotFoundError)


def test_other_error_bodies_pass_through(api: responses.RequestsMock, client: CaliperClient) -> None:
    api.post(LINE_ITEMS, status=400, json={"status": "error", "message": "bad title", "errors": None})
    with pytest.raises(BadRequestError, match="bad title"):
        client.gradebook.create_line_item(title="T", component_resource="cr")


def test_conflict_on_create(api: responses.RequestsMock, client: CaliperClient) -> None:
    api.post(LINE_ITEMS, status=409, json=imsx("sourcedId x already exists"))
    with pytest.raises(ConflictError, match="already exists"):
        client.gradebook.create_line_item(title="T", component_resource="cr", sourced_id="x")


def test_dry_run_refuses_before_any_call() -> None:
    with responses.RequestsMock(), CaliperClient(dry_run=True) as client:
        with pytest.raises(TimebackError, match="dry-run"):
            client.gradebook.create_line_item(title="T", component_resource="cr")


def test_paths_can_be_overridden_but_not_invented(client: CaliperClient) -> None:
    gb = Gradebook(client._oneroster_http, paths={"results": "/v2/results"})
    assert gb.paths["results"] == "/v2/results" and gb.paths["line_items"].endswith("/assessmentLineItems")
    with pytest.raises(ValueError, match="unknown gradebook paths"):
        Gradebook(client._oneroster_http, paths={"result": "/x"})


# ------------------------------------------------------------------------------------------ record(gradebook=True)
RECORD: dict[str, Any] = {
    "user": {"email": "student@example.com", "timeback_id": "student-123"},
    "activity": {"id": "fractions-quiz", "name": "Fractions Quiz", "course": {"code": "MATH-3"}},
    "metrics": {"xp_earned": 13, "total_questions": 20, "correct_questions": 17, "mastered_units": 1},
    "run_id": "run-1",
    "event_time": WHEN,
}


def accept_events(api: responses.RequestsMock) -> None:
    api.post(f"{BASE}/caliper/event", json={"status": "success", "message": "ok", "jobId": "7"})


def test_record_with_gradebook_sends_events_then_line_item_then_result(
    api: responses.RequestsMock, client: CaliperClient
) -> None:
    accept_events(api)
    api.post(LINE_ITEMS, status=201, json={})
    api.post(RESULTS, status=201, json={})
    result = client.activity.record(**RECORD, gradebook=True)
    assert isinstance(result, RecordResult)
    assert result.job_id == "7" and result.run_id == "run-1" and result.gradebook_error is None
    envelope, line_item, graded = (body(c) for c in api.calls[1:])
    assert [e["type"] for e in envelope["data"]] == ["ActivityEvent"]
    assert line_item == {
        "assessmentLineItem": {
            "sourcedId": "fractions-quiz",
            "status": "active",
            "title": "Fractions Quiz",
            "componentResource": {"sourcedId": "fractions-quiz"},
        }
    }
    run_url = f"{ACTIVITIES}/fractions-quiz/runs/run-1"
    assert graded == {
        "assessmentResult": {
            "sourcedId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_url}/result")),
            "status": "active",
            "assessmentLineItem": {"sourcedId": "fractions-quiz"},
            "student": {"sourcedId": "student-123"},
            "scoreStatus": "fully graded",
            "scoreDate": "2025-11-18T10:15:00.000Z",
            "score": 85,
            "metadata": {"xp": 13, "accuracy": 85, "totalQuestions": 20, "correctQuestions": 17, "masteredUnits": 1},
        }
    }
    assert result.gradebook is not None and result.gradebook.accuracy == 85


def test_the_line_item_is_created_once_per_client(api: responses.RequestsMock, client: CaliperClient) -> None:
    accept_events(api)
    api.post(LINE_ITEMS, status=201, json={})
    api.post(RESULTS, status=201, json={})
    accept_events(api)
    api.post(RESULTS, status=201, json={})
    client.activity.record(**RECORD, gradebook=True)
    client.activity.record(**{**RECORD, "run_id": "run-2"}, gradebook=True)
    first, second = (body(c)["assessmentResult"]["sourcedId"] for c in api.calls if c.request.url == RESULTS)
    assert first != second


def test_without_questions_there_is_no_score(api: responses.RequestsMock, client: CaliperClient) -> None:
    accept_events(api)
    api.post(LINE_ITEMS, status=201, json={})
    api.post(RESULTS, status=201, json={})
    client.activity.record(**{**RECORD, "metrics": {"xp_earned": 4}}, gradebook=True)
    sent = body(api.calls[-1])["assessmentResult"]
    assert "score" not in sent and sent["metadata"] == {"xp": 4}


def test_accuracy_is_a_rounded_percentage(api: responses.RequestsMock, client: CaliperClient) -> None:
    accept_events(api)
    api.post(LINE_ITEMS, status=201, json={})
    api.post(RESULTS, status=201, json={})
    metrics = {"xp_earned": 1, "total_questions": 3, "correct_questions": 2}
    client.activity.record(**{**RECORD, "metrics": metrics}, gradebook=True)
    sent = body(api.calls[-1])["assessmentResult"]
    assert sent["score"] == sent["metadata"]["accuracy"] == 66.67


def test_a_failed_gradebook_write_is_reported_apart_from_the_accepted_events(
    api: responses.RequestsMock, client: CaliperClient, caplog: pytest.LogCaptureFixture
) -> None:
    accept_events(api)
    api.post(LINE_ITEMS, status=201, json={})
    api.post(RESULTS, status=400, json=imsx("student student-123 is not enrolled"))
    result = client.activity.record(**RECORD, gradebook=True)
    assert isinstance(result, RecordResult) and result.job_id == "7" and result.gradebook is None
    assert isinstance(result.gradebook_error, BadRequestError)
    assert "not enrolled" in str(result.gradebook_error)
    assert "gradebook write failed" in caplog.text
    # Retry the gradebook alone: the line item is known, the result keeps its run-derived id.
    api.post(RESULTS, status=201, json={})
    written = client.activity.write_gradebook(
        user=RECORD["user"], activity=RECORD["activity"], metrics=RECORD["metrics"], run_id=result.run_id
    )
    assert body(api.calls[-1])["assessmentResult"]["sourcedId"] == body(api.calls[-2])["assessmentResult"]["sourcedId"]
    assert written.score == 85


def test_a_result_already_written_counts_as_written(api: responses.RequestsMock, client: CaliperClient) -> None:
    api.post(LINE_ITEMS, status=409, json=imsx("exists"))
    api.post(RESULTS, status=409, json=imsx("exists"))
    written = client.activity.write_gradebook(
        user=RECORD["user"], activity=RECORD["activity"], metrics=RECORD["metrics"], run_id="run-1"
    )
    assert written.score == 85 and written.xp == 13


def test_a_failed_event_send_writes_no_gradebook(api: responses.RequestsMock, client: CaliperClient) -> None:
    api.post(f"{BASE}/caliper/event", status=400, json={"status": "error", "message": "no", "errors": None})
    with pytest.raises(BadRequestError):
        client.activity.record(**RECORD, gradebook=True)
    assert len(api.calls) == 2


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"process": True}, "two results"),
        ({"user": {"email": "student@example.com"}}, "timeback_id"),
    ],
)
def test_record_gradebook_refusals_send_nothing(client: CaliperClient, change: dict[str, Any], match: str) -> None:
    with responses.RequestsMock(), pytest.raises(CaliperValidationError, match=match):
        client.activity.record(**{**RECORD, **change}, gradebook=True)


def test_record_without_gradebook_is_unchanged(api: responses.RequestsMock, client: CaliperClient) -> None:
    accept_events(api)
    result = client.activity.record(**RECORD)
    assert not isinstance(result, RecordResult) and result.job_id == "7"


def test_an_activity_without_a_gradebook_says_so(client: CaliperClient) -> None:
    from timeback_caliper.activity import Activity

    bare = Activity(client.activity.config, send=lambda envelope: None)
    with pytest.raises(TimebackError, match="no gradebook"):
        bare.record(**RECORD, gradebook=True)


def test_server_error_keeps_its_class(api: responses.RequestsMock, client: CaliperClient) -> None:
    for _ in range(4):
        api.post(LINE_ITEMS, status=500, json=imsx("database unavailable", "server_busy"))
    with pytest.raises(ServerError, match=r"database unavailable \(server_busy\)") as err:
        client.gradebook.create_line_item(title="T", component_resource="cr")
    assert err.value.attempts == 4
