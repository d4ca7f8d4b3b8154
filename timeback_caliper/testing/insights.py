"""Insights derived deterministically from stored Timeback events: users, sessions, waste insights, overviews.

The rules (documented in ``docs/testing.md``):

* **User id.** The last path segment of ``actor.id`` when it is a UUID (a OneRoster user URL); otherwise
  ``uuid5(NAMESPACE_URL, "mailto:" + email.lower())``; otherwise ``uuid5(NAMESPACE_URL, actor.id)``.
* **Application id.** The ``sourcedId`` of the catalogue application whose name equals ``object.app.name``
  (case-insensitive); else the last segment of ``object.app.id`` when it is a UUID; else
  ``uuid5(NAMESPACE_URL, "timeback-app:" + (app.id or app.name))``.
* **Windows.** A TimeSpentEvent covers ``[min(startDate), max(endDate)]`` of its items, or, without dates,
  the sum of its item values ending at ``eventTime``. An ActivityEvent is a point at ``eventTime``.
* **Sessions.** One user's windows in one application, sorted, merged while the gap between them is at most
  ``session_gap`` seconds. Duration = last end - first start; waste = the sum of ``waste`` and ``inactive``
  values; percentage = waste / duration, rounded half up, at most 100. Never proctored.
* **Insights.** One per ``inactive`` item (``Idling``) and per ``waste`` item (its ``subType`` when it names an
  insight type, else a small alias table, else ``NonLearningContent``).
* Repeated event ids (duplicates) count once. Ids are ``uuid5`` of stable inputs, so answers are reproducible.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from ._wire import is_uuid, iso_s, parse_when, to_ms

__all__ = [
    "LEVELS",
    "LEVEL_OF",
    "WASTE_TYPES",
    "Insight",
    "Session",
    "application_id_for",
    "overview",
    "sessions_from",
    "user_id_for",
]

NAMESPACE = uuid.NAMESPACE_URL
WASTE_TYPES = (
    "AwayFromSeat",
    "EyesOffScreen",
    "Idling",
    "NonLearningContent",
    "Socializing",
    "IgnoringHelp",
    "SkipAssessment",
    "AbandonedAssessment",
    "TopicShopping",
)
LEVELS = ("StudentNotPresent", "EnvironmentalDistractions", "OnDeviceDistractions", "LearningAppBestPractices")
LEVEL_OF = {
    "AwayFromSeat": "StudentNotPresent",
    "Idling": "StudentNotPresent",
    "EyesOffScreen": "EnvironmentalDistractions",
    "Socializing": "EnvironmentalDistractions",
    "NonLearningContent": "OnDeviceDistractions",
    "Game": "OnDeviceDistractions",
    "IgnoringHelp": "LearningAppBestPractices",
    "SkipAssessment": "LearningAppBestPractices",
    "AbandonedAssessment": "LearningAppBestPractices",
    "TopicShopping": "LearningAppBestPractices",
}
"""Overview level of each insight type (anything else counts as ``OnDeviceDistractions``)."""
_ALIASES = {
    "eating": "AwayFromSeat",
    "break": "AwayFromSeat",
    "away": "AwayFromSeat",
    "bathroom": "AwayFromSeat",
    "game": "Game",
    "games": "Game",
    "gaming": "Game",
    "video": "NonLearningContent",
    "youtube": "NonLearningContent",
    "chat": "Socializing",
    "talking": "Socializing",
    "phone": "EyesOffScreen",
    "idle": "Idling",
}
_BY_KEY = {t.lower(): t for t in (*WASTE_TYPES, "Game")}
_REASONS = {
    "Idling": "No activity detected for extended period",
    "AwayFromSeat": "Student away from the learning app",
    "Game": "Playing games instead of learning",
}


def _uuid5(text: str) -> str:
    return str(uuid.uuid5(NAMESPACE, text))


def _last_uuid(iri: Any) -> str | None:
    if not isinstance(iri, str) or not iri:
        return None
    last = iri.rstrip("/").rsplit("/", 1)[-1]
    return last.lower() if is_uuid(last) else None


def user_id_for(actor: Any) -> str | None:
    """The Insights user id of an event's actor (see the module docs); None without an id or e-mail."""
    ident = actor if isinstance(actor, str) else actor.get("id") if isinstance(actor, dict) else None
    email = actor.get("email") if isinstance(actor, dict) else None
    found = _last_uuid(ident)
    if found:
        return found
    if isinstance(email, str) and email.strip():
        return _uuid5("mailto:" + email.strip().lower())
    if isinstance(ident, str) and ident:
        return _uuid5(ident)
    return None


