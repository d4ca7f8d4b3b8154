"""OneRoster gradebook payloads (contract §5.6): assessment line items and results, read leniently from the server.

The seeds document only the request bodies. A create answer is read in any of three shapes: the created object under
its own key (``{"assessmentLineItem": {...}}``, the contract's assumption), the bare object, or OneRoster 1.2's
``{"sourcedIdPairs": {"suppliedSourcedId", "allocatedSourcedId"}}``. An empty or unknown 2xx body gives back what was
sent (the client always chooses the ``sourcedId``), so a write the server accepted never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .api import as_id, parse_timestamp

__all__ = [
    "LINE_ITEM_STATUSES",
    "SCORE_STATUSES",
    "AssessmentLineItem",
    "AssessmentResult",
    "created_object",
]

SCORE_STATUSES = ("exempt", "fully graded", "not submitted", "partially graded", "submitted")
"""OneRoster 1.2 ``scoreStatus`` values (``ext:``-prefixed extensions are also accepted)."""
LINE_ITEM_STATUSES = ("active", "tobedeleted")
"""OneRoster 1.2 record ``status`` values."""


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _ref(value: Any) -> str | None:
    """The ``sourcedId`` of a OneRoster reference ``{"sourcedId": ...}`` (or a bare id)."""
    if isinstance(value, Mapping):
        return as_id(value.get("sourcedId"))
    return as_id(value)


def created_object(body: Any, key: str, sent: Mapping[str, Any]) -> dict[str, Any]:
    """The created record from a 2xx create answer, falling back on what was ``sent``.

    Args:
        body: The parsed answer (a dict, text or ``None``).
        key: The wrapper key, ``assessmentLineItem`` or ``assessmentResult``.
        sent: The object the client posted (its ``sourcedId`` included).

    Returns:
        ``sent`` overlaid with whatever the server said about the record (the server wins).
    """
    record = dict(sent)
    if not isinstance(body, Mapping):
        return record
    inner = body.get(key)
    if isinstance(inner, Mapping):
        record.update(inner)
    elif "sourcedId" in body:
        record.update(body)
    pairs = body.get("sourcedIdPairs")
    if isinstance(pairs, Mapping):
        allocated = as_id(pairs.get("allocatedSourcedId"))
        if allocated is not None:
            record["sourcedId"] = allocated
    return record


@attrs.frozen(kw_only=True, slots=False)
class AssessmentLineItem:
    """A OneRoster assessment line item: what is graded (one per activity, for ``record(gradebook=True)``)."""

    sourced_id: str | None
    """Its id. Wire name: ``sourcedId``."""
    title: str | None = None
    status: str | None = None
    """``active`` or ``tobedeleted``."""
    component_resource: str | None = None
    """The ``sourcedId`` of the component resource it grades. Wire: ``componentResource.sourcedId``."""
    date_last_modified: datetime | None = None
    """When the server last changed it, when it says. Wire name: ``dateLastModified``."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    """The record as the server (or, without an answer body, the client) gave it."""

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> AssessmentLineItem:
        """Read an assessmentLineItem object."""
        g = value.get
        return cls(
            sourced_id=as_id(g("sourcedId")),
            title=_str(g("title")),
            status=_str(g("status")),
            component_resource=_ref(g("componentResource")),
            date_last_modified=parse_timestamp(g("dateLastModified")),
            raw=dict(value),
        )


@attrs.frozen(kw_only=True, slots=False)
class AssessmentResult:
    """A OneRoster assessment result: one learner's score on one line item, with XP and accuracy in ``metadata``."""

    sourced_id: str | None
    """Its id. Wire name: ``sourcedId``."""
    line_item: str | None = None
    """The line item's ``sourcedId``. Wire: ``assessmentLineItem.sourcedId``."""
    student: str | None = None
    """The learner's OneRoster ``sourcedId``. Wire: ``student.sourcedId``."""
    score: int | float | None = None
    """The score (the accuracy percentage, 0-100, when written by ``record(gradebook=True)``)."""
    score_status: str | None = None
    """``fully graded`` and the other :data:`SCORE_STATUSES`. Wire name: ``scoreStatus``."""
    score_date: datetime | None = None
    """When it was scored. Wire name: ``scoreDate``."""
    status: str | None = None
    metadata: dict[str, Any] | None = None
    """Free-form; the guide's keys are ``xp``, ``accuracy`` (0-100), ``totalQuestions``, ``correctQuestions``,
    ``masteredUnits``."""
    date_last_modified: datetime | None = None
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def xp(self) -> int | float | None:
        """``metadata.xp``, when it is a number."""
        return _number((self.metadata or {}).get("xp"))

    @property
    def accuracy(self) -> int | float | None:
        """``metadata.accuracy`` (a percentage), when it is a number."""
        return _number((self.metadata or {}).get("accuracy"))

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> AssessmentResult:
        """Read an assessmentResult object."""
        g = value.get
        metadata = g("metadata")
        return cls(
            sourced_id=as_id(g("sourcedId")),
            line_item=_ref(g("assessmentLineItem")),
            student=_ref(g("student")),
            score=_number(g("score")),
            score_status=_str(g("scoreStatus")),
            score_date=parse_timestamp(g("scoreDate")),
            status=_str(g("status")),
            metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
            date_last_modified=parse_timestamp(g("dateLastModified")),
            raw=dict(value),
        )
