"""Annotations (bookmarks, highlights, shares, tags) and the id-less TextPositionSelector."""

from __future__ import annotations

from typing import ClassVar

import attrs

from .._base import CaliperModel, IriOr
from .agents import Agent, Person
from .entity import Entity
from .resources import DigitalResource

__all__ = [
    "Annotation",
    "BookmarkAnnotation",
    "HighlightAnnotation",
    "Selector",
    "SharedAnnotation",
    "TagAnnotation",
    "TextPositionSelector",
]


@attrs.frozen(kw_only=True, slots=False)
class Selector(CaliperModel):
    """A part of a resource picked out by position; it has no ``id`` of its own."""

    TYPE: ClassVar[str] = "Selector"


@attrs.frozen(kw_only=True, slots=False)
class TextPositionSelector(Selector):
    """A span of text between two character positions."""

    TYPE: ClassVar[str] = "TextPositionSelector"
    start: int
    """The start position, an integer (``2300``)."""
    end: int
    """The end position, an integer (``2370``)."""


@attrs.frozen(kw_only=True, slots=False)
class Annotation(Entity):
    """A generic annotation of a digital resource; use a subtype when one fits."""

    TYPE: ClassVar[str] = "Annotation"
    annotator: IriOr[Person] | None = None
    """The person who annotated."""
    annotated: IriOr[DigitalResource] | None = None
    """The resource annotated."""


@attrs.frozen(kw_only=True, slots=False)
class BookmarkAnnotation(Annotation):
    """A bookmark, with optional notes."""

    TYPE: ClassVar[str] = "BookmarkAnnotation"
    bookmark_notes: str | None = None
    """Wire name: ``bookmarkNotes``."""


@attrs.frozen(kw_only=True, slots=False)
class HighlightAnnotation(Annotation):
    """A highlighted span of text."""

    TYPE: ClassVar[str] = "HighlightAnnotation"
    selection: Selector | None = None
    """Where the highlight is (a ``TextPositionSelector``); used by the context and fixtures, not the spec tables."""
    selection_text: str | None = None
    """The highlighted text. Wire name: ``selectionText``."""


@attrs.frozen(kw_only=True, slots=False)
class SharedAnnotation(Annotation):
    """A resource shared with other agents."""

    TYPE: ClassVar[str] = "SharedAnnotation"
    with_agents: list[IriOr[Agent]] | None = None
    """Who it was shared with. Wire name: ``withAgents``."""


@attrs.frozen(kw_only=True, slots=False)
class TagAnnotation(Annotation):
    """Tags attached to a resource."""

    TYPE: ClassVar[str] = "TagAnnotation"
    tags: list[str] | None = None
    """Plain-string tags."""
