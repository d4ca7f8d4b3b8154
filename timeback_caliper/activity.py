"""``client.activity``: server-side activity recording, the Timeback SDK's ``activity.record()`` (contract §9.2, §13).

For back ends and cron jobs that know a learner finished an activity: one call builds the ActivityEvent (and a
TimeSpentEvent when ``time`` is given) from short inputs and sends both in **one** envelope. The client is configured
once (:class:`ActivityConfig`: app name, sensor, activity URL base, course map) so call sites stay short.
``record(..., gradebook=True)`` also writes the OneRoster result; ``start()`` begins an activity run that measures
time in this process (:mod:`timeback_caliper.activity_run`).
"""

from __future__ import annotations

import logging
import re
import threading
import time as _time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import attrs

from ._http import PerProcess
from .errors import CaliperValidationError, Problem, TimebackError
from .models._base import CaliperModel, utcnow
from .models._validate import _IRI
from .models.caliper.envelope import Envelope
from .models.timeback import (
    ActivityEvent,
    ActivityMetric,
    TimebackActivity,
    TimebackActivityContext,
    TimebackApp,
    TimebackCourse,
    TimebackUser,
    TimeSpentMetric,
)
from .timeback import create_activity_event, create_time_spent_event

if TYPE_CHECKING:
    from .activity_run import ActivityRun, ErrorCallback
    from .gradebook import Gradebook
    from .models.gradebook import AssessmentResult

__all__ = ["DEFAULT_API_URL", "Activity", "ActivityConfig"]

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.alpha-1edtech.ai"
"""The production Timeback API host, where OneRoster user URLs live."""

M = TypeVar("M")

_URL = _IRI  # the same absolute-IRI test the validator applies
_COURSE_KEYS = frozenset({"subject", "grade", "name", "id"})


class _Runs:
    """The runs a client holds: the active run per (learner, activity), and who sent time for which run id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: dict[tuple[str, str], ActivityRun] = {}
        self.time_owner: OrderedDict[str, str] = OrderedDict()


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


@attrs.frozen
class _Parts:
    """What every event of one learner's activity shares, built once from the inputs."""

    actor: TimebackUser
    context: TimebackActivityContext
    code: str | None
    """The course code (``extensions.courseId``), when known."""
    object_id: str

    def run_url(self, run_id: str) -> str:
        return f"{self.object_id}/runs/{quote(run_id, safe='')}"


