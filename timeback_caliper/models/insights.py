"""Insights and Applications payloads (platform back end, contract §5), read leniently from the server.

Readers never reject a whole answer because one field is odd: vocabularies stay open (an insight type or
overview level this client does not know is kept as its string), timestamps in any RFC 3339 form become aware
UTC datetimes, a missing duration or percentage reads as 0 (``raw`` keeps what the server really said), and a
row that is not an object is skipped. Only an answer without its list or object raises ``ValueError``, which the
resource turns into :class:`~timeback_caliper.errors.UnexpectedResponseError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

import attrs

from .api import as_id, parse_timestamp

__all__ = [
    "INSIGHT_CATEGORIES",
    "KNOWN_INSIGHT_TYPES",
    "KNOWN_OVERVIEW_LEVELS",
    "Application",
    "ApplicationsPage",
    "BiggestInsight",
    "BreakdownLevel",
    "Insight",
    "InsightSession",
    "InsightType",
    "InsightsPage",
    "LevelDuration",
    "Overview",
    "OverviewLevel",
    "OverviewSummary",
    "ProctoredResult",
    "SessionSummary",
    "SessionsPage",
    "SubtypeDuration",
    "TrendBucket",
    "insight_category",
]


class InsightType(str, Enum):
    """Insight types the contract names (§5.4). The wire may carry others: fields stay plain ``str``."""

    # Waste
    AWAY_FROM_SEAT = "AwayFromSeat"
    EYES_OFF_SCREEN = "EyesOffScreen"
    IDLING = "Idling"
    NON_LEARNING_CONTENT = "NonLearningContent"
    SOCIALIZING = "Socializing"
    IGNORING_HELP = "IgnoringHelp"
    SKIP_ASSESSMENT = "SkipAssessment"
    ABANDONED_ASSESSMENT = "AbandonedAssessment"
    TOPIC_SHOPPING = "TopicShopping"
    GAME = "Game"
    # Proctoring
    UNAUTHORIZED_APP_USE = "UnauthorizedAppUse"
    HELP_FROM_ANOTHER_PERSON = "HelpFromAnotherPerson"
    # Safety
    BULLYING_OR_HARASSMENT = "BullyingOrHarassment"
    EMBARRASSING_OR_DEFAMING = "EmbarrassingOrDefaming"
    MENTAL_HEALTH_DISTRESS = "MentalHealthDistress"
    PORNOGRAPHY_OR_SEXUAL_CONTENT = "PornographyOrSexualContent"
    SELF_HARM_OR_SUICIDE = "SelfHarmOrSuicide"
    SUBSTANCE_ABUSE = "SubstanceAbuse"
    VIOLENCE_OR_ABUSE = "ViolenceOrAbuse"
    WEBCAM_NUDITY = "WebcamNudity"


class OverviewLevel(str, Enum):
    """Overview levels the contract names (§5.4); others are kept as strings."""

    STUDENT_NOT_PRESENT = "StudentNotPresent"
    ENVIRONMENTAL_DISTRACTIONS = "EnvironmentalDistractions"
    ON_DEVICE_DISTRACTIONS = "OnDeviceDistractions"
    LEARNING_APP_BEST_PRACTICES = "LearningAppBestPractices"


class ProctoredResult(str, Enum):
    """Proctoring results seen so far; only ``PASSED`` is documented, so the field stays an open string."""

    PASSED = "PASSED"


_IT = InsightType
_GROUPS: dict[str, tuple[InsightType, ...]] = {
    "waste": (_IT.AWAY_FROM_SEAT, _IT.EYES_OFF_SCREEN, _IT.IDLING, _IT.NON_LEARNING_CONTENT, _IT.SOCIALIZING)
    + (_IT.IGNORING_HELP, _IT.SKIP_ASSESSMENT, _IT.ABANDONED_ASSESSMENT, _IT.TOPIC_SHOPPING)
    # "Game" is in no documented list; the overview example files it under OnDeviceDistractions, a waste level.
    + (_IT.GAME,),
    "proctoring": (_IT.UNAUTHORIZED_APP_USE, _IT.HELP_FROM_ANOTHER_PERSON),
    "safety": (_IT.BULLYING_OR_HARASSMENT, _IT.EMBARRASSING_OR_DEFAMING, _IT.MENTAL_HEALTH_DISTRESS)
    + (_IT.PORNOGRAPHY_OR_SEXUAL_CONTENT, _IT.SELF_HARM_OR_SUICIDE, _IT.SUBSTANCE_ABUSE, _IT.VIOLENCE_OR_ABUSE)
    + (_IT.WEBCAM_NUDITY,),
}
INSIGHT_CATEGORIES: Mapping[str, str] = {t.value: group for group, members in _GROUPS.items() for t in members}
"""Known insight type -> ``waste``, ``proctoring`` or ``safety``."""
KNOWN_INSIGHT_TYPES = frozenset(t.value for t in InsightType)
KNOWN_OVERVIEW_LEVELS = frozenset(level.value for level in OverviewLevel)


def insight_category(insight_type: str | None) -> str:
    """``waste``, ``proctoring``, ``safety``, or ``unknown`` for a type this client does not know."""
    return INSIGHT_CATEGORIES.get(insight_type or "", "unknown")


# --- lenient field readers -------------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _num(value: Any) -> float:
    """A JSON number as given (an int stays an int); 0 when absent, null or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return value


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None  # json.loads reads NaN and Infinity, which int() cannot take
    return int(value)


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a JSON array (other rows skipped); [] when it is not an array."""
    return [row for row in value if isinstance(row, Mapping)] if isinstance(value, list) else []


def _rows(body: Any, key: str) -> list[Any]:
    if not isinstance(body, Mapping):
        raise ValueError(f"expected a JSON object with {key!r}, got {type(body).__name__}")
    rows = body.get(key)
    if not isinstance(rows, list):
        raise ValueError(f"the answer has no {key!r} list")
    return rows


# --- Insights ----------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class SessionSummary:
    """Totals of one learning session (the ``session`` object of an insights answer)."""

    started_at_time: datetime | None = None
    ended_at_time: datetime | None = None
    duration_in_seconds: float = 0
    waste_duration_in_seconds: float = 0
    waste_percentage: float = 0
    """Share of the session that was waste, 0-100."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> SessionSummary:
        """Read a SessionSummary object."""
        g = value.get
        return cls(
            started_at_time=parse_timestamp(g("startedAtTime")),
            ended_at_time=parse_timestamp(g("endedAtTime")),
            duration_in_seconds=_num(g("durationInSeconds")),
            waste_duration_in_seconds=_num(g("wasteDurationInSeconds")),
            waste_percentage=_num(g("wastePercentage")),
            raw=dict(value),
        )


