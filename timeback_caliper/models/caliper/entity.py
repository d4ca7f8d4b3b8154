"""The root of the Caliper entity tree, and the id-less SystemIdentifier."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import attrs

from .._base import CaliperModel, Iri, IriOr, Vocab
from .vocab import term

__all__ = ["Entity", "SystemIdentifier"]


@attrs.frozen(kw_only=True, slots=False)
class Entity(CaliperModel):
    """Any Caliper entity (Caliper 1.2 ``Entity``): a person, a resource, a session..."""

    TYPE: ClassVar[str] = "Entity"
    id: Iri
    """The entity's IRI (anonymous entities use the type's IRI, e.g. ``http://purl.imsglobal.org/caliper/Person``)."""
    name: str | None = None
    description: str | None = None
    date_created: datetime | None = None
    date_modified: datetime | None = None
    other_identifiers: list[SystemIdentifier] | None = None
    """Other systems' identifiers for this entity. Wire name: ``otherIdentifiers``."""
    extensions: dict[str, Any] | None = None
    """Opaque JSON, kept exactly."""


@attrs.frozen(kw_only=True, slots=False)
class SystemIdentifier(CaliperModel):
    """Another system's identifier for an entity; it has no ``id`` of its own."""

    TYPE: ClassVar[str] = "SystemIdentifier"
    identifier_type: Annotated[str, Vocab("system_identifier_type")] = attrs.field(converter=term)
    """One of the Caliper system identifier types (``LisSourcedId``, ``LtiUserId``...)."""
    identifier: str
    """The identifier itself, always a string (``"554433"``, not ``554433``)."""
    source: IriOr[agents.SoftwareApplication] | None = None
    """The system that issued the identifier."""
    extensions: dict[str, Any] | None = None


# Late import: agents.py subclasses Entity (a cycle); the hint above is resolved only when a schema is compiled.
from . import agents  # noqa: E402