class Activity:
    """``client.activity``: record a finished activity for a learner, or run one (:meth:`start`).

    Do not double count time: pass ``time`` only when the server owns time tracking (the front end sends no
    TimeSpentEvent heartbeats, the SDK's ``time: false``) or when importing offline data. If the front end already
    sends heartbeats under the same ``run_id``, sending ``time`` again counts those minutes twice. For the same
    reason a run id whose time an activity run of this client measures (``start(time=True)``) is refused by
    ``record(time=...)``, and the other way round.
    """

    def __init__(
        self,
        config: ActivityConfig,
        send: Callable[[Envelope], Any] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = _time.monotonic,
        gradebook: Gradebook | None = None,
    ) -> None:
        """Bind the app's configuration to a send function (``client.events.send_envelope``).

        Args:
            config: The app name, sensor, activity URL base, course map and Timeback API host.
            send: Sends one envelope and returns its result; ``None`` allows :meth:`build` only.
            clock: Returns the current time as an aware datetime (injectable for tests).
            monotonic: Seconds on a monotonic clock, which activity runs measure time with (injectable for tests).
            gradebook: ``client.gradebook``, for ``record(..., gradebook=True)``.
        """
        if not isinstance(config, ActivityConfig):
            raise TypeError(f"config must be an ActivityConfig, got {type(config).__name__}")
        self.config = config
        self._send = send
        self._clock = clock
        self._monotonic = monotonic
        self._gradebook = gradebook
        # Per process: a forked child starts with no runs (they measure the parent's time) and a fresh lock.
        self._runs = PerProcess(_Runs)

    def start(
        self,
        *,
        user: Mapping[str, Any],
        id: str,
        name: str,
        course: Mapping[str, Any],
        run_id: str | None = None,
        time: bool = True,
        process: bool | None = None,
        on_error: ErrorCallback | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> ActivityRun:
        """Start an activity run: measure the learner's active time here and report it (see ``ActivityRun``).

        Args:
            user: ``{"email": ..., "timeback_id"?: ...}``, as for :meth:`record`.
            id: The activity id (appended to ``activity_base_url``).
            name: The activity's display name.
            course: ``{"code": ...}`` or ``{"subject": ..., "grade": ...}``, as for :meth:`record`.
            run_id: The run id (``extensions.runId``); a fresh UUID when omitted.
            time: Send TimeSpentEvents (``flush_time_spent``, ``pause``, ``end``). ``False`` when the front end
                already sends heartbeats for this run: the run then measures time (for XP) but never sends it.
            process: ``object.process`` on every event of the run; omitted unless set.
            on_error: ``on_error(error, context)`` receives send failures instead of an exception; ``context["type"]``
                is ``"timeSpent"``, ``"completion"`` or ``"gradebook"``.
            clock: Wall clock for event times and windows (default: this resource's).
            monotonic: Monotonic clock that measures durations (default: this resource's).

        Returns:
            The run, counting active time from now.

        Raises:
            ActivityRunError: this client already has an active run for this learner and activity (it is named).
            CaliperValidationError: an input is invalid, or ``run_id`` already had its time sent by
                :meth:`record` (double counting); nothing was started.
        """
        from .activity_run import ActivityRun

        return ActivityRun._begin(
            self,
            user=user,
            activity={"id": id, "name": name, "course": course},
            run_id=run_id,
            time=time,
            process=process,
            on_error=on_error,
            clock=clock or self._clock,
            monotonic=monotonic or self._monotonic,
        )

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
        gradebook: bool = False,
    ) -> Any:
        """Build the run's events (see :meth:`build`) and send them in one envelope.

        With ``gradebook=True`` the OneRoster result is written once the events were accepted: line item
        ``sourcedId`` = the activity id (created on first use), ``score`` = the accuracy percentage when the
        question counts are known, ``metadata`` = ``{xp, accuracy, totalQuestions, correctQuestions,
        masteredUnits}``. It needs ``user["timeback_id"]`` (the OneRoster student) and is refused with
        ``process=True``, which makes Timeback write a second result.

        Returns:
            Whatever the send function returns (``client.events.send_envelope`` gives a ``SendResult``); with
            ``gradebook=True`` a :class:`RecordResult` whose ``gradebook_error`` reports a failed gradebook write
            apart from the accepted events (never raised: recording again would count the XP twice).

        Raises:
            CaliperValidationError: an input is missing or invalid, or ``time`` is given for a run id whose time an
                activity run of this client sends (double counting); nothing was sent.
            TimebackError: this ``Activity`` has no send function (or no gradebook), or the send failed.
        """
        from .activity_run import RecordResult, note_time, refuse_double_count

        if self._send is None:
            raise TimebackError("this Activity was built without a send function: use build() and send the envelope")
        if gradebook:
            self._check_gradebook(user, process)
        if time is not None and run_id is not None:
            refuse_double_count(self, run_id, "record")
        envelope = self.build(
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
        completion = cast(ActivityEvent, envelope.data[-1])  # build() puts the completion last
        run = str(completion.run_id)
        result = self._send(envelope)
        if time is not None:
            note_time(self, run, "record")
        if not gradebook:
            return result
        try:
            written = self._write_gradebook(
                user, activity, metrics, str(completion.object.id), run, completion.event_time
            )
        except TimebackError as exc:
            logger.warning("run %s: events accepted, but the gradebook write failed: %s", run, exc)
            return RecordResult(run_id=run, send=result, gradebook_error=exc)
        return RecordResult(run_id=run, send=result, gradebook=written)

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
        parts = self._parts(user_in, activity_in, process)
        run_url = parts.run_url(run)
        completion = create_activity_event(
            actor=parts.actor,
            object=parts.context,
            metrics=self._activity_metrics(metrics_in),
            attempt=attempt,
            generated_extensions=self._pct(metrics_in),
            event_time=when,
            run_id=run,
            course_id=parts.code,
            generated_id=f"{run_url}/completion",
        )
        data: list[CaliperModel] = [completion]
        if time is not None:
            time_in = _inputs(time, "time", ("started_at", "ended_at", "active_ms", "inactive_ms"))
            spent = create_time_spent_event(
                actor=parts.actor,
                object=parts.context,
                metrics=self._time_metrics(time_in),
                event_time=time_in.get("ended_at", when),
                run_id=run,
                course_id=parts.code,
                generated_id=f"{run_url}/time",
            )
            data.insert(0, spent)  # time first, then the completion it leads to
        return Envelope(sensor=cfg.sensor if sensor is None else _sensor(sensor), send_time=now, data=data)

    def write_gradebook(
        self,
        *,
        user: Mapping[str, Any],
        activity: Mapping[str, Any],
        metrics: Mapping[str, Any],
        run_id: str,
        event_time: datetime | None = None,
    ) -> AssessmentResult:
        """Write only the gradebook part of ``record(..., gradebook=True)``: retry it after a ``gradebook_error``.

        Takes the same ``user``, ``activity`` and ``metrics`` as :meth:`record`, and the ``run_id`` of the recorded
        run (``RecordResult.run_id``). The result's ``sourcedId`` is derived from the run, so writing it twice
        gives one result.

        Raises:
            CaliperValidationError: an input is invalid or ``user`` has no ``timeback_id``.
            TimebackError: no gradebook is configured, or the write failed (``ApiError``, ``TransportError``).
        """
        self._check_gradebook(user, None)
        user_in = _inputs(user, "user", ("email", "timeback_id"), ("email", "timeback_id"))
        activity_in = _inputs(activity, "activity", ("id", "name", "course"), ("id", "name", "course"))
        metrics_in = _inputs(
            metrics, "metrics", ("xp_earned", "total_questions", "correct_questions", "mastered_units", "pct_complete")
        )
        object_id = self._parts(user_in, activity_in, None).object_id
        return self._write_gradebook(user_in, activity_in, metrics_in, object_id, _text(run_id, "run_id"), event_time)

    def _check_gradebook(self, user: Any, process: bool | None) -> None:
        """Refuse a gradebook write that cannot work, before anything is sent."""
        if self._gradebook is None:
            raise TimebackError("this Activity has no gradebook: use client.activity (wired to client.gradebook)")
        if process is True:
            raise _fail(
                "process",
                "gradebook=True with process=True would write two results (Timeback writes one when process is "
                "true): use one or the other",
            )
        if not isinstance(user, Mapping) or user.get("timeback_id") is None:
            raise _fail("user.timeback_id", "gradebook=True needs user['timeback_id'] (the OneRoster student id)")

    def _write_gradebook(
        self,
        user: Mapping[str, Any],
        activity: Mapping[str, Any],
        metrics: Mapping[str, Any],
        object_id: str,
        run_id: str,
        when: datetime | str | None,
    ) -> AssessmentResult:
        if self._gradebook is None:  # _check_gradebook ran first; this keeps the type checker honest
            raise TimebackError("this Activity has no gradebook")
        return self._gradebook.record_activity_result(
            activity_id=str(activity["id"]),
            title=str(activity["name"]),
            student=str(user["timeback_id"]),
            xp_earned=metrics.get("xp_earned"),
            total_questions=metrics.get("total_questions"),
            correct_questions=metrics.get("correct_questions"),
            mastered_units=metrics.get("mastered_units"),
            # One result per run: a retry after an unanswered write gets a 409 instead of storing a second result.
            result_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{object_id}/runs/{quote(run_id, safe='')}/result")),
            score_date=when if isinstance(when, datetime) else None,
        )

    # ---------------------------------------------------------------------------------------------- pieces
    def _parts(self, user: Mapping[str, Any], activity: Mapping[str, Any], process: bool | None) -> _Parts:
        cfg = self.config
        actor = _built(TimebackUser, "user", id=self._actor_id(user), email=user["email"])
        code, subject, course = self._course(activity["course"])
        object_id = f"{cfg.activity_base_url}/{quote(_text(activity['id'], 'activity.id'), safe='/')}"
        context = _built(
            TimebackActivityContext,
            "activity",
            id=object_id,
            subject=subject,
            app=_built(TimebackApp, "app", name=cfg.app_name, id=cfg.app_id),
            course=course,
            activity=_built(TimebackActivity, "activity", name=_text(activity["name"], "activity.name")),
            process=process,
        )
        return _Parts(actor, context, code, object_id)

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
