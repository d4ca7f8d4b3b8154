"""timeback_caliper: the synchronous Python client for the Timeback Caliper API (IMS Caliper 1.2)."""

from __future__ import annotations

import logging

from . import caliper
from ._http import RetryPolicy
from ._version import __version__
from .client import CaliperClient
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
from .models._base import CALIPER_V1P2, register_vocabulary
from .models.api import JobStatus, SendResult, StoredEvent, StoredEventsPage, ValidationResult
from .models.caliper.envelope import Envelope
from .serialization import dumps, parse, to_dict, validate
from .timeback import (
    ActivityEvent,
    ActivityMetric,
    TimebackActivity,
    TimebackActivityContext,
    TimebackActivityMetricsCollection,
    TimebackApp,
    TimebackCourse,
    TimebackTimeSpentMetricsCollection,
    TimebackUser,
    TimeSpentEvent,
    TimeSpentMetric,
    create_activity_event,
    create_time_spent_event,
    register_subject,
)
from .xp import compute_xp

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CALIPER_V1P2",
    "ActivityEvent",
    "ActivityMetric",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CaliperClient",
    "CaliperValidationError",
    "CaliperWarning",
    "ConflictError",
    "Envelope",
    "ForbiddenError",
    "JobFailedError",
    "JobStatus",
    "JobTimeoutError",
    "NotFoundError",
    "PartialSendError",
    "PayloadTooLargeError",
    "Problem",
    "RateLimitError",
    "RetryPolicy",
    "SendResult",
    "ServerError",
    "StoredEvent",
    "StoredEventsPage",
    "TimeSpentEvent",
    "TimeSpentMetric",
    "TimebackActivity",
    "TimebackActivityContext",
    "TimebackActivityMetricsCollection",
    "TimebackApp",
    "TimebackCourse",
    "TimebackError",
    "TimebackTimeSpentMetricsCollection",
    "TimebackUser",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationResult",
    "__version__",
    "caliper",
    "compute_xp",
    "create_activity_event",
    "create_time_spent_event",
    "dumps",
    "parse",
    "register_subject",
    "register_vocabulary",
    "to_dict",
    "validate",
]
