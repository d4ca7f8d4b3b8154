"""client.applications: list with OneRoster-style parameters, paging, the cached lookup, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from tests.fixturepaths import FIXTURES, load
from timeback_caliper._http import RetryPolicy
from timeback_caliper.applications import Applications
from timeback_caliper.client import APPLICATIONS_SCOPE, CaliperClient
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
from timeback_caliper.models.insights import Application, ApplicationsPage

BASE = "https://caliper.test"
TOKEN = "https://auth.test/oauth2/token"
PLATFORM = "https://platform.test"
PTOKEN = "https://platform.test/auth/1.0/token"
APPS_URL = f"{PLATFORM}/applications/1.0"
RESP = FIXTURES / "timeback" / "responses"
BEARER = matchers.header_matcher({"Authorization": "Bearer a-1"})


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def form(expected: dict[str, str]) -> Any:
    def match(request: Any) -> tuple[bool, str]:
        got = dict(parse_qsl(request.body.decode() if isinstance(request.body, bytes) else request.body or ""))
        return got == expected, f"form {got} != {expected}"

    return match


def token_stub(api: responses.RequestsMock, value: str = "a-1") -> None:
    api.post(
        PTOKEN,
        json={"access_token": value, "expires_in": 3600},
        match=[form({"grant_type": "client_credentials", "scope": APPLICATIONS_SCOPE})],
    )


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:  # order enforced; unused stubs fail
        token_stub(rsps)
        yield rsps


@pytest.fixture
def bare_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(clock: FakeClock, **kwargs: Any) -> CaliperClient:
    retry = RetryPolicy(base_delay=0, sleep=lambda s: None, clock=clock, max_attempts=kwargs.pop("max_attempts", 4))
    return CaliperClient(
        client_id="id",
        client_secret="s3cr3t",
        base_url=BASE,
        token_url=TOKEN,
        platform_url=PLATFORM,
        platform_token_url=PTOKEN,
        retry=retry,
        **kwargs,
    )


@pytest.fixture
def client(clock: FakeClock) -> Iterator[CaliperClient]:
    with make_client(clock, applications_cache_ttl=60) as c:
        yield c


def q(**params: Any) -> Any:
    return matchers.query_param_matcher({k: str(v) for k, v in params.items()})


def app(n: int, **extra: Any) -> dict[str, Any]:
    return {"sourcedId": f"app-{n}", "name": f"App {n}", **extra}


# ------------------------------------------------------------------------------------------------ list


def test_list_reads_the_documented_answer(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, json=load(RESP / "applications-list.json"), match=[q(limit=100, offset=0), BEARER])
    page = client.applications.list()
    assert isinstance(page, ApplicationsPage)
    (a,) = page.applications
    assert a == Application(
        sourced_id="app-uuid",
        name="Math Learning Suite",
        description="Comprehensive math learning platform",
        logo_url="https://example.com/logo.png",
        application_type="learning_app",
        waste_meter="on",
        proctoring_mode="off",
    )
    assert a.application_id == "app-uuid" and a.raw["wasteMeter"] == "on"
    assert (page.offset, page.limit, page.total, page.has_more) == (0, 10, 1, False)


def test_list_sends_every_parameter(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        APPS_URL,
        json={"applications": [{"sourcedId": 7, "name": "Only"}], "offset": 20, "limit": 5, "total": 21},
        match=[
            q(
                limit=5,
                offset=20,
                sort="name",
                orderBy="desc",
                filter="name='Math Learning Suite' AND wasteMeter='on'",
                fields="sourcedId,name",
            )
        ],
    )
    page = client.applications.list(
        limit=5,
        offset=20,
        sort="name",
        order_by="desc",
        filter="name='Math Learning Suite' AND wasteMeter='on'",
        fields=["sourcedId", "name", "sourcedId"],
    )
    (a,) = page.applications
    assert a.sourced_id == "7" and a.name == "Only" and a.description is None and not page.has_more


def test_list_takes_fields_as_one_string(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, json={"applications": []}, match=[q(limit=100, offset=0, sort="name", fields="name")])
    assert client.applications.list(sort="name", fields="name").applications == []


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 1.5}, "offset"),
        ({"sort": ""}, "sort"),
        ({"order_by": "up", "sort": "name"}, "order_by"),
        ({"order_by": "asc"}, "order_by"),
        ({"filter": " "}, "filter"),
        ({"filter": 3}, "filter"),
        ({"fields": []}, "fields"),
        ({"fields": ["name,logoUrl"]}, "fields"),
        ({"fields": [None]}, "fields"),
        ({"fields": 5}, "fields"),
    ],
)
def test_bad_arguments_raise_before_any_call(
    bare_api: responses.RequestsMock, client: CaliperClient, kwargs: Any, path: str
):
    with pytest.raises(CaliperValidationError) as err:
        client.applications.list(**kwargs)
    assert [p.path for p in err.value.errors] == [path] and len(bare_api.calls) == 0


def test_iter_all_checks_arguments_eagerly(bare_api: responses.RequestsMock, client: CaliperClient):
    with pytest.raises(CaliperValidationError) as err:
        client.applications.iter_all(page_size=0)
    assert err.value.errors[0].path == "page_size"
    with pytest.raises(CaliperValidationError):
        client.applications.iter_all(max_items=-1)
    assert len(bare_api.calls) == 0


def test_iter_all_walks_to_the_last_page(api: responses.RequestsMock, client: CaliperClient):
    for offset, rows in ((0, [0, 1]), (2, [2, 3]), (4, [4])):
        api.get(
            APPS_URL,
            json={"applications": [app(n) for n in rows], "offset": offset, "limit": 2, "total": 5},
            match=[q(limit=2, offset=offset, sort="name", orderBy="asc")],
        )
    names = [a.name for a in client.applications.iter_all(page_size=2, sort="name", order_by="asc")]
    assert names == [f"App {n}" for n in range(5)]
    assert len(api.calls) == 4


def test_iter_all_stops_at_max_items(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, json={"applications": [app(0), app(1)], "total": 10}, match=[q(limit=2, offset=0)])
    assert [a.sourced_id for a in client.applications.iter_all(page_size=2, max_items=1)] == ["app-0"]


def test_unreadable_answers_raise_unexpected_response(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, json={"apps": []})
    with pytest.raises(UnexpectedResponseError) as err:
        client.applications.list()
    assert err.value.body == {"apps": []} and err.value.status_code == 200


# ------------------------------------------------------------------------------------------------ lookup


def test_lookup_fetches_every_page_once_and_caches(
    api: responses.RequestsMock, client: CaliperClient, clock: FakeClock
):
    api.get(
        APPS_URL,
        json={"applications": [app(0), {"name": "no id"}, "junk"], "total": 4, "limit": 100},
        match=[q(limit=100, offset=0)],
    )
    api.get(APPS_URL, json={"applications": [app(1)], "total": 4}, match=[q(limit=100, offset=3)])
    apps = client.applications.lookup()
    assert sorted(apps) == ["app-0", "app-1"] and apps["app-1"].name == "App 1"
    assert apps.get("unknown-app") is None
    clock.now += 59  # within the 60 s lifetime: no call
    assert client.applications.lookup() is apps
    with pytest.raises(TypeError):
        apps["x"] = apps["app-0"]  # type: ignore[index]
    assert len(api.calls) == 3


def test_lookup_refetches_after_its_lifetime_and_on_refresh(
    api: responses.RequestsMock, client: CaliperClient, clock: FakeClock
):
    api.get(APPS_URL, json={"applications": [app(0)]})
    api.get(APPS_URL, json={"applications": [app(0, name="Renamed")]})
    api.get(APPS_URL, json={"applications": [app(2)]})
    assert client.applications.lookup()["app-0"].name == "App 0"
    clock.now += 60
    assert client.applications.lookup()["app-0"].name == "Renamed"
    assert list(client.applications.lookup(refresh=True)) == ["app-2"]


def test_invalidate_forgets_the_map(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, json={"applications": [app(0)]})
    api.get(APPS_URL, json={"applications": [app(1)]})
    client.applications.lookup()
    client.applications.invalidate()
    assert list(client.applications.lookup()) == ["app-1"]


def test_a_zero_ttl_fetches_every_time(api: responses.RequestsMock, clock: FakeClock):
    api.get(APPS_URL, json={"applications": [app(0)]})
    api.get(APPS_URL, json={"applications": [app(0)]})
    with make_client(clock, applications_cache_ttl=0) as c:
        c.applications.lookup()
        c.applications.lookup()
    assert len(api.calls) == 3


def test_a_failed_refresh_raises_and_the_next_call_retries(
    api: responses.RequestsMock, client: CaliperClient, clock: FakeClock
):
    api.get(APPS_URL, json={"applications": [app(0)]})
    api.get(APPS_URL, status=403, json={"error": "Forbidden", "message": "missing lti.readonly"})
    api.get(APPS_URL, json={"applications": [app(1)]})
    client.applications.lookup()
    clock.now += 61
    with pytest.raises(ForbiddenError):
        client.applications.lookup()
    assert list(client.applications.lookup()) == ["app-1"]


def test_concurrent_lookups_fetch_once(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, json={"applications": [app(0)]})
    results: list[Any] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        results.append(client.applications.lookup())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert len(api.calls) == 2  # one token, one page


@pytest.mark.parametrize("ttl", [-1, float("nan"), "300", True])
def test_cache_ttl_is_checked(ttl: Any):
    with pytest.raises(ValueError, match="cache_ttl"):
        Applications(None, cache_ttl=ttl)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (403, ForbiddenError), (404, NotFoundError)],
)
def test_platform_errors_map_to_the_error_tree(
    api: responses.RequestsMock, client: CaliperClient, status: int, cls: type[ApiError]
):
    body = {"error": "Nope", "message": "Invalid filter expression"}
    api.get(APPS_URL, status=status, json=body)
    with pytest.raises(cls) as err:
        client.applications.list(filter="name=")
    assert err.value.status_code == status and err.value.body == body
    assert err.value.message == "Nope: Invalid filter expression"


def test_500_is_retried_then_raised(api: responses.RequestsMock, client: CaliperClient):
    for _ in range(4):
        api.get(APPS_URL, status=500, json={"error": "Internal server error", "message": "down"})
    with pytest.raises(ServerError) as err:
        client.applications.lookup()
    assert err.value.attempts == 4


def test_401_refreshes_once_then_raises(api: responses.RequestsMock, client: CaliperClient):
    api.get(APPS_URL, status=401, json={"error": "Unauthorized", "message": "expired"})
    token_stub(api, "a-2")
    api.get(APPS_URL, status=401, json={"error": "Unauthorized", "message": "expired"})
    with pytest.raises(AuthenticationError):
        client.applications.list()
