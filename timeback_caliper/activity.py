"""``client.activity``: server-side activity recording, the Timeback SDK's ``activity.record()`` (contract §9.2, §13).

For back ends and cron jobs that know a learner finished an activity: one call builds the ActivityEvent (and a
TimeSpentEvent when ``time`` is given) from short inputs and sends both in **one** envelope. The client is configured
once (:class:`ActivityConfig`: app name, sensor, activity URL base, course map) so call sites stay short.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import attrs

from .errors import CaliperValidationError, Problem, TimebackError
from .models._base import CaliperModel, utcnow
from .models._validate import _IRI
from .models.caliper.envelope import Envelope
from .models.timeback import (
    ActivityMetric,
    TimebackActivity,
    TimebackActivityContext,
    TimebackApp,
    TimebackCourse,
    TimebackUser,
    TimeSpentMetric,
)
from .timeback import create_activity_event, create_time_spent_event

__all__ = ["DEFAULT_API_URL", "Activity", "ActivityConfig"]

DEFAULT_API_URL = "https://api.alpha-1edtech.ai"
"""The production Timeback API host, where OneRoster user URLs live."""

M = TypeVar("M")

_URL = _IRI  # the same absolute-IRI test the validator applies
_COURSE_KEYS = frozenset({"subject", "grade", "name", "id"})


def _built(cls: type[M], path: str, **kwargs: Any) -> M:
    # Problems found by the model point at the caller's input (`user.email`), not at the model's root.
    try:
        return cls(**kwargs)
    except CaliperValidationError as exc:
        errors = [attrs.evolve(p, path=f"{path}.{p.path}" if p.path else path) for p in exc.errors]
        raise CaliperValidationError(exc.message, errors) from None


def _fail(path: str, message: str, rule: str = "record") -> CaliperValidationError:
    return CaliperValidationError(message, [Problem(path, message, rule)])


def _sensor(value: Any) -> str:
    # Kept exactly (no slash stripped): the server filters events by the exact sensor string.
    return _url(value, "sensor", strip=False)


def _base_url(value: Any) -> str:
    return _url(value, "activity_base_url")


def _api_url(value: Any) -> str:
    return _url(value, "api_url")


def _url(value: Any, what: str, *, strip: bool = True) -> str:
    if not isinstance(value, str) or not _URL.match(value):
        raise _fail(what, f"{what} must be an absolute URL such as https://your-app.com, got {value!r}")
    return value.rstrip("/") if strip else value


def _courses(value: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    courses: dict[str, dict[str, Any]] = {}
    for code, entry in (value or {}).items():
        where = f"courses[{code!r}]"
        if not isinstance(entry, Mapping):
            raise _fail(where, f"{where} must be a dict such as {{'subject': 'Math', 'grade': 3}}")
        unknown = set(entry) - _COURSE_KEYS
        if unknown:
            raise _fail(where, f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_COURSE_KEYS)})")
        if not isinstance(entry.get("subject"), str) or not entry["subject"]:
            raise _fail(where, f"{where} needs a 'subject' (e.g. 'Math')")
        courses[str(code)] = dict(entry)
    return courses


@attrs.frozen(kw_only=True)
class ActivityConfig:
    """What every recorded event of one app shares; set once on the client."""

    app_name: str
    """``object.app.name``: the app's display name."""
    sensor: str = attrs.field(converter=_sensor)
    """The envelope ``sensor`` (the app's sensor IRI)."""
    activity_base_url: str = attrs.field(converter=_base_url)
    """Activity URLs are ``{activity_base_url}/{activity id}``, e.g. ``https://your-app.com/activities``."""
    courses: dict[str, dict[str, Any]] = attrs.field(factory=dict, converter=_courses, eq=False, hash=False)
    """Course code -> ``{"subject": ..., "grade": ..., "name"?: ..., "id"?: <OneRoster course URL>}``."""
    api_url: str = attrs.field(default=DEFAULT_API_URL, converter=_api_url)
    """The Timeback API host, for OneRoster user URLs (``{api_url}/ims/oneroster/rostering/v1p2/users/{id}``)."""
    app_id: str | None = None
    """``object.app.id``, an absolute URI, when the app has one."""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.app_name, str) or not self.app_name.strip():
            raise _fail("app_name", f"app_name must be a non-empty string, got {self.app_name!r}")


def _inputs(value: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"{where} must be a dict with keys {', '.join(allowed)}, got {type(value).__name__}")
    problems = []
    for key in value:
        if key not in allowed:
            snake = re.sub(r"(?<!^)([A-Z])", r"_\1", str(key)).lower()
            hint = f" (did you mean {snake!r}?)" if snake in allowed else f" (allowed: {', '.join(allowed)})"
            problems.append(Problem(f"{where}.{key}", f"unknown key {key!r} in {where}{hint}", "record"))
    for key in required:
        if value.get(key) is None:
            problems.append(Problem(f"{where}.{key}", f"{where}.{key} is required", "record"))
    if problems:
        raise CaliperValidationError(f"invalid {where}", problems)
    return {k: v for k, v in value.items() if v is not None}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{where} must be a non-empty string, got {value!r}")
    return value


