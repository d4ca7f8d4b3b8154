"""The Timeback profile (contract §8): its models, vocabularies and rules (TB-1 … TB-9), registered as an extension.

Timeback types share the Caliper registry and converter but declare exactly their contract fields: they subclass
:class:`WireModel`, not ``Person``/``Entity``, so no Caliper-only property (``dateCreated``, ``@context``) can reach
the wire, and any key they do not declare is an error in strict mode (a warning when reading leniently).

Rules fall in two groups. The contract's own rules (TB-1 … TB-9) are enforced by the client and by the emulator's
server rule set. The client-only data checks (``correctQuestions > totalQuestions``, duplicate metric types,
negative counts or times, ``endDate`` before ``startDate``) corrupt accuracy and XP, so the client rejects them when
building and sending, while the server, and so the emulator, accepts them (``client_only=True``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import attrs

from ..errors import Problem
from ._base import VOCABULARIES, Iri, Kind, Vocab, WireModel, register_vocabulary
from ._validate import (
    _IRI,
    Check,
    Ctx,
    _compile,
    join,
    register_fast_path,
    register_fast_type,
    register_field_check,
    register_rule,
)
from .caliper.events import Event
from .caliper.profiles import register_event_rule

__all__ = [
    "ACTIVITY_METRIC_TYPES",
    "PROFILE",
    "ROLES",
    "SUBJECTS",
    "TIME_SPENT_METRIC_TYPES",
    "ActivityEvent",
    "ActivityMetric",
    "TimeSpentEvent",
    "TimeSpentMetric",
    "TimebackActivity",
    "TimebackActivityContext",
    "TimebackActivityMetricsCollection",
    "TimebackApp",
    "TimebackCourse",
    "TimebackTimeSpentMetricsCollection",
    "TimebackUser",
    "register_subject",
    "subjects",
]

PROFILE = "TimebackProfile"
"""The ``profile`` of every Timeback event."""

SUBJECTS: tuple[str, ...] = (
    "Science",
    "Math",
    "Reading",
    "Language",
    "Social Studies",
    "None",
    "Vocabulary",
    "Writing",
    "FastMath",
    "Other",
)
"""The contract's subject union (§8.2): the OpenAPI enum, the live enum and the values seen in real use."""

ROLES: tuple[str, ...] = ("student", "teacher", "admin", "guide")
"""``TimebackUser.role`` values."""

ACTIVITY_METRIC_TYPES: tuple[str, ...] = ("xpEarned", "totalQuestions", "correctQuestions", "masteredUnits")
"""``ActivityMetric.type`` values (TB-7)."""

TIME_SPENT_METRIC_TYPES: tuple[str, ...] = ("active", "inactive", "waste", "unknown", "anti-pattern")
"""``TimeSpentMetric.type`` values (TB-8)."""

_SUBJECT_VOCAB = "timeback_subject"
# The emulator plays the real server, whose enum does not grow when a client registers a subject.
_SERVER_SUBJECTS = frozenset(SUBJECTS)
_COUNTS = frozenset({"totalQuestions", "correctQuestions", "masteredUnits"})

register_vocabulary(_SUBJECT_VOCAB, *SUBJECTS)
register_vocabulary("timeback_role", *ROLES)


def register_subject(*names: str) -> None:
    """Accept more ``subject`` values in strict mode (forward compatibility; values are case-sensitive).

    Args:
        *names: the new subjects, e.g. ``register_subject("Music")``.

    Raises:
        ValueError: a name is not a non-empty string.
    """
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a subject must be a non-empty string, got {name!r}")
    register_vocabulary(_SUBJECT_VOCAB, *names)


def subjects() -> frozenset[str]:
    """The subjects accepted in strict mode right now (the contract's union plus registered ones)."""
    return frozenset(VOCABULARIES.get(_SUBJECT_VOCAB, ()))


