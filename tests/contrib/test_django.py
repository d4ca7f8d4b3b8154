"""The Django integration with real Django: settings, the shared client, send_on_commit, the check command.

Settings are configured here (in-memory SQLite, this module as the URLconf); each test points
``TIMEBACK_CALIPER`` at its own emulator with ``override_settings``, which rebuilds the shared client.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from timeback_caliper import CaliperValidationError, create_time_spent_event  # noqa: E402
from timeback_caliper.contrib.django import get_client, reset_client, send_on_commit  # noqa: E402
from timeback_caliper.testing import Emulator  # noqa: E402

from .django_setup import configure  # noqa: E402

pytestmark = pytest.mark.timeout(60)

SENSOR = "https://school-app.example.com"
ACTOR = {"id": "https://school-app.example.com/users/7", "email": "ada@example.com"}
CONTEXT = {"id": "https://school-app.example.com/activities/1", "subject": "Math", "app": {"name": "School App"}}


class RollbackError(Exception):
    """Raised inside a transaction to roll it back."""


def complete_view(request: HttpRequest) -> JsonResponse:
    """What an app's view does: record the completion in its database and send it to Timeback on commit."""
    email = request.POST["email"]
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO completions (email) VALUES (%s)", [email])
            envelope = get_client().activity.build(
                user={"email": email},
                activity={"id": "fractions", "name": "Fractions", "course": {"subject": "Math", "grade": 3}},
                metrics={"xp_earned": 12, "total_questions": 10, "correct_questions": 9},
            )
            send_on_commit(envelope)
            if request.POST.get("fail"):
                raise RollbackError
    except RollbackError:
        return JsonResponse({"saved": False}, status=409)
    return JsonResponse({"saved": True, "event_ids": [e.id for e in envelope.data]})


urlpatterns = [path("complete/", complete_view)]


@pytest.fixture(scope="module", autouse=True)
def django_settings() -> None:
    configure()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS completions (id INTEGER PRIMARY KEY, email TEXT)")


def rows() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM completions ORDER BY id")
        return [r[0] for r in cursor.fetchall()]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def timeback(emu: Emulator) -> Iterator[Emulator]:
    """``TIMEBACK_CALIPER`` pointing at the emulator (no environment variables read)."""
    config = {
        "USE_ENV": False,
        "CLIENT_ID": emu.client_id,
        "CLIENT_SECRET": emu.client_secret,
        "BASE_URL": emu.url,
        "TOKEN_URL": emu.token_url,
        "PLATFORM_URL": emu.url,
        "PLATFORM_TOKEN_URL": emu.platform_token_url,
        "SENSOR": SENSOR,
        "APP_NAME": "School App",
        "ACTIVITY_BASE_URL": "https://school-app.example.com/activities",
    }
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM completions")
    with override_settings(TIMEBACK_CALIPER=config):
        yield emu
    reset_client()


def event() -> Any:
    return create_time_spent_event(actor=ACTOR, object=CONTEXT, metrics=[{"type": "active", "value": 60}])


def posts(emu: Emulator) -> int:
    return len(emu.requests("/caliper/event", method="POST"))


def test_one_shared_client_per_process_from_settings(timeback: Emulator):
    client = get_client()
    assert get_client() is client
    assert client.base_url == timeback.url and client.activity.config.sensor == SENSOR
    with override_settings(
        TIMEBACK_CALIPER={"USE_ENV": False, "ENV": "staging", "CLIENT_ID": "a", "CLIENT_SECRET": "b"}
    ):
        other = get_client()
        assert other is not client and other.base_url == "https://caliper.staging.alpha-1edtech.ai"


def test_send_on_commit_sends_only_after_the_commit(timeback: Emulator):
    sent: list[Any] = []
    with transaction.atomic():
        send_on_commit([event()], on_sent=sent.append)
        assert posts(timeback) == 0  # still inside the transaction
    assert posts(timeback) == 1 and sent[0].job_id == "1"
    assert timeback.wait_for_jobs(10) and len(timeback.stored_events()) == 1
    assert timeback.stored_events()[0]["sensor"] == SENSOR


def send_then_roll_back() -> None:
    with transaction.atomic():
        send_on_commit([event()])
        raise RollbackError


