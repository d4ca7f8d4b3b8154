"""``client.gradebook``: OneRoster assessment line items and results on the Timeback API host (contract §5.6).

The tracking guide's third step: after the events, record the learner's result (score, XP, accuracy, mastery) in the
OneRoster gradebook. The client always chooses the ``sourcedId`` of what it creates (a fresh UUID unless given), so
a retried POST can never create a second record under another id, and an accepted write can be returned as a typed
object even when the server's answer body says little.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeGuard

from ._http import HttpResponse, HttpTransport, PerProcess
from .errors import ApiError, CaliperValidationError, ConflictError, Problem, TimebackError
from .models._base import utcnow
from .models.gradebook import (
    LINE_ITEM_STATUSES,
    SCORE_STATUSES,
    AssessmentLineItem,
    AssessmentResult,
    created_object,
)
from .serialization import format_datetime

__all__ = ["DEFAULT_GRADEBOOK_PATHS", "METADATA_KEYS", "Gradebook"]

logger = logging.getLogger(__name__)

DEFAULT_GRADEBOOK_PATHS: Mapping[str, str] = {
    "line_items": "/ims/oneroster/gradebook/v1p2/assessmentLineItems",
    "results": "/ims/oneroster/gradebook/v1p2/assessmentResults",
}
METADATA_KEYS = ("xp", "accuracy", "totalQuestions", "correctQuestions", "masteredUnits")
"""The result ``metadata`` keys the tracking guide uses (others are passed through)."""
_RULE = "gradebook"


def _problem(path: str, message: str) -> Problem:
    return Problem(path, message, _RULE)


def _check_id(problems: list[Problem], path: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(_problem(path, f"{path} must be a non-empty sourcedId string, got {value!r}"))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_metadata(problems: list[Problem], metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        problems.append(_problem("metadata", f"metadata must be a dict with string keys, got {metadata!r}"))
        return None
    for key in METADATA_KEYS:
        value = metadata.get(key)
        if value is None:
            continue
        where = f"metadata.{key}"
        if not _is_number(value):
            problems.append(_problem(where, f"{where} must be a finite number, got {value!r}"))
        elif key == "accuracy" and not 0 <= value <= 100:
            # The guide's accuracy is a percentage; a fraction (0.85) here is the usual mistake.
            problems.append(_problem(where, f"{where} is a percentage from 0 to 100, got {value!r}"))
        elif key != "xp" and value < 0:
            problems.append(_problem(where, f"{where} cannot be negative, got {value!r}"))
    total, correct = metadata.get("totalQuestions"), metadata.get("correctQuestions")
    if _is_number(total) and _is_number(correct) and correct > total:
        problems.append(_problem("metadata.correctQuestions", f"correctQuestions ({correct}) exceeds totalQuestions"))
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems.append(_problem("metadata", f"metadata must be plain JSON: {exc}"))
    return {k: v for k, v in metadata.items() if v is not None}


def _oneroster_error(exc: ApiError) -> ApiError | None:
    """The same error with the OneRoster ``imsx_description`` as its message, or None for other bodies."""
    body = exc.body
    if not isinstance(body, Mapping) or not isinstance(body.get("imsx_description"), str):
        return None
    message = body["imsx_description"]
    minor = body.get("imsx_CodeMinor")
    fields = minor.get("imsx_codeMinorField") if isinstance(minor, Mapping) else None
    codes = [
        str(f.get("imsx_codeMinorFieldValue"))
        for f in (fields if isinstance(fields, list) else [fields])
        if isinstance(f, Mapping) and f.get("imsx_codeMinorFieldValue")
    ]
    if codes:
        message = f"{message} ({', '.join(codes)})"
    return type(exc)(
        message,
        status_code=exc.status_code,
        errors=exc.errors if exc.errors is not None else minor,
        body=body,
        request_id=exc.request_id,
        retry_after=exc.retry_after,
        attempts=exc.attempts,
    )


class _Known:
    """Line item ids this process has created or seen refused as existing, so each is posted once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: set[str] = set()