# ---------------------------------------------------------------------------------------------------- models
@attrs.frozen(kw_only=True, slots=False)
class TimebackApp(WireModel):
    """The application the activity happens in (``object.app``)."""

    name: str
    """The app's display name (required)."""
    id: Iri | None = None
    """The app's absolute URI."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class TimebackCourse(WireModel):
    """The course the activity belongs to (``object.course``); Timeback's own course record wins over it."""

    id: Iri | None = None
    """The OneRoster course URL, when known."""
    name: str
    """The course name (required when a course is given)."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class TimebackActivity(WireModel):
    """The activity itself (``object.activity``)."""

    id: Iri | None = None
    """The activity's absolute URI."""
    name: str
    """The activity name (required when an activity is given)."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class TimebackUser(WireModel):
    """The learner (or teacher...) a Timeback event is about: the event's ``actor`` (TB-4)."""

    TYPE: ClassVar[str] = "TimebackUser"
    id: Iri
    """Absolute URI; preferably the OneRoster user URL ``https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/<id>``."""
    email: Annotated[str, Kind("email")]
    """Required even when ``id`` is a OneRoster URL."""
    name: str | None = None
    role: Annotated[str, Vocab("timeback_role")] | None = None
    """``student``, ``teacher``, ``admin`` or ``guide``."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class TimebackActivityContext(WireModel):
    """Where the learning happened: the event's ``object`` (TB-5)."""

    TYPE: ClassVar[str] = "TimebackActivityContext"
    id: Iri
    """Absolute URI of the activity: its URL in the app, or a OneRoster component-resource URL."""
    subject: str
    """One of :data:`SUBJECTS` or a registered subject (:func:`register_subject`)."""
    app: TimebackApp
    course: TimebackCourse | None = None
    activity: TimebackActivity | None = None
    process: bool | None = None
    """``True``: Timeback also writes a gradebook result. Left out unless set (contract §8.6)."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class ActivityMetric(WireModel):
    """One completion metric (TB-7): ``type`` is a metric kind, not a registry type."""

    type: str
    """``xpEarned``, ``totalQuestions``, ``correctQuestions`` or ``masteredUnits``."""
    value: int | float
    """A number; counts may be fractional (partial credit) but never negative; ``xpEarned`` may be negative."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class TimeSpentMetric(WireModel):
    """One time bucket of a window (TB-8). Wire keys: exactly ``type value subType startDate endDate extensions``."""

    type: str
    """``active``, ``inactive``, ``waste``, ``unknown`` or ``anti-pattern``."""
    value: int | float
    """Seconds (not milliseconds), never negative."""
    sub_type: str | None = None
    """A finer label, e.g. ``eating`` for ``waste``. Wire name: ``subType``."""
    start_date: datetime | None = None
    """Start of the window the value covers. Wire name: ``startDate``."""
    end_date: datetime | None = None
    """End of that window (not before ``start_date``). Wire name: ``endDate``."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class TimebackActivityMetricsCollection(WireModel):
    """An ActivityEvent's ``generated``: the completion metrics of one run (TB-6)."""

    TYPE: ClassVar[str] = "TimebackActivityMetricsCollection"
    id: Iri
    """Absolute URI naming this result (not the activity's id)."""
    attempt: int | None = None
    """Attempt number, >= 1 (drives the XP attempt multiplier and gradebook results)."""
    items: list[ActivityMetric]
    extensions: dict[str, Any] | None = None
    """Opaque JSON; ``pctCompleteApp`` (0-100) is the course completion percentage."""


@attrs.frozen(kw_only=True, slots=False)
class TimebackTimeSpentMetricsCollection(WireModel):
    """A TimeSpentEvent's ``generated``: the time buckets of one window (TB-6)."""

    TYPE: ClassVar[str] = "TimebackTimeSpentMetricsCollection"
    id: Iri
    """Absolute URI naming this window's result."""
    items: list[TimeSpentMetric]
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


class _TimebackEventMixin:
    """Read-only views of the two conventional event ``extensions`` keys (contract §8.5)."""

    extensions: dict[str, Any] | None

    @property
    def run_id(self) -> str | None:
        """``extensions.runId``: shared by every event of one activity run (joins time to completion)."""
        value = (self.extensions or {}).get("runId")
        return value if isinstance(value, str) else None

    @property
    def course_id(self) -> str | None:
        """``extensions.courseId``: the Timeback / OneRoster course id (e.g. ``MATH-3``)."""
        value = (self.extensions or {}).get("courseId")
        return value if isinstance(value, str) else None


