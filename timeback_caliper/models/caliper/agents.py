"""Agents: people, software applications, organizations (groups, course offerings and sections), memberships."""

from __future__ import annotations

from typing import Annotated, ClassVar

import attrs

from .._base import IriOr, Vocab
from .entity import Entity
from .vocab import term_list, term_or_none

__all__ = [
    "Agent",
    "CourseOffering",
    "CourseSection",
    "Group",
    "Membership",
    "Organization",
    "Person",
    "SoftwareApplication",
]


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
    """The host name or IP address of the application or client."""
    ip_address: str | None = None
    """The client's IP address. Wire name: ``ipAddress``."""
    user_agent: str | None = None
    """The client's User-Agent header value. Wire name: ``userAgent``."""
    version: str | None = None
    """The application's version, always a string (``"2.5.2"``)."""


@attrs.frozen(kw_only=True, slots=False)
class Organization(Agent):
    """A group of people with a purpose (a school, a department)."""

    TYPE: ClassVar[str] = "Organization"
    sub_organization_of: IriOr[Organization] | None = None
    """The parent organization. Wire name: ``subOrganizationOf``."""
    members: list[IriOr[Agent]] | None = None


@attrs.frozen(kw_only=True, slots=False)
class Group(Organization):
    """An ad hoc group of people, such as a study group within a course section."""

    TYPE: ClassVar[str] = "Group"


@attrs.frozen(kw_only=True, slots=False)
class CourseOffering(Organization):
    """A course offered in an academic session (LIS CourseOffering)."""

    TYPE: ClassVar[str] = "CourseOffering"
    course_number: str | None = None
    """The course's number or code, a string (``"CPS 435"``). Wire name: ``courseNumber``."""
    academic_session: str | None = None
    """The term, a string (``"Fall 2016"``). Wire name: ``academicSession``."""


@attrs.frozen(kw_only=True, slots=False)
class CourseSection(CourseOffering):
    """A section of a course offering, where learners and instructors actually meet (LIS CourseSection)."""

    TYPE: ClassVar[str] = "CourseSection"
    category: str | None = None
    """The kind of section (``"seminar"``, ``"lab"``...)."""


@attrs.frozen(kw_only=True, slots=False)
class Membership(Entity):
    """A person's membership of an organization, with roles and a status."""

    TYPE: ClassVar[str] = "Membership"
    organization: IriOr[Organization] | None = None
    member: IriOr[Person] | None = None
    roles: list[Annotated[str, Vocab("role")]] | None = attrs.field(default=None, converter=term_list)
    """LIS roles and sub-roles (``Learner``, ``Instructor#TeachingAssistant``...)."""
    status: Annotated[str, Vocab("status")] | None = attrs.field(default=None, converter=term_or_none)
    """``Active`` or ``Inactive``."""