def application_id_for(app: Any, catalogue: Mapping[str, str]) -> str:
    """The ``applicationId`` of an ``object.app`` (``catalogue``: lower-cased name -> sourcedId)."""
    name = app.get("name") if isinstance(app, dict) else None
    ident = app.get("id") if isinstance(app, dict) else None
    if isinstance(name, str) and name.lower() in catalogue:
        return catalogue[name.lower()]
    found = _last_uuid(ident)
    if found:
        return found
    key = ident if isinstance(ident, str) and ident else name if isinstance(name, str) else "unknown"
    return _uuid5("timeback-app:" + key)


def _pct(part: float, whole: float) -> int:
    if whole <= 0:
        return 0
    return min(100, math.floor(100 * part / whole + 0.5))


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return max(0.0, float(value))


def insight_type_for(sub_type: Any) -> str:
    """The insight type of a ``waste`` item's ``subType``."""
    if not isinstance(sub_type, str):
        return "NonLearningContent"
    key = sub_type.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return _BY_KEY.get(key) or _ALIASES.get(key) or "NonLearningContent"


@attrs.frozen(kw_only=True)
class Insight:
    """One waste insight."""

    id: str
    insight_type: str
    reason: str
    start: datetime
    end: datetime
    duration: int

    @property
    def level(self) -> str:
        """Its overview level."""
        return LEVEL_OF.get(self.insight_type, "OnDeviceDistractions")

    def wire(self) -> dict[str, Any]:
        """The Insight object of the Insights routes."""
        return {
            "id": self.id,
            "insightType": self.insight_type,
            "reason": self.reason,
            "startedAtTime": iso_s(self.start),
            "endedAtTime": iso_s(self.end),
            "durationInSeconds": self.duration,
            "version": "v1",
        }


@attrs.frozen(kw_only=True)
class Session:
    """One learning session of a user in an application."""

    id: str
    user_id: str
    application_id: str
    start: datetime
    end: datetime
    waste: int
    insights: tuple[Insight, ...]

    @property
    def duration(self) -> int:
        """Seconds from the first start to the last end."""
        return max(0, round((self.end - self.start).total_seconds()))

    @property
    def waste_percentage(self) -> int:
        """Waste as a whole percentage of the duration (at most 100)."""
        return _pct(self.waste, self.duration)

    def summary(self) -> dict[str, Any]:
        """The SessionSummary object (``session`` of the insight routes)."""
        return {
            "startedAtTime": iso_s(self.start),
            "endedAtTime": iso_s(self.end),
            "durationInSeconds": self.duration,
            "wasteDurationInSeconds": self.waste,
            "wastePercentage": self.waste_percentage,
        }

    def wire(self) -> dict[str, Any]:
        """The Session object of ``/users/{userId}/sessions``."""
        return {
            "id": self.id,
            "applicationId": self.application_id,
            **self.summary(),
            "isProctored": False,
            "proctoredResult": None,
            "recordingStartedAtTime": None,
            "recordingEndedAtTime": None,
            "recordingS3Key": None,
        }


@attrs.frozen
class _Window:
    user_id: str
    app_id: str
    start: datetime
    end: datetime
    waste: float
    insights: tuple[Insight, ...]
    key: str


def _window(record: Mapping[str, Any], catalogue: Mapping[str, str]) -> _Window | None:
    user = user_id_for(record.get("actor"))
    when = parse_when(record.get("eventTime"))
    obj = record.get("object")
    if user is None or when is None or not isinstance(obj, dict):
        return None
    app_id = application_id_for(obj.get("app"), catalogue)
    ext = str(record.get("externalId"))
    if record.get("type") != "TimeSpentEvent":
        return _Window(user, app_id, when, when, 0.0, (), ext)
    generated = record.get("generated")
    items = generated.get("items") if isinstance(generated, dict) else None
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    total = sum(_seconds(i.get("value")) for i in items)
    starts = [t for t in (parse_when(i.get("startDate")) for i in items) if t is not None]
    ends = [t for t in (parse_when(i.get("endDate")) for i in items) if t is not None]
    start = min(starts + ends) if starts else when - timedelta(seconds=total)
    end = max(starts + ends) if ends else when
    start, end = min(start, end), max(start, end)
    insights, waste = [], 0.0
    for n, item in enumerate(items):
        kind = item.get("type")
        if kind not in ("waste", "inactive"):
            continue
        value = _seconds(item.get("value"))
        waste += value
        itype = "Idling" if kind == "inactive" else insight_type_for(item.get("subType"))
        i_end = parse_when(item.get("endDate")) or end
        i_start = parse_when(item.get("startDate")) or i_end - timedelta(seconds=value)
        label = f" ({item['subType']})" if item.get("subType") else ""
        reason = _REASONS.get(itype, f"Time reported as {kind}{label}")
        insights.append(
            Insight(
                id=_uuid5(f"insight|{ext}|{n}"),
                insight_type=itype,
                reason=reason,
                start=min(i_start, i_end),
                end=max(i_start, i_end),
                duration=round(value),
            )
        )
    return _Window(user, app_id, start, end, waste, tuple(insights), ext)


