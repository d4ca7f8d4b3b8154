"""Every public model; importing this package registers every Caliper and Timeback type."""

from __future__ import annotations

from . import timeback  # noqa: F401 - registers the Timeback profile
from ._base import CALIPER_V1P2, TYPE_REGISTRY, VOCABULARIES, register_type, register_vocabulary
from .caliper.agents import Agent, Membership, Organization, Person, SoftwareApplication
from .caliper.entity import Entity, SystemIdentifier
from .caliper.envelope import Envelope
from .caliper.events import Event

__all__ = [
    "CALIPER_V1P2",
    "TYPE_REGISTRY",
    "VOCABULARIES",
    "Agent",
    "Entity",
    "Envelope",
    "Event",
    "Membership",
    "Organization",
    "Person",
    "SoftwareApplication",
    "SystemIdentifier",
    "register_type",
    "register_vocabulary",
]