class Gradebook:
    """``client.gradebook``: create OneRoster assessment line items and results (same credentials as Caliper).

    Args:
        http: The Timeback API (OneRoster) transport.
        paths: Overrides of :data:`DEFAULT_GRADEBOOK_PATHS` (``line_items``, ``results``).
        clock: Returns the current time as an aware datetime (the default ``scoreDate``).
        dry_run: Refuse every write before any I/O (the client's dry-run mode records envelopes only).
    """

    def __init__(
        self,
        http: HttpTransport,
        *,
        paths: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        dry_run: bool = False,
    ) -> None:
        unknown = set(paths or {}) - set(DEFAULT_GRADEBOOK_PATHS)
        if unknown:
            raise ValueError(f"unknown gradebook paths {sorted(unknown)}; known: {sorted(DEFAULT_GRADEBOOK_PATHS)}")
        self._http, self._clock, self._dry_run = http, clock, dry_run
        self.paths = {**DEFAULT_GRADEBOOK_PATHS, **(paths or {})}
        # Per process: a forked child must not inherit a lock some parent thread held (see _http.PerProcess).
        self._known = PerProcess(_Known)

    # ---------------------------------------------------------------------------------------------- line items
    def create_line_item(
        self,
        *,
        title: str,
        component_resource: str,
        status: str = "active",
        sourced_id: str | None = None,
    ) -> AssessmentLineItem:
        """Define what is graded (``POST .../assessmentLineItems``).

        Args:
            title: Its title, e.g. ``"Fractions Quiz"``.
            component_resource: The ``sourcedId`` of the OneRoster component resource it grades.
            status: ``"active"`` (default) or ``"tobedeleted"``.
            sourced_id: Its id; a fresh UUID when omitted (``record(gradebook=True)`` uses the activity id).

        Returns:
            The line item as created (the server's answer overlaid on what was sent).

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            ConflictError: a line item with this ``sourcedId`` exists (assumed 409, as the emulator answers).
            BadRequestError, AuthenticationError, ForbiddenError, NotFoundError, ServerError, TransportError:
                as for every call; OneRoster error bodies give their ``imsx_description`` as the message.
        """
        problems: list[Problem] = []
        if not isinstance(title, str) or not title.strip():
            problems.append(_problem("title", f"title must be a non-empty string, got {title!r}"))
        _check_id(problems, "component_resource", component_resource)
        if status not in LINE_ITEM_STATUSES:
            problems.append(_problem("status", f"status must be one of {LINE_ITEM_STATUSES}, got {status!r}"))
        if sourced_id is not None:
            _check_id(problems, "sourced_id", sourced_id)
        if problems:
            raise CaliperValidationError("invalid line item: nothing was sent", problems)
        sent = {
            "sourcedId": sourced_id or str(uuid.uuid4()),
            "status": status,
            "title": title,
            "componentResource": {"sourcedId": component_resource},
        }
        reply = self._post("line_items", {"assessmentLineItem": sent})
        created = AssessmentLineItem.from_wire(created_object(reply.body, "assessmentLineItem", sent))
        if created.sourced_id is not None:
            with self._known.get().lock:
                self._known.get().ids.add(created.sourced_id)
        logger.debug("created line item %s (request %s)", created.sourced_id, reply.request_id)
        return created

    def ensure_line_item(self, *, sourced_id: str, title: str, component_resource: str) -> bool:
        """Create the line item ``sourced_id`` unless this client already created it or the server has it.

        A 409 answer means it exists (perhaps created by another process or by you with other fields, which are
        then left as they are). The outcome is remembered per process, so a line item is posted at most once.

        Returns:
            True when this call created it; False when it already existed.

        Raises:
            As :meth:`create_line_item`, except ``ConflictError``.
        """
        known = self._known.get()
        with known.lock:
            if sourced_id in known.ids:
                return False
        try:
            self.create_line_item(title=title, component_resource=component_resource, sourced_id=sourced_id)
        except ConflictError:
            logger.debug("line item %s already exists", sourced_id)
            with known.lock:
                known.ids.add(sourced_id)
            return False
        return True

    # ---------------------------------------------------------------------------------------------- results
    def create_result(
        self,
        *,
        line_item: str | AssessmentLineItem,
        student: str,
        score: float | None,
        score_status: str = "fully graded",
        score_date: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
        status: str = "active",
        sourced_id: str | None = None,
    ) -> AssessmentResult:
        """Record a learner's result on a line item (``POST .../assessmentResults``).

        Args:
            line_item: The line item, or its ``sourcedId``.
            student: The learner's OneRoster ``sourcedId`` (the ``timeback_id`` of ``record()``'s user).
            score: The score (``None``: no score is sent, e.g. an activity without questions).
            score_status: ``"fully graded"`` (default), ``"partially graded"``, ``"submitted"``, ``"not submitted"``,
                ``"exempt"`` or an ``ext:`` value.
            score_date: When it was scored (aware datetime); now when omitted.
            metadata: Free-form JSON; the guide's keys are ``xp``, ``accuracy`` (a percentage, 0-100),
                ``totalQuestions``, ``correctQuestions`` and ``masteredUnits``, checked when present.
            status: ``"active"`` (default) or ``"tobedeleted"``.
            sourced_id: Its id; a fresh UUID when omitted.

        Returns:
            The result as created.

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            ConflictError: a result with this ``sourcedId`` exists; NotFoundError or BadRequestError: e.g. an
                unknown line item; the other errors as for :meth:`create_line_item`.
        """
        problems: list[Problem] = []
        line_item_id = line_item.sourced_id if isinstance(line_item, AssessmentLineItem) else line_item
        _check_id(problems, "line_item", line_item_id)
        _check_id(problems, "student", student)
        if score is not None and not _is_number(score):
            problems.append(_problem("score", f"score must be a finite number or None, got {score!r}"))
        if not isinstance(score_status, str) or not (score_status in SCORE_STATUSES or score_status.startswith("ext:")):
            problems.append(
                _problem("score_status", f"score_status must be one of {SCORE_STATUSES}, got {score_status!r}")
            )
        if status not in LINE_ITEM_STATUSES:
            problems.append(_problem("status", f"status must be one of {LINE_ITEM_STATUSES}, got {status!r}"))
        if score_date is not None and (not isinstance(score_date, datetime) or score_date.utcoffset() is None):
            problems.append(_problem("score_date", f"score_date must be a timezone-aware datetime, got {score_date!r}"))
        if sourced_id is not None:
            _check_id(problems, "sourced_id", sourced_id)
        meta = _check_metadata(problems, metadata)
        if problems:
            raise CaliperValidationError("invalid result: nothing was sent", problems)
        sent: dict[str, Any] = {
            "sourcedId": sourced_id or str(uuid.uuid4()),
            "status": status,
            "assessmentLineItem": {"sourcedId": line_item_id},
            "student": {"sourcedId": student},
            "scoreStatus": score_status,
            "scoreDate": format_datetime(score_date if score_date is not None else self._clock()),
        }
        if score is not None:
            sent["score"] = score
        if meta is not None:
            sent["metadata"] = meta
        reply = self._post("results", {"assessmentResult": sent})
        created = AssessmentResult.from_wire(created_object(reply.body, "assessmentResult", sent))
        logger.debug(
            "created result %s on line item %s (request %s)", created.sourced_id, line_item_id, reply.request_id
        )
        return created

    def record_activity_result(
        self,
        *,
        activity_id: str,
        title: str,
        student: str,
        result_id: str,
        xp_earned: float | None = None,
        total_questions: float | None = None,
        correct_questions: float | None = None,
        mastered_units: float | None = None,
        score_date: datetime | None = None,
    ) -> AssessmentResult:
        """The tracking guide's gradebook step for one activity run (contract §13), as ``record(gradebook=True)``.

        The line item ``activity_id`` (graded resource: the activity id too) is created on first use; the result's
        ``score`` is the accuracy percentage when the question counts are known (none otherwise), and its
        ``metadata`` holds ``xp``, ``accuracy``, ``totalQuestions``, ``correctQuestions`` and ``masteredUnits``.

        Args:
            activity_id: The activity id: the line item's ``sourcedId``.
            title: The line item's title (the activity name).
            student: The learner's OneRoster ``sourcedId``.
            result_id: The result's ``sourcedId``; derive it from the run so that a retry cannot write a second one.
            xp_earned: ``metadata.xp``.
            total_questions: ``metadata.totalQuestions``; with ``correct_questions`` gives the accuracy.
            correct_questions: ``metadata.correctQuestions``.
            mastered_units: ``metadata.masteredUnits``.
            score_date: When it was scored; now when omitted.

        Returns:
            The result; when ``result_id`` already exists (409: an earlier attempt was stored), the result as sent.

        Raises:
            As :meth:`create_result` (``ConflictError`` excepted).
        """
        self.ensure_line_item(sourced_id=activity_id, title=title, component_resource=activity_id)
        accuracy = None
        if _is_number(total_questions) and _is_number(correct_questions) and total_questions:
            value = round(correct_questions / total_questions * 100, 2)
            accuracy = int(value) if value == int(value) else value
        metadata = {
            "xp": xp_earned,
            "accuracy": accuracy,
            "totalQuestions": total_questions,
            "correctQuestions": correct_questions,
            "masteredUnits": mastered_units,
        }
        metadata = {k: v for k, v in metadata.items() if v is not None}
        fields: dict[str, Any] = {
            "line_item": activity_id,
            "student": student,
            "score": accuracy,
            "score_date": score_date or self._clock(),
            "metadata": metadata,
            "sourced_id": result_id,
        }
        try:
            return self.create_result(**fields)
        except ConflictError:
            logger.info("gradebook result %s was already written", result_id)
            return AssessmentResult(
                sourced_id=result_id,
                line_item=activity_id,
                student=student,
                score=accuracy,
                score_status="fully graded",
                score_date=fields["score_date"],
                status="active",
                metadata=metadata,
            )

    # ---------------------------------------------------------------------------------------------- plumbing
    def _post(self, path_name: str, body: dict[str, Any]) -> HttpResponse:
        if self._dry_run:
            raise TimebackError("the client is in dry-run mode: gradebook writes are not sent (nothing was sent)")
        try:
            return self._http.request("POST", self.paths[path_name], json=body)
        except ApiError as exc:
            better = _oneroster_error(exc)
            if better is None:
                raise
            raise better from exc