@attrs.frozen(kw_only=True, slots=False)
class Insight:
    """One derived insight: what happened, when, and for how long."""

    id: str | None
    """The insight's id (a UUID string)."""
    insight_type: str | None
    """An :class:`InsightType` value, or a newer type kept as its wire string. Wire name: ``insightType``."""
    reason: str | None = None
    """The server's explanation, in words."""
    started_at_time: datetime | None = None
    ended_at_time: datetime | None = None
    duration_in_seconds: float = 0
    version: str | None = None
    """The model version that produced it (``v1``)."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def category(self) -> str:
        """``waste``, ``proctoring``, ``safety`` or ``unknown``."""
        return insight_category(self.insight_type)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> Insight:
        """Read an Insight object."""
        g = value.get
        return cls(
            id=as_id(g("id")),
            insight_type=_str(g("insightType")),
            reason=_str(g("reason")),
            started_at_time=parse_timestamp(g("startedAtTime")),
            ended_at_time=parse_timestamp(g("endedAtTime")),
            duration_in_seconds=_num(g("durationInSeconds")),
            version=_str(g("version")),
            raw=dict(value),
        )


@attrs.frozen(kw_only=True, slots=False)
class InsightSession:
    """One learning session of a user (``GET /insights/1.0/users/{userId}/sessions``)."""

    id: str | None
    """The session id (a UUID string): pass it to ``client.insights.session()``."""
    application_id: str | None = None
    """The app's ``sourcedId`` (see ``client.applications.lookup()``)."""
    started_at_time: datetime | None = None
    ended_at_time: datetime | None = None
    duration_in_seconds: float = 0
    waste_duration_in_seconds: float = 0
    waste_percentage: float = 0
    is_proctored: bool | None = None
    proctored_result: str | None = None
    """``PASSED`` (:class:`ProctoredResult`) or another wire string."""
    recording_started_at_time: datetime | None = None
    recording_ended_at_time: datetime | None = None
    recording_s3_key: str | None = None
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> InsightSession:
        """Read a Session object."""
        g = value.get
        return cls(
            id=as_id(g("id")),
            application_id=as_id(g("applicationId")),
            started_at_time=parse_timestamp(g("startedAtTime")),
            ended_at_time=parse_timestamp(g("endedAtTime")),
            duration_in_seconds=_num(g("durationInSeconds")),
            waste_duration_in_seconds=_num(g("wasteDurationInSeconds")),
            waste_percentage=_num(g("wastePercentage")),
            is_proctored=_bool(g("isProctored")),
            proctored_result=_str(g("proctoredResult")),
            recording_started_at_time=parse_timestamp(g("recordingStartedAtTime")),
            recording_ended_at_time=parse_timestamp(g("recordingEndedAtTime")),
            recording_s3_key=_str(g("recordingS3Key")),
            raw=dict(value),
        )


