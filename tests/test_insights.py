"""client.insights: the four routes, every parameter, argument checks, lenient reading, pagination, errors, auth."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from tests.fixturepaths import FIXTURES, load
from timeback_caliper._http import RetryPolicy
from timeback_caliper.client import APPLICATIONS_SCOPE, INSIGHTS_SCOPE, CaliperClient
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
from timeback_caliper.models.insights import (
    Insight,
    InsightSession,
    InsightsPage,
    InsightType,
    OverviewLevel,
    ProctoredResult,
    SessionsPage,
    insight_category,
)

BASE = "https://caliper.test"
TOKEN = "https://auth.test/oauth2/token"
PLATFORM = "https://platform.test"
PTOKEN = "https://platform.test/auth/1.0/token"
USER = "0b9e2c4a-6f1d-4e8b-9a3c-5d7e1f2a4b6c"
APP = "7d3f0a9e-2b4c-4d6e-8f1a-3c5e7a9b1d2f"
SESSION = "550e8400-e29b-41d4-a716-446655440000"
USER_URL = f"{PLATFORM}/insights/1.0/users/{USER}"
SESSIONS_URL = f"{USER_URL}/sessions"
SESSION_URL = f"{PLATFORM}/insights/1.0/sessions/{SESSION}"
OVERVIEW_URL = f"{USER_URL}/overview"
RESP = FIXTURES / "timeback" / "responses"
UTC = timezone.utc


def form(expected: dict[str, str]) -> Any:
    """Match a form body exactly (responses' own matcher expects a str body; ours sends bytes)."""

    def match(request: Any) -> tuple[bool, str]:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        got = dict(parse_qsl(body))
        return got == expected, f"form {got} != {expected}"

    return match


def token_stub(api: responses.RequestsMock, value: str = "p-1", scope: str = INSIGHTS_SCOPE) -> None:
    api.post(
        PTOKEN,
        json={"access_token": value, "token_type": "Bearer", "expires_in": 3600, "scope": scope},
        match=[form({"grant_type": "client_credentials", "scope": scope})],
    )


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:  # order enforced; unused stubs fail
        token_stub(rsps)
        yield rsps


@pytest.fixture
def bare_api() -> Iterator[responses.RequestsMock]:
    """No stubs: any HTTP call fails the test."""
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        yield rsps


def make_client(**kwargs: Any) -> CaliperClient:
    retry = RetryPolicy(base_delay=0, sleep=lambda s: None, max_attempts=kwargs.pop("max_attempts", 4))
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
def client() -> Iterator[CaliperClient]:
    with make_client() as c:
        yield c


def q(**params: Any) -> Any:
    return matchers.query_param_matcher({k: str(v) for k, v in params.items()})


BEARER = matchers.header_matcher({"Authorization": "Bearer p-1", "Accept": "application/json"})


# ------------------------------------------------------------------------------------------------ user


def test_user_reads_the_documented_answer(api: responses.RequestsMock, client: CaliperClient):
    api.get(USER_URL, json=load(RESP / "insights-user-insights.json"), match=[q(limit=20, offset=0), BEARER])
    page = client.insights.user(USER)
    assert isinstance(page, InsightsPage)
    (insight,) = page.insights
    assert insight.id == "550e8400-e29b-41d4-a716-446655440000"
    assert insight.insight_type == InsightType.IDLING == "Idling" and insight.category == "waste"
    assert insight.reason == "No activity detected for extended period" and insight.version == "v1"
    assert insight.started_at_time == datetime(2025, 1, 15, 9, 15, tzinfo=UTC)
    assert insight.ended_at_time == datetime(2025, 1, 15, 9, 20, tzinfo=UTC)
    assert insight.duration_in_seconds == 300
    assert page.session is not None
    assert page.session.started_at_time == datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    assert page.session.ended_at_time == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert (page.session.duration_in_seconds, page.session.waste_duration_in_seconds) == (5400, 720)
    assert page.session.waste_percentage == 13
    assert (page.offset, page.limit, page.total, page.rows, page.has_more) == (0, 10, 1, 1, False)
    assert page.raw["total"] == 1 and insight.raw["insightType"] == "Idling"


def test_user_sends_every_parameter(api: responses.RequestsMock, client: CaliperClient):
    paris = ZoneInfo("Europe/Paris")
    api.get(
        USER_URL,
        json={"insights": [], "offset": 40, "limit": 50, "total": 40},
        match=[
            q(
                applicationId=APP,
                after="2025-01-15T08:00:00.000Z",
                before="2025-01-16T08:00:00.123Z",
                limit=50,
                offset=40,
                type="Idling,EyesOffScreen,WebcamNudity",
            )
        ],
    )
    page = client.insights.user(
        uuid.UUID(USER),
        application_id=APP.upper(),
        after=datetime(2025, 1, 15, 9, 0, tzinfo=paris),
        before=datetime(2025, 1, 16, 8, 0, 0, 123456, tzinfo=UTC),
        limit=50,
        offset=40,
        types=[InsightType.IDLING, "EyesOffScreen", "Idling", InsightType.WEBCAM_NUDITY],
    )
    assert page.insights == [] and page.session is None and not page.has_more


def test_a_single_type_and_equal_bounds_are_accepted(api: responses.RequestsMock, client: CaliperClient):
    when = datetime(2025, 1, 15, tzinfo=UTC)
    stamp = "2025-01-15T00:00:00.000Z"
    api.get(USER_URL, json={"insights": []}, match=[q(after=stamp, before=stamp, limit=20, offset=0, type="Game")])
    client.insights.user(USER, after=when, before=when, types=InsightType.GAME)


def test_unknown_types_are_sent_when_allowed(api: responses.RequestsMock, client: CaliperClient):
    api.get(USER_URL, json={"insights": []}, match=[q(limit=20, offset=0, type="Idling,FutureType")])
    client.insights.user(USER, types=["Idling", "FutureType"], allow_unknown_types=True)


def test_user_ids_are_canonical_in_the_path(api: responses.RequestsMock, client: CaliperClient):
    api.get(USER_URL, json={"insights": []})
    api.get(USER_URL, json={"insights": []})
    client.insights.user(USER.upper())
    client.insights.user("{" + USER + "}")
    assert [c.request.url.split("?")[0] for c in api.calls[1:]] == [USER_URL, USER_URL]


# ------------------------------------------------------------------------------------------------ sessions


def test_sessions_reads_the_documented_answer(api: responses.RequestsMock, client: CaliperClient):
    api.get(SESSIONS_URL, json=load(RESP / "insights-user-sessions.json"), match=[q(limit=20, offset=0), BEARER])
    page = client.insights.sessions(USER)
    assert isinstance(page, SessionsPage) and (page.total, page.has_more) == (1, False)
    (s,) = page.sessions
    assert isinstance(s, InsightSession)
    assert s.id == SESSION and s.application_id == "learning-app-uuid"
    assert s.started_at_time == datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    assert s.ended_at_time == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert (s.duration_in_seconds, s.waste_duration_in_seconds, s.waste_percentage) == (5400, 720, 13)
    assert s.is_proctored is True and s.proctored_result == ProctoredResult.PASSED
    assert s.recording_started_at_time == datetime(2025, 1, 15, 9, 0, 5, tzinfo=UTC)
    assert s.recording_ended_at_time == datetime(2025, 1, 15, 10, 29, 55, tzinfo=UTC)
    assert s.recording_s3_key == "recordings/2025/01/15/session-550e8400.webm"


@pytest.mark.parametrize(("proctored", "wire"), [(True, "true"), (False, "false")])
def test_sessions_sends_every_parameter(api: responses.RequestsMock, client: CaliperClient, proctored: bool, wire: str):
    api.get(
        SESSIONS_URL,
        json={"sessions": [], "offset": 5, "limit": 7, "total": 0},
        match=[
            q(
                applicationId=APP,
                startedAfter="2025-01-01T00:00:00.000Z",
                startedBefore="2025-01-08T00:00:00.000Z",
                isProctored=wire,
                limit=7,
                offset=5,
            )
        ],
    )
    page = client.insights.sessions(
        USER,
        application_id=uuid.UUID(APP),
        started_after=datetime(2025, 1, 1, tzinfo=UTC),
        started_before=datetime(2025, 1, 8, tzinfo=UTC),
        is_proctored=proctored,
        limit=7,
        offset=5,
    )
    assert page.sessions == []


def test_absent_recording_fields_are_none(api: responses.RequestsMock, client: CaliperClient):
    api.get(SESSIONS_URL, json={"sessions": [{"id": SESSION, "isProctored": False, "recordingS3Key": None}]})
    (s,) = client.insights.sessions(USER).sessions
    assert s.is_proctored is False and s.proctored_result is None
    assert s.recording_started_at_time is s.recording_ended_at_time is s.recording_s3_key is None


# ------------------------------------------------------------------------------------------------ session


def test_session_reads_the_assumed_shape_and_sends_every_parameter(api: responses.RequestsMock, client: CaliperClient):
    api.get(SESSION_URL, json=load(RESP / "insights-user-insights.json"), match=[q(limit=20, offset=0), BEARER])
    api.get(
        SESSION_URL,
        json={"session": None, "insights": [], "offset": 3, "limit": 9, "total": 3},
        match=[q(isProctored="true", limit=9, offset=3, type="UnauthorizedAppUse,HelpFromAnotherPerson")],
    )
    page = client.insights.session(SESSION)
    assert page.session is not None and page.session.duration_in_seconds == 5400
    assert page.insights[0].insight_type == "Idling"
    other = client.insights.session(
        uuid.UUID(SESSION),
        is_proctored=True,
        limit=9,
        offset=3,
        types=(InsightType.UNAUTHORIZED_APP_USE, InsightType.HELP_FROM_ANOTHER_PERSON),
    )
    assert other.session is None and other.insights == [] and not other.has_more


# ------------------------------------------------------------------------------------------------ overview


def test_overview_reads_the_documented_answer(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        OVERVIEW_URL,
        json=load(RESP / "insights-user-overview.json"),
        match=[
            q(
                startedAfter="2025-01-01T06:00:00.000Z",
                startedBefore="2025-01-08T06:00:00.000Z",
                targetTimezone="America/Chicago",
            ),
            BEARER,
        ],
    )
    chicago = ZoneInfo("America/Chicago")
    week = client.insights.overview(
        USER,
        started_after=datetime(2025, 1, 1, tzinfo=chicago),
        started_before=datetime(2025, 1, 8, tzinfo=chicago),
        target_timezone="America/Chicago",
    )
    s = week.summary
    assert (s.total_duration_in_seconds, s.total_waste_duration_in_seconds, s.waste_percentage) == (36000, 5400, 15)
    assert s.biggest_insight is not None
    assert s.biggest_insight.level == OverviewLevel.ON_DEVICE_DISTRACTIONS
    assert (s.biggest_insight.duration_in_seconds, s.biggest_insight.waste_percentage) == (2400, 7)
    (day,) = week.trend
    assert day.started_at_time == datetime(2025, 1, 1, tzinfo=UTC)
    assert day.ended_at_time == datetime(2025, 1, 2, tzinfo=UTC)
    assert (day.total_duration_in_seconds, day.waste_duration_in_seconds, day.waste_percentage) == (7200, 1080, 15)
    assert [(v.level, v.duration_in_seconds) for v in day.levels] == [
        ("StudentNotPresent", 300),
        ("OnDeviceDistractions", 780),
    ]
    (level,) = week.breakdown
    assert (level.level, level.duration_in_seconds, level.waste_percentage) == ("OnDeviceDistractions", 2400, 7)
    assert [(t.insight_type, t.duration_in_seconds) for t in level.subtypes] == [
        ("Game", 1200),
        ("NonLearningContent", 1200),
    ]
    assert week.raw["summary"]["wastePercentage"] == 15


def test_overview_takes_a_zoneinfo(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        OVERVIEW_URL,
        json={"summary": {"totalDurationInSeconds": 0, "biggestInsight": None}},
        match=[
            q(
                startedAfter="2025-03-01T00:00:00.000Z",
                startedBefore="2025-03-02T00:00:00.000Z",
                targetTimezone="Asia/Kolkata",
            )
        ],
    )
    week = client.insights.overview(
        USER,
        started_after=datetime(2025, 3, 1, tzinfo=UTC),
        started_before=datetime(2025, 3, 2, tzinfo=UTC),
        target_timezone=ZoneInfo("Asia/Kolkata"),
    )
    assert week.summary.biggest_insight is None and week.trend == [] and week.breakdown == []


def test_without_a_tz_database_the_server_checks_the_zone(
    api: responses.RequestsMock, client: CaliperClient, monkeypatch: pytest.MonkeyPatch
):
    def no_database(key: str) -> Any:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", no_database)
    monkeypatch.setattr(zoneinfo, "available_timezones", set)
    api.get(
        OVERVIEW_URL, json={"summary": {}}, match=[q(startedAfter=STAMP_0, startedBefore=STAMP_1, targetTimezone="X/Y")]
    )
    client.insights.overview(USER, **overview_kwargs(target_timezone="X/Y"))


# ------------------------------------------------------------------------------------------------ lenient reading


def test_unknown_vocabulary_is_kept_and_odd_values_never_crash(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        USER_URL,
        json={
            "insights": [
                {"id": 17, "insightType": "DaydreamingV2", "startedAtTime": "2025-01-15T10:00:00.5+02:00", "x": 1},
                "not an object",
                {"insightType": None, "durationInSeconds": "300", "startedAtTime": "yesterday", "version": 2},
                {"id": "a", "insightType": "SelfHarmOrSuicide", "durationInSeconds": 12.5},
            ],
            "session": "not an object",
            "total": "many",
        },
    )
    page = client.insights.user(USER)
    first, odd, safety = page.insights
    assert first.id == "17" and first.insight_type == "DaydreamingV2" and first.category == "unknown"
    assert first.started_at_time == datetime(2025, 1, 15, 8, 0, 0, 500000, tzinfo=UTC)
    assert first.raw["x"] == 1
    assert odd.id is None and odd.insight_type is None and odd.duration_in_seconds == 0
    assert odd.started_at_time is None and odd.version is None and odd.raw["durationInSeconds"] == "300"
    assert safety.category == "safety" and safety.duration_in_seconds == 12.5
    assert page.session is None and page.total is None and page.rows == 4


@pytest.mark.parametrize("number", ["Infinity", "NaN", "-1", "1e400"])
def test_non_finite_paging_numbers_are_ignored(api: responses.RequestsMock, client: CaliperClient, number: str):
    body = f'{{"insights": [{{"id": "x", "durationInSeconds": 5}}], "total": {number}, "limit": {number}}}'
    api.get(USER_URL, body=body, content_type="application/json")
    page = client.insights.user(USER)
    assert (page.total, page.limit, page.rows, page.has_more) == (None, 20, 1, False)


def test_overview_keeps_unknown_levels(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        OVERVIEW_URL,
        json={
            "summary": None,
            "trend": {"buckets": [{"levels": [{"level": "Teleporting", "durationInSeconds": 5}, 3]}, None]},
            "breakdown": {"levels": [{"level": "Teleporting", "subtypes": [{"insightType": "Blink"}]}]},
        },
    )
    week = client.insights.overview(
        USER,
        started_after=datetime(2025, 1, 1, tzinfo=UTC),
        started_before=datetime(2025, 1, 2, tzinfo=UTC),
        target_timezone="UTC",
    )
    assert week.summary.total_duration_in_seconds == 0 and week.summary.biggest_insight is None
    assert (
        week.trend[0].levels[0].level == "Teleporting"
        and len(week.trend) == 1
        and week.trend[0].started_at_time is None
    )
    assert week.breakdown[0].subtypes[0].insight_type == "Blink"
    assert week.breakdown[0].subtypes[0].duration_in_seconds == 0


def test_insight_categories():
    assert insight_category("Idling") == "waste" and insight_category("Game") == "waste"
    assert insight_category("UnauthorizedAppUse") == "proctoring"
    assert insight_category("WebcamNudity") == "safety"
    assert insight_category("Unheard") == insight_category(None) == "unknown"


def call_route(client: CaliperClient, route: str) -> Any:
    """Call one Insights route with valid arguments."""
    if route == "overview":
        return client.insights.overview(USER, **overview_kwargs())
    if route == "session":
        return client.insights.session(SESSION)
    return getattr(client.insights, route)(USER)


@pytest.mark.parametrize(
    ("url", "call", "body"),
    [
        (USER_URL, "user", {"data": []}),
        (USER_URL, "user", [1, 2]),
        (USER_URL, "user", {"insights": None}),
        (SESSIONS_URL, "sessions", {"insights": []}),
        (SESSION_URL, "session", "plain text"),
        (OVERVIEW_URL, "overview", {}),
        (OVERVIEW_URL, "overview", []),
    ],
    ids=["user-no-list", "user-array", "user-null", "sessions-wrong-key", "session-text", "overview-empty", "array"],
)
def test_unreadable_2xx_answers_raise_unexpected_response(
    api: responses.RequestsMock, client: CaliperClient, url: str, call: str, body: Any
):
    if isinstance(body, str):
        api.get(url, body=body, content_type="text/plain")
    else:
        api.get(url, json=body)
    with pytest.raises(UnexpectedResponseError) as err:
        call_route(client, call)
    assert err.value.status_code == 200 and err.value.body == body and err.value.request_id


# ------------------------------------------------------------------------------------------------ argument checks

AWARE = datetime(2025, 1, 15, tzinfo=UTC)
STAMP_0, STAMP_1 = "2025-01-15T00:00:00.000Z", "2025-01-16T00:00:00.000Z"
NAIVE = datetime(2025, 1, 15)
LATER = AWARE + timedelta(days=1)


def overview_kwargs(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"started_after": AWARE, "started_before": LATER, "target_timezone": "Europe/Paris"}
    kwargs.update(overrides)
    return kwargs


BAD_CALLS: list[Any] = [
    pytest.param("user", (USER,), {"limit": 0}, "limit", id="limit-0"),
    pytest.param("user", (USER,), {"limit": 101}, "limit", id="limit-101"),
    pytest.param("user", (USER,), {"limit": True}, "limit", id="limit-bool"),
    pytest.param("user", (USER,), {"limit": "20"}, "limit", id="limit-str"),
    pytest.param("user", (USER,), {"offset": -1}, "offset", id="offset-negative"),
    pytest.param("user", ("not-a-uuid",), {}, "user_id", id="user-id-not-uuid"),
    pytest.param("user", (12,), {}, "user_id", id="user-id-int"),
    pytest.param("user", (USER,), {"application_id": "app-uuid"}, "application_id", id="app-id-not-uuid"),
    pytest.param("user", (USER,), {"after": NAIVE}, "after", id="after-naive"),
    pytest.param("user", (USER,), {"before": "2025-01-15"}, "before", id="before-str"),
    pytest.param("user", (USER,), {"after": LATER, "before": AWARE}, "before", id="after-after-before"),
    pytest.param("user", (USER,), {"types": ["Nope"]}, "types[0]", id="type-unknown"),
    pytest.param("user", (USER,), {"types": []}, "types", id="types-empty"),
    pytest.param("user", (USER,), {"types": ["Idling,Game"]}, "types[0]", id="type-comma"),
    pytest.param("user", (USER,), {"types": [5]}, "types[0]", id="type-int"),
    pytest.param("user", (USER,), {"types": 5}, "types", id="types-not-iterable"),
    pytest.param("sessions", (USER,), {"limit": 101}, "limit", id="sessions-limit"),
    pytest.param("sessions", (USER,), {"offset": -5}, "offset", id="sessions-offset"),
    pytest.param("sessions", (USER,), {"is_proctored": "yes"}, "is_proctored", id="sessions-proctored-str"),
    pytest.param("sessions", (USER,), {"started_after": NAIVE}, "started_after", id="sessions-naive"),
    pytest.param(
        "sessions", (USER,), {"started_after": LATER, "started_before": AWARE}, "started_before", id="sessions-order"
    ),
    pytest.param("session", ("session-1",), {}, "session_id", id="session-id-not-uuid"),
    pytest.param("session", (SESSION,), {"limit": 0}, "limit", id="session-limit"),
    pytest.param("session", (SESSION,), {"is_proctored": 1}, "is_proctored", id="session-proctored-int"),
    pytest.param("session", (SESSION,), {"types": ["Daydreaming"]}, "types[0]", id="session-type"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone="Mars/Olympus"), "target_timezone", id="tz-bad"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone="+02:00"), "target_timezone", id="tz-offset"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone=""), "target_timezone", id="tz-empty"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone="America"), "target_timezone", id="tz-dir"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone="a" * 300), "target_timezone", id="tz-long"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone="../x"), "target_timezone", id="tz-path"),
    pytest.param("overview", (USER,), overview_kwargs(target_timezone=UTC), "target_timezone", id="tz-fixed"),
    pytest.param("overview", (USER,), overview_kwargs(started_after=NAIVE), "started_after", id="overview-naive"),
    pytest.param("overview", (USER,), overview_kwargs(started_after=None), "started_after", id="overview-missing"),
    pytest.param("overview", (USER,), overview_kwargs(started_before=AWARE), "started_before", id="overview-empty"),
    pytest.param("overview", (USER,), overview_kwargs(started_before=NAIVE), "started_before", id="overview-naive2"),
    pytest.param("overview", ("nope",), overview_kwargs(), "user_id", id="overview-user"),
    pytest.param("iter_user", (USER,), {"page_size": 0}, "page_size", id="iter-user-page-size"),
    pytest.param("iter_user", (USER,), {"types": ["Nope"]}, "types[0]", id="iter-user-type"),
    pytest.param("iter_sessions", (USER,), {"max_items": -1}, "max_items", id="iter-sessions-max"),
    pytest.param("iter_sessions", ("x",), {}, "user_id", id="iter-sessions-user"),
    pytest.param("iter_session", (SESSION,), {"page_size": 101}, "page_size", id="iter-session-page-size"),
    pytest.param("iter_session", (SESSION,), {"is_proctored": "no"}, "is_proctored", id="iter-session-proctored"),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "path"), BAD_CALLS)
