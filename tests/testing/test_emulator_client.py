"""The client's HTTP behaviours, again, over real sockets against the emulator (no mocks anywhere)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.testing.helpers import EMAIL, SENSOR, T0, events, time_spent
from timeback_caliper._http import RetryPolicy
from timeback_caliper.client import CaliperClient
from timeback_caliper.errors import (
    AuthenticationError,
    BadRequestError,
    CaliperValidationError,
    ForbiddenError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PartialSendError,
    RateLimitError,
    ServerError,
    TransportError,
)
from timeback_caliper.serialization import to_dict
from timeback_caliper.testing import Emulator, Fault

pytestmark = pytest.mark.timeout(30)


class Sleeps:
    """Records the retry loop's sleeps and sleeps for real only a little (Retry-After of 1 s stays fast)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, 0.01))


def fast(emu: Emulator, *, sleep: Any = None, **kwargs: Any) -> CaliperClient:
    policy: dict[str, Any] = {"base_delay": 0.01, "max_delay": 0.05, "deadline": kwargs.pop("deadline", 10.0)}
    for key in ("max_attempts", "retry_ambiguous", "retry_after_cap"):
        if key in kwargs:
            policy[key] = kwargs.pop(key)
    if sleep is not None:
        policy["sleep"] = sleep
    kwargs.setdefault("timeout", (1.0, 2.0))
    return emu.client(retry=RetryPolicy(**policy), **kwargs)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def wait(client: CaliperClient, job_id: str | None) -> Any:
    assert job_id is not None
    return client.jobs.wait_for_completion(job_id, timeout=5, poll_interval=0.01)


# ------------------------------------------------------------------------------------------------ the happy path
def test_send_wait_get_with_one_token(emu: Emulator) -> None:
    with fast(emu) as client:
        sent = client.events.send(SENSOR, events(3))
        status = wait(client, sent.job_id)
        assert status.state == "completed"
        assert [ext for _, ext in status.results] == sent.event_ids
        stored = client.events.get(sent.event_ids[1])
        assert stored.external_id == sent.event_ids[1]
        assert stored.client_app_id == emu.client_id
        assert stored.sensor == SENSOR
    token_calls = emu.requests("/oauth2/token")
    assert len(token_calls) == 1  # cached and shared by every call
    assert (token_calls[0].header("Authorization") or "").startswith("Basic ")
    posts = emu.requests("/caliper/event")
    assert posts[0].header("Authorization") is not None
    assert (posts[0].header("User-Agent") or "").startswith("timeback-caliper-python/")
    assert emu.duplicates == 0


def test_get_unknown_event_is_not_found(emu: Emulator) -> None:
    with fast(emu) as client, pytest.raises(NotFoundError):
        client.events.get("urn:uuid:00000000-0000-4000-8000-999999999999")


# ------------------------------------------------------------------------------------------------ retries
def test_5xx_is_retried_with_the_same_bytes_and_request_id(emu: Emulator) -> None:
    emu.fail_next(2, 503, path="/caliper/event")
    with fast(emu) as client:
        sent = client.events.send(SENSOR, events(2))
    assert sent.attempts == 3
    posts = emu.requests("/caliper/event")
    assert [p.status for p in posts] == [503, 503, 200]
    assert len({p.body for p in posts}) == 1
    assert len({p.header("X-Request-ID") for p in posts}) == 1
    assert emu.wait_for_jobs()
    assert sorted(emu.event_counts().values()) == [1, 1]
    assert emu.fault_stats.injected == {"503": 2}


def test_retry_after_is_a_floor(emu: Emulator) -> None:
    emu.fail_next(1, 429, path="/caliper/event", retry_after=1)
    sleeps = Sleeps()
    with fast(emu, sleep=sleeps) as client:
        client.events.send(SENSOR, events(1))
    assert len(sleeps.calls) == 1
    assert sleeps.calls[0] >= 1.0  # jittered backoff alone would be <= 0.01


def test_retry_after_beyond_the_deadline_raises_at_once(emu: Emulator) -> None:
    emu.fail_next(1, 429, path="/caliper/event", retry_after=30)
    sleeps = Sleeps()
    with fast(emu, sleep=sleeps, deadline=5.0) as client, pytest.raises(RateLimitError) as caught:
        client.events.send(SENSOR, events(1))
    assert caught.value.retry_after == 30
    assert sleeps.calls == []
    assert len(emu.requests("/caliper/event")) == 1


