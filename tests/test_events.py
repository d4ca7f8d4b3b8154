"""client.events: sending (validation first, chunking, 413 splits, partial failures), validate, list, get, stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from tests.factories import BASE, SENSOR, TOKEN, activity_event
from timeback_caliper import (
    BadRequestError,
    CaliperClient,
    CaliperValidationError,
    NotFoundError,
    PartialSendError,
    PayloadTooLargeError,
    ServerError,
    UnexpectedResponseError,
)
from timeback_caliper._http import RetryPolicy

EVENT_URL = f"{BASE}/caliper/event"


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:  # order enforced; unused stubs fail
        rsps.post(TOKEN, json={"access_token": "t-1", "expires_in": 3600})
        yield rsps


@pytest.fixture
def bare_api() -> Iterator[responses.RequestsMock]:
    """No stubs at all: any HTTP call fails the test."""
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


def make_client(**kwargs: Any) -> CaliperClient:
    retry = RetryPolicy(base_delay=0, sleep=lambda s: None, max_attempts=kwargs.pop("max_attempts", 3))
    return CaliperClient(client_id="id", client_secret="s3cr3t", base_url=BASE, token_url=TOKEN, retry=retry, **kwargs)


@pytest.fixture
def client() -> Iterator[CaliperClient]:
    with make_client() as c:
        yield c


def sent_envelopes(api: responses.RequestsMock) -> list[dict[str, Any]]:
    return [json.loads(c.request.body) for c in api.calls if c.request.url == EVENT_URL]


# ------------------------------------------------------------------------------------------------ send
def test_send_posts_one_envelope_with_headers_and_returns_job_id(api: responses.RequestsMock, client: CaliperClient):
    event = activity_event()
    api.post(
        EVENT_URL,
        json={"status": "success", "message": "Events received", "jobId": "1647397"},
        match=[matchers.header_matcher({"Authorization": "Bearer t-1", "Content-Type": "application/json"})],
    )
    result = client.events.send(SENSOR, [event])
    assert result.job_id == "1647397" and result.job_ids == ["1647397"]
    assert result.event_ids == [event.id]
    (envelope,) = sent_envelopes(api)
    assert envelope["sensor"] == SENSOR
    assert envelope["dataVersion"] == "http://purl.imsglobal.org/ctx/caliper/v1p2"
    assert envelope["data"][0]["id"] == event.id
    assert envelope["data"][0]["eventTime"] == "2025-11-18T10:15:00.123Z"
    request = api.calls[1].request
    assert request.headers["User-Agent"].startswith("timeback-caliper-python/")
    assert " python/" in request.headers["User-Agent"] and " requests/" in request.headers["User-Agent"]
    assert request.headers["X-Request-ID"] == result.request_ids[0]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"jobId": 1647397}, "1647397"),
        (201, {"status": "success", "jobId": "9"}, "9"),
        (202, "42", "42"),
        (200, {"status": "success", "message": "ok"}, None),
        (204, None, None),
    ],
)
def test_any_2xx_is_success(api: responses.RequestsMock, client: CaliperClient, status: int, body: Any, expected: Any):
    if isinstance(body, dict):
        api.post(EVENT_URL, status=status, json=body)
    else:
        api.post(EVENT_URL, status=status, body=body or "")
    assert client.events.send(SENSOR, [activity_event()]).job_id == expected


def test_invalid_event_raises_before_any_call(bare_api: responses.RequestsMock, client: CaliperClient):
    event = activity_event()
    object.__setattr__(event, "profile", None)  # as if built leniently elsewhere
    with pytest.raises(CaliperValidationError) as err:
        client.events.send(SENSOR, [event])
    assert any(p.rule == "EVT-2" and p.path == "data[0].profile" for p in err.value.errors)
    assert len(bare_api.calls) == 0


def test_bad_sensor_and_empty_send_are_rejected(bare_api: responses.RequestsMock, client: CaliperClient):
    with pytest.raises(CaliperValidationError) as err:
        client.events.send("not a sensor", [])
    rules = {p.rule for p in err.value.errors}
    assert {"ENV-1", "ENV-4"} <= rules
    assert len(bare_api.calls) == 0


def test_duplicate_event_ids_in_one_send_are_rejected(bare_api: responses.RequestsMock, client: CaliperClient):
    event = activity_event()
    with pytest.raises(CaliperValidationError) as err:
        client.events.send(SENSOR, [event, activity_event(), event])
    assert [p.path for p in err.value.errors if p.rule == "EVT-1"] == ["data[2].id"]
    assert len(bare_api.calls) == 0


def test_large_send_is_split_by_count_in_order(api: responses.RequestsMock, client: CaliperClient):
    events = [activity_event(i) for i in range(250)]
    for job in ("1", "2", "3"):
        api.post(EVENT_URL, json={"jobId": job})
    result = client.events.send(SENSOR, events)
    envelopes = sent_envelopes(api)
    assert [len(e["data"]) for e in envelopes] == [100, 100, 50]
    assert [d["id"] for e in envelopes for d in e["data"]] == [e.id for e in events]
    assert result.job_ids == ["1", "2", "3"] and result.job_id == "1" and result.envelopes == 3
    assert result.event_ids == [e.id for e in events]
    assert len({e["sendTime"] for e in envelopes}) == 1


def test_send_is_split_by_size(api: responses.RequestsMock):
    events = [activity_event(i) for i in range(12)]
    limit = 4096
    with make_client(max_envelope_bytes=limit) as client:
        for i in range(12):
            api.post(EVENT_URL, json={"jobId": str(i)}, match=[_size_at_most(limit)])
        result = client.events.send(SENSOR, events)
        api.reset()  # some stubs stay unused: the split count depends on the event size
    assert 2 <= result.envelopes < 12
    assert result.event_ids == [e.id for e in events]


def _size_at_most(limit: int) -> Any:
    def match(request: Any) -> tuple[bool, str]:
        return len(request.body) <= limit, f"body of {len(request.body)} bytes"

    return match


def test_single_event_over_the_size_limit_raises_before_any_call(bare_api: responses.RequestsMock):
    big = activity_event(extensions={"blob": "x" * 5000})
    with make_client(max_envelope_bytes=4096) as client, pytest.raises(CaliperValidationError) as err:
        client.events.send(SENSOR, [big])
    assert err.value.errors[0].rule == "size" and len(bare_api.calls) == 0


def test_413_halves_the_envelope(api: responses.RequestsMock, client: CaliperClient):
    events = [activity_event(i) for i in range(4)]
    api.post(EVENT_URL, status=413, json={"status": "error", "message": "too large"})
    api.post(EVENT_URL, json={"jobId": "a"})
    api.post(EVENT_URL, json={"jobId": "b"})
    result = client.events.send(SENSOR, events)
    assert [len(e["data"]) for e in sent_envelopes(api)] == [4, 2, 2]
    assert result.job_ids == ["a", "b"] and result.event_ids == [e.id for e in events]


def test_413_for_a_single_event_is_reported(api: responses.RequestsMock, client: CaliperClient):
    api.post(EVENT_URL, status=413, json={"status": "error", "message": "too large"})
    with pytest.raises(PayloadTooLargeError):
        client.events.send(SENSOR, [activity_event()])


def test_partial_send_lists_sent_and_unsent(api: responses.RequestsMock, client: CaliperClient):
    events = [activity_event(i) for i in range(250)]
    api.post(EVENT_URL, json={"jobId": "1"})
    api.post(EVENT_URL, status=400, json={"status": "error", "message": "bad", "errors": [{"rule": "TB-4"}]})
    with pytest.raises(PartialSendError) as err:
        client.events.send(SENSOR, events)
    exc = err.value
    assert exc.sent == [("1", [e.id for e in events[:100]])]
    assert exc.unsent_event_ids == [e.id for e in events[100:]]
    assert [len(env.data) for env in exc.unsent] == [100, 50]
    assert all(env.sensor == SENSOR for env in exc.unsent)
    assert isinstance(exc.__cause__, BadRequestError) and exc.__cause__.errors == [{"rule": "TB-4"}]
    assert "100 events" in str(exc) and "150 events were not" in str(exc)


def test_first_envelope_failing_raises_its_own_error(api: responses.RequestsMock, client: CaliperClient):
    api.post(EVENT_URL, status=400, json={"status": "error", "message": "bad actor", "errors": None})
    with pytest.raises(BadRequestError) as err:
        client.events.send(SENSOR, [activity_event()])
    assert err.value.status_code == 400 and "bad actor" in str(err.value)
    assert len(api.calls) == 2  # token + one POST: a 400 is never retried


def test_retries_resend_byte_identical_bodies(api: responses.RequestsMock, client: CaliperClient):
    api.post(EVENT_URL, status=503)
    api.post(EVENT_URL, status=502)
    api.post(EVENT_URL, json={"jobId": "7"})
    result = client.events.send(SENSOR, [activity_event()])
    bodies = [c.request.body for c in api.calls[1:]]
    ids = {c.request.headers["X-Request-ID"] for c in api.calls[1:]}
    assert bodies[0] == bodies[1] == bodies[2] and len(ids) == 1
    assert result.attempts == 3 and result.job_id == "7"


def test_send_envelope_keeps_sensor_and_send_time(api: responses.RequestsMock, client: CaliperClient):
    from timeback_caliper import Envelope

    when = datetime(2025, 1, 2, 3, 4, 5, 678999, tzinfo=timezone.utc)
    envelope = Envelope(sensor=SENSOR, send_time=when, data=[activity_event()])
    api.post(EVENT_URL, json={"jobId": "5"})
    assert client.events.send_envelope(envelope).job_id == "5"
    assert sent_envelopes(api)[0]["sendTime"] == "2025-01-02T03:04:05.678Z"


# ------------------------------------------------------------------------------------------------ validate
def test_validate_turns_400_into_a_result(api: responses.RequestsMock, client: CaliperClient):
    api.post(f"{BASE}/caliper/event/validate", json={"status": "success", "message": "valid"})
    api.post(
        f"{BASE}/caliper/event/validate",
        status=400,
        json={"status": "error", "message": "invalid", "errors": [{"path": ["data", 0], "rule": "TB-4"}]},
    )
    ok = client.events.validate([activity_event()], sensor=SENSOR)
    bad = client.events.validate([activity_event()], sensor=SENSOR)
    assert ok.ok and ok.message == "valid"
    assert not bad.ok and bad.status_code == 400 and bad.errors == [{"path": ["data", 0], "rule": "TB-4"}]


def test_validate_raises_on_other_statuses(api: responses.RequestsMock, client: CaliperClient):
    for _ in range(3):
        api.post(f"{BASE}/caliper/event/validate", status=500, json={"status": "error", "message": "boom"})
    with pytest.raises(ServerError):
        client.events.validate([activity_event()], sensor=SENSOR)


# ------------------------------------------------------------------------------------------------ read
def _row(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "externalId": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
        "sensor": SENSOR,
        "type": "ActivityEvent",
        "action": "Completed",
        "eventTime": "2025-11-18T10:15:00.000Z",
        "actor": {"id": "https://x.test/u", "type": "TimebackUser", "email": "a@b.co"},
        "target": None,
        "created_at": "2025-11-18T10:15:00.412Z",
        "someNewField": True,
    }


def test_list_sends_filters_and_reads_the_page(api: responses.RequestsMock, client: CaliperClient):
    start = datetime(2025, 11, 1, tzinfo=timezone.utc)
    api.get(
        f"{BASE}/caliper/events",
        json={"events": [_row(7)], "pagination": {"total": 1, "totalPages": 1, "currentPage": 1, "limit": 10}},
        match=[
            matchers.query_param_matcher(
                {
                    "limit": "10",
                    "offset": "0",
                    "sensor": SENSOR,
                    "actorEmail": "a@b.co",
                    "startDate": "2025-11-01T00:00:00.000Z",
                }
            )
        ],
    )
    page = client.events.list(limit=10, sensor=SENSOR, actor_email="a@b.co", start_date=start)
    (event,) = page.events
    assert event.id == "7" and event.external_id.startswith("urn:uuid:")
    assert event.event_time == datetime(2025, 11, 18, 10, 15, tzinfo=timezone.utc)
    assert event.raw["someNewField"] is True and event.target is None
    assert page.pagination.total == 1 and not page.has_more


def test_list_reads_data_key_and_missing_pagination(api: responses.RequestsMock, client: CaliperClient):
    api.get(f"{BASE}/caliper/events", json={"data": [_row(1), "odd row"]})
    page = client.events.list(limit=5)
    assert [e.id for e in page.events] == ["1"] and page.pagination.total is None


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"limit": 0}, "limit"), ({"offset": -1}, "offset"), ({"limit": True}, "limit")]
)
def test_list_checks_parameters_before_any_call(
    bare_api: responses.RequestsMock, client: CaliperClient, kwargs: dict[str, Any], message: str
):
    with pytest.raises(ValueError, match=message):
        client.events.list(**kwargs)


def test_list_rejects_naive_dates(bare_api: responses.RequestsMock, client: CaliperClient):
    with pytest.raises(ValueError, match="timezone-aware"):
        client.events.list(start_date=datetime(2025, 1, 1))


def test_get_percent_encodes_the_external_id(api: responses.RequestsMock, client: CaliperClient):
    ext = "urn:uuid:cadcb833-551e-487b-8213-007f89e74ddf"
    api.get(f"{BASE}/caliper/events/urn%3Auuid%3Acadcb833-551e-487b-8213-007f89e74ddf", json={"event": _row(3)})
    assert client.events.get(ext).id == "3"
    assert "urn%3Auuid%3A" in api.calls[1].request.url


def test_get_missing_event_raises_not_found(api: responses.RequestsMock, client: CaliperClient):
    api.get(f"{BASE}/caliper/events/urn%3Auuid%3Ax", status=404, json={"status": "error", "message": "Event not found"})
    with pytest.raises(NotFoundError, match="Event not found"):
        client.events.get("urn:uuid:x")


def test_get_200_without_event_is_unexpected(api: responses.RequestsMock, client: CaliperClient):
    api.get(f"{BASE}/caliper/events/urn%3Auuid%3Ax", json={"status": "success"})
    with pytest.raises(UnexpectedResponseError) as err:
        client.events.get("urn:uuid:x")
    assert err.value.body == {"status": "success"}


def test_stream_pages_lazily_to_the_end(api: responses.RequestsMock, client: CaliperClient):
    for offset, rows in ((0, [1, 2]), (2, [3, 4]), (4, [5])):
        api.get(
            f"{BASE}/caliper/events",
            json={"events": [_row(i) for i in rows], "pagination": {"total": 5}},
            match=[matchers.query_param_matcher({"limit": "2", "offset": str(offset)})],
        )
    assert [e.id for e in client.events.stream(page_size=2)] == ["1", "2", "3", "4", "5"]


def test_stream_stops_at_max_items(api: responses.RequestsMock, client: CaliperClient):
    api.get(f"{BASE}/caliper/events", json={"events": [_row(1), _row(2)]})
    stream = client.events.stream(page_size=2, max_items=1)
    assert [e.id for e in stream] == ["1"]


# ------------------------------------------------------------------------------------------------ pre-serialized
def test_send_serialized_sends_the_bytes_as_given(api: responses.RequestsMock, client: CaliperClient):
    from timeback_caliper import dumps

    events = [activity_event(i) for i in range(3)]
    items = [(e.id, dumps(e)) for e in events]
    api.post(EVENT_URL, json={"jobId": "9"})
    result = client.events.send_serialized(SENSOR, items)
    body = api.calls[1].request.body
    assert all(raw in body for _, raw in items)
    assert result.job_id == "9"
    assert result.sent == [("9", [e.id for e in events])]


def test_send_serialized_partial_failure_rebuilds_unsent_envelopes(api: responses.RequestsMock):
    from timeback_caliper import dumps

    events = [activity_event(i) for i in range(5)]
    with make_client(max_events_per_envelope=2) as client:
        api.post(EVENT_URL, json={"jobId": "1"})
        api.post(EVENT_URL, status=400, json={"status": "error", "message": "no"})
        with pytest.raises(PartialSendError) as err:
            client.events.send_serialized(SENSOR, [(e.id, dumps(e)) for e in events])
    assert err.value.sent == [("1", [e.id for e in events[:2]])]
    assert [env.data for env in err.value.unsent] == [events[2:4], events[4:]]


def test_send_serialized_checks_its_input(bare_api: responses.RequestsMock, client: CaliperClient):
    with pytest.raises(CaliperValidationError) as err:
        client.events.send_serialized("bad sensor", [("a", b"{}"), ("a", b"{}"), ("b", "not bytes")])  # type: ignore[list-item]
    assert [p.rule for p in err.value.errors] == ["ENV-1", "EVT-1", "ENV-4"]
    assert len(bare_api.calls) == 0