def test_bad_arguments_raise_before_any_call(
    bare_api: responses.RequestsMock, client: CaliperClient, method: str, args: tuple[Any, ...], kwargs: Any, path: str
):
    with pytest.raises(CaliperValidationError) as err:
        getattr(client.insights, method)(*args, **kwargs)  # the iter_* methods check eagerly, before iterating
    assert [p.path for p in err.value.errors] == [path]
    assert isinstance(err.value, ValueError) and "nothing was sent" in str(err.value)
    assert len(bare_api.calls) == 0


def test_every_problem_is_reported_at_once(bare_api: responses.RequestsMock, client: CaliperClient):
    with pytest.raises(CaliperValidationError) as err:
        client.insights.user("x", limit=0, offset=-1, after=NAIVE, types=["Nope"])
    assert {p.path for p in err.value.errors} == {"user_id", "limit", "offset", "after", "types[0]"}
    assert "allow_unknown_types=True" in str(err.value)


# ------------------------------------------------------------------------------------------------ pagination


def insight(n: int) -> dict[str, Any]:
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "insightType": "Idling", "durationInSeconds": n}


def test_iter_user_walks_to_the_last_page(api: responses.RequestsMock, client: CaliperClient):
    for offset, rows in ((0, [0, 1]), (2, [2, 3]), (4, [4])):
        api.get(
            USER_URL,
            json={"insights": [insight(n) for n in rows], "offset": offset, "limit": 2, "total": 5},
            match=[q(type="Idling", limit=2, offset=offset)],
        )
    found = client.insights.iter_user(USER, types=["Idling"], page_size=2)
    first = next(found)
    assert first.duration_in_seconds == 0 and len(api.calls) == 2  # token + one page: lazy
    rest = list(found)
    assert [i.duration_in_seconds for i in [first, *rest]] == [0, 1, 2, 3, 4]
    assert len(api.calls) == 4  # no request past the last page


