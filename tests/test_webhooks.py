"""client.webhooks and client.webhooks.filters: every route, input checks, secrets kept out of repr and logs, errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest
import responses
from responses import matchers
from responses.registries import OrderedRegistry

import timeback_caliper.webhooks as webhooks_module
from tests.fixturepaths import FIXTURES, load
from timeback_caliper._http import RetryPolicy
from timeback_caliper.client import CaliperClient
from timeback_caliper.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CaliperValidationError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    UnexpectedResponseError,
)
from timeback_caliper.models.webhooks import (
    FilterOperation,
    FilterType,
    Webhook,
    WebhookFilter,
    WebhookFilterInput,
    WebhookInput,
)

BASE = "https://caliper.test"
TOKEN = "https://auth.test/oauth2/token"
HOOK_ID = "123e4567-e89b-12d3-a456-426614174000"
FILTER_ID = "9f8e7d6c-5b4a-4938-8271-605f4e3d2c1b"
HOOKS = f"{BASE}/webhooks/"
HOOK = f"{BASE}/webhooks/{HOOK_ID}"
FILTERS = f"{BASE}/webhook-filters/"
FILTER = f"{BASE}/webhook-filters/{FILTER_ID}"
RESP = FIXTURES / "timeback" / "responses"
UTC = timezone.utc
NEW_SECRET = "whsec-Do-Not-Leak-42"
CALIPER_BEARER = matchers.header_matcher({"Authorization": "Bearer c-1"})


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:  # order enforced; unused stubs fail
        rsps.post(TOKEN, json={"access_token": "c-1", "expires_in": 3600})  # the Caliper (Cognito) token
        yield rsps


@pytest.fixture
def bare_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def client() -> Iterator[CaliperClient]:
    retry = RetryPolicy(base_delay=0, sleep=lambda s: None)
    with CaliperClient(client_id="id", client_secret="s3cr3t", base_url=BASE, token_url=TOKEN, retry=retry) as c:
        yield c


def hook_input(**overrides: Any) -> WebhookInput:
    fields: dict[str, Any] = {
        "name": "XP sync",
        "target_url": "https://app.example/hooks/caliper",
        "secret": NEW_SECRET,
    }
    fields.update(overrides)
    return WebhookInput(**fields)


def filter_input(**overrides: Any) -> WebhookFilterInput:
    fields: dict[str, Any] = {
        "webhook_id": HOOK_ID,
        "filter_key": "sensor",
        "filter_value": "https://app.example",
        "filter_type": FilterType.STRING,
        "filter_operation": FilterOperation.EQ,
    }
    fields.update(overrides)
    return WebhookFilterInput(**fields)


def body_of(call: Any) -> Any:
    return json.loads(call.request.body)


# ------------------------------------------------------------------------------------------------ webhooks


def test_list_reads_the_documented_answer(api: responses.RequestsMock, client: CaliperClient):
    api.get(HOOKS, json=load(RESP / "webhooks-list.json"), match=[CALIPER_BEARER])
    (hook,) = client.webhooks.list()
    assert isinstance(hook, Webhook)
    assert hook.id == HOOK_ID and hook.name == "My Webhook" and hook.sensor == "sensor123"
    assert hook.description == "This webhook is used to send data to the example.com/webhook"
    assert hook.target_url == "https://example.com/webhook" and hook.secret == "secret123"
    assert hook.active is True
    assert hook.created_at == hook.updated_at == datetime(2021, 1, 1, tzinfo=UTC)
    assert hook.deleted_at == datetime(2021, 1, 1, tzinfo=UTC)  # set on a live webhook: kept, not interpreted
    assert "secret123" not in repr(hook) and "secret123" not in repr([hook]) and "secret123" not in str(hook)


def test_get_reads_one_and_percent_encodes_the_id(api: responses.RequestsMock, client: CaliperClient):
    api.get(HOOK, json=load(RESP / "webhook-single.json"))
    api.get(f"{BASE}/webhooks/a%2Fb%20c%3F", json=load(RESP / "webhook-single.json"))
    assert client.webhooks.get(HOOK_ID).name == "My Webhook"
    client.webhooks.get("a/b c?")
    assert api.calls[2].request.url == f"{BASE}/webhooks/a%2Fb%20c%3F"


def test_create_sends_the_documented_body(api: responses.RequestsMock, client: CaliperClient):
    api.post(
        HOOKS,
        status=201,
        json=load(RESP / "webhook-single.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "name": "XP sync",
                    "description": None,
                    "targetUrl": "https://app.example/hooks/caliper",
                    "secret": NEW_SECRET,
                    "active": True,
                }
            ),
            CALIPER_BEARER,
        ],
    )
    api.post(
        HOOKS,
        status=201,
        json=load(RESP / "webhook-single.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "name": "XP sync",
                    "description": "inactive until launch",
                    "targetUrl": "https://app.example/hooks/caliper",
                    "secret": NEW_SECRET,
                    "active": False,
                    "sensor": "https://app.example",
                }
            )
        ],
    )
    created = client.webhooks.create(hook_input())
    assert created.id == HOOK_ID
    client.webhooks.create(hook_input(description="inactive until launch", active=False, sensor="https://app.example"))
    assert "sensor" not in body_of(api.calls[1]) and body_of(api.calls[1])["description"] is None


def test_update_replaces_every_field(api: responses.RequestsMock, client: CaliperClient):
    api.get(HOOK, json=load(RESP / "webhook-single.json"))
    api.put(
        HOOK,
        json=load(RESP / "webhook-single.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "name": "My Webhook",
                    "description": "This webhook is used to send data to the example.com/webhook",
                    "targetUrl": "https://example.com/v2/webhook",
                    "secret": "secret123",
                    "active": True,
                    "sensor": "sensor123",
                }
            )
        ],
    )
    hook = client.webhooks.get(HOOK_ID)
    assert hook.id is not None
    updated = client.webhooks.update(
        hook.id, attrs.evolve(hook.to_input(), target_url="https://example.com/v2/webhook")
    )
    assert updated.id == HOOK_ID


def test_delete_returns_none(api: responses.RequestsMock, client: CaliperClient):
    api.delete(HOOK, json={"status": "success", "message": "", "errors": None}, match=[CALIPER_BEARER])
    assert client.webhooks.delete(HOOK_ID) is None


@pytest.mark.parametrize(("action", "active"), [("activate", True), ("deactivate", False)])
def test_activate_and_deactivate(api: responses.RequestsMock, client: CaliperClient, action: str, active: bool):
    answer = load(RESP / "webhook-single.json")
    answer["webhook"]["active"] = active
    api.put(f"{HOOK}/{action}", json=answer, match=[matchers.header_matcher({"Content-Length": "0"})])
    hook = getattr(client.webhooks, action)(HOOK_ID)
    assert hook.active is active and api.calls[1].request.body is None


def test_the_400_validation_details_shape(api: responses.RequestsMock, client: CaliperClient):
    body = load(RESP / "webhook-error-400.json")
    api.post(HOOKS, status=400, json=body)
    with pytest.raises(BadRequestError) as err:
        client.webhooks.create(hook_input())
    assert err.value.errors == body["details"] and err.value.message == "An error occurred: sensor: Required"
    assert NEW_SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (500, ServerError),
    ],
)
def test_generic_errors_map_to_the_error_tree(
    api: responses.RequestsMock, client: CaliperClient, status: int, cls: type[ApiError]
):
    body = {"status": "error", "message": "Webhook not found", "errors": None}
    attempts = {401: 2, 500: 4}.get(status, 1)  # a 401 is replayed once with a new token; a 500 is retried
    for n in range(attempts):
        if status == 401 and n:
            api.post(TOKEN, json={"access_token": "c-2", "expires_in": 3600})
        api.get(HOOK, status=status, json=body)
    with pytest.raises(cls) as err:
        client.webhooks.get(HOOK_ID)
    assert err.value.status_code == status and err.value.message == "Webhook not found" and err.value.body == body


@pytest.mark.parametrize(
    ("call", "url", "method", "body"),
    [
        ("list", HOOKS, "GET", {"webhooks": None}),
        ("get", HOOK, "GET", {}),
        ("get", HOOK, "GET", "ok"),
        ("activate", f"{HOOK}/activate", "PUT", {"status": "success"}),
    ],
    ids=["list-null", "get-empty", "get-text", "activate-no-webhook"],
)
def test_unreadable_2xx_answers_raise_unexpected_response(
    api: responses.RequestsMock, client: CaliperClient, call: str, url: str, method: str, body: Any
):
    if isinstance(body, str):
        api.add(method, url, body=body, content_type="text/plain")
    else:
        api.add(method, url, json=body)
    with pytest.raises(UnexpectedResponseError) as err:
        getattr(client.webhooks, call)(*(() if call == "list" else (HOOK_ID,)))
    assert err.value.body == body and err.value.status_code == 200


def test_lenient_reading(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        HOOKS,
        json=[
            {"id": 5, "targetUrl": "https://x.example", "active": "yes", "createdAt": None, "future": 1},
            "junk",
        ],
    )
    (hook,) = client.webhooks.list()
    assert hook.id == "5" and hook.active is None and hook.created_at is None and hook.secret is None
    assert hook.raw["future"] == 1


def test_top_level_webhook_object_is_accepted(api: responses.RequestsMock, client: CaliperClient):
    api.get(HOOK, json=load(RESP / "webhook-single.json")["webhook"])
    assert client.webhooks.get(HOOK_ID).id == HOOK_ID


# ------------------------------------------------------------------------------------------------ inputs


def test_webhook_input_reports_every_problem_without_echoing_the_secret():
    with pytest.raises(CaliperValidationError) as err:
        WebhookInput(name="", target_url="ftp://files.example", secret=" ", description=5, active="yes", sensor="")  # type: ignore[arg-type]
    paths = [p.path for p in err.value.errors]
    assert paths == ["name", "target_url", "secret", "description", "active", "sensor"]
    with pytest.raises(CaliperValidationError) as err2:
        WebhookInput(name="n", target_url="/relative", secret=12345)  # type: ignore[arg-type]
    assert [p.path for p in err2.value.errors] == ["target_url", "secret"] and "12345" not in str(err2.value)


def test_webhook_input_keeps_the_secret_out_of_repr():
    hook = hook_input()
    assert NEW_SECRET not in repr(hook) and hook.secret == NEW_SECRET
    assert hook.description is None and hook.active is True and hook.sensor is None


def test_create_refuses_anything_but_an_input(bare_api: responses.RequestsMock, client: CaliperClient):
    with pytest.raises(TypeError):
        client.webhooks.create({"name": "x"})  # type: ignore[arg-type]
    with pytest.raises(CaliperValidationError):
        client.webhooks.get("")
    with pytest.raises(CaliperValidationError):
        client.webhooks.filters.list(webhook_id=" ")
    assert len(bare_api.calls) == 0


def test_to_input_of_an_incomplete_webhook_is_refused():
    with pytest.raises(CaliperValidationError) as err:
        Webhook(id="1", name="n").to_input()
    assert {p.path for p in err.value.errors} == {"target_url", "secret"}


def test_filter_input_checks_every_field():
    with pytest.raises(CaliperValidationError) as err:
        WebhookFilterInput(
            webhook_id="hook-1",
            filter_key="",
            filter_value=5,  # type: ignore[arg-type]
            filter_type="date",
            filter_operation="like",
            active=None,  # type: ignore[arg-type]
        )
    assert [p.path for p in err.value.errors] == [
        "webhook_id",
        "filter_key",
        "filter_value",
        "filter_type",
        "filter_operation",
        "active",
    ]


def test_filter_input_normalises_enums_and_the_uuid():
    spec = filter_input(webhook_id=HOOK_ID.upper(), filter_type="number", filter_operation=FilterOperation.NOT_IN)
    assert spec.webhook_id == HOOK_ID and spec.filter_type == "number" and spec.filter_operation == "notIn"
    assert type(spec.filter_operation) is str


# ------------------------------------------------------------------------------------------------ filters


def test_filters_list_all_and_by_webhook(api: responses.RequestsMock, client: CaliperClient):
    api.get(FILTERS, json=load(RESP / "webhook-filters-list.json"), match=[CALIPER_BEARER])
    api.get(f"{BASE}/webhook-filters/webhook/{HOOK_ID}", json=load(RESP / "webhook-filters-list.json"))
    (every,) = client.webhooks.filters.list()
    (mine,) = client.webhooks.filters.list(webhook_id=HOOK_ID)
    assert isinstance(every, WebhookFilter) and every == mine
    assert every.id is None  # the documented Filter has no id
    assert (every.webhook_id, every.filter_key, every.filter_value) == (HOOK_ID, "sensor", "sensor123")
    assert (every.filter_type, every.filter_operation, every.active) == ("string", "eq", True)
    assert every.created_at == every.updated_at == every.deleted_at == datetime(2021, 1, 1, tzinfo=UTC)


def test_filter_get_create_update_delete(api: responses.RequestsMock, client: CaliperClient):
    single = load(RESP / "webhook-filter-single.json")
    with_id = {"filter": {**single["filter"], "id": FILTER_ID}}
    wire = {
        "webhookId": HOOK_ID,
        "filterKey": "sensor",
        "filterValue": "https://app.example",
        "filterType": "string",
        "filterOperation": "eq",
        "active": True,
    }
    api.get(FILTER, json=with_id)
    api.post(FILTERS, status=201, json=with_id, match=[matchers.json_params_matcher(wire)])
    api.put(FILTER, json=with_id, match=[matchers.json_params_matcher({**wire, "filterOperation": "startsWith"})])
    api.delete(FILTER, json={"status": "success", "message": "", "errors": None})
    assert client.webhooks.filters.get(FILTER_ID).id == FILTER_ID
    created = client.webhooks.filters.create(filter_input())
    assert created.id == FILTER_ID and created.filter_value == "sensor123"
    spec = attrs.evolve(filter_input(), filter_operation="startsWith")
    assert client.webhooks.filters.update(FILTER_ID, spec).id == FILTER_ID
    assert client.webhooks.filters.delete(FILTER_ID) is None


def test_filter_to_input_round_trips(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        FILTER,
        json={
            "filter": {
                "id": FILTER_ID,
                "webhookId": HOOK_ID,
                "filterKey": "score",
                "filterValue": 90,
                "filterType": "number",
                "filterOperation": "gte",
                "active": False,
            }
        },
    )
    found = client.webhooks.filters.get(FILTER_ID)
    assert found.filter_value == "90"  # a typed JSON value is read back as the documented string
    assert found.to_input() == filter_input(
        filter_key="score", filter_value="90", filter_type="number", filter_operation="gte", active=False
    )


def test_filter_400_and_404(api: responses.RequestsMock, client: CaliperClient):
    api.post(FILTERS, status=400, json={"status": "error", "message": "Invalid filter", "errors": [{"path": "x"}]})
    api.get(FILTER, status=404, json={"status": "error", "message": "Filter not found", "errors": None})
    with pytest.raises(BadRequestError) as err:
        client.webhooks.filters.create(filter_input())
    assert err.value.errors == [{"path": "x"}]
    with pytest.raises(NotFoundError):
        client.webhooks.filters.get(FILTER_ID)


def test_filter_answer_without_a_filter_is_unexpected(api: responses.RequestsMock, client: CaliperClient):
    api.get(FILTER, json={"status": "success"})
    with pytest.raises(UnexpectedResponseError):
        client.webhooks.filters.get(FILTER_ID)


# ------------------------------------------------------------------------------------------------ secrets


def test_secrets_never_reach_the_logs(
    api: responses.RequestsMock, client: CaliperClient, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="timeback_caliper")
    api.post(
        HOOKS, status=201, json={"webhook": {**load(RESP / "webhook-single.json")["webhook"], "secret": NEW_SECRET}}
    )
    api.get(HOOKS, json=load(RESP / "webhooks-list.json"))
    api.put(HOOK, status=400, json={"error": "bad", "details": [{"path": ["secret"], "message": NEW_SECRET}]})
    created = client.webhooks.create(hook_input())
    client.webhooks.list()
    with pytest.raises(BadRequestError) as err:
        client.webhooks.update(HOOK_ID, hook_input())
    assert created.secret == NEW_SECRET
    assert NEW_SECRET not in str(err.value) and NEW_SECRET not in repr(vars(err.value))  # an echo is masked too
    assert err.value.errors == [{"path": ["secret"], "message": "***"}]
    assert caplog.records  # DEBUG logging really was on
    assert NEW_SECRET not in caplog.text and "secret123" not in caplog.text


def test_unreadable_answers_keep_their_body_without_secrets(api: responses.RequestsMock, client: CaliperClient):
    api.get(HOOKS, json={"hooks": [{"id": "1", "secret": "secret123"}], "secret": 5})
    with pytest.raises(UnexpectedResponseError) as err:
        client.webhooks.list()
    assert err.value.body == {"hooks": [{"id": "1", "secret": "***"}], "secret": 5}


def test_no_signature_verification_is_offered():
    # The contract documents no signature scheme for webhook calls (§4.6, §11): nothing to verify against.
    assert not hasattr(webhooks_module, "verify")
    assert "no ``verify()``" in (webhooks_module.__doc__ or "")
