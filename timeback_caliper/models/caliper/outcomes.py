"""Outcomes: attempts, responses, results and scores, ratings and comments, aggregate measures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import attrs

from .._base import Duration, IriOr, Vocab
from .agents import Agent, Person
from .entity import Entity
from .resources import Collection, DigitalResource
from .surveys import Question
from .vocab import term

__all__ = [
    "AggregateMeasure",
    "AggregateMeasureCollection",
    "Attempt",
    "Comment",
    "DateTimeResponse",
    "FillinBlankResponse",
    "MultipleChoiceResponse",
    "MultipleResponseResponse",
    "MultiselectResponse",
    "OpenEndedResponse",
    "Rating",
    "RatingScaleResponse",
    "Response",
    "Result",
    "Score",
    "SelectTextResponse",
    "TrueFalseResponse",
]


@attrs.frozen(kw_only=True, slots=False)
class Attempt(Entity):
    """One attempt of an assigned resource, with its count and timing."""

    TYPE: ClassVar[str] = "Attempt"
    assignee: IriOr[Person] | None = None
    """The person making the attempt."""
    assignable: IriOr[DigitalResource] | None = None
    """The resource attempted."""
    is_part_of: IriOr[Attempt] | None = None
    """The parent attempt (an item attempt within an assessment attempt). Wire name: ``isPartOf``."""
    count: int | None = None
    """Attempts so far, this one included."""
    started_at_time: datetime | None = None
    """Wire name: ``startedAtTime``."""
    ended_at_time: datetime | None = None
    """Wire name: ``endedAtTime``."""
    duration: Duration | None = None
    """An ISO 8601 duration, kept verbatim."""


@attrs.frozen(kw_only=True, slots=False)
class Response(Entity):
    """A generic response to an assessment or questionnaire item; use a subtype when one fits."""

    TYPE: ClassVar[str] = "Response"
    attempt: IriOr[Attempt] | None = None
    started_at_time: datetime | None = None
    """Wire name: ``startedAtTime``."""
    ended_at_time: datetime | None = None
    """Wire name: ``endedAtTime``."""
    duration: Duration | None = None
    """An ISO 8601 duration, kept verbatim."""


@attrs.frozen(kw_only=True, slots=False)
class DateTimeResponse(Response):
    """A date and time chosen in answer to a ``DateTimeQuestion``."""

    TYPE: ClassVar[str] = "DateTimeResponse"
    date_time_selected: datetime | None = None
    """Wire name: ``dateTimeSelected``."""


@attrs.frozen(kw_only=True, slots=False)
class FillinBlankResponse(Response):
    """The words filled into the blanks of an item."""

    TYPE: ClassVar[str] = "FillinBlankResponse"
    values: list[str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class MultipleChoiceResponse(Response):
    """The single option chosen."""

    TYPE: ClassVar[str] = "MultipleChoiceResponse"
    value: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class MultipleResponseResponse(Response):
    """The options chosen, when several may be."""

    TYPE: ClassVar[str] = "MultipleResponseResponse"
    values: list[str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class MultiselectResponse(Response):
    """The items selected in answer to a ``MultiselectQuestion``."""

    TYPE: ClassVar[str] = "MultiselectResponse"
    selections: list[str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class OpenEndedResponse(Response):
    """A free-text answer."""

    TYPE: ClassVar[str] = "OpenEndedResponse"
    value: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class RatingScaleResponse(Response):
    """The points selected on a rating scale, as strings."""

    TYPE: ClassVar[str] = "RatingScaleResponse"
    selections: list[str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class SelectTextResponse(Response):
    """The pieces of text selected."""

    TYPE: ClassVar[str] = "SelectTextResponse"
    values: list[str] | None = None


@attrs.frozen(kw_only=True, slots=False)
class TrueFalseResponse(Response):
    """A true/false answer; the value is a string (``"true"``)."""

    TYPE: ClassVar[str] = "TrueFalseResponse"
    value: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class Result(Entity):
    """The final result of an attempt, as reported to a gradebook."""

    TYPE: ClassVar[str] = "Result"
    attempt: IriOr[Attempt] | None = None
    max_result_score: float | None = None
    """A decimal (``15.0``). Wire name: ``maxResultScore``."""
    result_score: float | None = None
    """A decimal (``10.0``). Wire name: ``resultScore``."""
    scored_by: IriOr[Agent] | None = None
    """Wire name: ``scoredBy``."""
    comment: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class Score(Entity):
    """A score given to an attempt."""

    TYPE: ClassVar[str] = "Score"
    attempt: IriOr[Attempt] | None = None
    max_score: float | None = None
    """A decimal (``15.0``). Wire name: ``maxScore``."""
    score_given: float | None = None
    """A decimal (``10.0``). Wire name: ``scoreGiven``."""
    scored_by: IriOr[Agent] | None = None
    """Wire name: ``scoredBy``."""
    comment: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class Comment(Entity):
    """A person's qualitative reaction to an entity."""

    TYPE: ClassVar[str] = "Comment"
    commenter: IriOr[Person] | None = None
    commented_on: IriOr[Entity] | None = None
    """Wire name: ``commentedOn``."""
    value: str | None = None
    """The comment's text."""


@attrs.frozen(kw_only=True, slots=False)
class Rating(Entity):
    """A person's quantitative reaction to an entity."""

    TYPE: ClassVar[str] = "Rating"
    rater: IriOr[Person] | None = None
    rated: IriOr[Entity] | None = None
    question: IriOr[Question] | None = None
    selections: list[str] | None = None
    """The selected values, as strings."""
    rating_comment: IriOr[Comment] | None = None
    """Wire name: ``ratingComment``."""


@attrs.frozen(kw_only=True, slots=False)
class AggregateMeasure(Entity):
    """An aggregated measure of a learner's use of a tool (time on task, units completed...)."""

    TYPE: ClassVar[str] = "AggregateMeasure"
    metric: Annotated[str, Vocab("metric")] = attrs.field(converter=term)
    """What is measured (``MinutesOnTask``, ``UnitsCompleted``...)."""
    metric_value: float
    """A decimal (``12.0``). Wire name: ``metricValue``."""
    max_metric_value: float | None = None
    """A decimal. Wire name: ``maxMetricValue``."""
    started_at_time: datetime | None = None
    """Wire name: ``startedAtTime``."""
    ended_at_time: datetime | None = None
    """Wire name: ``endedAtTime``."""


# Collections narrow `items` to their own item type. mypy sees a list override as incompatible (lists are
# invariant), hence the ignores; the narrower type is what drives structuring and validation.
@attrs.frozen(kw_only=True, slots=False)
class AggregateMeasureCollection(Collection):
    """A collection of aggregate measures, typically a ``ToolUseEvent``'s ``generated``."""

    TYPE: ClassVar[str] = "AggregateMeasureCollection"
    items: list[IriOr[AggregateMeasure]] | None = None  # type: ignore[assignment]