def _milliseconds(value: Any, where: str) -> int | float:
    if type(value) not in (int, float) or not 0 <= value < float("inf"):
        raise _fail(where, f"{where} must be a non-negative number of milliseconds, got {value!r}")
    return value  # type: ignore[no-any-return]


def _seconds(ms: int | float) -> int | float:
    # Whole seconds stay integers on the wire (780, not 780.0), as every documented example writes them.
    return ms // 1000 if type(ms) is int and ms % 1000 == 0 else ms / 1000


class Activity:
    """``client.activity``: record a finished activity for a learner from a back end or a cron job.

    Do not double count time: pass ``time`` only when the server owns time tracking (the front end sends no
    TimeSpentEvent heartbeats, the SDK's ``time: false``) or when importing offline data. If the front end already
    sends heartbeats under the same ``run_id``, sending ``time`` again counts those minutes twice.
    """

    def __init__(
        self,
        config: ActivityConfig,
        send: Callable[[Envelope], Any] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Bind the app's configuration to a send function (``client.events.send_envelope``).

        Args:
            config: The app name, sensor, activity URL base, course map and Timeback API host.
            send: Sends one envelope and returns its result; ``None`` allows :meth:`build` only.
            clock: Returns the current time as an aware datetime (injectable for tests).
        """
        if not isinstance(config, ActivityConfig):
            raise TypeError(f"config must be an ActivityConfig, got {type(config).__name__}")
        self.config = config
        self._send = send
        self._clock = clock

    def record(
        self,
        *,
        user: Mapping[str, Any],
        activity: Mapping[str, Any],
        metrics: Mapping[str, Any],
        time: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        sensor: str | None = None,
        process: bool | None = None,
        attempt: int | None = None,
        event_time: datetime | None = None,
    ) -> Any:
        """Build the run's events (see :meth:`build`) and send them in one envelope.

        Returns:
            Whatever the send function returns (``client.events.send_envelope`` gives a ``SendResult``).

        Raises:
            CaliperValidationError: an input is missing or invalid; nothing was sent.
            TimebackError: this ``Activity`` has no send function, or the send failed.
        """
        if self._send is None:
            raise TimebackError("this Activity was built without a send function: use build() and send the envelope")
        return self._send(
            self.build(
                user=user,
                activity=activity,
                metrics=metrics,
                time=time,
                run_id=run_id,
                sensor=sensor,
                process=process,
                attempt=attempt,
                event_time=event_time,
            )
        )

    def build(
        self,
        *,
        user: Mapping[str, Any],
        activity: Mapping[str, Any],
        metrics: Mapping[str, Any],
        time: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        sensor: str | None = None,
        process: bool | None = None,
        attempt: int | None = None,
        event_time: datetime | None = None,
    ) -> Envelope:
        """The envelope :meth:`record` would send: an ActivityEvent, plus a TimeSpentEvent when ``time`` is given.

        Args:
            user: ``{"email": ..., "timeback_id"?: ...}``. Without ``timeback_id`` the actor id is ``mailto:{email}``.
            activity: ``{"id": ..., "name": ..., "course": {"code": ...} or {"subject": ..., "grade": ...}}``.
                A ``code`` alone takes its subject, grade and name from the client's ``courses`` map.
            metrics: ``{"xp_earned": ..., "total_questions"?, "correct_questions"? (as a pair),
                "mastered_units"? (new units only), "pct_complete"? (0-100)}``.
            time: ``{"started_at"?, "ended_at"? (aware datetimes), "active_ms"?, "inactive_ms"?}``; sent as
                seconds. Without ``active_ms``, a full ``started_at``..``ended_at`` window minus ``inactive_ms``.
            run_id: ``extensions.runId`` of every event of the run; a fresh UUID when omitted.
            sensor: Overrides the configured sensor for this envelope.
            process: ``object.process`` (``True``: Timeback also writes a gradebook result); omitted unless set.
            attempt: ``generated.attempt`` (>= 1).
            event_time: The completion time; defaults to now.

        Returns:
            The envelope, every event id and timestamp fixed.

        Raises:
            CaliperValidationError: an input is missing or invalid (each problem names its input path and rule).
        """
        cfg = self.config
        now = self._clock()
        when = now if event_time is None else event_time
        user_in = _inputs(user, "user", ("email", "timeback_id"), ("email",))
        activity_in = _inputs(activity, "activity", ("id", "name", "course"), ("id", "name", "course"))
        metrics_in = _inputs(
            metrics,
            "metrics",
            ("xp_earned", "total_questions", "correct_questions", "mastered_units", "pct_complete"),
            ("xp_earned",),
        )
        run = str(uuid.uuid4()) if run_id is None else _text(run_id, "run_id")

        actor = _built(TimebackUser, "user", id=self._actor_id(user_in), email=user_in["email"])
        code, subject, course = self._course(activity_in["course"])
        object_id = f"{cfg.activity_base_url}/{quote(_text(activity_in['id'], 'activity.id'), safe='/')}"
        context = _built(
            TimebackActivityContext,
            "activity",
            id=object_id,
            subject=subject,
            app=_built(TimebackApp, "app", name=cfg.app_name, id=cfg.app_id),
            course=course,
            activity=_built(TimebackActivity, "activity", name=_text(activity_in["name"], "activity.name")),
            process=process,
        )
        run_url = f"{object_id}/runs/{quote(run, safe='')}"
        completion = create_activity_event(
            actor=actor,
            object=context,
            metrics=self._activity_metrics(metrics_in),
            attempt=attempt,
            generated_extensions=self._pct(metrics_in),
            event_time=when,
            run_id=run,
            course_id=code,
            generated_id=f"{run_url}/completion",
        )
        data: list[CaliperModel] = [completion]
        if time is not None:
            time_in = _inputs(time, "time", ("started_at", "ended_at", "active_ms", "inactive_ms"))
            spent = create_time_spent_event(
                actor=actor,
                object=context,
                metrics=self._time_metrics(time_in),
                event_time=time_in.get("ended_at", when),
                run_id=run,
                course_id=code,
                generated_id=f"{run_url}/time",
            )
            data.insert(0, spent)  # time first, then the completion it leads to
        return Envelope(sensor=cfg.sensor if sensor is None else _sensor(sensor), send_time=now, data=data)

    # ---------------------------------------------------------------------------------------------- pieces
    def _actor_id(self, user: Mapping[str, Any]) -> str:
        timeback_id = user.get("timeback_id")
        if timeback_id is None:
            return f"mailto:{_text(user['email'], 'user.email')}"
        sourced_id = quote(_text(timeback_id, "user.timeback_id"), safe="")
        return f"{self.config.api_url}/ims/oneroster/rostering/v1p2/users/{sourced_id}"

    def _course(self, value: Any) -> tuple[str | None, str, TimebackCourse]:
        given = _inputs(value, "activity.course", ("code", "subject", "grade", "name", "id"))
        code = given.get("code")
        courses = self.config.courses
        if code is not None:
            code = _text(code, "activity.course.code")
            if code not in courses and "subject" not in given:
                raise _fail(
                    "activity.course.code",
                    f"unknown course code {code!r}: add it to the client's courses map "
                    "(courses={code: {'subject': ..., 'grade': ...}}) or give subject and grade",
                )
            entry = {**courses.get(code, {}), **given}
        else:
            if "subject" not in given or "grade" not in given:
                raise _fail("activity.course", "activity.course needs a code, or a subject and a grade")
            # A course map entry with the same subject and grade supplies the code, name and id.
            code, known = next(
                (
                    (c, e)
                    for c, e in courses.items()
                    if e.get("subject") == given["subject"] and e.get("grade") == given["grade"]
                ),
                (None, {}),
            )
            entry = {**known, **given}
        subject = _text(entry.get("subject"), "activity.course.subject")
        grade = entry.get("grade")
        name = entry.get("name") or (f"{subject} G{grade}" if grade is not None else subject)
        course = _built(TimebackCourse, "activity.course", id=entry.get("id"), name=_text(name, "activity.course.name"))
        return code, subject, course

    @staticmethod
    def _activity_metrics(metrics: Mapping[str, Any]) -> list[ActivityMetric]:
        if ("total_questions" in metrics) != ("correct_questions" in metrics):
            raise _fail("metrics", "give total_questions and correct_questions together, or neither", "TB-9")
        pairs = (
            ("xpEarned", "xp_earned"),
            ("totalQuestions", "total_questions"),
            ("correctQuestions", "correct_questions"),
            ("masteredUnits", "mastered_units"),
        )
        return [
            _built(ActivityMetric, f"metrics.{key}", type=kind, value=metrics[key])
            for kind, key in pairs
            if key in metrics
        ]

    @staticmethod
    def _pct(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
        if "pct_complete" not in metrics:
            return None
        pct = metrics["pct_complete"]
        if type(pct) not in (int, float) or not 0 <= pct <= 100:
            raise _fail("metrics.pct_complete", f"pct_complete is a percentage from 0 to 100, got {pct!r}", "TB-6")
        return {"pctCompleteApp": pct}

    @staticmethod
    def _time_metrics(time: Mapping[str, Any]) -> list[TimeSpentMetric]:
        start, end = time.get("started_at"), time.get("ended_at")
        for key, value in (("started_at", start), ("ended_at", end)):
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise _fail(f"time.{key}", f"time.{key} must be a timezone-aware datetime, got {value!r}", "TB-8")
        inactive = None if "inactive_ms" not in time else _milliseconds(time["inactive_ms"], "time.inactive_ms")
        active = None if "active_ms" not in time else _milliseconds(time["active_ms"], "time.active_ms")
        if active is None and start is not None and end is not None:
            window = round((end - start).total_seconds() * 1000)
            active = max(window - (inactive or 0), 0)
        if active is None and inactive is None:
            raise _fail("time", "time needs active_ms or inactive_ms, or both started_at and ended_at", "TB-8")
        items = []
        for kind, ms in (("active", active), ("inactive", inactive)):
            if ms is not None:
                items.append(
                    _built(TimeSpentMetric, "time", type=kind, value=_seconds(ms), start_date=start, end_date=end)
                )
        return items