def test_retries_give_up_after_max_attempts(emu: Emulator) -> None:
    emu.fail_next(10, 502, path="/caliper/event")
    with fast(emu, max_attempts=3) as client, pytest.raises(ServerError) as caught:
        client.events.send(SENSOR, events(1))
    assert caught.value.status_code == 502
    assert caught.value.attempts == 3
    assert len(emu.requests("/caliper/event")) == 3


def test_4xx_are_not_retried(emu: Emulator) -> None:
    emu.fail_next(1, 400, path="/caliper/event", body={"status": "error", "message": "nope", "errors": ["x"]})
    with fast(emu) as client, pytest.raises(BadRequestError) as caught:
        client.events.send(SENSOR, events(1))
    assert getattr(caught.value, "status_code", None) == 400
    assert getattr(caught.value, "errors", None) == ["x"]
    assert len(emu.requests("/caliper/event")) == 1


# ------------------------------------------------------------------------------------------------ timeouts, deadline
def test_read_timeout_is_ambiguous_and_the_server_kept_the_event(emu: Emulator) -> None:
    emu.delay_next(1.0, path="/caliper/event")
    with fast(emu, timeout=(1.0, 0.2), retry_ambiguous=False) as client, pytest.raises(TransportError) as caught:
        client.events.send(SENSOR, events(1))
    assert caught.value.ambiguous is True
    assert emu.wait_for_jobs()
    assert sum(emu.event_counts().values()) == 1  # processed although the client never heard back


def test_deadline_bounds_a_slow_server(emu: Emulator) -> None:
    emu.delay_next(5.0, n=20, path="/caliper/event")
    started = time.monotonic()
    with fast(emu, timeout=(1.0, 0.3), deadline=1.0) as client, pytest.raises(TransportError) as caught:
        client.events.send(SENSOR, events(1))
    assert time.monotonic() - started < 2.5
    assert caught.value.ambiguous is True
    assert caught.value.attempts >= 2


def test_connection_refused_is_not_ambiguous() -> None:
    emu = Emulator()
    emu.start()
    url = emu.url
    emu.stop()
    client = CaliperClient(
        client_id="a",
        client_secret="b",
        base_url=url,
        token_url=url + "/oauth2/token",
        retry=RetryPolicy(base_delay=0.01, max_attempts=2, deadline=3),
        timeout=(0.5, 0.5),
    )
    with client, pytest.raises(TransportError) as caught:
        client.events.send(SENSOR, events(1))
    assert caught.value.ambiguous is False


def test_a_trickling_answer_still_arrives(emu: Emulator) -> None:
    emu.trickle_next(0.5, path="/caliper/event")
    with fast(emu, timeout=(1.0, 0.3)) as client:
        sent = client.events.send(SENSOR, events(1))
    assert sent.attempts == 1
    assert emu.requests("/caliper/event")[0].fault == "trickle"


# ------------------------------------------------------------------------------------------------ ambiguous faults
def test_close_after_processing_stores_a_duplicate_on_retry(emu: Emulator) -> None:
    emu.close_next(path="/caliper/event")
    with fast(emu) as client:
        sent = client.events.send(SENSOR, events(1))
    assert sent.attempts == 2
    assert emu.wait_for_jobs()
    assert emu.duplicate_ids() == {sent.event_ids[0]: 2}
    copies = emu.event_copies()
    assert [c.ambiguous for c in copies] == [True, False]  # the first copy came from the request that got no answer
    assert [p.status for p in emu.requests("/caliper/event")] == [None, 200]
    assert emu.fault_stats.ambiguous == 1


def test_dedupe_ignore_hides_the_ambiguous_duplicate() -> None:
    with Emulator(dedupe="ignore") as emu:
        emu.close_next(path="/caliper/event")
        with fast(emu) as client:
            sent = client.events.send(SENSOR, events(1))
            status = wait(client, sent.job_id)
        assert emu.wait_for_jobs()
        assert emu.duplicates == 0
        stored = emu.stored_events()
        assert status.results == [(str(stored[0]["id"]), sent.event_ids[0])]


def test_drop_before_processing_stores_nothing_twice(emu: Emulator) -> None:
    emu.close_next(path="/caliper/event", process=False)
    with fast(emu) as client:
        client.events.send(SENSOR, events(2))
    assert emu.wait_for_jobs()
    assert emu.duplicates == 0
    assert sum(emu.event_counts().values()) == 2


