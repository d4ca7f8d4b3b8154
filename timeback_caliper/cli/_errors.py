"""How a failure is shown (one line; details with ``-v``) and which exit code it gives."""

from __future__ import annotations

import json
import sys
import traceback

from ..contrib import MissingExtraError
from ..errors import (
    ApiError,
    CaliperValidationError,
    PartialSendError,
    TransportError,
    UnexpectedResponseError,
)
from . import EXIT_API, EXIT_PARTIAL, EXIT_USAGE
from ._checkpoint import CheckpointError

__all__ = ["details", "exit_code", "one_line", "report"]


def one_line(exc: BaseException) -> str:
    """The error as one line (a validation error: its message and first problems)."""
    if isinstance(exc, CaliperValidationError):
        first = "; ".join(str(p) for p in exc.errors[:2])
        more = f" (+{len(exc.errors) - 2} more, -v lists them)" if len(exc.errors) > 2 else ""
        return f"{exc.message}: {first}{more}" if first else exc.message
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def details(exc: BaseException, verbose: int) -> list[str]:
    """Indented detail lines for ``-v`` (status, request id, body, cause); the traceback too with ``-vv``."""
    lines = [f"  type: {type(exc).__module__}.{type(exc).__qualname__}"]
    if isinstance(exc, CaliperValidationError):
        lines += [f"  {p}" for p in exc.errors]
    if isinstance(exc, (ApiError, UnexpectedResponseError)):
        lines.append(f"  status: {exc.status_code}  request id: {exc.request_id or '-'}")
        body = json.dumps(exc.body, ensure_ascii=False) if not isinstance(exc.body, str) else exc.body
        lines.append(f"  body: {body[:2000]}")
    if isinstance(exc, ApiError):
        lines.append(f"  attempts: {exc.attempts}  retry-after: {exc.retry_after}")
    if isinstance(exc, TransportError):
        lines.append(f"  attempts: {exc.attempts}  ambiguous: {exc.ambiguous}")
    if isinstance(exc, PartialSendError):
        lines.append(f"  accepted envelopes: {len(exc.sent)}  unsent events: {len(exc.unsent_event_ids)}")
    cause = exc.__cause__
    if cause is not None:
        lines.append(f"  caused by: {type(cause).__name__}: {one_line(cause)}")
    if verbose > 1:
        lines += ["  " + line for line in "".join(traceback.format_exception(exc)).splitlines()]
    return lines


def exit_code(exc: BaseException) -> int:
    """The documented exit code of a library error."""
    if isinstance(exc, PartialSendError):
        return EXIT_PARTIAL
    if isinstance(exc, (CaliperValidationError, CheckpointError, MissingExtraError, ValueError)):
        return EXIT_USAGE  # the library's own argument checks raise ValueError
    return EXIT_API


def report(exc: BaseException, *, verbose: int, prog: str = "timeback-caliper") -> None:
    """Print the error on stderr: one line, plus :func:`details` with ``-v``."""
    sys.stderr.write(f"{prog}: error: {one_line(exc)}\n")
    if verbose:
        sys.stderr.write("\n".join(details(exc, verbose)) + "\n")