@attrs.frozen(kw_only=True, slots=False)
class _Paged:
    """Paging facts shared by the ``{..., "offset", "limit", "total"}`` answers."""

    offset: int
    """The offset this page was asked for."""
    limit: int
    """The page size in effect: the one asked for, or the server's smaller echo of it."""
    total: int | None = None
    """Rows matching in all, when the server said."""
    rows: int = 0
    """Rows the server returned (rows that were not objects included)."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def next_offset(self) -> int:
        """The offset of the page after this one."""
        return self.offset + self.rows

    @property
    def has_more(self) -> bool:
        """Whether another page may follow: ``total`` decides when known, else a full page does."""
        if self.rows == 0:
            return False
        if self.total is not None:
            return self.offset + self.rows < self.total
        return self.rows >= self.limit


def _paging(body: Mapping[str, Any], rows: list[Any], offset: int, limit: int) -> dict[str, Any]:
    echoed = _count(body.get("limit"))
    if echoed is not None and 1 <= echoed < limit:  # a server cap: a page of that size is still a full page
        limit = echoed
    return {"offset": offset, "limit": limit, "total": _count(body.get("total")), "rows": len(rows), "raw": body}


@attrs.frozen(kw_only=True, slots=False)
class InsightsPage(_Paged):
    """One page of insights for a user or a session (``GET /insights/1.0/users/{id}``, ``/sessions/{id}``)."""

    insights: list[Insight]
    session: SessionSummary | None = None
    """The session's totals (the session route; the user route may send it too)."""

    @classmethod
    def from_wire(cls, body: Any, *, offset: int, limit: int) -> InsightsPage:
        """Read the answer; raises ValueError when it has no ``insights`` list."""
        rows = _rows(body, "insights")
        session = body.get("session")
        return cls(
            insights=[Insight.from_wire(r) for r in _objects(rows)],
            session=SessionSummary.from_wire(session) if isinstance(session, Mapping) else None,
            **_paging(body, rows, offset, limit),
        )


@attrs.frozen(kw_only=True, slots=False)
class SessionsPage(_Paged):
    """One page of a user's sessions."""

    sessions: list[InsightSession]

    @classmethod
    def from_wire(cls, body: Any, *, offset: int, limit: int) -> SessionsPage:
        """Read the answer; raises ValueError when it has no ``sessions`` list."""
        rows = _rows(body, "sessions")
        return cls(sessions=[InsightSession.from_wire(r) for r in _objects(rows)], **_paging(body, rows, offset, limit))


# --- Overview ----------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class BiggestInsight:
    """The overview level that wasted the most time."""

    level: str | None
    """An :class:`OverviewLevel` value or a newer wire string."""
    duration_in_seconds: float = 0
    waste_percentage: float = 0

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> BiggestInsight:
        """Read ``summary.biggestInsight``."""
        g = value.get
        return cls(
            level=_str(g("level")),
            duration_in_seconds=_num(g("durationInSeconds")),
            waste_percentage=_num(g("wastePercentage")),
        )


@attrs.frozen(kw_only=True, slots=False)
class OverviewSummary:
    """Totals over the whole overview period."""

    total_duration_in_seconds: float = 0
    total_waste_duration_in_seconds: float = 0
    waste_percentage: float = 0
    biggest_insight: BiggestInsight | None = None
    """None when the server sends none (e.g. no waste in the period)."""

    @classmethod
    def from_wire(cls, value: Any) -> OverviewSummary:
        """Read ``summary`` (an empty summary when it is missing)."""
        if not isinstance(value, Mapping):
            return cls()
        g = value.get
        biggest = g("biggestInsight")
        return cls(
            total_duration_in_seconds=_num(g("totalDurationInSeconds")),
            total_waste_duration_in_seconds=_num(g("totalWasteDurationInSeconds")),
            waste_percentage=_num(g("wastePercentage")),
            biggest_insight=BiggestInsight.from_wire(biggest) if isinstance(biggest, Mapping) else None,
        )


@attrs.frozen(kw_only=True, slots=False)
class LevelDuration:
    """Waste time of one level inside a trend bucket."""

    level: str | None
    duration_in_seconds: float = 0


