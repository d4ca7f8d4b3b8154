"""The root of the Caliper entity tree, and the id-less SystemIdentifier."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

import attrs

from .._base import CaliperModel, Iri, IriOr, Vocab

__all__ = ["Entity", "SystemIdentifier"]


@attrs.frozen(kw_only=True, slots=False)
class Entity(CaliperModel):
    """Any Caliper entity (Caliper 1.2 ``Entity``): a person, a resource, a session..."""

    TYPE: ClassVar[str] = "Entity"
    id: Iri
    """The entity's IRI (anonymous entities use the type's IRI)."""
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
    identifier_type: Annotated[str, Vocab("system_identifier_type")]
    """One of the Caliper system identifier types (``LisSourcedId``, ``LtiUserId``...)."""
    identifier: str
    source: IriOr[Entity] | None = None
    extensions: dict[str, Any] | None = None
