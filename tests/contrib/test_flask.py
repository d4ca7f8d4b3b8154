"""The Flask extension with real Flask: app.config, init_app, the test client against the emulator, teardown."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from timeback_caliper import TransportError  # noqa: E402
from timeback_caliper.contrib.flask import TimebackCaliper  # noqa: E402
from timeback_caliper.testing import Emulator  # noqa: E402

pytestmark = pytest.mark.timeout(60)

SENSOR = "https://flask-app.example.com"


def settings(emu: Emulator, **extra: Any) -> dict[str, Any]:
    return {
        "USE_ENV": False,
        "CLIENT_ID": emu.client_id,
        "CLIENT_SECRET": emu.client_secret,
        "BASE_URL": emu.url,
        "TOKEN_URL": emu.token_url,
        "PLATFORM_URL": emu.url,
        "PLATFORM_TOKEN_URL": emu.platform_token_url,
        "SENSOR": SENSOR,
        "APP_NAME": "Flask App",
        "ACTIVITY_BASE_URL": "https://flask-app.example.com/activities",
        **extra,
    }


caliper = TimebackCaliper()  # an app factory's extension: created once, bound to each app by init_app


def create_app(config: dict[str, Any]) -> Any:
    app = flask.Flask("lessons")
    app.config["TIMEBACK_CALIPER"] = config
    caliper.init_app(app)

    @app.post("/lessons/<lesson>/complete")
    def complete(lesson: str) -> Any:
        body = flask.request.get_json()
        result = caliper.client.activity.record(
            user={"email": body["email"]},
            activity={"id": lesson, "name": lesson.title(), "course": {"subject": "Math", "grade": 4}},
            metrics={"xp_earned": body["xp"]},
        )
        return {"job": result.job_id, "events": result.event_ids}

    @app.get("/jobs/<job>")
    def job(job: str) -> Any:
        status = caliper.client.jobs.wait_for_completion(job, timeout=10)
        return {"state": status.state}

    return app


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_a_route_records_a_completion_with_the_test_client(emu: Emulator):
    app = create_app(settings(emu))
    web = app.test_client()
    reply = web.post("/lessons/fractions/complete", json={"email": "ada@example.com", "xp": 15})
    assert reply.status_code == 200
    job = reply.get_json()["job"]
    assert web.get(f"/jobs/{job}").get_json() == {"state": "completed"}
    [stored] = emu.stored_events()
    assert stored["externalId"] == reply.get_json()["events"][0]
    assert stored["sensor"] == SENSOR and stored["object"]["app"]["name"] == "Flask App"
    # one client for the app: one token for both requests
    web.post("/lessons/decimals/complete", json={"email": "ada@example.com", "xp": 5})
    assert len(emu.requests("/oauth2/token")) == 1


def test_constructor_form_send_and_sensor(emu: Emulator):
    from timeback_caliper import create_time_spent_event

    app = flask.Flask("direct")
    app.config["TIMEBACK_CALIPER"] = settings(emu)
    ext = TimebackCaliper(app)
    event = create_time_spent_event(
        actor={"id": "https://flask-app.example.com/u/1", "email": "ada@example.com"},
        object={"id": "https://flask-app.example.com/a/1", "subject": "Math", "app": {"name": "Flask App"}},
        metrics=[{"type": "active", "value": 30}],
    )
    # outside a request: the extension knows its app
    assert ext.sensor == SENSOR
    result = ext.send([event])
    assert result.event_ids == [event.id]
    with app.app_context():
        assert ext.client is ext.client_for(app)


def test_each_app_gets_its_own_client(emu: Emulator):
    first, second = create_app(settings(emu)), create_app(settings(emu, SENSOR="https://second.example.com"))
    assert caliper.client_for(first) is not caliper.client_for(second)
    with second.app_context():
        assert caliper.sensor == "https://second.example.com"
    with pytest.raises(RuntimeError, match="already set up"):
        caliper.init_app(first)


def test_the_client_is_closed_on_app_teardown(emu: Emulator):
    app = create_app(settings(emu))
    client = caliper.client_for(app)
    assert app.test_client().post("/lessons/x/complete", json={"email": "a@example.com", "xp": 1}).status_code == 200
    caliper.close(app)
    with pytest.raises(TransportError, match="closed"):
        client.events.list()
    caliper.close(app)  # twice is fine

    other = create_app(settings(emu))
    kept = caliper.client_for(other)
    del other
    gc.collect()
    with pytest.raises(TransportError, match="closed"):
        kept.events.list()


def test_config_errors_fail_at_init_app(emu: Emulator, monkeypatch: pytest.MonkeyPatch):
    app = flask.Flask("bad")
    app.config["TIMEBACK_CALIPER"] = {"SENSORR": SENSOR}
    with pytest.raises(ValueError, match="SENSORR"):
        TimebackCaliper(app)
    for name in ("TIMEBACK_CLIENT_ID", "TIMEBACK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    empty = flask.Flask("empty")
    with pytest.raises(ValueError, match="client_id and client_secret are required"):
        TimebackCaliper(empty)


def test_without_config_everything_comes_from_the_environment(emu: Emulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", emu.client_id)
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", emu.client_secret)
    monkeypatch.setenv("TIMEBACK_CALIPER_URL", emu.url)
    monkeypatch.setenv("TIMEBACK_TOKEN_URL", emu.token_url)
    app = flask.Flask("env")
    ext = TimebackCaliper(app)
    assert ext.client_for(app).events.list().events == []


def test_no_app_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no Flask app"):
        TimebackCaliper().client  # noqa: B018
