"""The exception tree of timeback_caliper and the HTTP status -> class table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

__all__ = [
    "ActivityRunError",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CaliperValidationError",
    "CaliperWarning",
    "ConflictError",
    "ForbiddenError",
    "JobFailedError",
    "JobTimeoutError",
    "MissingExtraError",
    "NotFoundError",
    "PartialSendError",
    "PayloadTooLargeError",
    "Problem",
    "RateLimitError",
    "ServerError",
    "TimebackError",
    "TransportError",
    "UnexpectedResponseError",
    "error_for_status",
]


class TimebackError(Exception):
    """Root of every error this library raises."""


class CaliperWarning(UserWarning):
    """A problem found while reading data leniently (strict mode would have raised)."""


@attrs.frozen
class Problem:
    """One validation problem: where it is, which rule it breaks, and how bad it is."""

    path: str
    """JSON path of the offending value, e.g. ``data[0].object.items[2].value`` (``""`` for the root)."""
    message: str
    """What is wrong, in words that name the rule."""
    rule: str = "CALIPER"
    """Rule id: a contract id (``TB-4``, ``EVT-1``, ``ENV-2``) or a Caliper rule name (``type``, ``range``...)."""
    severity: str = "error"
    """``error`` (rejected in strict mode) or ``warning`` (reported, never rejected)."""

    def __str__(self) -> str:
        where = self.path or "<root>"
        return f"{where}: {self.message} [{self.rule}]"


def _format_problems(problems: Sequence[Problem], limit: int = 20) -> str:
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    return "\n  ".join(lines)


class CaliperValidationError(TimebackError, ValueError):
    """Data broke a Caliper or Timeback rule; raised before any network call.

    ``errors`` lists every problem found (not only the first), each with its JSON path and rule.
    """

    def __init__(self, message: str | Sequence[Problem], errors: Sequence[Problem] | None = None) -> None:
        if not isinstance(message, str):
            errors, message = message, ""
        self.errors: list[Problem] = list(errors or [])
        if not message:
            n = len(self.errors)
            message = f"{n} validation problem{'s' if n != 1 else ''}"
        self.message = message
        text = message if not self.errors else f"{message}:\n  {_format_problems(self.errors)}"
        super().__init__(text)


class TransportError(TimebackError):
    """The request could not complete: connection refused, reset or timed out.

    ``ambiguous`` is true when the request may have reached the server (a read timeout or a reset
    after sending): the server may have accepted it.
    """

    def __init__(
        self, message: str, *, ambiguous: bool = False, request_id: str | None = None, attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.message, self.ambiguous, self.request_id, self.attempts = message, ambiguous, request_id, attempts

    def __str__(self) -> str:
        rid = f" [request {self.request_id}]" if self.request_id else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        kind = " (ambiguous: the server may have received it)" if self.ambiguous else ""
        return f"transport error{rid}{tries}{kind}: {self.message}"


class ApiError(TimebackError):
    """The server answered with a non-2xx status (after any retries)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        errors: Any = None,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message, self.status_code, self.errors = message, status_code, errors
        self.body, self.request_id = body, request_id  # body: parsed JSON when the reply was JSON, else its text
        self.retry_after, self.attempts = retry_after, attempts

    def __str__(self) -> str:
        rid = f" [request {self.request_id}]" if self.request_id else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"HTTP {self.status_code}{rid}{tries}: {self.message}"

    def __reduce__(self) -> Any:  # keep keyword-only attributes when pickled (multiprocessing, task queues)
        return (_rebuild, (type(self), self.message, dict(vars(self))))


def _rebuild(cls: type[ApiError], message: str, state: dict[str, Any]) -> ApiError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequestError(ApiError, ValueError):
    """400 or 422: the server rejected the request as invalid; ``errors`` holds its details."""


class AuthenticationError(ApiError):
    """401, or a token endpoint refusal (``invalid_client``...): the credentials were not accepted."""


class ForbiddenError(ApiError):
    """403: the token lacks a scope this call needs."""


class NotFoundError(ApiError):
    """404: unknown id or path."""


class ConflictError(ApiError):
    """409: the request conflicts with the server's state."""


class PayloadTooLargeError(ApiError):
    """413: the body was too large, even after splitting down to one event."""


class RateLimitError(ApiError):
    """429: slow down; ``retry_after`` says for how long, when the server said."""


class ServerError(ApiError):
    """5xx: the server failed."""


class UnexpectedResponseError(TimebackError):
    """A 2xx answer whose body could not be read as the documented shape; keeps the body."""

    def __init__(self, message: str, *, status_code: int, body: Any = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status_code, self.body, self.request_id = message, status_code, body, request_id

    def __str__(self) -> str:
        rid = f" [request {self.request_id}]" if self.request_id else ""
        return f"unexpected response to HTTP {self.status_code}{rid}: {self.message}"


class PartialSendError(TimebackError):
    """Some envelopes of a multi-envelope send were accepted and later ones were not.

    ``sent`` lists ``(job_id, event_ids)`` per accepted envelope; ``unsent`` holds ready-to-resend
    envelopes; ``unsent_event_ids`` names every event the server did not accept. The cause is chained.
    """

    def __init__(
        self, message: str, *, sent: list[tuple[str | None, list[str]]], unsent: list[Any], unsent_event_ids: list[str]
    ) -> None:
        super().__init__(message)
        self.message, self.sent, self.unsent, self.unsent_event_ids = message, sent, unsent, unsent_event_ids


class MissingExtraError(TimebackError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module, self.extra = module, extra
        super().__init__(f"{feature} needs {module}: pip install 'timeback-caliper-sync[{extra}]'")


class ActivityRunError(TimebackError):
    """An activity run used out of turn: a second active run, an ended or superseded run, or a bad saved state."""


class JobFailedError(TimebackError):
    """A background ingestion job ended ``failed``; the message carries the server's reason."""

    def __init__(self, job_id: str, *, state: str, failed_reason: str | None = None, status: Any = None) -> None:
        reason = failed_reason or "no reason given"
        super().__init__(f"job {job_id} failed (state {state!r}): {reason}")
        self.job_id, self.state, self.failed_reason, self.status = job_id, state, failed_reason, status


class JobTimeoutError(TimebackError):
    """Waiting for a job ran out of time; ``state`` is the last state seen."""

    def __init__(self, job_id: str, *, state: str | None, waited: float, status: Any = None) -> None:
        super().__init__(f"job {job_id} not finished after {waited:.1f}s (last state {state!r})")
        self.job_id, self.state, self.waited, self.status = job_id, state, waited, status


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[ApiError]:
    """The ApiError subclass for an HTTP status code."""
    return ServerError if status >= 500 else _BY_STATUS.get(status, ApiError)
