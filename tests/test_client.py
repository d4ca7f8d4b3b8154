"""CaliperClient: configuration checks, from_env, TLS rules, repr without secrets, lifecycle, dry run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import responses
from responses.registries import OrderedRegistry

from tests.factories import BASE, SENSOR, TOKEN, activity_event
from timeback_caliper import CaliperClient, CaliperValidationError
from timeback_caliper._http import RetryPolicy

SECRET = "super-secret-value-123"


def test_defaults_to_production_hosts_without_network():
    with responses.RequestsMock() as rsps:  # any call would fail: construction does no I/O
        client = CaliperClient(client_id="id", client_secret=SECRET)
        assert client.env == "production"
        assert client.base_url == "https://caliper.alpha-1edtech.ai"
        assert "prod-beyond-timeback-api-2-idp" in client.token_url
        assert client.platform_url == "https://platform.timeback.com"
        assert len(rsps.calls) == 0


def test_staging_and_overrides():
    client = CaliperClient("staging", "id", SECRET, base_url="https://caliper.alpha-1edtech.com/")
    assert client.base_url == "https://caliper.alpha-1edtech.com"
    assert "staging-beyond" in client.token_url and client.platform_url == "https://platform.dev.timeback.com"


def test_unknown_env_and_missing_credentials_are_refused():
    with pytest.raises(ValueError, match="env must be one of"):
        CaliperClient("prod", "id", SECRET)
    with pytest.raises(ValueError, match="client_id and client_secret are required"):
        CaliperClient()


@pytest.mark.parametrize("url", ["http://caliper.example.com", "ftp://caliper.example.com", "caliper.example.com"])
def test_plain_http_and_other_schemes_are_refused(url: str):
    with pytest.raises(ValueError, match="base_url"):
        CaliperClient(client_id="id", client_secret=SECRET, base_url=url)


def test_http_is_allowed_on_loopback_or_when_asked():
    assert CaliperClient(
        client_id="i", client_secret=SECRET, base_url="http://127.0.0.1:9", token_url="http://localhost:9/t"
    )
    assert CaliperClient(
        client_id="i",
        client_secret=SECRET,
        base_url="http://emulator:8080",
        token_url="http://emulator:8080/t",
        allow_insecure_http=True,
    )


def test_auth_none_only_for_loopback():
    assert CaliperClient(base_url="http://127.0.0.1:8080", auth=None)
    with pytest.raises(ValueError, match="auth=None"):
        CaliperClient(base_url="https://caliper.example.com", auth=None)


def test_unknown_path_override_is_refused():
    with pytest.raises(ValueError, match="unknown paths"):
        CaliperClient(client_id="i", client_secret=SECRET, paths={"sned": "/x"})


def test_from_env_reads_variables_and_explicit_arguments_win(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TIMEBACK_ENV", "staging")
    monkeypatch.setenv("TIMEBACK_CLIENT_ID", "env-id")
    monkeypatch.setenv("TIMEBACK_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("TIMEBACK_CALIPER_URL", "https://caliper.env.test")
    client = CaliperClient.from_env(base_url="https://caliper.explicit.test")
    assert client.env == "staging" and client.base_url == "https://caliper.explicit.test"
    assert client._caliper_oauth is not None and client._caliper_oauth.client_id == "env-id"


def test_repr_and_str_never_show_secrets():
    client = CaliperClient(client_id="id", client_secret=SECRET)
    assert SECRET not in repr(client) and SECRET not in str(client)
    assert repr(client) == "<CaliperClient env='production' base_url='https://caliper.alpha-1edtech.ai'>"
    assert SECRET not in repr(vars(client))


def test_secrets_absent_from_debug_logs_and_errors(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        rsps.post(TOKEN, json={"access_token": "tok-abcdef-123456", "expires_in": 3600})
        rsps.post(f"{BASE}/caliper/event", status=400, json={"status": "error", "message": "nope"})
        client = CaliperClient(
            client_id="id",
            client_secret=SECRET,
            base_url=BASE,
            token_url=TOKEN,
            retry=RetryPolicy(base_delay=0, sleep=lambda s: None),
        )
        with pytest.raises(Exception) as err:  # noqa: PT011 - the text of whatever is raised is checked
            client.events.send(SENSOR, [activity_event()])
    text = caplog.text + str(err.value) + repr(err.value) + repr(vars(err.value))
    assert SECRET not in text and "tok-abcdef-123456" not in text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)


def test_close_is_idempotent_and_context_manager_closes():
    client = CaliperClient(client_id="id", client_secret=SECRET)
    client.close()
    client.close()
    with CaliperClient(client_id="id", client_secret=SECRET) as c:
        assert c.events is not None
    assert c._closed


def test_dry_run_records_envelopes_without_network():
    with responses.RequestsMock() as rsps:
        client = CaliperClient(dry_run=True)
        events = [activity_event(i) for i in range(150)]
        result = client.events.send(SENSOR, events)
        assert len(rsps.calls) == 0
    assert result.job_ids == ["1", "2"]
    assert [len(e["data"]) for e in client.recorded] == [100, 50]
    assert client.recorded[0]["data"][0]["id"] == events[0].id


def test_dry_run_still_validates(monkeypatch: Any):
    client = CaliperClient(dry_run=True)
    with pytest.raises(CaliperValidationError):
        client.events.send("not a sensor", [activity_event()])
    assert client.recorded == []
