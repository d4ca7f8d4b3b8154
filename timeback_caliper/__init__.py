"""timeback_caliper: the synchronous Python client for the Timeback Caliper API (IMS Caliper 1.2)."""

from __future__ import annotations

import logging

from ._version import __version__
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CaliperValidationError,
    CaliperWarning,
    ConflictError,
    ForbiddenError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PartialSendError,
    PayloadTooLargeError,
    Problem,
    RateLimitError,
    ServerError,
    TimebackError,
    TransportError,
    UnexpectedResponseError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CaliperValidationError",
    "CaliperWarning",
    "ConflictError",
    "ForbiddenError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PartialSendError",
    "PayloadTooLargeError",
    "Problem",
    "RateLimitError",
    "ServerError",
    "TimebackError",
    "TransportError",
    "UnexpectedResponseError",
    "__version__",
]
