"""The generated fast paths give exactly what the generic ones give.

* construction-time and deep validation: the generated predicates (models/_validate.py, "fast path") only ever
  skip the generic walk when it would find nothing, so results equal a walk that always runs;
* ``dumps`` (the generated JSON writers) equals ``json.dumps(to_dict(obj))`` byte for byte;
* the small helpers behind them (ids, timestamps), and the registries they read (rules added later apply).
"""

from __future__ import annotations

import copy
import json
import random
import re
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.fixturepaths import FIXTURES, require_fixtures
from timeback_caliper import (
    ActivityMetric,
    CaliperValidationError,
    Envelope,
    TimebackActivityContext,
    TimebackApp,
    TimebackUser,
    TimeSpentMetric,
    caliper,
    create_activity_event,
    create_time_spent_event,
    dumps,
    parse,
    to_dict,
    validate,
)
from timeback_caliper.models import _validate
from timeback_caliper.models._base import building_disabled, new_event_id, utcnow
from timeback_caliper.models._validate import CLEAN, Ctx, fast_valid, register_rule, validate_model
from timeback_caliper.serialization import format_datetime

W = datetime(2025, 11, 18, 10, 15, 0, 123456, tzinfo=timezone.utc)
EVENT_ID = "urn:uuid:00000000-0000-4000-8000-000000000000"


