"""The (profile, event type) table: allowed actions and object/generated/target types; open to extensions.

Also the per-action constraints of the event definitions (actors, required properties) and the Event-level rule
that enforces both. Rows follow the Caliper 1.2 profile tables, with the event definitions' ranges (Appendix B)
and the upstream quirks listed in the fixtures' SOURCE.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from ...errors import Problem
from .._base import VOCABULARIES, WireModel, register_vocabulary
from .._validate import Ctx, join, register_fast_path, register_rule, wire_name
from . import vocab as _vocab  # noqa: F401 - registers the Caliper vocabularies before the rows below use them
from .agents import Agent, Person, SoftwareApplication
from .annotations import Annotation
from .events import (
    AnnotationEvent,
    AssessmentEvent,
    AssessmentItemEvent,
    AssignableEvent,
    Event,
    FeedbackEvent,
    ForumEvent,
    GradeEvent,
    MediaEvent,
    MessageEvent,
    NavigationEvent,
    QuestionnaireEvent,
    QuestionnaireItemEvent,
    ResourceManagementEvent,
    SearchEvent,
    SessionEvent,
    SurveyEvent,
    SurveyInvitationEvent,
    ThreadEvent,
    ToolLaunchEvent,
    ToolUseEvent,
    ViewEvent,
)
from .outcomes import AggregateMeasureCollection, Attempt, Comment, Rating, Response, Result, Score
from .resources import (
    Assessment,
    AssessmentItem,
    AssignableDigitalResource,
    DigitalResource,
    Forum,
    Frame,
    Link,
    LtiLink,
    MediaLocation,
    MediaObject,
    Message,
    SearchResponse,
    Thread,
)
from .sessions import Session
from .surveys import Questionnaire, QuestionnaireItem, Survey, SurveyInvitation
from .vocab import Action, Profile

__all__ = [
    "ACTION_RULES",
    "EVENT_RULES",
    "ActionRule",
    "EventRule",
    "effective_rule",
    "register_action_rule",
    "register_event_rule",
]


@attrs.frozen
class EventRule:
    """What a profile allows for one event type. An empty type tuple means "any entity"."""

    actions: frozenset[str]
    """Allowed actions; empty means any action of the vocabulary (the General Profile's generic Event)."""
    objects: tuple[type, ...] = ()
    generated: tuple[type, ...] = ()
    targets: tuple[type, ...] = ()
    referrers: tuple[type, ...] = ()
    generated_required: bool = False


EVENT_RULES: dict[tuple[str, str], EventRule] = {}
"""(profile name, event type name) -> rule. Profiles and event types are open: extensions add rows."""


def register_event_rule(
    profile: str,
    event_type: str,
    *,
    actions: Iterable[str],
    objects: Iterable[type] = (),
    generated: Iterable[type] = (),
    targets: Iterable[type] = (),
    referrers: Iterable[type] = (),
    generated_required: bool = False,
) -> None:
    """Allow ``event_type`` in ``profile`` with these actions and ranges (adds to an existing row)."""
    register_vocabulary("profile", profile)
    acts = frozenset(actions)
    register_vocabulary("action", *acts)
    old = EVENT_RULES.get((profile, event_type))
    if old is not None:
        acts = acts | old.actions
        objects, generated = (*old.objects, *objects), (*old.generated, *generated)
        targets, referrers = (*old.targets, *targets), (*old.referrers, *referrers)
        generated_required = generated_required or old.generated_required
    EVENT_RULES[(profile, event_type)] = EventRule(
        acts, tuple(objects), tuple(generated), tuple(targets), tuple(referrers), generated_required
    )


@attrs.frozen
class ActionRule:
    """Profile-independent constraints of an event type (or of one of its actions), from the event definitions."""

    actors: tuple[type, ...] = ()
    """Allowed actor types; empty means any agent."""
    objects: tuple[type, ...] = ()
    """Allowed object types; empty means whatever the profile row allows."""
    generated: tuple[type, ...] = ()
    """Allowed generated types; empty means whatever the profile row allows."""
    required: tuple[str, ...] = ()
    """Python names of event properties that must be present (``federated_session``...)."""


ACTION_RULES: dict[tuple[str, str | None], ActionRule] = {}
"""(event type, action or None for every action) -> constraints. Open to extensions."""


def register_action_rule(
    event_type: str,
    action: str | None = None,
    *,
    actors: Iterable[type] = (),
    objects: Iterable[type] = (),
    generated: Iterable[type] = (),
    required: Iterable[str] = (),
) -> None:
    """Constrain ``event_type`` (for ``action`` only, when given) whatever its profile; replaces an earlier entry."""
    ACTION_RULES[(event_type, action)] = ActionRule(tuple(actors), tuple(objects), tuple(generated), tuple(required))


def _union(ranges: list[tuple[type, ...]]) -> tuple[type, ...]:
    if any(not r for r in ranges):
        return ()  # one row allows any entity: so does the merge
    return tuple(dict.fromkeys(t for r in ranges for t in r))


def effective_rule(profile: str | None, event_type: str) -> EventRule | None:
    """The rule governing ``event_type`` under ``profile``; without a profile, every profile's row merged."""
    if profile is not None:
        return EVENT_RULES.get((profile, event_type))
    rows = [rule for (_, kind), rule in EVENT_RULES.items() if kind == event_type]
    if not rows:
        return None
    any_action = any(not r.actions for r in rows)
    return EventRule(
        frozenset() if any_action else frozenset().union(*(r.actions for r in rows)),
        _union([r.objects for r in rows]),
        _union([r.generated for r in rows]),
        _union([r.targets for r in rows]),
        _union([r.referrers for r in rows]),
        all(r.generated_required for r in rows),
    )


# ---------------------------------------------------------------------------------------------------- the rule
def _an(name: str) -> str:
    return f"an {name}" if name[:1] in "AEIOU" else f"a {name}"


def _names(types: tuple[type, ...]) -> str:
    return " or ".join(sorted({str(getattr(t, "TYPE", t.__name__)) for t in types}))


def _in_range(value: Any, allowed: tuple[type, ...]) -> bool:
    # IRIs are always in range; so are values of the wrong JSON type or of an unknown `type` (their field check
    # or the unknown-type check reports them once), and anything when the range is open.
    if not allowed or not isinstance(value, WireModel) or (value.extra or {}).get("type") is not None:
        return True
    return isinstance(value, allowed)


def _missing(event: Event, name: str) -> bool:
    # A key sent as null is already reported as such ("null is not allowed"): don't call it missing too.
    return getattr(event, name, None) is None and wire_name(name) not in (event.extra or {})


class _Checker:
    """One event's checks; each property is reported once, by the most specific check that rejects it."""

    def __init__(self, event: Event, path: str, out: list[Problem], ctx: Ctx) -> None:
        self.event, self.path, self.out, self.ctx = event, path, out, ctx
        # Field checks (and a profile extension's own rules, such as the Timeback profile's TB-2/TB-3) may have
        # reported a property already: theirs is the message to keep.
        self.reported = {p.path for p in out}

    def report(self, name: str, message: str, rule: str) -> None:
        where = join(self.path, wire_name(name))
        if where not in self.reported:
            self.reported.add(where)
            self.ctx.report(self.out, where, message, rule)

    def range(self, name: str, allowed: tuple[type, ...], where: str) -> None:
        value = getattr(self.event, name)
        if value is not None and not _in_range(value, allowed):
            kind = str(type(value).__dict__.get("TYPE", type(value).__name__))
            message = f"{wire_name(name)} of {where} must be {_an(_names(allowed))} (or its IRI), not {_an(kind)}"
            self.report(name, message, "range")

    def required(self, name: str, where: str, rule: str = "required") -> None:
        if _missing(self.event, name):
            self.report(name, f"{wire_name(name)} is required for {where}", rule)


def _check_event(event: Event, path: str, out: list[Problem], ctx: Ctx) -> None:
    check = _Checker(event, path, out, ctx)
    # Both have factory defaults for events built in Python, so the schema calls them optional; on the wire (and
    # when a caller passes None) they are required.
    check.required("id", "every event", "EVT-1")
    check.required("event_time", "every event", "EVT-2")
    if (event.extra or {}).get("type") is not None:
        return  # an unknown event type, already reported as such
    kind = type(event).TYPE
    if not any(t == kind for _, t in EVENT_RULES):
        check.report("type", f"event type {kind!r} is not defined by any profile", "profile")
        return
    profile = event.profile
    if profile is not None and (not isinstance(profile, str) or profile not in VOCABULARIES.get("profile", ())):
        return  # not a string, or not a known profile: the field check reports it
    rule = effective_rule(profile, kind)
    if rule is None:
        defined = ", ".join(sorted(p for p, t in EVENT_RULES if t == kind))
        check.report("profile", f"{profile} does not define {kind} (profiles that do: {defined})", "profile")
        return
    where = f"{_an(kind)} in the {profile}" if profile else _an(kind)
    action = event.action
    known_action = isinstance(action, str) and action in VOCABULARIES.get("action", ())
    if known_action and rule.actions and action not in rule.actions:
        allowed = ", ".join(sorted(rule.actions))
        check.report("action", f"action {action!r} is not allowed for {where} (allowed: {allowed})", "action")
    # The per-action constraints first: they are the more specific, so theirs is the message worth reading.
    for act in ([action] if known_action else []) + [None]:
        constraint = ACTION_RULES.get((kind, act))
        if constraint is not None:
            label = f"{where} with action {act!r}" if act else where
            check.range("actor", constraint.actors, label)
            check.range("object", constraint.objects, label)
            check.range("generated", constraint.generated, label)
            for name in constraint.required:
                check.required(name, label)
    check.range("object", rule.objects, where)
    check.range("generated", rule.generated, where)
    check.range("target", rule.targets, where)
    check.range("referrer", rule.referrers, where)
    if rule.generated_required:
        check.required("generated", where)


register_rule(Event, _check_event)


# The rule's happy path (see models/_validate.py, "fast path"): what it checks for one (event type, profile, action)
# is worked out once and kept, together with the table rows it was derived from; a row registered or replaced since
# (extensions, tests) is noticed by identity and the plan is derived again.
_Plan = tuple[
    EventRule, "ActionRule | None", "ActionRule | None", bool, tuple[tuple[str, tuple[type, ...]], ...], tuple[str, ...]
]
_PLANS: dict[tuple[str, str, str, bool], _Plan] = {}


def _plan(rule: EventRule, by_action: ActionRule | None, for_all: ActionRule | None, action: str, known: bool) -> _Plan:
    ranges: list[tuple[str, tuple[type, ...]]] = []
    required: list[str] = []
    for constraint in (by_action, for_all):
        if constraint is not None:
            ranges += [
                ("actor", constraint.actors),
                ("object", constraint.objects),
                ("generated", constraint.generated),
            ]
            required += constraint.required
    ranges += [("object", rule.objects), ("generated", rule.generated), ("target", rule.targets)]
    ranges.append(("referrer", rule.referrers))
    if rule.generated_required:
        required.append("generated")
    action_ok = not (known and rule.actions and action not in rule.actions)
    return rule, by_action, for_all, action_ok, tuple((n, a) for n, a in ranges if a), tuple(required)


def _check_event_fast(event: Event) -> bool:
    values = event.__dict__
    if values["id"] is None or values["event_time"] is None or values["extra"]:
        return False
    profile, action = values["profile"], values["action"]
    if type(profile) is not str or type(action) is not str:
        return False  # without a profile every profile's row applies: the rule itself merges them
    # The fields passed first: `profile` is a known profile.
    kind = type(event).TYPE
    rule = EVENT_RULES.get((profile, kind))
    if rule is None:
        return False
    known = action in VOCABULARIES.get("action", ())
    by_action = ACTION_RULES.get((kind, action)) if known else None
    for_all = ACTION_RULES.get((kind, None))
    key = (kind, profile, action, known)
    plan = _PLANS.get(key)
    if plan is None or plan[0] is not rule or plan[1] is not by_action or plan[2] is not for_all:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(rule, by_action, for_all, action, known)
    if not plan[3]:
        return False
    for name, allowed in plan[4]:
        value = getattr(event, name)
        # _in_range, inlined: an IRI, a value of the wrong JSON type or of an unknown type is never out of range.
        if (
            value is not None
            and isinstance(value, WireModel)
            and not isinstance(value, allowed)
            and (value.extra or {}).get("type") is None
        ):
            return False
    for name in plan[5]:
        if getattr(event, name, None) is None:
            return False
    return True


register_fast_path(_check_event, _check_event_fast)


# ---------------------------------------------------------------------------------------------------- Caliper 1.2
_A = Action
_NAV_OBJECTS = (DigitalResource, SoftwareApplication)
_MARKED_AS_UNREAD = (_A.MARKED_AS_UNREAD, "MarkedAsUnRead")
_MEDIA_ACTIONS = (
    *(_A.STARTED, _A.ENDED, _A.PAUSED, _A.RESUMED, _A.RESTARTED, _A.FORWARDED_TO, _A.JUMPED_TO),
    *(_A.CHANGED_RESOLUTION, _A.CHANGED_SIZE, _A.CHANGED_SPEED, _A.CHANGED_VOLUME),
    *(_A.ENABLED_CLOSED_CAPTIONING, _A.DISABLED_CLOSED_CAPTIONING, "EnabledCloseCaptioning", "DisabledCloseCaptioning"),
    *(_A.ENTERED_FULL_SCREEN, _A.EXITED_FULL_SCREEN, _A.MUTED, _A.UNMUTED, _A.OPENED_POPOUT, _A.CLOSED_POPOUT),
)
_RESOURCE_ACTIONS = (
    *(_A.ARCHIVED, _A.COPIED, _A.CREATED, _A.DELETED, _A.DESCRIBED, _A.DOWNLOADED, _A.MODIFIED),
    *(_A.PRINTED, _A.PUBLISHED, _A.RESTORED, _A.RETRIEVED, _A.SAVED, _A.UNPUBLISHED, _A.UPLOADED),
)


def _row(profile: Profile, event: type[Event], actions: Iterable[str], **ranges: Any) -> None:
    register_event_rule(profile.value, event.TYPE, actions=[str(getattr(a, "value", a)) for a in actions], **ranges)


def _navigation_and_view(profile: Profile) -> None:
    # The profile tables list narrower objects per profile (Forum | Thread | Message...), but the upstream fixtures
    # use the event definitions' ranges (a DigitalResourceCollection navigated to in the Media Profile), so do we.
    _row(
        profile,
        NavigationEvent,
        [_A.NAVIGATED_TO],
        objects=_NAV_OBJECTS,
        targets=(DigitalResource,),
        referrers=_NAV_OBJECTS,
    )
    _row(profile, ViewEvent, [_A.VIEWED], objects=(DigitalResource,))


def _register_caliper_profiles() -> None:
    p = Profile
    _row(p.GENERAL, Event, [])
    # Quirk: upstream fixtures (caliperEnvelopeEventBatch, ...Thinned) send a NavigationEvent under GeneralProfile.
    _row(
        p.GENERAL,
        NavigationEvent,
        [_A.NAVIGATED_TO],
        objects=_NAV_OBJECTS,
        targets=(DigitalResource,),
        referrers=_NAV_OBJECTS,
    )
    _row(
        p.ANNOTATION,
        AnnotationEvent,
        [_A.BOOKMARKED, _A.HIGHLIGHTED, _A.SHARED, _A.TAGGED],
        objects=(DigitalResource,),
        generated=(Annotation,),
        targets=(Frame,),
    )
    # Quirk: Reset is missing from the profile table, but the event definition and certification guide allow it.
    assessment_actions = [_A.STARTED, _A.PAUSED, _A.RESUMED, _A.RESTARTED, _A.RESET, _A.SUBMITTED]
    _row(p.ASSESSMENT, AssessmentEvent, assessment_actions, objects=(Assessment,), generated=(Attempt,))
    _row(
        p.ASSESSMENT,
        AssessmentItemEvent,
        [_A.STARTED, _A.SKIPPED, _A.COMPLETED],
        objects=(AssessmentItem,),
        generated=(Attempt, Response),
        referrers=(AssessmentItem,),
    )
    _navigation_and_view(p.ASSESSMENT)
    assignable_actions = [_A.ACTIVATED, _A.DEACTIVATED, _A.STARTED, _A.COMPLETED, _A.SUBMITTED, _A.REVIEWED]
    _row(
        p.ASSIGNABLE,
        AssignableEvent,
        assignable_actions,
        objects=(AssignableDigitalResource,),
        generated=(Attempt,),
        targets=(Frame,),
    )
    _navigation_and_view(p.ASSIGNABLE)
    _row(p.FEEDBACK, FeedbackEvent, [_A.COMMENTED, _A.RANKED], generated=(Comment, Rating), targets=(Frame,))
    _row(p.FORUM, ForumEvent, [_A.SUBSCRIBED, _A.UNSUBSCRIBED], objects=(Forum,))
    _row(p.FORUM, ThreadEvent, [_A.MARKED_AS_READ, *_MARKED_AS_UNREAD], objects=(Thread,))
    _row(p.FORUM, MessageEvent, [_A.POSTED, _A.MARKED_AS_READ, *_MARKED_AS_UNREAD], objects=(Message,))
    _navigation_and_view(p.FORUM)
    _row(p.GRADING, GradeEvent, [_A.GRADED], objects=(Attempt,), generated=(Score,))
    # Quirk: a Grading-profile ViewEvent views a Result, which is not a DigitalResource.
    _row(p.GRADING, ViewEvent, [_A.VIEWED], objects=(DigitalResource, Result))
    _row(p.MEDIA, MediaEvent, _MEDIA_ACTIONS, objects=(MediaObject,), targets=(MediaLocation,))
    _navigation_and_view(p.MEDIA)
    _navigation_and_view(p.READING)
    _row(
        p.RESOURCE_MANAGEMENT,
        ResourceManagementEvent,
        _RESOURCE_ACTIONS,
        objects=(DigitalResource,),
        generated=(DigitalResource,),
    )
    _row(p.SEARCH, SearchEvent, [_A.SEARCHED], generated=(SearchResponse,))
    _row(
        p.SESSION,
        SessionEvent,
        [_A.LOGGED_IN, _A.LOGGED_OUT, _A.TIMED_OUT],
        objects=(SoftwareApplication, Session),
        targets=(DigitalResource,),
        referrers=(DigitalResource, SoftwareApplication),
    )
    _row(p.SURVEY, SurveyInvitationEvent, [_A.SENT, _A.ACCEPTED, _A.DECLINED], objects=(SurveyInvitation,))
    _row(p.SURVEY, SurveyEvent, [_A.OPTED_IN, _A.OPTED_OUT], objects=(Survey,))
    _row(p.SURVEY, QuestionnaireEvent, [_A.STARTED, _A.SUBMITTED], objects=(Questionnaire,), generated=(Attempt,))
    _row(
        p.SURVEY,
        QuestionnaireItemEvent,
        [_A.STARTED, _A.SKIPPED, _A.COMPLETED],
        objects=(QuestionnaireItem,),
        generated=(Attempt, Response),
    )
    _navigation_and_view(p.SURVEY)
    _row(
        p.TOOL_LAUNCH,
        ToolLaunchEvent,
        [_A.LAUNCHED, _A.RETURNED],
        objects=(SoftwareApplication,),
        generated=(DigitalResource,),
        targets=(Link, LtiLink),
    )
    _row(
        p.TOOL_USE,
        ToolUseEvent,
        [_A.USED],
        objects=(SoftwareApplication,),
        generated=(AggregateMeasureCollection,),
        targets=(SoftwareApplication,),
    )


def _register_caliper_constraints() -> None:
    for event in (
        *(AnnotationEvent, AssessmentEvent, AssessmentItemEvent, AssignableEvent, FeedbackEvent, ForumEvent),
        *(MediaEvent, MessageEvent, NavigationEvent, QuestionnaireEvent, QuestionnaireItemEvent),
        *(ResourceManagementEvent, SearchEvent, SurveyEvent, SurveyInvitationEvent, ThreadEvent),
        *(ToolLaunchEvent, ToolUseEvent, ViewEvent),
    ):
        register_action_rule(event.TYPE, actors=(Person,))
    register_action_rule(GradeEvent.TYPE, actors=(Agent,))
    register_action_rule(SessionEvent.TYPE, actors=(Person, SoftwareApplication))
    for action in (_A.LOGGED_IN, _A.LOGGED_OUT):
        register_action_rule(SessionEvent.TYPE, action.value, actors=(Person,), objects=(SoftwareApplication,))
    register_action_rule(SessionEvent.TYPE, _A.TIMED_OUT.value, actors=(SoftwareApplication,), objects=(Session,))
    register_action_rule(FeedbackEvent.TYPE, _A.COMMENTED.value, generated=(Comment,))
    register_action_rule(FeedbackEvent.TYPE, _A.RANKED.value, generated=(Rating,))
    for event in (AssessmentItemEvent, QuestionnaireItemEvent):
        for action in (_A.STARTED, _A.SKIPPED):
            register_action_rule(event.TYPE, action.value, generated=(Attempt,))
        register_action_rule(event.TYPE, _A.COMPLETED.value, generated=(Response,))
    # The definitions make these required for one action only (Copied; Launched), so a field default can't say it.
    register_action_rule(ResourceManagementEvent.TYPE, _A.COPIED.value, required=("generated",))
    register_action_rule(ToolLaunchEvent.TYPE, _A.LAUNCHED.value, required=("federated_session",))


_register_caliper_profiles()
_register_caliper_constraints()
