"""Surveys: questions, scales, questionnaires and their items, surveys and survey invitations."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from .._base import IriOr
from .agents import Person
from .entity import Entity
from .resources import Collection, DigitalResource, DigitalResourceCollection

__all__ = [
    "DateTimeQuestion",
    "LikertScale",
    "MultiselectQuestion",
    "MultiselectScale",
    "NumericScale",
    "OpenEndedQuestion",
    "Question",
    "Questionnaire",
    "QuestionnaireItem",
    "RatingScaleQuestion",
    "Scale",
    "Survey",
    "SurveyInvitation",
]


@attrs.frozen(kw_only=True, slots=False)
class Scale(Entity):
    """A generic scale used to capture a rating; use a subtype when one fits."""

    TYPE: ClassVar[str] = "Scale"


@attrs.frozen(kw_only=True, slots=False)
class LikertScale(Scale):
    """A Likert scale: labelled points with their (string) values."""

    TYPE: ClassVar[str] = "LikertScale"
    scale_points: int | None = None
    """How many points the scale has. Wire name: ``scalePoints``."""
    item_labels: list[str] | None = None
    """The points' labels, in order. Wire name: ``itemLabels``."""
    item_values: list[str] | None = None
    """The points' values, strings even when numeric (``"-2"``). Wire name: ``itemValues``."""


@attrs.frozen(kw_only=True, slots=False)
class MultiselectScale(Scale):
    """A scale on which several points may be selected."""

    TYPE: ClassVar[str] = "MultiselectScale"
    scale_points: int | None = None
    """Wire name: ``scalePoints``."""
    item_labels: list[str] | None = None
    """Wire name: ``itemLabels``."""
    item_values: list[str] | None = None
    """Wire name: ``itemValues``."""
    is_ordered_selection: bool | None = None
    """Whether the order of the selections matters. Wire name: ``isOrderedSelection``."""
    min_selections: int | None = None
    """Wire name: ``minSelections``."""
    max_selections: int | None = None
    """Wire name: ``maxSelections``."""


@attrs.frozen(kw_only=True, slots=False)
class NumericScale(Scale):
    """A numeric range with a step."""

    TYPE: ClassVar[str] = "NumericScale"
    min_value: float | None = None
    """A decimal. Wire name: ``minValue``."""
    min_label: str | None = None
    """Wire name: ``minLabel``."""
    max_value: float | None = None
    """A decimal. Wire name: ``maxValue``."""
    max_label: str | None = None
    """Wire name: ``maxLabel``."""
    step: float | None = None
    """A decimal increment between selectable values."""


@attrs.frozen(kw_only=True, slots=False)
class Question(DigitalResource):
    """A generic question posed to a respondent; use a subtype when one fits."""

    TYPE: ClassVar[str] = "Question"
    question_posed: str | None = None
    """The question's text. Wire name: ``questionPosed``."""


@attrs.frozen(kw_only=True, slots=False)
class DateTimeQuestion(Question):
    """A question answered with a date and time between two bounds."""

    TYPE: ClassVar[str] = "DateTimeQuestion"
    min_date_time: datetime | None = None
    """Wire name: ``minDateTime``."""
    min_label: str | None = None
    """Wire name: ``minLabel``."""
    max_date_time: datetime | None = None
    """Wire name: ``maxDateTime``."""
    max_label: str | None = None
    """Wire name: ``maxLabel``."""


@attrs.frozen(kw_only=True, slots=False)
class MultiselectQuestion(Question):
    """A question answered by selecting one or more items."""

    TYPE: ClassVar[str] = "MultiselectQuestion"
    points: int | None = None
    """How many items there are to choose from."""
    item_labels: list[str] | None = None
    """Wire name: ``itemLabels``."""
    item_values: list[str] | None = None
    """Strings, even when they look like IRIs. Wire name: ``itemValues``."""


@attrs.frozen(kw_only=True, slots=False)
class OpenEndedQuestion(Question):
    """A question answered in free text."""

    TYPE: ClassVar[str] = "OpenEndedQuestion"


@attrs.frozen(kw_only=True, slots=False)
class RatingScaleQuestion(Question):
    """A question answered on a rating scale."""

    TYPE: ClassVar[str] = "RatingScaleQuestion"
    scale: IriOr[Scale] | None = None


@attrs.frozen(kw_only=True, slots=False)
class QuestionnaireItem(DigitalResource):
    """A question as part of a questionnaire."""

    TYPE: ClassVar[str] = "QuestionnaireItem"
    question: IriOr[Question] | None = None
    categories: list[str] | None = None
    """Plain-string categories the item covers."""
    weight: float | None = None
    """A decimal weight (``1.0``)."""


# Collections narrow `items` to their own item type. mypy sees a list override as incompatible (lists are
# invariant), hence the ignores; the narrower type is what drives structuring and validation.
@attrs.frozen(kw_only=True, slots=False)
class Questionnaire(DigitalResourceCollection):
    """An ordered collection of questionnaire items designed to elicit information from respondents."""

    TYPE: ClassVar[str] = "Questionnaire"
    items: list[IriOr[QuestionnaireItem]] | None = None  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class Survey(Collection):
    """A research method that gathers data from respondents with one or more questionnaires."""

    TYPE: ClassVar[str] = "Survey"
    items: list[IriOr[Questionnaire]] | None = None  # type: ignore[assignment]


@attrs.frozen(kw_only=True, slots=False)
class SurveyInvitation(DigitalResource):
    """An invitation, sent to a rater, to take part in a survey."""

    TYPE: ClassVar[str] = "SurveyInvitation"
    rater: IriOr[Person] | None = None
    survey: IriOr[Survey] | None = None
    sent_count: int | None = None
    """How many times the invitation was sent. Wire name: ``sentCount``."""
    date_sent: datetime | None = None
    """Wire name: ``dateSent``."""