# ------------------------------------------------------------------------------------------------ tokens
def test_expired_token_is_refreshed_once(emu: Emulator) -> None:
    with fast(emu) as client:
        client.events.send(SENSOR, events(1))
        assert emu.expire_tokens() == 1
        client.events.send(SENSOR, events(1, start=1))
    assert [p.status for p in emu.requests("/caliper/event")] == [200, 401, 200]
    assert len(emu.requests("/oauth2/token")) == 2
    refused = emu.requests("/caliper/event")[1]
    assert refused.header("Authorization") != emu.requests("/caliper/event")[2].header("Authorization")


def test_a_second_401_is_an_authentication_error(emu: Emulator) -> None:
    emu.expire_token_next(2, path="/caliper/event")
    with fast(emu) as client, pytest.raises(AuthenticationError) as caught:
        client.events.send(SENSOR, events(1))
    assert caught.value.status_code == 401
    assert [p.status for p in emu.requests("/caliper/event")] == [401, 401]


def test_short_lived_tokens_are_used_once() -> None:
    with Emulator(token_lifetime=30) as emu, fast(emu) as client:
        client.events.send(SENSOR, events(1))
        client.events.send(SENSOR, events(1, start=1))
        assert len(emu.requests("/oauth2/token")) == 2


def test_wrong_secret_is_an_authentication_error_without_the_secret(emu: Emulator) -> None:
    with fast(emu, client_secret="not-the-secret-42") as client, pytest.raises(AuthenticationError) as caught:
        client.events.send(SENSOR, events(1))
    assert "invalid_client" in str(caught.value)
    assert "not-the-secret-42" not in str(caught.value)
    assert emu.requests("/caliper/event") == []


def test_client_secret_post(emu: Emulator) -> None:
    with fast(emu, auth_method="client_secret_post") as client:
        client.events.send(SENSOR, events(1))
    call = emu.requests("/oauth2/token")[0]
    assert call.header("Authorization") is None
    assert b"client_secret=" in call.body
    assert call.client_id == emu.client_id


def test_missing_scope_is_forbidden_and_not_retried(emu: Emulator) -> None:
    emu.add_client(
        "reader", "reader-secret", scopes=["https://purl.imsglobal.org/spec/caliper/v1p1/scope/webhook.readonly"]
    )
    with fast(emu, client_id="reader", client_secret="reader-secret") as client, pytest.raises(ForbiddenError):
        client.events.send(SENSOR, events(1))
    assert len(emu.requests("/caliper/event")) == 1


# ------------------------------------------------------------------------------------------------ chunking
def test_large_sends_are_split_into_envelopes(emu: Emulator) -> None:
    with fast(emu, max_events_per_envelope=100) as client:
        sent = client.events.send(SENSOR, events(250))
    assert sent.envelopes == 3
    assert len(set(sent.job_ids)) == 3
    assert [len(p.event_ids) for p in emu.requests("/caliper/event")] == [100, 100, 50]
    assert emu.wait_for_jobs()
    assert len(emu.event_counts()) == 250
    assert emu.duplicates == 0


def test_413_halves_the_envelope() -> None:
    with Emulator(max_body_bytes=20_000) as emu, fast(emu) as client:
        sent = client.events.send(SENSOR, events(60))
        statuses = [p.status for p in emu.requests("/caliper/event")]
        assert 413 in statuses
        assert statuses.count(200) == sent.envelopes > 1
        assert all(len(p.body) <= 20_000 for p in emu.requests("/caliper/event") if p.status == 200)
        assert emu.wait_for_jobs()
        assert len(emu.event_counts()) == 60
        assert emu.duplicates == 0


def test_partial_send_error_lists_what_to_resend(emu: Emulator) -> None:
    emu.inject(Fault.status_code(500, None, path="/caliper/event", skip=1))  # the 2nd envelope on fails
    with fast(emu, max_attempts=2, max_events_per_envelope=100) as client:
        batch = events(250)
        with pytest.raises(PartialSendError) as caught:
            client.events.send(SENSOR, batch)
        err = caught.value
        assert [len(ids) for _, ids in err.sent] == [100]
        assert len(err.unsent_event_ids) == 150
        assert isinstance(err.__cause__, ServerError)
        emu.clear_faults()
        for env in err.unsent:
            client.events.send_envelope(env)
    assert emu.wait_for_jobs()
    counts = emu.event_counts()
    assert set(counts) == {e.id for e in batch}
    assert set(counts.values()) == {1}