def test_iter_sessions_without_total_stops_on_a_short_page(api: responses.RequestsMock, client: CaliperClient):
    def session_row(n: int) -> dict[str, Any]:
        return {"id": f"00000000-0000-4000-8000-{n:012d}", "startedAtTime": "2025-01-15T09:00:00Z"}

    when = datetime(2025, 1, 15, tzinfo=UTC)
    for offset, rows in ((0, [0, 1, 2]), (3, [3])):
        api.get(
            SESSIONS_URL,
            json={"sessions": [session_row(n) for n in rows]},
            match=[q(startedAfter="2025-01-15T00:00:00.000Z", isProctored="false", limit=3, offset=offset)],
        )
    found = list(client.insights.iter_sessions(USER, started_after=when, is_proctored=False, page_size=3))
    assert [s.id for s in found] == [session_row(n)["id"] for n in range(4)]


def test_iter_sessions_follows_a_server_cap_on_the_page_size(api: responses.RequestsMock, client: CaliperClient):
    rows = [{"id": str(n)} for n in range(5)]
    api.get(SESSIONS_URL, json={"sessions": rows[:2], "limit": 2}, match=[q(limit=100, offset=0)])
    api.get(SESSIONS_URL, json={"sessions": rows[2:4], "limit": 2}, match=[q(limit=100, offset=2)])
    api.get(SESSIONS_URL, json={"sessions": rows[4:], "limit": 2}, match=[q(limit=100, offset=4)])
    assert [s.id for s in client.insights.iter_sessions(USER)] == ["0", "1", "2", "3", "4"]


