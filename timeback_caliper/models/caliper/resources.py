"""Digital resources: documents, assessments, media, forums, links, collections, and search queries and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import attrs

from .._base import Duration, IriOr, Vocab
from .agents import Agent, Person, SoftwareApplication
from .entity import Entity
from .vocab import term_or_none

__all__ = [
    "Assessment",
    "AssessmentItem",
    "AssignableDigitalResource",
    "AudioObject",
    "Chapter",
    "Collection",
    "DigitalResource",
    "DigitalResourceCollection",
    "Document",
    "Forum",
    "Frame",
    "ImageObject",
    "LearningObjective",
    "Link",
    "LtiLink",
    "MediaLocation",
    "MediaObject",
    "Message",
    "Page",
    "Query",
    "SearchResponse",
    "Thread",
    "VideoObject",
    "WebPage",
]


@attrs.frozen(kw_only=True, slots=False)
class LearningObjective(Entity):
    """What a learner is expected to comprehend or accomplish after engaging with a resource."""

    TYPE: ClassVar[str] = "LearningObjective"


@attrs.frozen(kw_only=True, slots=False)
class DigitalResource(Entity):
    """Content a learner interacts with (Caliper 1.2 ``DigitalResource``); use a subtype when one fits."""

    TYPE: ClassVar[str] = "DigitalResource"
    media_type: str | None = None
    """An IANA media type (``application/pdf``). Wire name: ``mediaType``."""
    creators: list[IriOr[Agent]] | None = None
    """The agents, typically people, who brought the resource into being."""
    keywords: list[str] | None = None
    """Plain-string tags or labels (strings even when they look like IRIs)."""
    learning_objectives: list[IriOr[LearningObjective]] | None = None
    """Wire name: ``learningObjectives``."""
    is_part_of: IriOr[Entity] | None = None
    """The entity that includes this resource as a part of its whole. Wire name: ``isPartOf``."""
    date_published: datetime | None = None
    """Wire name: ``datePublished``."""
    version: str | None = None
    """The resource's version, always a string (``"1.1"``)."""
    storage_name: str | None = None
    """The resource's name in a file system. Wire name: ``storageName``."""


@attrs.frozen(kw_only=True, slots=False)
class Collection(Entity):
    """A generic ordered collection of entities; use a subtype when one fits."""

    TYPE: ClassVar[str] = "Collection"
    items: list[IriOr[Entity]] | None = None


# Collections narrow `items` to their own item type. mypy sees a list override as incompatible (lists are
# invariant), hence the ignores; the narrower type is what drives structuring and validation.
@attrs.frozen(kw_only=True, slots=False)
class DigitalResourceCollection(Collection, DigitalResource):
    """An ordered collection of digital resources (both a ``Collection`` and a ``DigitalResource``)."""

    TYPE: ClassVar[str] = "DigitalResourceCollection"
    items: list[IriOr[DigitalResource]] | None = None  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class AssignableDigitalResource(DigitalResource):
    """Content assigned to a learner for completion according to specific criteria."""

    TYPE: ClassVar[str] = "AssignableDigitalResource"
    date_to_activate: datetime | None = None
    """When the resource becomes active. Wire name: ``dateToActivate``."""
    date_to_show: datetime | None = None
    """When the resource becomes visible. Wire name: ``dateToShow``."""
    date_to_start_on: datetime | None = None
    """When learners may start. Wire name: ``dateToStartOn``."""
    date_to_submit: datetime | None = None
    """The submission deadline. Wire name: ``dateToSubmit``."""
    max_attempts: int | None = None
    """Wire name: ``maxAttempts``."""
    max_submits: int | None = None
    """Wire name: ``maxSubmits``."""
    max_score: float | None = None
    """A decimal (``50.0``). Wire name: ``maxScore``."""


@attrs.frozen(kw_only=True, slots=False)
class AssessmentItem(AssignableDigitalResource):
    """One question or interaction of an assessment."""

    TYPE: ClassVar[str] = "AssessmentItem"
    is_time_dependent: bool | None = None
    """Whether the item's response is time dependent. Wire name: ``isTimeDependent``."""


@attrs.frozen(kw_only=True, slots=False)
class Assessment(DigitalResourceCollection, AssignableDigitalResource):
    """A test or quiz: an assignable collection of assessment items."""

    TYPE: ClassVar[str] = "Assessment"
    items: list[IriOr[AssessmentItem]] | None = None  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class Chapter(DigitalResource):
    """A major sub-division of a piece of digital content."""

    TYPE: ClassVar[str] = "Chapter"


@attrs.frozen(kw_only=True, slots=False)
class Document(DigitalResource):
    """A written work, such as a book or an article."""

    TYPE: ClassVar[str] = "Document"