@attrs.frozen(kw_only=True, slots=False)
class TrendBucket:
    """One local day (in the overview's ``target_timezone``) of the trend."""

    started_at_time: datetime | None = None
    ended_at_time: datetime | None = None
    total_duration_in_seconds: float = 0
    waste_duration_in_seconds: float = 0
    waste_percentage: float = 0
    levels: list[LevelDuration] = attrs.Factory(list)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> TrendBucket:
        """Read one ``trend.buckets[]`` item."""
        g = value.get
        return cls(
            started_at_time=parse_timestamp(g("startedAtTime")),
            ended_at_time=parse_timestamp(g("endedAtTime")),
            total_duration_in_seconds=_num(g("totalDurationInSeconds")),
            waste_duration_in_seconds=_num(g("wasteDurationInSeconds")),
            waste_percentage=_num(g("wastePercentage")),
            levels=[
                LevelDuration(level=_str(v.get("level")), duration_in_seconds=_num(v.get("durationInSeconds")))
                for v in _objects(g("levels"))
            ],
        )


@attrs.frozen(kw_only=True, slots=False)
class SubtypeDuration:
    """Time of one insight type inside a breakdown level."""

    insight_type: str | None
    """An :class:`InsightType` value or a newer wire string (the documented example uses ``Game``)."""
    duration_in_seconds: float = 0


@attrs.frozen(kw_only=True, slots=False)
class BreakdownLevel:
    """One level of the breakdown, with its insight types."""

    level: str | None
    duration_in_seconds: float = 0
    waste_percentage: float = 0
    subtypes: list[SubtypeDuration] = attrs.Factory(list)

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> BreakdownLevel:
        """Read one ``breakdown.levels[]`` item."""
        g = value.get
        return cls(
            level=_str(g("level")),
            duration_in_seconds=_num(g("durationInSeconds")),
            waste_percentage=_num(g("wastePercentage")),
            subtypes=[
                SubtypeDuration(
                    insight_type=_str(s.get("insightType")), duration_in_seconds=_num(s.get("durationInSeconds"))
                )
                for s in _objects(g("subtypes"))
            ],
        )


@attrs.frozen(kw_only=True, slots=False)
class Overview:
    """Trend and breakdown of a user's time over a period (``GET /insights/1.0/users/{userId}/overview``)."""

    summary: OverviewSummary
    trend: list[TrendBucket]
    """One bucket per local day, oldest first as sent. Wire: ``trend.buckets``."""
    breakdown: list[BreakdownLevel]
    """Waste per level, with its insight types. Wire: ``breakdown.levels``."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def from_wire(cls, body: Any) -> Overview:
        """Read the answer; raises ValueError when it is not an object with a summary, trend or breakdown."""
        if not isinstance(body, Mapping) or not any(k in body for k in ("summary", "trend", "breakdown")):
            raise ValueError("the answer is not an overview object (no summary, trend or breakdown)")
        trend, breakdown = body.get("trend"), body.get("breakdown")
        buckets = trend.get("buckets") if isinstance(trend, Mapping) else None
        levels = breakdown.get("levels") if isinstance(breakdown, Mapping) else None
        return cls(
            summary=OverviewSummary.from_wire(body.get("summary")),
            trend=[TrendBucket.from_wire(b) for b in _objects(buckets)],
            breakdown=[BreakdownLevel.from_wire(v) for v in _objects(levels)],
            raw=body,
        )


# --- Applications ------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class Application:
    """An application of the catalogue (``GET /applications/1.0``)."""

    sourced_id: str | None
    """The application's id, the ``applicationId`` of the Insights routes. Wire name: ``sourcedId``."""
    name: str | None = None
    description: str | None = None
    logo_url: str | None = None
    application_type: str | None = None
    """An open string (``learning_app`` in the documented example)."""
    waste_meter: str | None = None
    """An open string (``on`` / ``off`` in the documented example)."""
    proctoring_mode: str | None = None
    """An open string (``off`` in the documented example)."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def application_id(self) -> str | None:
        """The id the Insights routes call ``applicationId`` (the ``sourcedId``)."""
        return self.sourced_id

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> Application:
        """Read an application object (a ``fields=`` selection leaves the others None)."""
        g = value.get
        return cls(
            sourced_id=as_id(g("sourcedId")),
            name=_str(g("name")),
            description=_str(g("description")),
            logo_url=_str(g("logoUrl")),
            application_type=_str(g("applicationType")),
            waste_meter=_str(g("wasteMeter")),
            proctoring_mode=_str(g("proctoringMode")),
            raw=dict(value),
        )


@attrs.frozen(kw_only=True, slots=False)
class ApplicationsPage(_Paged):
    """One page of the application catalogue."""

    applications: list[Application]

    @classmethod
    def from_wire(cls, body: Any, *, offset: int, limit: int) -> ApplicationsPage:
        """Read the answer; raises ValueError when it has no ``applications`` list."""
        rows = _rows(body, "applications")
        return cls(
            applications=[Application.from_wire(r) for r in _objects(rows)], **_paging(body, rows, offset, limit)
        )