def test_iter_session_honours_max_items_and_an_empty_page(api: responses.RequestsMock, client: CaliperClient):
    api.get(
        SESSION_URL,
        json={"insights": [insight(0), insight(1)], "total": 9},
        match=[q(isProctored="true", type="Idling", limit=2, offset=0)],
    )
    api.get(
        SESSION_URL, json={"insights": [], "total": 9}, match=[q(isProctored="true", type="Idling", limit=2, offset=2)]
    )
    assert len(list(client.insights.iter_session(SESSION, is_proctored=True, types="Idling", page_size=2))) == 2
    api.get(SESSION_URL, json={"insights": [insight(0), insight(1)], "total": 9}, match=[q(limit=2, offset=0)])
    assert [i.duration_in_seconds for i in client.insights.iter_session(SESSION, page_size=2, max_items=1)] == [0]


def test_iter_user_with_max_items_zero_makes_no_call(bare_api: responses.RequestsMock, client: CaliperClient):
    assert list(client.insights.iter_user(USER, max_items=0)) == []
    assert len(bare_api.calls) == 0


def test_iter_items_are_typed(api: responses.RequestsMock, client: CaliperClient):
    api.get(USER_URL, json={"insights": [insight(1)], "total": 1})
    assert all(isinstance(i, Insight) for i in client.insights.iter_user(USER))


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "error", "cls"),
    [
        (400, "Bad request", BadRequestError),
        (403, "Forbidden", ForbiddenError),
        (404, "Not found", NotFoundError),
    ],
)
@pytest.mark.parametrize("route", ["user", "sessions", "session", "overview"])
def test_platform_errors_map_to_the_error_tree(
    api: responses.RequestsMock, client: CaliperClient, status: int, error: str, cls: type[ApiError], route: str
):
    body = {"error": error, "message": f"{route} refused"}
    url = {"user": USER_URL, "sessions": SESSIONS_URL, "session": SESSION_URL, "overview": OVERVIEW_URL}[route]
    api.get(url, status=status, json=body)
    with pytest.raises(cls) as err:
        call_route(client, route)
    assert err.value.status_code == status and err.value.body == body
    assert err.value.message == f"{error}: {route} refused" and err.value.attempts == 1
    assert len(api.calls) == 2  # token + one request: 4xx is never retried