# The narrowed field types below are not subtypes of Event's `IriOr[...]` slots, hence the ignores: a Timeback
# event never carries a bare IRI or a Caliper entity there (TB-4, TB-5, TB-3), and the types say so.
@attrs.frozen(kw_only=True, slots=False)
class ActivityEvent(_TimebackEventMixin, Event):
    """A Timeback completion: ``actor`` completed ``object`` and ``generated`` holds the metrics.

    Prefer :func:`timeback_caliper.create_activity_event`, which also accepts plain dicts.
    """

    TYPE: ClassVar[str] = "ActivityEvent"
    profile: Annotated[str, Vocab("profile")] | None = PROFILE
    actor: TimebackUser  # type: ignore[assignment]
    action: Annotated[str, Vocab("action")] = "Completed"
    object: TimebackActivityContext  # type: ignore[assignment]
    generated: TimebackActivityMetricsCollection  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class TimeSpentEvent(_TimebackEventMixin, Event):
    """A Timeback time window: how many seconds of ``object`` were active, inactive, wasted...

    Prefer :func:`timeback_caliper.create_time_spent_event`, which also accepts plain dicts.
    """

    TYPE: ClassVar[str] = "TimeSpentEvent"
    profile: Annotated[str, Vocab("profile")] | None = PROFILE
    actor: TimebackUser  # type: ignore[assignment]
    action: Annotated[str, Vocab("action")] = "SpentTime"
    object: TimebackActivityContext  # type: ignore[assignment]
    generated: TimebackTimeSpentMetricsCollection  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------------- checks
def _is_number(value: Any) -> bool:
    # bool is an int in Python, never a number on this wire (contract §10.8).
    return type(value) in (int, float) and math.isfinite(value)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'AEIOU' else 'a'} {noun}"


def _iri_check(rule: str, hint: str) -> Check:
    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if not isinstance(value, str):
            ctx.report(out, path, f"expected an absolute URI string, got {type(value).__name__}", rule)
        elif not _IRI.match(value):
            ctx.report(out, path, f"{value!r} is not an absolute URI; {hint}", rule)

    register_fast_type(check, Iri)
    return check


def _subject_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if not isinstance(value, str) or not value:
        ctx.report(out, path, f"subject must be a non-empty string, got {value!r}", "TB-5")
        return
    known = _SERVER_SUBJECTS if ctx.server else VOCABULARIES.get(_SUBJECT_VOCAB, _SERVER_SUBJECTS)
    if value not in known:
        ctx.report(
            out,
            path,
            f"unknown subject {value!r} (expected one of {', '.join(sorted(known))}; "
            "register more with register_subject())",
            "TB-5",
        )


def _subject_fast(value: Any, deep: bool) -> bool:
    return type(value) is str and value != "" and value in VOCABULARIES.get(_SUBJECT_VOCAB, _SERVER_SUBJECTS)


register_fast_path(_subject_check, _subject_fast)


def _kind_check(allowed: tuple[str, ...], rule: str, what: str) -> Check:
    names = ", ".join(allowed)

    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if value not in allowed:
            ctx.report(out, path, f"{what} type must be one of {names}, got {value!r}", rule)

    register_fast_type(check, Literal[allowed])  # a plain str among them
    return check


def _action_check(expected: str, event_type: str) -> Check:
    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if value != expected:
            ctx.report(out, path, f"{_a(event_type)} must have action {expected!r}, got {value!r}", "TB-2")

    register_fast_type(check, Literal[expected])
    return check


