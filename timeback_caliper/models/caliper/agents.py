"""Agents: people, software applications, organizations and their memberships."""

from __future__ import annotations

from typing import Annotated, ClassVar

import attrs

from .._base import IriOr, Vocab
from .entity import Entity

__all__ = ["Agent", "Membership", "Organization", "Person", "SoftwareApplication"]


@attrs.frozen(kw_only=True, slots=False)
class Agent(Entity):
    """Something that acts: a person, an organization or a software application."""

    TYPE: ClassVar[str] = "Agent"


@attrs.frozen(kw_only=True, slots=False)
class Person(Agent):
    """A human being (a learner, an instructor...)."""

    TYPE: ClassVar[str] = "Person"


@attrs.frozen(kw_only=True, slots=False)
class SoftwareApplication(Agent):
    """A software application or platform; ``host``, ``ipAddress`` and ``userAgent`` describe a client."""

    TYPE: ClassVar[str] = "SoftwareApplication"
    host: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    version: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class Organization(Agent):
    """A group of people with a purpose (a school, a department)."""

    TYPE: ClassVar[str] = "Organization"
    sub_organization_of: IriOr[Organization] | None = None
    members: list[IriOr[Agent]] | None = None


@attrs.frozen(kw_only=True, slots=False)
class Membership(Entity):
    """A person's membership of an organization, with roles and a status."""

    TYPE: ClassVar[str] = "Membership"
    organization: IriOr[Organization] | None = None
    member: IriOr[Person] | None = None
    roles: list[Annotated[str, Vocab("role")]] | None = None
    status: Annotated[str, Vocab("status")] | None = None
