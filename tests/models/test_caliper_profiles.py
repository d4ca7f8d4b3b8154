"""The (profile, event type) table and the Event rule: actions, ranges, per-action constraints, quirks, extension."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, ClassVar

import attrs
import pytest

from timeback_caliper import caliper
from timeback_caliper.errors import CaliperValidationError, CaliperWarning
from timeback_caliper.models import ACTION_RULES, EVENT_RULES, TYPE_REGISTRY, VOCABULARIES
from timeback_caliper.models.caliper.profiles import effective_rule, register_action_rule, register_event_rule
from timeback_caliper.serialization import parse, to_dict, validate

CTX = "http://purl.imsglobal.org/ctx/caliper/v1p2"
WHEN = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
PERSON = {"id": "https://example.edu/users/554433", "type": "Person"}
APP = {"id": "https://example.edu", "type": "SoftwareApplication"}


def event(kind: str, action: str, obj: Any, profile: str | None = None, **more: Any) -> dict[str, Any]:
    """A wire event (dict) with the given parts."""
    wire: dict[str, Any] = {
        "@context": CTX,
        "id": "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c",
        "type": kind,
        "actor": PERSON,
        "action": action,
        "object": obj,
        "eventTime": "2024-05-06T07:08:09.123Z",
        **more,
    }
    if profile is not None:
        wire["profile"] = profile
    return wire


def node(kind: str, n: int = 1, **more: Any) -> dict[str, Any]:
    return {"id": f"https://example.edu/{kind.lower()}/{n}", "type": kind, **more}


def problems(wire: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.path, p.rule) for p in validate(wire) if p.severity == "error"]


def restore_vocabularies(saved: dict[str, set[str]]) -> None:
    """Put the vocabularies back in place (other modules may hold the set objects themselves)."""
    for name in list(VOCABULARIES):
        if name in saved:
            VOCABULARIES[name].intersection_update(saved[name])
        else:
            del VOCABULARIES[name]


@pytest.fixture
def registries() -> Iterator[None]:
    """Undo whatever a test registers (vocabulary terms, table rows, types)."""
    vocab = copy.deepcopy(VOCABULARIES)
    rules, actions, types = dict(EVENT_RULES), dict(ACTION_RULES), dict(TYPE_REGISTRY)
    yield
    restore_vocabularies(vocab)
    EVENT_RULES.clear()
    EVENT_RULES.update(rules)
    ACTION_RULES.clear()
    ACTION_RULES.update(actions)
    TYPE_REGISTRY.clear()
    TYPE_REGISTRY.update(types)


# ---------------------------------------------------------------------------------------------------- the table
def test_every_profile_and_event_type_has_rows() -> None:
    caliper_rows = {k for k in EVENT_RULES if k[0] in {p.value for p in caliper.Profile}}
    assert {p for p, _ in caliper_rows} == {p.value for p in caliper.Profile}
    classes = [getattr(caliper, n) for n in caliper.__all__]
    event_types = {c.TYPE for c in classes if isinstance(c, type) and issubclass(c, caliper.Event)}
    assert len(event_types) == 22
    assert {t for _, t in caliper_rows} == event_types
    assert len(caliper_rows) == 34


@pytest.mark.parametrize(
    ("profile", "kind", "actions"),
    [
        ("AnnotationProfile", "AnnotationEvent", {"Bookmarked", "Highlighted", "Shared", "Tagged"}),
        ("AssessmentProfile", "AssessmentEvent", {"Started", "Paused", "Resumed", "Restarted", "Reset", "Submitted"}),
        ("AssessmentProfile", "AssessmentItemEvent", {"Started", "Skipped", "Completed"}),
        (
            "AssignableProfile",
            "AssignableEvent",
            {"Activated", "Deactivated", "Started", "Completed", "Submitted", "Reviewed"},
        ),
        ("FeedbackProfile", "FeedbackEvent", {"Commented", "Ranked"}),
        ("ForumProfile", "ForumEvent", {"Subscribed", "Unsubscribed"}),
        ("ForumProfile", "ThreadEvent", {"MarkedAsRead", "MarkedAsUnread", "MarkedAsUnRead"}),
        ("ForumProfile", "MessageEvent", {"Posted", "MarkedAsRead", "MarkedAsUnread", "MarkedAsUnRead"}),
        ("GradingProfile", "GradeEvent", {"Graded"}),
        ("ReadingProfile", "NavigationEvent", {"NavigatedTo"}),
        ("ReadingProfile", "ViewEvent", {"Viewed"}),
        ("SearchProfile", "SearchEvent", {"Searched"}),
        ("SessionProfile", "SessionEvent", {"LoggedIn", "LoggedOut", "TimedOut"}),
        ("SurveyProfile", "SurveyInvitationEvent", {"Sent", "Accepted", "Declined"}),
        ("SurveyProfile", "SurveyEvent", {"OptedIn", "OptedOut"}),
        ("SurveyProfile", "QuestionnaireEvent", {"Started", "Submitted"}),
        ("SurveyProfile", "QuestionnaireItemEvent", {"Started", "Skipped", "Completed"}),
        ("ToolLaunchProfile", "ToolLaunchEvent", {"Launched", "Returned"}),
        ("ToolUseProfile", "ToolUseEvent", {"Used"}),
    ],
)
def test_profile_rows_allow_exactly_the_spec_actions(profile: str, kind: str, actions: set[str]) -> None:
    assert EVENT_RULES[(profile, kind)].actions == actions


def test_media_events_accept_both_captioning_spellings() -> None:
    actions = EVENT_RULES[("MediaProfile", "MediaEvent")].actions
    assert len(actions) == 21
    assert {
        "EnabledClosedCaptioning",
        "EnabledCloseCaptioning",
        "DisabledClosedCaptioning",
        "DisabledCloseCaptioning",
    } <= actions
    video = node("VideoObject")
    for action in ("EnabledCloseCaptioning", "EnabledClosedCaptioning"):
        wire = event("MediaEvent", action, video, "MediaProfile")
        assert to_dict(parse(wire))["action"] == action  # kept as read, never rewritten


def test_general_profile_allows_any_action_on_the_generic_event() -> None:
    for action in ("Abandoned", "Viewed", "Launched", "MarkedAsUnRead"):
        assert problems(event("Event", action, node("Document"), "GeneralProfile")) == []
    assert problems(event("Event", "NotAnAction", node("Document"), "GeneralProfile")) == [("action", "vocabulary")]


# ---------------------------------------------------------------------------------------------------- the rule
def test_a_valid_event_has_no_problems() -> None:
    wire = event("ViewEvent", "Viewed", node("Document"), "ReadingProfile", target=node("Frame", index=2))
    assert problems(wire) == []


def test_wrong_action_for_the_event_type() -> None:
    assert problems(event("ViewEvent", "Paused", node("Document"), "ReadingProfile")) == [("action", "action")]


def test_event_type_the_profile_does_not_define() -> None:
    wire = event("MediaEvent", "Paused", node("VideoObject"), "ReadingProfile")
    assert problems(wire) == [("profile", "profile")]
    assert "ReadingProfile does not define MediaEvent (profiles that do: MediaProfile)" in validate(wire)[0].message


def test_generic_event_outside_the_general_profile() -> None:
    assert problems(event("Event", "Viewed", node("Document"), "ReadingProfile")) == [("profile", "profile")]


def test_unknown_profile_and_unknown_type_are_reported_once() -> None:
    assert problems(event("ViewEvent", "Viewed", node("Document"), "MadeUpProfile")) == [("profile", "vocabulary")]
    assert problems(event("MadeUpEvent", "Viewed", node("Document"), "ReadingProfile")) == [("type", "type")]


@pytest.mark.parametrize(
    ("kind", "action", "profile", "field", "good", "bad"),
    [
        ("AnnotationEvent", "Tagged", "AnnotationProfile", "generated", node("TagAnnotation"), node("Comment")),
        ("AnnotationEvent", "Tagged", "AnnotationProfile", "target", node("Frame"), node("Page")),
        ("AssessmentEvent", "Started", "AssessmentProfile", "generated", node("Attempt"), node("Score")),
        ("AssessmentItemEvent", "Started", "AssessmentProfile", "referrer", node("AssessmentItem"), node("Page")),
        ("AssignableEvent", "Started", "AssignableProfile", "target", node("Frame"), node("WebPage")),
        ("GradeEvent", "Graded", "GradingProfile", "generated", node("Score"), node("Result")),
        ("MediaEvent", "Paused", "MediaProfile", "target", node("MediaLocation", currentTime="PT1M"), node("Frame")),
        ("NavigationEvent", "NavigatedTo", "ReadingProfile", "referrer", node("SoftwareApplication"), node("Person")),
        ("SearchEvent", "Searched", "SearchProfile", "generated", node("SearchResponse"), node("Query")),
        ("SessionEvent", "LoggedIn", "SessionProfile", "target", node("WebPage"), node("Session")),
        ("ToolLaunchEvent", "Returned", "ToolLaunchProfile", "target", node("Link"), node("WebPage")),
        ("ToolLaunchEvent", "Returned", "ToolLaunchProfile", "generated", node("LtiLink"), node("Person")),
        ("ToolUseEvent", "Used", "ToolUseProfile", "target", node("SoftwareApplication"), node("Document")),
        ("ToolUseEvent", "Used", "ToolUseProfile", "generated", node("AggregateMeasureCollection"), node("Collection")),
    ],
)
def test_property_ranges(kind: str, action: str, profile: str, field: str, good: Any, bad: Any) -> None:
    objects = {
        "AnnotationEvent": node("Page"),
        "AssessmentEvent": node("Assessment"),
        "AssessmentItemEvent": node("AssessmentItem"),
        "AssignableEvent": node("AssignableDigitalResource"),
        "GradeEvent": node("Attempt"),
        "MediaEvent": node("AudioObject"),
        "NavigationEvent": node("WebPage"),
        "SearchEvent": node("SoftwareApplication"),
        "SessionEvent": APP,
        "ToolLaunchEvent": APP,
        "ToolUseEvent": APP,
    }
    assert problems(event(kind, action, objects[kind], profile, **{field: good})) == []
    assert problems(event(kind, action, objects[kind], profile, **{field: bad})) == [(field, "range")]
    # An IRI is always in range: the rule cannot know what it names.
    assert problems(event(kind, action, objects[kind], profile, **{field: "https://example.edu/x"})) == []


def test_subtypes_are_in_range() -> None:
    # DigitalResourceCollection is a DigitalResource; a QuestionnaireItem too.
    assert problems(event("ViewEvent", "Viewed", node("Questionnaire"), "SurveyProfile")) == []
    assert problems(event("ViewEvent", "Viewed", node("QuestionnaireItem"), "SurveyProfile")) == []


def test_grading_profile_views_a_result() -> None:
    # Quirk (SOURCE.md): the spec's ViewEvent range says DigitalResource, the Grading profile views a Result.
    assert problems(event("ViewEvent", "Viewed", node("Result"), "GradingProfile")) == []
    assert problems(event("ViewEvent", "Viewed", node("Result"), "ReadingProfile")) == [("object", "range")]


def test_assessment_profile_allows_reset() -> None:
    assert problems(event("AssessmentEvent", "Reset", node("Assessment"), "AssessmentProfile")) == []


def test_navigation_event_under_the_general_profile() -> None:
    # Quirk: upstream fixtures send it; the General Profile otherwise defines only the generic Event.
    assert problems(event("NavigationEvent", "NavigatedTo", node("WebPage"), "GeneralProfile")) == []
    assert problems(event("ViewEvent", "Viewed", node("WebPage"), "GeneralProfile")) == [("profile", "profile")]


def test_navigation_uses_the_event_definitions_ranges_in_every_profile() -> None:
    # caliperEventNavigationNavigatedToCollectionItem: a collection (not a MediaObject) under the Media Profile.
    wire = event(
        "NavigationEvent", "NavigatedTo", node("DigitalResourceCollection"), "MediaProfile", target=node("VideoObject")
    )
    assert problems(wire) == []


# ---------------------------------------------------------------------------------------------------- per action
def test_session_actions_constrain_actor_and_object() -> None:
    assert problems(event("SessionEvent", "LoggedIn", APP, "SessionProfile")) == []
    assert problems(event("SessionEvent", "LoggedIn", node("Session"), "SessionProfile")) == [("object", "range")]
    timed_out = event("SessionEvent", "TimedOut", node("Session"), "SessionProfile", actor=APP)
    assert problems(timed_out) == []
    assert problems({**timed_out, "actor": PERSON}) == [("actor", "range")]
    assert problems({**timed_out, "object": APP}) == [("object", "range")]
    message = next(p.message for p in validate({**timed_out, "object": APP}))
    assert "with action 'TimedOut' must be a Session" in message


def test_most_events_need_a_person_as_actor() -> None:
    wire = event("ViewEvent", "Viewed", node("Document"), "ReadingProfile", actor=APP)
    assert problems(wire) == [("actor", "range")]
    grade = event("GradeEvent", "Graded", node("Attempt"), "GradingProfile")
    assert problems({**grade, "actor": APP}) == []
    assert problems(grade) == []
    assert problems({**grade, "actor": node("Organization")}) == []  # any Agent grades


def test_feedback_generated_follows_the_action() -> None:
    assert (
        problems(event("FeedbackEvent", "Ranked", node("Document"), "FeedbackProfile", generated=node("Rating"))) == []
    )
    assert problems(
        event("FeedbackEvent", "Ranked", node("Document"), "FeedbackProfile", generated=node("Comment"))
    ) == [("generated", "range")]


@pytest.mark.parametrize("kind", ["AssessmentItemEvent", "QuestionnaireItemEvent"])
def test_item_events_generate_an_attempt_or_a_response(kind: str) -> None:
    item = node("AssessmentItem" if kind == "AssessmentItemEvent" else "QuestionnaireItem")
    assert problems(event(kind, "Started", item, generated=node("Attempt"))) == []
    assert problems(event(kind, "Completed", item, generated=node("TrueFalseResponse"))) == []
    assert problems(event(kind, "Completed", item, generated=node("Attempt"))) == [("generated", "range")]
    assert problems(event(kind, "Skipped", item, generated=node("OpenEndedResponse"))) == [("generated", "range")]


def test_launched_needs_a_federated_session() -> None:
    wire = event("ToolLaunchEvent", "Launched", APP, "ToolLaunchProfile")
    assert problems(wire) == [("federatedSession", "required")]
    assert problems({**wire, "federatedSession": node("LtiSession")}) == []
    assert problems({**wire, "federatedSession": "https://example.edu/lti/sessions/1"}) == []
    assert problems({**wire, "action": "Returned"}) == []


def test_copied_needs_the_copy() -> None:
    wire = event("ResourceManagementEvent", "Copied", node("Document"), "ResourceManagementProfile")
    assert problems(wire) == [("generated", "required")]
    assert problems({**wire, "generated": node("Document", 2)}) == []
    assert problems({**wire, "action": "Printed"}) == []


def test_missing_id_and_event_time_are_reported() -> None:
    wire = event("ViewEvent", "Viewed", node("Document"), "ReadingProfile")
    del wire["id"], wire["eventTime"]
    assert problems(wire) == [("id", "EVT-1"), ("eventTime", "EVT-2")]
    with pytest.raises(CaliperValidationError):
        caliper.ViewEvent(actor=PERSON["id"], action="Viewed", object="https://example.edu/d", id=None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- without profile
def test_without_a_profile_every_row_of_the_type_is_merged() -> None:
    rule = effective_rule(None, "ViewEvent")
    assert rule is not None
    assert rule.actions == {"Viewed"}
    assert set(rule.objects) == {caliper.DigitalResource, caliper.Result}
    assert problems(event("ViewEvent", "Viewed", node("Result"))) == []
    assert problems(event("ViewEvent", "Viewed", node("Person"))) == [("object", "range")]
    assert set(problems(event("ToolLaunchEvent", "Launched", node("Person")))) == {
        ("object", "range"),
        ("federatedSession", "required"),
    }


def test_profile_is_optional_in_strict_parsing() -> None:
    wire = event("AssessmentEvent", "Submitted", node("Assessment"), generated=node("Attempt"))
    assert "profile" not in to_dict(parse(wire))


# ---------------------------------------------------------------------------------------------------- construction
def test_constructors_apply_the_rule() -> None:
    person = caliper.Person(id=PERSON["id"])
    with pytest.raises(CaliperValidationError) as err:
        caliper.ForumEvent(
            actor=person, action=caliper.Action.POSTED, object="https://example.edu/f/1", profile="ForumProfile"
        )
    assert [(p.path, p.rule) for p in err.value.errors] == [("action", "action")]
    ok = caliper.ForumEvent(
        actor=person,
        action=caliper.Action.SUBSCRIBED,
        object="https://example.edu/f/1",
        profile=caliper.Profile.FORUM,
        event_time=WHEN,
    )
    assert ok.profile == "ForumProfile"
    assert ok.action == "Subscribed"
    assert type(ok.profile) is str  # enum members are stored as plain strings
    assert type(to_dict(ok)["action"]) is str


def test_lenient_parsing_reports_rule_problems_as_warnings() -> None:
    wire = event("ViewEvent", "Paused", node("Person"), "ReadingProfile")
    with pytest.warns(CaliperWarning) as record:
        parsed = parse(wire, strict=False)
    assert to_dict(parsed) == wire
    messages = [str(w.message) for w in record]
    assert any(m.startswith("action:") for m in messages)
    assert any(m.startswith("object:") for m in messages)


# ---------------------------------------------------------------------------------------------------- extension
@pytest.mark.usefixtures("registries")
def test_an_extension_adds_a_profile_an_action_and_an_event_type() -> None:
    @attrs.frozen(kw_only=True, slots=False)
    class BadgeEvent(caliper.Event):
        TYPE: ClassVar[str] = "BadgeEvent"

    wire = event("BadgeEvent", "Awarded", node("Document"), "BadgeProfile")
    assert set(problems(wire)) == {("action", "vocabulary"), ("profile", "vocabulary"), ("type", "profile")}
    register_event_rule("BadgeProfile", "BadgeEvent", actions=["Awarded"], objects=[caliper.DigitalResource])
    assert problems(wire) == []
    assert problems({**wire, "object": PERSON}) == [("object", "range")]
    register_action_rule("BadgeEvent", "Awarded", required=["generated"])
    assert problems(wire) == [("generated", "required")]
    assert "Awarded" in VOCABULARIES["action"]
    assert "BadgeProfile" in VOCABULARIES["profile"]


@pytest.mark.usefixtures("registries")
def test_a_registered_event_class_without_rows_is_reported() -> None:
    @attrs.frozen(kw_only=True, slots=False)
    class OrphanEvent(caliper.Event):
        TYPE: ClassVar[str] = "OrphanEvent"

    assert problems(event("OrphanEvent", "Viewed", node("Document"))) == [("type", "profile")]


@pytest.mark.usefixtures("registries")
def test_rows_add_up() -> None:
    register_event_rule("ReadingProfile", "ViewEvent", actions=["Viewed"], objects=[caliper.Person])
    assert problems(event("ViewEvent", "Viewed", PERSON, "ReadingProfile")) == []
    assert caliper.DigitalResource in EVENT_RULES[("ReadingProfile", "ViewEvent")].objects