def _generated_check(expected: type[WireModel], event_type: str) -> Check:
    derived = _compile(expected)  # the engine's own check (type, @context, then the collection's tree)

    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if not isinstance(value, expected):
            got = type(value).__dict__.get("TYPE", type(value).__name__) if isinstance(value, WireModel) else value
            ctx.report(out, path, f"{_a(event_type)} needs a {expected.TYPE} object here, got {got!r}", "TB-3")
            return
        before = len(out)
        derived(value, path, out, ctx)
        for i in range(before, len(out)):  # the collection's own problems (unknown keys included) are TB-6
            if not out[i].rule.startswith(("TB-", "EVT-", "ENV-")):
                out[i] = attrs.evolve(out[i], rule="TB-6")

    register_fast_type(check, expected)
    return check


# ---------------------------------------------------------------------------------------------------- rules
def _activity_metric_rule(obj: ActivityMetric, path: str, out: list[Problem], ctx: Ctx) -> None:
    if isinstance(obj.type, str) and obj.type in _COUNTS and _is_number(obj.value) and obj.value < 0:
        ctx.report(out, join(path, "value"), f"{obj.type} is a count and cannot be negative, got {obj.value}", "TB-7")


def _time_metric_rule(obj: TimeSpentMetric, path: str, out: list[Problem], ctx: Ctx) -> None:
    if _is_number(obj.value) and obj.value < 0:
        ctx.report(out, join(path, "value"), f"time values are seconds and cannot be negative, got {obj.value}", "TB-8")
    start, end = obj.start_date, obj.end_date
    if isinstance(start, datetime) and isinstance(end, datetime) and start.tzinfo and end.tzinfo and end < start:
        ctx.report(out, join(path, "endDate"), "endDate is before startDate", "TB-8")


def _items_by_type(items: Any) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    if type(items) is list:
        for i, item in enumerate(items):
            kind = getattr(item, "type", None)
            if type(kind) is str:
                where = found.get(kind)
                if where is None:
                    found[kind] = [i]
                else:
                    where.append(i)
    return found


def _activity_collection_rule(obj: TimebackActivityMetricsCollection, path: str, out: list[Problem], ctx: Ctx) -> None:
    # One rule for both rule sets (the client-only part is skipped for the server), so items are indexed once.
    if obj.attempt is not None and type(obj.attempt) is int and obj.attempt < 1:
        ctx.report(out, join(path, "attempt"), f"attempt must be 1 or more, got {obj.attempt}", "TB-6")
    items_path = join(path, "items")
    if isinstance(obj.items, list) and not obj.items:
        ctx.report(out, items_path, "no metrics: the event records nothing", "TB-6", warning=True)
    found = _items_by_type(obj.items)
    total, correct = found.get("totalQuestions"), found.get("correctQuestions")
    if bool(total) != bool(correct):
        have, missing = ("correctQuestions", "totalQuestions") if correct else ("totalQuestions", "correctQuestions")
        ctx.report(out, items_path, f"{have} without {missing}: send both or neither", "TB-9")
    if isinstance(obj.items, list) and obj.items and "xpEarned" not in found:
        ctx.report(out, items_path, "no xpEarned metric: this completion earns no XP", "TB-7", warning=True)
    if ctx.server:
        return
    for kind, where in found.items():
        if len(where) > 1:
            ctx.report(out, f"{items_path}[{where[1]}]", f"duplicate {kind} metric in one collection", "TB-6")
    if total and correct:
        t, c = obj.items[total[0]].value, obj.items[correct[0]].value
        if _is_number(t) and _is_number(c) and c > t:
            ctx.report(
                out, f"{items_path}[{correct[0]}]", f"correctQuestions ({c}) exceeds totalQuestions ({t})", "TB-9"
            )
    pct = obj.extensions.get("pctCompleteApp") if isinstance(obj.extensions, dict) else None
    if pct is not None and not (_is_number(pct) and 0 <= pct <= 100):
        ctx.report(out, join(path, "extensions.pctCompleteApp"), f"pctCompleteApp must be 0-100, got {pct!r}", "TB-6")


def _time_collection_rule(obj: TimebackTimeSpentMetricsCollection, path: str, out: list[Problem], ctx: Ctx) -> None:
    if isinstance(obj.items, list) and not obj.items:
        ctx.report(out, join(path, "items"), "no time metrics: the event records nothing", "TB-6", warning=True)


