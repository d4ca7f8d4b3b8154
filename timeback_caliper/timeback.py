"""Timeback event factories: ``create_activity_event`` and ``create_time_spent_event`` (the TypeScript client's twins).

Both accept model instances or plain dicts with the documented camelCase wire keys (``{"type": "xpEarned",
"value": 150}``), so code written from the Timeback docs works unchanged. A dict key the model does not know is an
error that names it (never dropped, as the PyPI client drops ``sub_type``). The event id (``urn:uuid:`` v4) and
``eventTime`` are fixed here, when the event is built, so a retried send resends exactly the same event.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, Union

import attrs

from .errors import CaliperValidationError, Problem
from .models._base import WireModel, new_event_id
from .models._validate import join, wire_name
from .models.caliper.agents import SoftwareApplication
from .models.caliper.entity import Entity
from .models.timeback import (
    ActivityEvent,
    ActivityMetric,
    TimebackActivity,
    TimebackActivityContext,
    TimebackActivityMetricsCollection,
    TimebackApp,
    TimebackCourse,
    TimebackTimeSpentMetricsCollection,
    TimebackUser,
    TimeSpentEvent,
    TimeSpentMetric,
    register_subject,
)

__all__ = [
    "ActivityEvent",
    "ActivityMetric",
    "ActivityMetricInput",
    "ContextInput",
    "TimeSpentEvent",
    "TimeSpentMetric",
    "TimeSpentMetricInput",
    "TimebackActivity",
    "TimebackActivityContext",
    "TimebackActivityMetricsCollection",
    "TimebackApp",
    "TimebackCourse",
    "TimebackTimeSpentMetricsCollection",
    "TimebackUser",
    "UserInput",
    "create_activity_event",
    "create_time_spent_event",
    "register_subject",
]

M = TypeVar("M", bound=WireModel)

UserInput = Union[TimebackUser, Mapping[str, Any]]
"""A :class:`TimebackUser`, or a dict such as ``{"id": ..., "email": ...}`` (``type`` optional)."""
ContextInput = Union[TimebackActivityContext, Mapping[str, Any]]
"""A :class:`TimebackActivityContext`, or a dict such as ``{"id": ..., "subject": "Math", "app": {"name": ...}}``."""
ActivityMetricInput = Union[ActivityMetric, Mapping[str, Any]]
"""An :class:`ActivityMetric`, or ``{"type": "xpEarned", "value": 150}``."""
TimeSpentMetricInput = Union[TimeSpentMetric, Mapping[str, Any]]
"""A :class:`TimeSpentMetric`, or ``{"type": "active", "value": 780, "startDate": "2025-11-18T10:00:00.000Z"}``."""

_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$")


@attrs.frozen
class _Field:
    attr: str
    required: bool
    nested: type[WireModel] | None
    is_datetime: bool


_SPECS: dict[type[WireModel], dict[str, _Field]] = {}


def _spec(cls: type[WireModel]) -> dict[str, _Field]:
    spec = _SPECS.get(cls)
    if spec is not None:
        return spec
    hints = typing.get_type_hints(cls)
    spec = _SPECS[cls] = {}
    for a in attrs.fields(cls):
        if a.name == "extra":
            continue
        args = typing.get_args(hints[a.name]) or (hints[a.name],)
        nested = next((t for t in args if isinstance(t, type) and issubclass(t, WireModel)), None)
        spec[wire_name(a.name)] = _Field(a.name, a.default is attrs.NOTHING, nested, datetime in args)
    return spec


def _prefixed(problems: Sequence[Problem], path: str) -> list[Problem]:
    return [attrs.evolve(p, path=join(path, p.path) if p.path else path) for p in problems]


def _timestamp(value: Any, path: str, rule: str) -> Any:
    if not isinstance(value, str):
        return value  # a datetime (or a wrong type, which the model's own check reports)
    match = _RFC3339.match(value)
    try:
        if match is None:
            raise ValueError(value)
        # Python 3.10's fromisoformat reads neither "Z" nor every fraction length: give it an offset and micros.
        head, frac, zone = match.groups()
        return datetime.fromisoformat(f"{head}.{((frac or '') + '000000')[:6]}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        raise CaliperValidationError(
            [Problem(path, f"{value!r} is not a timestamp such as 2025-11-18T10:15:00.000Z", rule)]
        ) from None


def _to_model(value: Any, cls: type[M], path: str, rule: str) -> M:
    """``value`` itself when it is a ``cls``; else a ``cls`` built from a dict of wire (camelCase) keys.

    Args:
        value: a model instance or a mapping with the model's wire keys (``type`` optional; it must match).
        cls: the model class to build.
        path: JSON path of the value, used in error paths (``actor``, ``metrics[2]``).
        rule: the contract rule id for problems in this value (``TB-4``...).

    Raises:
        CaliperValidationError: an unknown or mismatched key, a wrong type, or any rule of ``cls`` broken.
    """
    if isinstance(value, cls):
        return value
    name = cls.__dict__.get("TYPE", cls.__name__)
    if not isinstance(value, Mapping):
        got = type(value).__dict__.get("TYPE", type(value).__name__)
        raise CaliperValidationError([Problem(path, f"expected a {name} or a dict of its fields, got {got}", rule)])
    spec = _spec(cls)
    tag = cls.__dict__.get("TYPE")
    kwargs: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, item in value.items():
        where = join(path, str(key))
        if key == "type" and tag is not None:
            if item != tag:
                problems.append(Problem(where, f"type must be {tag!r} here, got {item!r}", rule))
            continue
        field = spec.get(key)
        if field is None:
            problems.append(Problem(where, f"unknown key {key!r} for {name}{_did_you_mean(key, spec)}", rule))
            continue
        if item is None:
            continue  # None means "left out", as on the wire
        try:
            if field.nested is not None:
                item = _to_model(item, field.nested, where, rule)
            elif field.is_datetime:
                item = _timestamp(item, where, rule)
        except CaliperValidationError as exc:
            problems.extend(exc.errors)
            continue
        kwargs[field.attr] = item
    if problems:
        raise CaliperValidationError(f"invalid {name}", problems)
    for field in spec.values():
        if field.required:
            kwargs.setdefault(field.attr, None)  # reported as "required" with its path, not as a TypeError
    try:
        return cls(**kwargs)
    except CaliperValidationError as exc:
        raise CaliperValidationError(f"invalid {name}", _prefixed(exc.errors, path)) from None


def _did_you_mean(key: Any, spec: Mapping[str, _Field]) -> str:
    if isinstance(key, str):
        camel = wire_name(key)
        if camel in spec:
            return f" (did you mean {camel!r}? keys are the camelCase wire names)"
    return ""


def _merge_extensions(
    extensions: Mapping[str, Any] | None, *, run_id: str | None = None, course_id: str | None = None
) -> dict[str, Any] | None:
    """Event ``extensions`` with ``runId``/``courseId`` merged in (other keys kept; a conflicting value raises).

    Raises:
        CaliperValidationError: ``extensions`` already holds a different ``runId`` or ``courseId``.
    """
    if run_id is None and course_id is None:
        return None if extensions is None else dict(extensions)
    merged = dict(extensions or {})
    for key, given in (("runId", run_id), ("courseId", course_id)):
        if given is None:
            continue
        if not isinstance(given, str) or not given:
            raise CaliperValidationError([Problem(join("extensions", key), f"{key} must be a non-empty string")])
        if merged.get(key, given) != given:
            raise CaliperValidationError(
                [Problem(join("extensions", key), f"{key} given twice: {merged[key]!r} and {given!r}")]
            )
        merged[key] = given
    return merged


def _metrics(metrics: Any, cls: type[M], rule: str) -> list[M]:
    if type(metrics) is list:
        for metric in metrics:
            if type(metric) is not cls:
                break
        else:
            return metrics[:]  # models as given: nothing to convert
    if isinstance(metrics, (str, bytes, Mapping)) or not isinstance(metrics, Sequence):
        raise CaliperValidationError(
            [
                Problem(
                    "metrics", f"metrics must be a list of {cls.__name__} or dicts, got {type(metrics).__name__}", rule
                )
            ]
        )
    items: list[M] = []
    problems: list[Problem] = []
    for i, metric in enumerate(metrics):
        try:
            items.append(metric if type(metric) is cls else _to_model(metric, cls, f"metrics[{i}]", rule))
        except CaliperValidationError as exc:
            problems.extend(exc.errors)
    if problems:
        raise CaliperValidationError("invalid metrics", problems)
    return items


def _build(cls: type[M], path: str, **kwargs: Any) -> M:
    try:
        return cls(**kwargs)
    except CaliperValidationError as exc:
        raise CaliperValidationError(exc.message, _prefixed(exc.errors, path)) from None


def _event_kwargs(
    actor: Any,
    object: Any,
    event_time: datetime | str | None,
    id: str | None,
    ed_app: str | SoftwareApplication | None,
    session: str | Entity | None,
    extensions: Mapping[str, Any] | None,
    run_id: str | None,
    course_id: str | None,
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        # The benchmark's path: models are used as given, with no conversion or re-walk.
        "actor": actor if type(actor) is TimebackUser else _to_model(actor, TimebackUser, "actor", "TB-4"),
        "object": (
            object
            if type(object) is TimebackActivityContext
            else _to_model(object, TimebackActivityContext, "object", "TB-5")
        ),
    }
    if id is not None:
        kwargs["id"] = id
    if event_time is not None:
        kwargs["event_time"] = _timestamp(event_time, "eventTime", "EVT-3")
    if ed_app is not None:
        kwargs["ed_app"] = ed_app
    if session is not None:
        kwargs["session"] = session
    if run_id is not None or course_id is not None:
        kwargs["extensions"] = _merge_extensions(extensions, run_id=run_id, course_id=course_id)
    elif extensions is not None:
        kwargs["extensions"] = extensions if type(extensions) is dict else dict(extensions)
    return kwargs


def create_activity_event(
    *,
    actor: UserInput,
    object: ContextInput,
    metrics: Sequence[ActivityMetricInput],
    attempt: int | None = None,
    generated_extensions: Mapping[str, Any] | None = None,
    event_time: datetime | str | None = None,
    id: str | None = None,
    ed_app: str | SoftwareApplication | None = None,
    session: str | Entity | None = None,
    extensions: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    course_id: str | None = None,
    generated_id: str | None = None,
) -> ActivityEvent:
    """Build a Timeback ActivityEvent (``action: Completed``), checked against every strict rule.

    Args:
        actor: the learner: a :class:`TimebackUser` or a dict (``id``, ``email``, optional ``name``, ``role``).
        object: the activity: a :class:`TimebackActivityContext` or a dict (``id``, ``subject``, ``app``...).
        metrics: :class:`ActivityMetric` items or dicts (``{"type": "xpEarned", "value": 150}``).
        attempt: ``generated.attempt`` (>= 1).
        generated_extensions: ``generated.extensions``, e.g. ``{"pctCompleteApp": 40}``.
        event_time: when it happened (aware datetime); defaults to now, fixed here.
        id: the event id (``urn:uuid:...``); defaults to a fresh one, fixed here.
        ed_app: ``edApp``: an IRI or a :class:`SoftwareApplication`.
        session: ``session``: an IRI or a Session entity.
        extensions: event ``extensions`` (opaque; other keys kept).
        run_id: ``extensions.runId``, shared by every event of one activity run.
        course_id: ``extensions.courseId``, the Timeback course id (e.g. ``MATH-3``).
        generated_id: ``generated.id``; defaults to a fresh ``urn:uuid:``.

    Returns:
        The event, ready for ``client.events.send``.

    Raises:
        CaliperValidationError: any rule broken (TB-4 actor, TB-5 object, TB-6/7/9 metrics...), before any I/O;
            ``.errors`` lists every problem with its path and rule.
    """
    items = _metrics(metrics, ActivityMetric, "TB-7")
    kwargs = _event_kwargs(actor, object, event_time, id, ed_app, session, extensions, run_id, course_id)
    try:  # _build(), inlined: this is every event's path
        generated = TimebackActivityMetricsCollection(
            id=generated_id or new_event_id(),
            items=items,
            attempt=attempt,
            extensions=None if generated_extensions is None else dict(generated_extensions),
        )
    except CaliperValidationError as exc:
        raise CaliperValidationError(exc.message, _prefixed(exc.errors, "generated")) from None
    return ActivityEvent(generated=generated, **kwargs)


def create_time_spent_event(
    *,
    actor: UserInput,
    object: ContextInput,
    metrics: Sequence[TimeSpentMetricInput],
    event_time: datetime | str | None = None,
    id: str | None = None,
    ed_app: str | SoftwareApplication | None = None,
    session: str | Entity | None = None,
    extensions: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    course_id: str | None = None,
    generated_id: str | None = None,
) -> TimeSpentEvent:
    """Build a Timeback TimeSpentEvent (``action: SpentTime``) for one time window.

    Args:
        actor: the learner: a :class:`TimebackUser` or a dict.
        object: the activity: a :class:`TimebackActivityContext` or a dict.
        metrics: :class:`TimeSpentMetric` items or dicts (``{"type": "active", "value": 780}``), values in seconds.
        event_time: when the window ended (aware datetime); defaults to now, fixed here.
        id: the event id; defaults to a fresh ``urn:uuid:``, fixed here.
        ed_app: ``edApp``: an IRI or a :class:`SoftwareApplication`.
        session: ``session``: an IRI or a Session entity.
        extensions: event ``extensions`` (opaque; other keys kept).
        run_id: ``extensions.runId``, shared by every event of one activity run.
        course_id: ``extensions.courseId``.
        generated_id: ``generated.id``; defaults to a fresh ``urn:uuid:``.

    Returns:
        The event, ready for ``client.events.send``.

    Raises:
        CaliperValidationError: any rule broken (TB-4, TB-5, TB-6, TB-8...), before any I/O.
    """
    items = _metrics(metrics, TimeSpentMetric, "TB-8")
    kwargs = _event_kwargs(actor, object, event_time, id, ed_app, session, extensions, run_id, course_id)
    generated = _build(
        TimebackTimeSpentMetricsCollection,
        "generated",
        id=generated_id or new_event_id(),
        items=items,
    )
    return TimeSpentEvent(generated=generated, **kwargs)