def _reference_dumps(obj: Any) -> bytes:
    return json.dumps(to_dict(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - the exception itself is the result compared
        return type(exc).__name__, str(exc)


def _walk(obj: Any, ctx: Ctx) -> list[Any]:
    out: list[Any] = []
    validate_model(obj, "", out, ctx)  # the generic walk alone, no generated predicate in front
    return out


# ---------------------------------------------------------------------------------------------------- wire data
def _documents() -> Iterator[tuple[str, Any]]:
    require_fixtures()
    rng = random.Random(7)
    for path in sorted(Path(FIXTURES).rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        yield path.name, doc
        for i in range(3):
            yield f"{path.name}#{i}", _mutate(doc, rng)


def _mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    nodes: list[dict[str, Any]] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            nodes.append(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    for _ in range(rng.randint(1, 3)):
        node = rng.choice(nodes) if nodes else None
        if not node:
            continue
        key = rng.choice(list(node))
        node[key] = rng.choice([None, 5, 2.5, "not an iri", [node[key]], {"type": "Weird", "id": "https://x"}])
        if rng.random() < 0.3:
            del node[key]
    return doc


def test_wire_data_dumps_and_validation_match_the_generic_paths() -> None:
    checked = 0
    for name, doc in _documents():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                obj = parse(doc, strict=False)
            except CaliperValidationError:
                continue
        assert _outcome(lambda: dumps(obj)) == _outcome(lambda: _reference_dumps(obj)), name  # noqa: B023
        for ctx in (Ctx(strict=True), Ctx(strict=False), Ctx(strict=True, trust_built=True)):
            assert _validate.validate_tree(obj, ctx) == _walk(obj, ctx), name
        assert validate(obj) == _walk(obj, Ctx(strict=True)), name
        checked += 1
    assert checked > 300


# ---------------------------------------------------------------------------------------------------- built models
def _user(**kw: Any) -> Any:
    return TimebackUser(**{"id": "https://x.test/u/1", "email": "a@b.co", **kw})


def _context(**kw: Any) -> Any:
    return TimebackActivityContext(**{"id": "https://x.test/a", "subject": "Math", "app": TimebackApp(name="A"), **kw})


BUILDERS: list[tuple[str, Any]] = [
    ("user", lambda: _user()),
    ("user-role", lambda: _user(role="student", name="N", extensions={"k": [1, 2.5, None]})),
    ("user-bad-email", lambda: _user(email="nope")),
    ("user-bad-role", lambda: _user(role="janitor")),
    ("user-enum-role", lambda: _user(role=caliper.Role.LEARNER)),
    ("user-int-id", lambda: _user(id=5)),
    ("context-subject", lambda: _context(subject="Robotics")),
    ("context-empty-subject", lambda: _context(subject="")),
    ("context-process", lambda: _context(process=True)),
    ("context-bad-app", lambda: _context(app="https://x.test/app")),
    ("metric-enum", lambda: ActivityMetric(type=caliper.Metric.MINUTES_ON_TASK, value=1)),
    ("metric-bool", lambda: ActivityMetric(type="xpEarned", value=True)),
    ("metric-nan", lambda: ActivityMetric(type="xpEarned", value=float("nan"))),
    ("metric-negative-count", lambda: ActivityMetric(type="totalQuestions", value=-1)),
    ("time-metric-order", lambda: TimeSpentMetric(type="active", value=1, start_date=W, end_date=W - timedelta(1))),
    ("score-int", lambda: caliper.Score(id="https://x.test/s", score_given=5, max_score=10)),
    ("person-naive", lambda: caliper.Person(id="https://x.test/p", date_created=datetime(2025, 1, 1))),
    ("person-context", lambda: caliper.Person(id="https://x.test/p", context="http://example.com/ctx")),
    ("envelope-empty", lambda: Envelope(sensor="https://x.test", data=[])),
    ("envelope-bad-version", lambda: Envelope(sensor="https://x.test", data=[_user()], data_version="1.1")),
    (
        "view-event",
        lambda: caliper.ViewEvent(
            actor=caliper.Person(id="https://x.test/p"),
            action=caliper.Action.VIEWED,
            object=caliper.Document(id="https://x.test/d"),
            profile="ReadingProfile",
            event_time=W,
            id=EVENT_ID,
        ),
    ),
    (
        "view-event-wrong-action",
        lambda: caliper.ViewEvent(
            actor="https://x.test/p", action="Created", object="https://x.test/d", profile="ReadingProfile"
        ),
    ),
    (
        "view-event-no-profile",
        lambda: caliper.ViewEvent(actor="https://x.test/p", action="Viewed", object="https://x.test/d"),
    ),
    (
        "view-event-wrong-object",
        lambda: caliper.ViewEvent(
            actor="https://x.test/p",
            action="Viewed",
            object=caliper.Person(id="https://x.test/d"),
            profile="ReadingProfile",
        ),
    ),
]

METRIC_SETS = [
    [("xpEarned", 1)],
    [("totalQuestions", 10), ("correctQuestions", 8), ("xpEarned", 150)],
    [("totalQuestions", 10)],
    [("totalQuestions", 5), ("correctQuestions", 8), ("xpEarned", 1)],
    [("xpEarned", 1), ("xpEarned", 2)],
    [],
    [("masteredUnits", -1), ("xpEarned", 3)],
    [("bogus", 1)],
    [("xpEarned", 1.5)],
]
for _i, _metrics in enumerate(METRIC_SETS):
    BUILDERS.append(
        (
            f"activity-{_i}",
            lambda m=_metrics: create_activity_event(
                actor=_user(),
                object=_context(),
                metrics=[{"type": t, "value": v} for t, v in m],
                event_time=W,
                id=EVENT_ID,
                attempt=2,
                generated_extensions={"pctCompleteApp": 40},
            ),
        )
    )
BUILDERS += [
    ("activity-attempt-0", lambda: create_activity_event(actor=_user(), object=_context(), metrics=[], attempt=0)),
    (
        "activity-pct",
        lambda: create_activity_event(
            actor=_user(), object=_context(), metrics=[], generated_extensions={"pctCompleteApp": 140}
        ),
    ),
    (
        "time-spent",
        lambda: create_time_spent_event(
            actor=_user(),
            object=_context(),
            metrics=[
                {"type": "active", "value": 780, "startDate": W, "endDate": W + timedelta(minutes=13)},
                {"type": "waste", "value": 5, "subType": "eating"},
            ],
            event_time=W,
            id=EVENT_ID,
        ),
    ),
    (
        "time-spent-duplicate",
        lambda: create_time_spent_event(
            actor=_user(), object=_context(), metrics=[{"type": "active", "value": 1}, {"type": "active", "value": 2}]
        ),
    ),
]


def _generic_build(builder: Any) -> tuple[str, Any]:
    # The same construction with the generated predicates bypassed: build unchecked, then run the generic walk.
    with building_disabled():
        obj = builder()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _validate._check_built_walk(obj)
    except CaliperValidationError as exc:
        return "error", [(p.path, p.message, p.rule) for p in exc.errors]
    return "ok", (len(caught), to_dict(obj))


def _fast_build(builder: Any) -> tuple[str, Any]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            obj = builder()
    except CaliperValidationError as exc:
        return "error", [(p.path, p.message, p.rule) for p in exc.errors]
    assert obj.__dict__.get(CLEAN) is True
    assert dumps(obj) == _reference_dumps(obj)
    return "ok", (len(caught), to_dict(obj))


@pytest.mark.parametrize(("name", "builder"), BUILDERS, ids=[n for n, _ in BUILDERS])
def test_construction_matches_the_generic_walk(name: str, builder: Any) -> None:
    fast, generic = _fast_build(builder), _generic_build(builder)
    if fast[0] == "ok" and generic[0] == "ok":
        # events without fixed ids and times draw fresh ones on each call
        fast = ("ok", (fast[1][0], _no_ids(fast[1][1])))
        generic = ("ok", (generic[1][0], _no_ids(generic[1][1])))
    if fast[0] == "error" and generic[0] == "error":
        # the factories prefix paths when they catch a model's error; compare the problems themselves
        assert sorted(m for _, m, _ in fast[1]) == sorted(m for _, m, _ in generic[1])
    else:
        assert fast == generic


def _no_ids(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _no_ids(v) for k, v in d.items() if k not in ("id", "eventTime")}
    return [_no_ids(v) for v in d] if isinstance(d, list) else d


def test_built_int_in_a_decimal_slot_becomes_a_float() -> None:
    score = caliper.Score(id="https://x.test/s", score_given=5, max_score=10)
    assert score.score_given == 5.0 and type(score.score_given) is float
    assert dumps(score) == _reference_dumps(score)


def test_a_rule_registered_later_applies_to_classes_already_checked() -> None:
    _user()  # the class's predicate exists now
    seen: list[str] = []

    def no_admins(obj: Any, path: str, out: list[Any], ctx: Ctx) -> None:
        seen.append(obj.email)
        if obj.role == "admin":
            ctx.report(out, f"{path}.role" if path else "role", "no admins here", "TEST-1")

    register_rule(TimebackUser, no_admins)
    try:
        with pytest.raises(CaliperValidationError, match="no admins here"):
            _user(role="admin")
        assert fast_valid(_user(), deep=True)
        assert seen
    finally:
        _validate._RULES[TimebackUser].remove((no_admins, False))
        _validate._SCHEMAS.clear()
        _validate._FAST.clear()
        _validate._FAST_BUILT.clear()
    _user(role="admin")


def test_a_vocabulary_term_removed_is_no_longer_accepted() -> None:
    from timeback_caliper.models import VOCABULARIES

    _user(role="guide")
    VOCABULARIES["timeback_role"].discard("guide")
    try:
        with pytest.raises(CaliperValidationError, match="timeback role"):
            _user(role="guide")
    finally:
        VOCABULARIES["timeback_role"].add("guide")


# ---------------------------------------------------------------------------------------------------- helpers
def test_new_event_ids_are_uuid4_urns() -> None:
    pattern = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    ids = [new_event_id() for _ in range(5000)]
    assert all(pattern.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert {i[28] for i in ids} == set("89ab")  # the variant nibble takes each of its four values


def test_utcnow_is_aware_millisecond_precise_and_current() -> None:
    before = datetime.now(timezone.utc)
    now = utcnow()
    after = datetime.now(timezone.utc)
    assert now.tzinfo is timezone.utc and now.microsecond % 1000 == 0
    assert before - timedelta(milliseconds=1) <= now <= after


def test_format_datetime_keeps_no_stale_text() -> None:
    a = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    same_instant = a.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert format_datetime(a) == "2025-01-02T03:04:05.678Z"
    assert format_datetime(same_instant) == "2025-01-02T03:04:05.678Z"
    assert format_datetime(a + timedelta(microseconds=400)) == "2025-01-02T03:04:05.679Z"
    assert format_datetime(datetime(5, 1, 2, tzinfo=timezone.utc)) == "0005-01-02T00:00:00.000Z"
    with pytest.raises(CaliperValidationError, match="naive"):
        format_datetime(a.replace(tzinfo=None))  # equal wall time, but naive: still refused