def _time_collection_client_rule(
    obj: TimebackTimeSpentMetricsCollection, path: str, out: list[Problem], ctx: Ctx
) -> None:
    # Several `waste` items with different subTypes (or windows) are legitimate; the same bucket twice double-counts.
    seen: set[tuple[str, ...]] = set()
    for i, item in enumerate(obj.items if isinstance(obj.items, list) else ()):
        if not isinstance(item, TimeSpentMetric):
            continue
        key = tuple(repr(v) for v in (item.type, item.sub_type, item.start_date, item.end_date))  # any JSON value
        if key in seen:
            label = item.type if item.sub_type is None else f"{item.type}/{item.sub_type}"
            ctx.report(out, f"{join(path, 'items')}[{i}]", f"duplicate {label} metric for the same window", "TB-6")
        seen.add(key)


def _timeback_event_type_rule(obj: Event, path: str, out: list[Problem], ctx: Ctx) -> None:
    # The converse (an ActivityEvent under another profile) is the profile table's rule (models/caliper/profiles.py).
    if obj.profile == PROFILE and not isinstance(obj, (ActivityEvent, TimeSpentEvent)):
        name = (obj.extra or {}).get("type") or type(obj).__dict__.get("TYPE", "Event")
        ctx.report(
            out,
            join(path, "type"),
            f"a TimebackProfile event is an ActivityEvent or a TimeSpentEvent, not {name!r}",
            "TB-1",
        )


# ---------------------------------------------------------------------------------------------------- fast paths
# Each predicate is True only when its rule would report nothing (see models/_validate.py, "fast path"); they run
# after every field passed its own check. Anything unusual answers False, and the rule itself then runs.
def _activity_metric_fast(obj: ActivityMetric) -> bool:
    # The fields passed first: `type` is one of the metric kinds, `value` a finite number.
    return not obj.value < 0 or obj.type not in _COUNTS


def _time_metric_fast(obj: TimeSpentMetric) -> bool:
    value, start, end = obj.value, obj.start_date, obj.end_date
    if _is_number(value) and value < 0:
        return False
    return not (
        isinstance(start, datetime) and isinstance(end, datetime) and start.tzinfo and end.tzinfo and end < start
    )


def _activity_collection_fast(obj: TimebackActivityMetricsCollection) -> bool:
    # The fields passed first: `items` is a list of ActivityMetric (whose `type` is a metric kind, `value` a finite
    # number), `attempt` an int or None, `extensions` a dict or None.
    attempt, items = obj.attempt, obj.items
    if (attempt is not None and attempt < 1) or not items:
        return False
    kinds = [item.type for item in items]
    if len(set(kinds)) != len(kinds) or "xpEarned" not in kinds:
        return False  # a duplicate metric, or the no-XP warning
    if "totalQuestions" in kinds:
        if "correctQuestions" not in kinds:
            return False  # TB-9
        if items[kinds.index("correctQuestions")].value > items[kinds.index("totalQuestions")].value:
            return False
    elif "correctQuestions" in kinds:
        return False  # TB-9
    extensions = obj.extensions
    if extensions:
        pct = extensions.get("pctCompleteApp")
        if pct is not None and not (_is_number(pct) and 0 <= pct <= 100):
            return False
    return True


def _time_collection_fast(obj: TimebackTimeSpentMetricsCollection) -> bool:
    return not (isinstance(obj.items, list) and not obj.items)


def _time_collection_client_fast(obj: TimebackTimeSpentMetricsCollection) -> bool:
    if type(obj.items) is not list:
        return False
    seen: set[tuple[str, ...]] = set()
    for item in obj.items:
        if not isinstance(item, TimeSpentMetric):
            continue
        key = (repr(item.type), repr(item.sub_type), repr(item.start_date), repr(item.end_date))  # the rule's key
        if key in seen:
            return False
        seen.add(key)
    return True