def test_documented_400_body(api: responses.RequestsMock, client: CaliperClient):
    api.get(USER_URL, status=400, json=load(RESP / "insights-error-400.json"))
    with pytest.raises(BadRequestError) as err:
        client.insights.user(USER)
    assert "Invalid UUID format for userId" in str(err.value)


def test_500_is_retried_then_raised(api: responses.RequestsMock, client: CaliperClient):
    for _ in range(4):
        api.get(SESSIONS_URL, status=500, json={"error": "Internal server error", "message": "boom"})
    with pytest.raises(ServerError) as err:
        client.insights.sessions(USER)
    assert err.value.status_code == 500 and err.value.attempts == 4 and "boom" in err.value.message


def test_500_then_success(api: responses.RequestsMock, client: CaliperClient):
    api.get(SESSIONS_URL, status=500, json={"error": "Internal server error", "message": "boom"})
    api.get(SESSIONS_URL, json={"sessions": []})
    assert client.insights.sessions(USER).sessions == []


def test_401_refreshes_once_then_raises(api: responses.RequestsMock, client: CaliperClient):
    body = {"error": "Unauthorized", "message": "Token expired"}
    api.get(USER_URL, status=401, json=body)
    token_stub(api, "p-2")
    api.get(USER_URL, status=401, json=body, match=[matchers.header_matcher({"Authorization": "Bearer p-2"})])
    with pytest.raises(AuthenticationError) as err:
        client.insights.user(USER)
    assert err.value.status_code == 401 and err.value.body == body


