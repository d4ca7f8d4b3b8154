"""Sessions: a user's session with an application, and the LTI tool session of a launch."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from .._base import Duration, IriOr
from .agents import Person, SoftwareApplication
from .entity import Entity

__all__ = ["LtiSession", "Session"]


@attrs.frozen(kw_only=True, slots=False)
class Session(Entity):
    """A user's session with a software application."""

    TYPE: ClassVar[str] = "Session"
    user: IriOr[Person] | None = None
    client: IriOr[SoftwareApplication] | None = None
    """The client the user works from (browser, device)."""
    started_at_time: datetime | None = None
    """Wire name: ``startedAtTime``."""
    ended_at_time: datetime | None = None
    """Wire name: ``endedAtTime``."""
    duration: Duration | None = None
    """An ISO 8601 duration, kept verbatim."""


@attrs.frozen(kw_only=True, slots=False)
class LtiSession(Session):
    """The tool session of an LTI launch, usually an event's ``federatedSession``."""

    TYPE: ClassVar[str] = "LtiSession"
    message_parameters: dict[str, Any] | None = None
    """The LTI launch message's claims, opaque JSON kept exactly. Wire name: ``messageParameters``."""