def _timeback_event_type_fast(obj: Event) -> bool:
    return not (obj.profile == PROFILE and not isinstance(obj, (ActivityEvent, TimeSpentEvent)))


# ---------------------------------------------------------------------------------------------------- registration
def _label(cls: type, rule: str, *names: str) -> None:
    for name in names:
        register_field_check(cls, name, rule=rule)


_label(TimebackUser, "TB-4", "id", "email", "name", "role", "extensions")
_label(TimebackActivityContext, "TB-5", "app", "course", "activity", "process", "extensions")
_label(TimebackApp, "TB-5", "name", "extensions")
_label(TimebackCourse, "TB-5", "name", "extensions")
_label(TimebackActivity, "TB-5", "name", "extensions")
_ID_HINT = "prefix it with your app's URL, e.g. 'https://your-app.com/activities/<id>'"
register_field_check(TimebackActivityContext, "id", _iri_check("TB-5", _ID_HINT), rule="TB-5")
register_field_check(TimebackActivityContext, "subject", _subject_check, rule="TB-5")
for _cls in (TimebackApp, TimebackCourse, TimebackActivity):
    register_field_check(_cls, "id", _iri_check("TB-5", "use an absolute URL"), rule="TB-5")

_METRICS_HINT = "derive it from the activity URL, e.g. 'https://your-app.com/metrics/<run id>'"
_label(TimebackActivityMetricsCollection, "TB-6", "attempt", "extensions")
_label(TimebackTimeSpentMetricsCollection, "TB-6", "extensions")
register_field_check(TimebackActivityMetricsCollection, "id", _iri_check("TB-6", _METRICS_HINT), rule="TB-6")
register_field_check(TimebackTimeSpentMetricsCollection, "id", _iri_check("TB-6", _METRICS_HINT), rule="TB-6")
register_field_check(TimebackActivityMetricsCollection, "items", rule="TB-7")
register_field_check(TimebackTimeSpentMetricsCollection, "items", rule="TB-8")
register_field_check(
    ActivityMetric, "type", _kind_check(ACTIVITY_METRIC_TYPES, "TB-7", "an activity metric"), rule="TB-7"
)
register_field_check(
    TimeSpentMetric, "type", _kind_check(TIME_SPENT_METRIC_TYPES, "TB-8", "a time-spent metric"), rule="TB-8"
)
_label(ActivityMetric, "TB-7", "value", "extensions")
_label(TimeSpentMetric, "TB-8", "value", "sub_type", "start_date", "end_date", "extensions")

register_rule(ActivityMetric, _activity_metric_rule, client_only=True)
register_rule(TimeSpentMetric, _time_metric_rule, client_only=True)
register_rule(TimebackActivityMetricsCollection, _activity_collection_rule)
register_rule(TimebackTimeSpentMetricsCollection, _time_collection_rule)
register_rule(TimebackTimeSpentMetricsCollection, _time_collection_client_rule, client_only=True)
register_rule(Event, _timeback_event_type_rule)
register_fast_path(_activity_metric_rule, _activity_metric_fast)
register_fast_path(_time_metric_rule, _time_metric_fast)
register_fast_path(_activity_collection_rule, _activity_collection_fast)
register_fast_path(_time_collection_rule, _time_collection_fast)
register_fast_path(_time_collection_client_rule, _time_collection_client_fast)
register_fast_path(_timeback_event_type_rule, _timeback_event_type_fast)

for _event, _action, _collection in (
    (ActivityEvent, "Completed", TimebackActivityMetricsCollection),
    (TimeSpentEvent, "SpentTime", TimebackTimeSpentMetricsCollection),
):
    register_field_check(_event, "actor", rule="TB-4")
    register_field_check(_event, "object", rule="TB-5")
    register_field_check(_event, "action", _action_check(_action, _event.TYPE), rule="TB-2")
    register_field_check(_event, "generated", _generated_check(_collection, _event.TYPE), rule="TB-3")
    register_event_rule(
        PROFILE,
        _event.TYPE,
        actions={_action},
        objects=(TimebackActivityContext,),
        generated=(_collection,),
        generated_required=True,
    )