@attrs.frozen(kw_only=True, slots=False)
class Page(DigitalResource):
    """A page of a document."""

    TYPE: ClassVar[str] = "Page"


@attrs.frozen(kw_only=True, slots=False)
class WebPage(DigitalResource):
    """A web page."""

    TYPE: ClassVar[str] = "WebPage"


@attrs.frozen(kw_only=True, slots=False)
class Frame(DigitalResource):
    """A part of a resource, such as a segment or location, identified by an index."""

    TYPE: ClassVar[str] = "Frame"
    index: int | None = None
    """The frame's position within the resource."""


@attrs.frozen(kw_only=True, slots=False)
class MediaObject(DigitalResource):
    """Rich media: audio, images, video."""

    TYPE: ClassVar[str] = "MediaObject"
    duration: Duration | None = None
    """An ISO 8601 duration (``PT1H12M27S``), kept verbatim."""


@attrs.frozen(kw_only=True, slots=False)
class AudioObject(MediaObject):
    """An audio recording."""

    TYPE: ClassVar[str] = "AudioObject"
    volume_min: str | None = None
    """Wire name: ``volumeMin``; a string on the wire."""
    volume_max: str | None = None
    """Wire name: ``volumeMax``; a string on the wire."""
    volume_level: str | None = None
    """Wire name: ``volumeLevel``; a string on the wire."""
    muted: bool | None = None


@attrs.frozen(kw_only=True, slots=False)
class ImageObject(MediaObject):
    """An image."""

    TYPE: ClassVar[str] = "ImageObject"


@attrs.frozen(kw_only=True, slots=False)
class VideoObject(MediaObject):
    """A video recording."""

    TYPE: ClassVar[str] = "VideoObject"


@attrs.frozen(kw_only=True, slots=False)
class MediaLocation(DigitalResource):
    """A position in an audio or video stream."""

    TYPE: ClassVar[str] = "MediaLocation"
    current_time: Duration | None = None
    """The playback position, an ISO 8601 duration (``PT05M21S``). Wire name: ``currentTime``."""


@attrs.frozen(kw_only=True, slots=False)
class Link(Entity):
    """A URL (a UI workflow or service endpoint), not necessarily a proper digital resource."""

    TYPE: ClassVar[str] = "Link"


@attrs.frozen(kw_only=True, slots=False)
class LtiLink(DigitalResource):
    """A digital resource reached through an LTI request message."""

    TYPE: ClassVar[str] = "LtiLink"
    message_type: Annotated[str, Vocab("lti_message_type")] | None = attrs.field(default=None, converter=term_or_none)
    """The LTI message type (``LtiResourceLinkRequest``...). Wire name: ``messageType``."""


@attrs.frozen(kw_only=True, slots=False)
class Message(DigitalResource):
    """A forum post or reply."""

    TYPE: ClassVar[str] = "Message"
    reply_to: IriOr[Message] | None = None
    """The message this one replies to. Wire name: ``replyTo``."""
    body: str | None = None
    attachments: list[IriOr[DigitalResource]] | None = None


@attrs.frozen(kw_only=True, slots=False)
class Thread(DigitalResourceCollection):
    """A forum topic: an ordered collection of messages."""

    TYPE: ClassVar[str] = "Thread"
    items: list[IriOr[Message]] | None = None  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class Forum(DigitalResourceCollection):
    """An online discussion forum: an ordered collection of threads."""

    TYPE: ClassVar[str] = "Forum"
    items: list[IriOr[Thread]] | None = None  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class Query(Entity):
    """Search criteria devised by an actor against a searchable resource."""

    TYPE: ClassVar[str] = "Query"
    creator: IriOr[Person] | None = None
    search_target: IriOr[Entity] | None = None
    """What is searched, typically a resource or an application. Wire name: ``searchTarget``."""
    search_terms: str | None = None
    """The search terms, one string. Wire name: ``searchTerms``."""


@attrs.frozen(kw_only=True, slots=False)
class SearchResponse(Entity):
    """A search engine's response to a query."""

    TYPE: ClassVar[str] = "SearchResponse"
    search_provider: IriOr[SoftwareApplication] | None = None
    """Wire name: ``searchProvider``."""
    search_target: IriOr[Entity] | None = None
    """Wire name: ``searchTarget``."""
    query: IriOr[Query] | None = None
    search_results_item_count: int | None = None
    """How many results the query returned (0 for none). Wire name: ``searchResultsItemCount``."""
    search_results: list[IriOr[Entity]] | None = None
    """The results returned, if any. Wire name: ``searchResults``."""
