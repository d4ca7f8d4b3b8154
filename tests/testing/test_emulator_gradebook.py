"""The emulator's OneRoster gradebook routes, through the real client and over plain HTTP (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.testing.helpers import call, token
from timeback_caliper.activity_run import RecordResult
from timeback_caliper.client import CaliperClient
from timeback_caliper.errors import AuthenticationError, BadRequestError, ConflictError
from timeback_caliper.testing import Emulator
from timeback_caliper.testing.pytest_plugin import FAST_RETRY

pytestmark = pytest.mark.timeout(30)

PREFIX = "/ims/oneroster/gradebook/v1p2"
USER = {"email": "student@example.com", "timeback_id": "student-123"}
ACTIVITY = {"id": "fractions-quiz", "name": "Fractions Quiz", "course": {"code": "MATH-3"}}


@pytest.fixture
def client(caliper_emulator: Emulator) -> Iterator[CaliperClient]:
    with caliper_emulator.client(
        retry=FAST_RETRY,
        timeout=(2.0, 5.0),
        app_name="Math Learning Suite",
        sensor="https://app.example.test",
        activity_base_url="https://app.example.test/activities",
        courses={"MATH-3": {"subject": "Math", "grade": 3, "name": "Math G3"}},
    ) as c:
        yield c


def get(emu: Emulator, path: str, **params: Any) -> Any:
    reply = call(emu, "GET", PREFIX + path, token(emu), params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_line_items_and_results_are_stored_and_listed(caliper_emulator: Emulator, client: CaliperClient) -> None:
    gb = client.gradebook
    item = gb.create_line_item(title="Fractions Quiz", component_resource="cr-1", sourced_id="quiz-1")
    assert item.sourced_id == "quiz-1" and item.date_last_modified is not None
    result = gb.create_result(
        line_item=item, student="student-123", score=85, metadata={"xp": 13, "accuracy": 85}, sourced_id="r-1"
    )
    assert (result.sourced_id, result.line_item, result.student, result.xp) == ("r-1", "quiz-1", "student-123", 13)
    assert get(caliper_emulator, "/assessmentLineItems")["assessmentLineItems"] == [item.raw]
    assert get(caliper_emulator, "/assessmentLineItems/quiz-1")["assessmentLineItem"]["title"] == "Fractions Quiz"
    stored = get(caliper_emulator, "/assessmentResults/r-1")["assessmentResult"]
    assert stored == result.raw and stored["scoreStatus"] == "fully graded" and stored["score"] == 85


def test_a_taken_sourced_id_is_a_conflict_with_the_oneroster_description(client: CaliperClient) -> None:
    client.gradebook.create_line_item(title="A", component_resource="cr", sourced_id="dup")
    with pytest.raises(ConflictError, match="sourcedId dup already exists") as err:
        client.gradebook.create_line_item(title="A", component_resource="cr", sourced_id="dup")
    assert err.value.body["imsx_codeMajor"] == "failure"


def test_a_result_needs_an_existing_line_item(client: CaliperClient) -> None:
    with pytest.raises(BadRequestError, match="assessmentLineItem nope does not exist"):
        client.gradebook.create_result(line_item="nope", student="s", score=1)


def test_record_with_gradebook_end_to_end(caliper_emulator: Emulator, client: CaliperClient) -> None:
    metrics = {"xp_earned": 13, "total_questions": 20, "correct_questions": 17}
    first = client.activity.record(user=USER, activity=ACTIVITY, metrics=metrics, gradebook=True)
    second = client.activity.record(user=USER, activity=ACTIVITY, metrics=metrics, gradebook=True)
    assert isinstance(first, RecordResult) and isinstance(second, RecordResult)
    assert first.gradebook_error is None and second.gradebook_error is None
    assert caliper_emulator.wait_for_jobs()
    assert len(caliper_emulator.stored_events()) == 2
    (line_item,) = get(caliper_emulator, "/assessmentLineItems")["assessmentLineItems"]
    assert line_item["sourcedId"] == "fractions-quiz" and line_item["title"] == "Fractions Quiz"
    results = get(caliper_emulator, "/assessmentResults", filter="student.sourcedId='student-123'")
    assert [r["score"] for r in results["assessmentResults"]] == [85, 85]
    assert results["assessmentResults"][0]["metadata"]["accuracy"] == 85
    # The line item was posted once: the client remembers it.
    assert len(caliper_emulator.requests(PREFIX + "/assessmentLineItems", method="POST")) == 1


def test_a_run_ends_with_its_result_in_the_gradebook(caliper_emulator: Emulator, client: CaliperClient) -> None:
    now = [0.0]  # a monotonic clock the test moves: 30 s, a flush, 15 s more, end()
    run = client.activity.start(
        user=USER, id=ACTIVITY["id"], name=ACTIVITY["name"], course=ACTIVITY["course"], monotonic=lambda: now[0]
    )
    now[0] += 30
    run.flush_time_spent()
    now[0] += 15
    result = run.end(xp_earned=2, total_questions=4, correct_questions=3, gradebook=True)
    assert result is not None and result.gradebook is not None and result.gradebook.score == 75
    assert caliper_emulator.wait_for_jobs()
    events = caliper_emulator.stored_events()
    assert [e["type"] for e in events] == ["TimeSpentEvent", "TimeSpentEvent", "ActivityEvent"]
    assert {e["extensions"]["runId"] for e in events} == {run.run_id}
    assert [e["generated"]["items"][0]["value"] for e in events[:2]] == [30, 15]
    stored = get(caliper_emulator, "/assessmentResults")["assessmentResults"]
    assert [r["sourcedId"] for r in stored] == [result.gradebook.sourced_id]


def test_a_retried_result_after_a_lost_answer_is_not_stored_twice(
    caliper_emulator: Emulator, client: CaliperClient
) -> None:
    args: dict[str, Any] = {"user": USER, "activity": ACTIVITY, "metrics": {"xp_earned": 1}, "run_id": "run-7"}
    client.activity.write_gradebook(**args)
    again = client.activity.write_gradebook(**args)  # answers 409: treated as already written
    assert again.xp == 1
    assert len(get(caliper_emulator, "/assessmentResults")["assessmentResults"]) == 1


def test_list_filters_and_pages(caliper_emulator: Emulator, client: CaliperClient) -> None:
    gb = client.gradebook
    gb.create_line_item(title="Quiz", component_resource="cr", sourced_id="li")
    for n in range(3):
        gb.create_result(line_item="li", student=f"s{n % 2}", score=n, sourced_id=f"r{n}")
    rows = get(caliper_emulator, "/assessmentResults", filter="student.sourcedId='s0' AND score!='2'")
    assert [r["sourcedId"] for r in rows["assessmentResults"]] == ["r0"]
    page = get(caliper_emulator, "/assessmentResults", limit=1, offset=1)
    assert [r["sourcedId"] for r in page["assessmentResults"]] == ["r1"]


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ("/assessmentLineItems", {"title": "x"}, 'the body must be {"assessmentLineItem"'),
        ("/assessmentLineItems", {"assessmentLineItem": {"status": "active"}}, "title is required"),
        ("/assessmentLineItems", {"assessmentLineItem": {"title": "t", "status": "gone"}}, "status must be"),
        ("/assessmentLineItems", {"assessmentLineItem": {"title": "t", "componentResource": "x"}}, "componentResource"),
        ("/assessmentResults", {"assessmentResult": {"student": {"sourcedId": "s"}}}, "assessmentLineItem must be"),
    ],
)
def test_invalid_bodies_get_a_oneroster_400(
    caliper_emulator: Emulator, path: str, payload: dict[str, Any], message: str
) -> None:
    reply = call(caliper_emulator, "POST", PREFIX + path, token(caliper_emulator), json=payload)
    assert reply.status_code == 400
    body = reply.json()
    assert body["imsx_codeMajor"] == "failure" and message in body["imsx_description"]


def test_result_fields_are_checked(caliper_emulator: Emulator, client: CaliperClient) -> None:
    client.gradebook.create_line_item(title="Quiz", component_resource="cr", sourced_id="li")
    tok = token(caliper_emulator)
    base = {"assessmentLineItem": {"sourcedId": "li"}, "student": {"sourcedId": "s"}, "scoreStatus": "fully graded"}
    for change, message in (
        ({"scoreStatus": "done"}, "scoreStatus"),
        ({"score": "high"}, "score must be a number"),
        ({"scoreDate": "tomorrow"}, "scoreDate"),
        ({"metadata": [1]}, "metadata must be an object"),
    ):
        reply = call(
            caliper_emulator, "POST", PREFIX + "/assessmentResults", tok, json={"assessmentResult": base | change}
        )
        assert reply.status_code == 400 and message in reply.json()["imsx_description"], change


def test_unknown_ids_are_404(caliper_emulator: Emulator) -> None:
    reply = call(caliper_emulator, "GET", PREFIX + "/assessmentResults/nope", token(caliper_emulator))
    assert (
        reply.status_code == 404
        and reply.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "unknownobject"
    )


def test_routes_need_a_caliper_token(caliper_emulator: Emulator) -> None:
    assert call(caliper_emulator, "GET", PREFIX + "/assessmentLineItems", None).status_code == 401
    platform = token(caliper_emulator, platform=True)
    assert call(caliper_emulator, "GET", PREFIX + "/assessmentLineItems", platform).status_code == 401
    with caliper_emulator.client(client_secret="wrong", retry=FAST_RETRY) as bad, pytest.raises(AuthenticationError):
        bad.gradebook.create_line_item(title="T", component_resource="cr")


def test_records_are_per_client_and_reset_clears_them(caliper_emulator: Emulator, client: CaliperClient) -> None:
    client.gradebook.create_line_item(title="Mine", component_resource="cr", sourced_id="mine")
    caliper_emulator.add_client("other", "other-secret")
    with caliper_emulator.client(client_id="other", client_secret="other-secret", retry=FAST_RETRY) as other:
        with pytest.raises(BadRequestError, match="does not exist"):
            other.gradebook.create_result(line_item="mine", student="s", score=1)
    caliper_emulator.reset()
    assert get(caliper_emulator, "/assessmentLineItems")["assessmentLineItems"] == []