def test_a_rolled_back_transaction_sends_nothing(timeback: Emulator):
    with pytest.raises(RollbackError):
        send_then_roll_back()
    assert posts(timeback) == 0


def test_outside_a_transaction_it_sends_at_once(timeback: Emulator):
    send_on_commit([event()], sensor="https://other.example.com")
    assert posts(timeback) == 1
    assert timeback.wait_for_jobs(10) and timeback.stored_events()[0]["sensor"] == "https://other.example.com"


def test_invalid_events_raise_inside_the_transaction(timeback: Emulator):
    def send_two() -> None:
        bad = event()
        with transaction.atomic():
            send_on_commit([event()])
            send_on_commit([bad, bad])

    with pytest.raises(CaliperValidationError) as err:
        send_two()
    assert "duplicate event id" in str(err.value)
    assert posts(timeback) == 0  # the rollback dropped the first on_commit too
    with pytest.raises(CaliperValidationError, match="absolute IRI"):
        send_on_commit([event()], sensor="not an iri")


def test_a_failed_send_after_commit_is_reported_not_raised(timeback: Emulator, caplog: pytest.LogCaptureFixture):
    timeback.fail_next(1, 403, path="/caliper/event")
    failures: list[Any] = []
    with transaction.atomic():
        send_on_commit([event()], on_error=lambda exc, events: failures.append((exc, events)))
    [(exc, events)] = failures
    assert "HTTP 403" in str(exc) and len(events) == 1
    assert "1 events were not sent" in caplog.text


def test_the_test_client_records_a_completion_end_to_end(timeback: Emulator):
    web = Client()
    response = web.post("/complete/", {"email": "grace@example.com"})
    assert response.status_code == 200
    ids = response.json()["event_ids"]
    assert rows() == ["grace@example.com"]
    assert timeback.wait_for_jobs(10)
    assert [e["externalId"] for e in timeback.stored_events()] == ids
    assert timeback.stored_events()[0]["type"] == "ActivityEvent"

    failed = web.post("/complete/", {"email": "lin@example.com", "fail": "1"})
    assert failed.status_code == 409 and rows() == ["grace@example.com"]
    assert posts(timeback) == 1


def test_missing_or_invalid_settings(timeback: Emulator):
    with override_settings(TIMEBACK_CALIPER=None), pytest.raises(ImproperlyConfigured, match="TIMEBACK_CALIPER"):
        get_client()
    with (
        override_settings(TIMEBACK_CALIPER={"CLIENT_IDD": "x"}),
        pytest.raises(ImproperlyConfigured, match="CLIENT_IDD"),
    ):
        get_client()
    with override_settings(TIMEBACK_CALIPER={"USE_ENV": False}), pytest.raises(ImproperlyConfigured, match="client_id"):
        get_client()


def test_secrets_can_come_from_the_environment(emu: Emulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", emu.client_id)
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", emu.client_secret)
    config = {"BASE_URL": emu.url, "TOKEN_URL": emu.token_url, "SENSOR": SENSOR}
    with override_settings(TIMEBACK_CALIPER=config):
        try:
            send_on_commit([event()])
        finally:
            reset_client()
    assert posts(emu) == 1


def test_check_command_reports_each_back_end(timeback: Emulator):
    out = io.StringIO()
    call_command("timeback_caliper_check", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["caliper", "platform"]
    assert all(": ok (" in line for line in lines)
    as_json = io.StringIO()
    call_command("timeback_caliper_check", "--backend", "caliper", "--json", stdout=as_json)
    assert [c["backend"] for c in json.loads(as_json.getvalue())] == ["caliper"]


def test_check_command_fails_with_a_wrong_secret(timeback: Emulator):
    config = {**settings.TIMEBACK_CALIPER, "CLIENT_SECRET": "not-the-secret"}
    err = io.StringIO()
    with override_settings(TIMEBACK_CALIPER=config), pytest.raises(CommandError, match="caliper"):
        call_command("timeback_caliper_check", stdout=io.StringIO(), stderr=err)
    assert "FAILED" in err.getvalue() and "not-the-secret" not in err.getvalue()
