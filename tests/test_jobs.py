"""client.jobs: status reading (lenient, BullMQ states) and waiting with a growing interval."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import responses
from responses.registries import OrderedRegistry

from tests.factories import BASE, TOKEN
from timeback_caliper import CaliperClient, JobFailedError, JobTimeoutError, NotFoundError, UnexpectedResponseError
from timeback_caliper._http import RetryPolicy

STATUS = f"{BASE}/jobs/6/status"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        rsps.post(TOKEN, json={"access_token": "t-1", "expires_in": 3600})
        yield rsps


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake: FakeTime) -> Iterator[CaliperClient]:
    retry = RetryPolicy(base_delay=0, sleep=fake.sleep, clock=fake.clock)
    with CaliperClient(client_id="id", client_secret="s", base_url=BASE, token_url=TOKEN, retry=retry) as c:
        yield c


def job(state: str, **extra: Any) -> dict[str, Any]:
    return {"job": {"id": "6", "state": state, "returnValue": None, "processedOn": None, **extra}}


def test_get_status_reads_the_documented_shape(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        STATUS,
        json=job(
            "completed",
            returnValue={
                "status": "success",
                "results": [{"allocatedId": 7, "externalId": "urn:uuid:cadcb833-551e-487b-8213-007f89e74ddf"}],
            },
            processedOn="2025-07-28T15:15:28.330Z",
        ),
    )
    status = client.jobs.get_status("6")
    assert status.state == "completed" and status.category == "completed" and status.is_done and not status.is_failed
    assert status.results == [("7", "urn:uuid:cadcb833-551e-487b-8213-007f89e74ddf")]
    assert status.processed_on == datetime(2025, 7, 28, 15, 15, 28, 330000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("state", "category", "done"),
    [
        ("waiting", "pending", False),
        ("delayed", "pending", False),
        ("prioritized", "pending", False),
        ("waiting-children", "pending", False),
        ("active", "processing", False),
        ("failed", "failed", True),
        ("stuck-somewhere", "unknown", False),
        ("unknown", "unknown", False),
    ],
)
def test_states_map_to_categories_and_keep_the_wire_string(
    api: responses.RequestsMock, client: CaliperClient, state: str, category: str, done: bool
):
    api.get(STATUS, json=job(state))
    status = client.jobs.get_status("6")
    assert (status.state, status.category, status.is_done) == (state, category, done)


def test_top_level_job_and_epoch_ms(api: responses.RequestsMock, client: CaliperClient):
    api.get(STATUS, json={"id": 6, "state": "completed", "processedOn": 1753715728330})
    status = client.jobs.get_status("6")
    assert status.id == "6" and status.processed_on == datetime(2025, 7, 28, 15, 15, 28, 330000, tzinfo=timezone.utc)


def test_unknown_job_is_not_found(api: responses.RequestsMock, client: CaliperClient):
    api.get(STATUS, status=404, json={"status": "error", "message": "Job not found"})
    with pytest.raises(NotFoundError):
        client.jobs.get_status("6")


def test_a_200_without_a_job_is_unexpected(api: responses.RequestsMock, client: CaliperClient):
    api.get(STATUS, json={"status": "success"})
    with pytest.raises(UnexpectedResponseError):
        client.jobs.get_status("6")


def test_wait_polls_with_a_growing_interval(api: responses.RequestsMock, client: CaliperClient, fake: FakeTime):
    for state in ("waiting", "waiting", "active", "active", "completed"):
        api.get(STATUS, json=job(state))
    assert client.jobs.wait_for_completion("6", timeout=60, poll_interval=0.5).state == "completed"
    assert fake.sleeps == [0.5, 0.75, 1.125, 1.6875]


def test_wait_interval_is_capped(api: responses.RequestsMock, client: CaliperClient, fake: FakeTime):
    for _ in range(12):
        api.get(STATUS, json=job("active"))
    api.get(STATUS, json=job("completed"))
    client.jobs.wait_for_completion("6", timeout=1000, poll_interval=2, max_interval=10)
    assert max(fake.sleeps) == 10 and fake.sleeps[-1] == 10


def test_failed_job_raises_with_the_server_reason(api: responses.RequestsMock, client: CaliperClient):
    api.get(STATUS, json=job("failed", failedReason="storage unavailable"))
    with pytest.raises(JobFailedError, match="storage unavailable") as err:
        client.jobs.wait_for_completion("6")
    assert err.value.state == "failed" and err.value.job_id == "6"


def test_wait_times_out_with_the_last_state(api: responses.RequestsMock, client: CaliperClient, fake: FakeTime):
    for _ in range(4):
        api.get(STATUS, json=job("delayed"))
    with pytest.raises(JobTimeoutError) as err:
        client.jobs.wait_for_completion("6", timeout=2, poll_interval=0.5)
    assert err.value.state == "delayed" and "delayed" in str(err.value)
    assert fake.now == pytest.approx(2.0)


def test_wait_rejects_bad_arguments(client: CaliperClient):
    with pytest.raises(ValueError, match="timeout"):
        client.jobs.wait_for_completion("6", timeout=0)
