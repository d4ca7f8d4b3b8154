"""Caliper 1.2 events: the base Event and its 21 subtypes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import attrs

from .._base import CALIPER_V1P2, CaliperModel, EventId, IriOr, JsonLdContext, Vocab, new_event_id, utcnow
from .._validate import register_field_check
from .agents import Agent, Membership, Organization, SoftwareApplication
from .entity import Entity

__all__ = ["Event"]


@attrs.frozen(kw_only=True, slots=False)
class Event(CaliperModel):
    """A Caliper event: an ``actor`` performs an ``action`` on an ``object`` at ``eventTime``.

    Events built in Python get a fresh ``urn:uuid`` id, the current time and the Caliper 1.2 ``@context`` by
    default; they are fixed when the event is built, so a retried send keeps them.
    """

    TYPE: ClassVar[str] = "Event"
    context: JsonLdContext | None = CALIPER_V1P2
    id: EventId = attrs.field(factory=new_event_id)
    profile: Annotated[str, Vocab("profile")] | None = None
    actor: IriOr[Agent]
    action: Annotated[str, Vocab("action")]
    object: IriOr[Entity]
    event_time: datetime = attrs.field(factory=utcnow)
    ed_app: IriOr[SoftwareApplication] | None = None
    generated: IriOr[Entity] | None = None
    target: IriOr[Entity] | None = None
    referrer: IriOr[Entity] | None = None
    group: IriOr[Organization] | None = None
    membership: IriOr[Membership] | None = None
    session: IriOr[Entity] | None = None
    federated_session: IriOr[Entity] | None = None
    extensions: dict[str, Any] | None = None


register_field_check(Event, "id", rule="EVT-1")
register_field_check(Event, "event_time", rule="EVT-3")
