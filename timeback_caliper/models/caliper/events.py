"""Caliper 1.2 events: the base Event and its 21 subtypes.

Subtypes add no properties: what each one allows (actions; object, generated, target and referrer types) depends
on the governing profile and lives in the (profile, event type) table of :mod:`.profiles`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import attrs

from .._base import CALIPER_V1P2, CaliperModel, EventId, IriOr, JsonLdContext, Vocab, new_event_id, utcnow
from .._validate import register_field_check
from .agents import Agent, Membership, Organization, SoftwareApplication
from .entity import Entity
from .sessions import LtiSession, Session
from .vocab import term, term_or_none

__all__ = [
    "Event",
    "AnnotationEvent",
    "AssessmentEvent",
    "AssessmentItemEvent",
    "AssignableEvent",
    "FeedbackEvent",
    "ForumEvent",
    "GradeEvent",
    "MediaEvent",
    "MessageEvent",
    "NavigationEvent",
    "QuestionnaireEvent",
    "QuestionnaireItemEvent",
    "ResourceManagementEvent",
    "SearchEvent",
    "SessionEvent",
    "SurveyEvent",
    "SurveyInvitationEvent",
    "ThreadEvent",
    "ToolLaunchEvent",
    "ToolUseEvent",
    "ViewEvent",
]


@attrs.frozen(kw_only=True, slots=False)
class Event(CaliperModel):
    """A Caliper event: an ``actor`` performs an ``action`` on an ``object`` at ``eventTime``.

    Events built in Python get a fresh ``urn:uuid`` id, the current time and the Caliper 1.2 ``@context`` by
    default; they are fixed when the event is built, so a retried send keeps them.
    """

    TYPE: ClassVar[str] = "Event"
    context: JsonLdContext | None = CALIPER_V1P2
    id: EventId = attrs.field(factory=new_event_id)
    profile: Annotated[str, Vocab("profile")] | None = attrs.field(default=None, converter=term_or_none)
    """The governing profile (``ReadingProfile``...); optional in Caliper 1.2, but sensors should send it."""
    actor: IriOr[Agent]
    action: Annotated[str, Vocab("action")] = attrs.field(converter=term)
    object: IriOr[Entity]
    event_time: datetime = attrs.field(factory=utcnow)
    """When the event happened (timezone-aware); sent as ``YYYY-MM-DDTHH:MM:SS.sssZ``. Wire name: ``eventTime``."""
    ed_app: IriOr[SoftwareApplication] | None = None
    """The application context. Wire name: ``edApp``."""
    generated: IriOr[Entity] | None = None
    """An entity created by the interaction (an attempt, a response, a score...)."""
    target: IriOr[Entity] | None = None
    """A segment or location within the ``object`` (a frame, a media location...)."""
    referrer: IriOr[Entity] | None = None
    """The referring context, typically a resource or an application."""
    group: IriOr[Organization] | None = None
    """The group context, typically a course section."""
    membership: IriOr[Membership] | None = None
    """The actor's membership of ``group``: roles and status."""
    session: IriOr[Session] | None = None
    """The current user session."""
    federated_session: IriOr[LtiSession] | None = None
    """The LTI tool session, when the event happens within a launch. Wire name: ``federatedSession``."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class AnnotationEvent(Event):
    """A person annotates a digital resource (bookmarks, highlights, shares, tags)."""

    TYPE: ClassVar[str] = "AnnotationEvent"


@attrs.frozen(kw_only=True, slots=False)
class AssessmentEvent(Event):
    """A learner starts, pauses, resumes, restarts, resets or submits an assessment."""

    TYPE: ClassVar[str] = "AssessmentEvent"


@attrs.frozen(kw_only=True, slots=False)
class AssessmentItemEvent(Event):
    """A learner starts, skips or completes an assessment item."""

    TYPE: ClassVar[str] = "AssessmentItemEvent"


@attrs.frozen(kw_only=True, slots=False)
class AssignableEvent(Event):
    """Activities around content assigned to a learner (activated, started, submitted, reviewed...)."""

    TYPE: ClassVar[str] = "AssignableEvent"


@attrs.frozen(kw_only=True, slots=False)
class FeedbackEvent(Event):
    """A person comments on or ranks an entity."""

    TYPE: ClassVar[str] = "FeedbackEvent"


@attrs.frozen(kw_only=True, slots=False)
class ForumEvent(Event):
    """A person subscribes to or unsubscribes from a forum."""

    TYPE: ClassVar[str] = "ForumEvent"


@attrs.frozen(kw_only=True, slots=False)
class GradeEvent(Event):
    """An agent (person or autograder) grades an attempt, generating a score."""

    TYPE: ClassVar[str] = "GradeEvent"


@attrs.frozen(kw_only=True, slots=False)
class MediaEvent(Event):
    """A person interacts with audio, images or video (play, pause, seek, volume...)."""

    TYPE: ClassVar[str] = "MediaEvent"


@attrs.frozen(kw_only=True, slots=False)
class MessageEvent(Event):
    """A person posts a message or marks it read or unread."""

    TYPE: ClassVar[str] = "MessageEvent"


@attrs.frozen(kw_only=True, slots=False)
class NavigationEvent(Event):
    """A person navigates to a digital resource or application."""

    TYPE: ClassVar[str] = "NavigationEvent"


@attrs.frozen(kw_only=True, slots=False)
class QuestionnaireEvent(Event):
    """A respondent starts or submits a questionnaire."""

    TYPE: ClassVar[str] = "QuestionnaireEvent"


@attrs.frozen(kw_only=True, slots=False)
class QuestionnaireItemEvent(Event):
    """A respondent starts, skips or completes a questionnaire item."""

    TYPE: ClassVar[str] = "QuestionnaireItemEvent"


@attrs.frozen(kw_only=True, slots=False)
class ResourceManagementEvent(Event):
    """A person creates, copies, modifies, publishes, deletes... a digital resource."""

    TYPE: ClassVar[str] = "ResourceManagementEvent"


@attrs.frozen(kw_only=True, slots=False)
class SearchEvent(Event):
    """A person searches a resource or application."""

    TYPE: ClassVar[str] = "SearchEvent"


@attrs.frozen(kw_only=True, slots=False)
class SessionEvent(Event):
    """A user logs in or out of an application, or the application times the session out."""

    TYPE: ClassVar[str] = "SessionEvent"


@attrs.frozen(kw_only=True, slots=False)
class SurveyEvent(Event):
    """A person opts in to or out of a survey."""

    TYPE: ClassVar[str] = "SurveyEvent"


@attrs.frozen(kw_only=True, slots=False)
class SurveyInvitationEvent(Event):
    """A survey invitation is sent, accepted or declined."""

    TYPE: ClassVar[str] = "SurveyInvitationEvent"


@attrs.frozen(kw_only=True, slots=False)
class ThreadEvent(Event):
    """A person marks a forum thread read or unread."""

    TYPE: ClassVar[str] = "ThreadEvent"


@attrs.frozen(kw_only=True, slots=False)
class ToolLaunchEvent(Event):
    """A platform launches a tool, or a tool returns to the platform (LTI)."""

    TYPE: ClassVar[str] = "ToolLaunchEvent"


@attrs.frozen(kw_only=True, slots=False)
class ToolUseEvent(Event):
    """A person uses a tool as intended for learning, optionally with aggregate measures."""

    TYPE: ClassVar[str] = "ToolUseEvent"


@attrs.frozen(kw_only=True, slots=False)
class ViewEvent(Event):
    """A person views (studies) a digital resource."""

    TYPE: ClassVar[str] = "ViewEvent"


register_field_check(Event, "id", rule="EVT-1")
register_field_check(Event, "event_time", rule="EVT-3")

# Late import: the profile table refers to the event classes above; importing it here means that loading the
# events registers every Caliper type, vocabulary and event rule with them.
from . import profiles as _profiles  # noqa: E402, F401