def sessions_from(
    records: Iterable[Mapping[str, Any]], catalogue: Mapping[str, str], *, session_gap: float = 600.0
) -> list[Session]:
    """Every session in ``records`` (stored Timeback events), newest start first."""
    seen: set[str] = set()
    groups: dict[tuple[str, str], list[_Window]] = {}
    for record in records:
        ext = str(record.get("externalId"))
        if ext in seen:
            continue  # a duplicate copy counts once
        seen.add(ext)
        win = _window(record, catalogue)
        if win is not None:
            groups.setdefault((win.user_id, win.app_id), []).append(win)
    sessions: list[Session] = []
    gap = timedelta(seconds=session_gap)
    for (user, app), wins in groups.items():
        wins.sort(key=lambda w: (w.start, w.end, w.key))
        run = [wins[0]]
        end = wins[0].end
        for win in wins[1:]:
            if win.start - end > gap:
                sessions.append(_session(user, app, run))
                run, end = [], win.end
            run.append(win)
            end = max(end, win.end)
        sessions.append(_session(user, app, run))
    sessions.sort(key=lambda s: (s.start, s.id), reverse=True)
    return sessions


def _session(user: str, app: str, run: list[_Window]) -> Session:
    start = min(w.start for w in run)
    end = max(w.end for w in run)
    insights = sorted((i for w in run for i in w.insights), key=lambda i: (i.start, i.id), reverse=True)
    return Session(
        id=_uuid5(f"session|{user}|{app}|{to_ms(start)}"),
        user_id=user,
        application_id=app,
        start=start,
        end=end,
        waste=round(sum(w.waste for w in run)),
        insights=tuple(insights),
    )


def _midnight(day: date, zone: ZoneInfo | timezone) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def overview(
    sessions: Iterable[Session], started_after: datetime, started_before: datetime, zone: ZoneInfo | timezone
) -> dict[str, Any]:
    """The overview of the sessions starting in ``[started_after, started_before)``: local-day buckets in ``zone``."""
    chosen = [s for s in sessions if started_after <= s.start < started_before]
    first = started_after.astimezone(zone).date()
    last = (started_before - timedelta(microseconds=1)).astimezone(zone).date()
    buckets = []
    day = first
    while day <= last:
        lo, hi = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
        mine = [s for s in chosen if s.start.astimezone(zone).date() == day]
        total = sum(s.duration for s in mine)
        waste = sum(s.waste for s in mine)
        levels = _levels(mine)
        buckets.append(
            {
                "startedAtTime": iso_s(lo),
                "endedAtTime": iso_s(hi),
                "totalDurationInSeconds": total,
                "wasteDurationInSeconds": waste,
                "wastePercentage": _pct(waste, total),
                "levels": [{"level": lv, "durationInSeconds": d} for lv, (d, _) in levels.items()],
            }
        )
        day += timedelta(days=1)
    total = sum(s.duration for s in chosen)
    waste = sum(s.waste for s in chosen)
    levels = _levels(chosen)
    ranked = sorted(levels.items(), key=lambda kv: (-kv[1][0], LEVELS.index(kv[0]) if kv[0] in LEVELS else 99))
    biggest = None
    if ranked:
        lv, (d, _) = ranked[0]
        biggest = {"level": lv, "durationInSeconds": d, "wastePercentage": _pct(d, total)}
    breakdown = [
        {
            "level": lv,
            "durationInSeconds": d,
            "wastePercentage": _pct(d, total),
            "subtypes": [
                {"insightType": t, "durationInSeconds": n}
                for t, n in sorted(subtypes.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }
        for lv, (d, subtypes) in ranked
    ]
    return {
        "summary": {
            "totalDurationInSeconds": total,
            "totalWasteDurationInSeconds": waste,
            "wastePercentage": _pct(waste, total),
            "biggestInsight": biggest,
        },
        "trend": {"buckets": buckets},
        "breakdown": {"levels": breakdown},
    }


def _levels(sessions: Iterable[Session]) -> dict[str, tuple[int, dict[str, int]]]:
    """Level -> (seconds, {insight type: seconds}), non-zero levels only, in the documented level order."""
    acc: dict[str, dict[str, int]] = {}
    for s in sessions:
        for i in s.insights:
            by_type = acc.setdefault(i.level, {})
            by_type[i.insight_type] = by_type.get(i.insight_type, 0) + i.duration
    order = sorted(acc, key=lambda lv: LEVELS.index(lv) if lv in LEVELS else 99)
    out = {lv: (sum(acc[lv].values()), acc[lv]) for lv in order}
    return {lv: v for lv, v in out.items() if v[0] > 0}