# ------------------------------------------------------------------------------------------------ reading
def test_pagination_and_filters(emu: Emulator) -> None:
    other = [time_spent(1000 + i, email="other@example.com", end=T0) for i in range(5)]
    with fast(emu) as client:
        client.events.send(SENSOR, events(250))
        client.events.send(SENSOR, other)
        assert emu.wait_for_jobs()
        streamed = list(client.events.stream(page_size=100, actor_email=EMAIL))
        assert len(streamed) == 250
        assert len({e.external_id for e in streamed}) == 250
        times = [e.event_time for e in streamed]
        assert times == sorted(times, reverse=True)  # type: ignore[type-var]
        offsets = [p.query["offset"][0] for p in emu.requests("/caliper/events")]
        assert offsets == ["0", "100", "200"]
        page = client.events.list(limit=10, offset=5, actor_email="other@example.com")
        assert page.pagination.total == 5
        assert len(page.events) == 0
        window = client.events.list(start_date=T0, end_date=T0 + events_span(10))
        assert window.pagination.total == 10 + 5  # T0 inclusive (the 5 others are at T0), end exclusive
        assert client.events.list(sensor="https://elsewhere.example").pagination.total == 0


def events_span(n: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=n)


# ------------------------------------------------------------------------------------------------ jobs
def test_failed_job_raises_with_the_reason(emu: Emulator) -> None:
    emu.fail_next_jobs(reason="disk full")
    with fast(emu) as client:
        sent = client.events.send(SENSOR, events(2))
        with pytest.raises(JobFailedError) as caught:
            wait(client, sent.job_id)
    assert caught.value.failed_reason == "disk full"
    assert emu.stored_events() == []


def test_delayed_job_times_out_then_completes_when_released(emu: Emulator) -> None:
    emu.delay_next_jobs()
    with fast(emu) as client:
        sent = client.events.send(SENSOR, events(1))
        assert sent.job_id is not None
        with pytest.raises(JobTimeoutError) as caught:
            client.jobs.wait_for_completion(sent.job_id, timeout=0.3, poll_interval=0.05)
        assert caught.value.state == "delayed"
        assert emu.release_jobs() == 1
        assert wait(client, sent.job_id).state == "completed"


def test_job_lifecycle_waiting_active_completed() -> None:
    with Emulator(job_delay=0.3) as emu, fast(emu) as client:
        with emu.jobs_paused():
            sent = client.events.send(SENSOR, events(1))
            assert sent.job_id is not None
            first = client.jobs.get_status(sent.job_id)
            assert (first.state, first.return_value, first.processed_on) == ("waiting", None, None)
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status = client.jobs.get_status(sent.job_id)
            if not seen or seen[-1] != status.state:
                seen.append(status.state)
            if status.is_done:
                break
            time.sleep(0.02)
        assert seen[-2:] == ["active", "completed"]
        assert status.processed_on is not None


def test_unknown_job_is_not_found(emu: Emulator) -> None:
    with fast(emu) as client, pytest.raises(NotFoundError):
        client.jobs.get_status("424242")


# ------------------------------------------------------------------------------------------------ 2xx variants
@pytest.mark.parametrize(
    ("status", "body", "has_job_id"),
    [(200, "json", True), (201, "json", True), (202, "job-id", True), (200, "empty", False), (202, "empty", False)],
)
def test_any_2xx_is_success(status: int, body: Any, has_job_id: bool) -> None:
    with Emulator(success_status=status, success_body=body) as emu, fast(emu) as client:
        sent = client.events.send(SENSOR, events(1))
        assert (sent.job_id is not None) is has_job_id
        if has_job_id:
            assert sent.job_id == str(emu.jobs()[0].id)
        assert emu.requests("/caliper/event")[0].status == status


# ------------------------------------------------------------------------------------------------ dry run
def test_dry_run_records_without_any_network() -> None:
    client = CaliperClient(dry_run=True, base_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/oauth2/token")
    batch = events(3)
    sent = client.events.send(SENSOR, batch)
    assert sent.job_id == "1"
    assert len(client.recorded) == 1
    assert [e["id"] for e in client.recorded[0]["data"]] == [e.id for e in batch]
    with pytest.raises(CaliperValidationError):
        client.events.send("not a sensor", batch)
    assert len(client.recorded) == 1


def test_dry_run_envelopes_are_what_the_emulator_accepts(emu: Emulator) -> None:
    dry = CaliperClient(dry_run=True)
    dry.events.send(SENSOR, events(2))
    with fast(emu) as client:
        from timeback_caliper.serialization import parse

        verdict = client.events.validate(parse(dry.recorded[0]))
    assert verdict.ok, verdict.errors
    assert to_dict(parse(dry.recorded[0]))["data"][0]["id"] == dry.recorded[0]["data"][0]["id"]
