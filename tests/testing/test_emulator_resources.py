"""The client's Insights, Applications and Webhooks resources end to end against the emulator (interop)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from tests.testing.helpers import SENSOR, USER, scenario
from timeback_caliper.client import CaliperClient
from timeback_caliper.errors import NotFoundError
from timeback_caliper.models.webhooks import WebhookFilterInput, WebhookInput
from timeback_caliper.serialization import parse
from timeback_caliper.testing import Emulator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client() -> Iterator[CaliperClient]:
    with Emulator(job_delay=0) as emu, emu.client() as client:
        client.events.send(SENSOR, [parse(e) for e in scenario()])
        assert emu.wait_for_jobs()
        yield client


def test_insights_through_the_client(client: CaliperClient) -> None:
    sessions = client.insights.sessions(USER)
    assert [s.duration_in_seconds for s in sessions.sessions] == [1800, 1260]
    insights = client.insights.user(USER, types=["Idling"])
    assert [i.insight_type for i in insights.insights] == ["Idling"]
    one = client.insights.session(sessions.sessions[1].id)
    assert one.session is not None
    assert one.session.waste_duration_in_seconds == 120
    overview = client.insights.overview(
        USER,
        started_after=datetime(2025, 1, 15, tzinfo=timezone.utc),
        started_before=datetime(2025, 1, 17, tzinfo=timezone.utc),
        target_timezone="UTC",
    )
    assert overview.summary.total_duration_in_seconds == 3060
    assert len(overview.trend) == 2
    with pytest.raises(NotFoundError):
        client.insights.sessions("6e1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


def test_applications_through_the_client(client: CaliperClient) -> None:
    page = client.applications.list(filter="name='Reading Coach'")
    assert [a.name for a in page.applications] == ["Reading Coach"]
    assert len(client.applications.lookup()) == 3


def test_webhooks_through_the_client(client: CaliperClient) -> None:
    hook = client.webhooks.create(WebhookInput(name="n", target_url="https://hooks.example.test/x", secret="s3"))
    assert client.webhooks.get(hook.id).name == "n"
    made = client.webhooks.filters.create(
        WebhookFilterInput(
            webhook_id=hook.id, filter_key="sensor", filter_value=SENSOR, filter_type="string", filter_operation="eq"
        )
    )
    assert [f.id for f in client.webhooks.filters.list(webhook_id=hook.id)] == [made.id]
    assert client.webhooks.deactivate(hook.id).active is False
    client.webhooks.delete(hook.id)
    assert client.webhooks.list() == []