def test_401_then_success_with_a_fresh_token(api: responses.RequestsMock, client: CaliperClient):
    api.get(USER_URL, status=401, json={"error": "Unauthorized", "message": "revoked"})
    token_stub(api, "p-2")
    api.get(USER_URL, json={"insights": []}, match=[matchers.header_matcher({"Authorization": "Bearer p-2"})])
    assert client.insights.user(USER).insights == []


# ------------------------------------------------------------------------------------------------ auth adapter


def test_insights_and_applications_share_one_token_cache_with_their_own_scopes(
    api: responses.RequestsMock, client: CaliperClient
):
    api.get(USER_URL, json={"insights": []}, match=[BEARER])
    api.get(SESSIONS_URL, json={"sessions": []}, match=[BEARER])  # the cached token: no second token request
    token_stub(api, "apps-1", scope=APPLICATIONS_SCOPE)
    api.get(
        f"{PLATFORM}/applications/1.0",
        json={"applications": []},
        match=[matchers.header_matcher({"Authorization": "Bearer apps-1"})],
    )
    api.get(OVERVIEW_URL, json={"summary": {}}, match=[BEARER])
    client.insights.user(USER)
    client.insights.sessions(USER)
    client.applications.list()
    client.insights.overview(USER, **overview_kwargs())
    token_calls = [c for c in api.calls if c.request.url == PTOKEN]
    assert len(token_calls) == 2
    assert all(c.request.headers["Authorization"].startswith("Basic ") for c in token_calls)  # client_secret_basic


def test_platform_credentials_override_the_caliper_ones(bare_api: responses.RequestsMock):
    bare_api.post(
        PTOKEN,
        json={"access_token": "own", "expires_in": 3600},
        match=[matchers.header_matcher({"Authorization": "Basic b3duLWlkOm93bi1zZWNyZXQ="})],  # own-id:own-secret
    )
    bare_api.get(USER_URL, json={"insights": []}, match=[matchers.header_matcher({"Authorization": "Bearer own"})])
    with make_client(platform_client_id="own-id", platform_client_secret="own-secret") as c:
        c.insights.user(USER)
