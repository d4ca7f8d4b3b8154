"""timeback_caliper: the synchronous Python client for the Timeback Caliper API (IMS Caliper 1.2)."""

from __future__ import annotations

import logging

from . import caliper
from ._http import RetryPolicy
from ._version import __version__
from .activity_run import ActivityRun, RecordResult
from .client import CaliperClient
from .errors import (
    ActivityRunError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    CaliperValidationError,
    CaliperWarning,
    ConflictError,
    ForbiddenError,
    JobFailedError,
    JobTimeoutError,
    MissingExtraError,
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
from .gradebook import Gradebook
from .models._base import CALIPER_V1P2, register_vocabulary
from .models.api import JobStatus, SendResult, StoredEvent, StoredEventsPage, ValidationResult
from .models.caliper.envelope import Envelope
from .models.gradebook import AssessmentLineItem, AssessmentResult
from .models.insights import (
    Application,
    Insight,
    InsightSession,
    InsightType,
    Overview,
    OverviewLevel,
    SessionSummary,
)
from .models.webhooks import FilterOperation, FilterType, Webhook, WebhookFilter, WebhookFilterInput, WebhookInput
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
    "ActivityEvent",
    "ActivityMetric",
    "ActivityRun",
    "ActivityRunError",
    "ApiError",
    "Application",
    "AssessmentLineItem",
    "AssessmentResult",
    "AuthenticationError",
    "BadRequestError",
    "CALIPER_V1P2",
    "CaliperClient",
    "CaliperValidationError",
    "CaliperWarning",
    "ConflictError",
    "Envelope",
    "FilterOperation",
    "FilterType",
    "ForbiddenError",
    "Gradebook",
    "Insight",
    "InsightSession",
    "InsightType",
    "JobFailedError",
    "JobStatus",
    "JobTimeoutError",
    "MissingExtraError",
    "NotFoundError",
    "Overview",
    "OverviewLevel",
    "PartialSendError",
    "PayloadTooLargeError",
    "Problem",
    "RateLimitError",
    "RecordResult",
    "RetryPolicy",
    "SendResult",
    "ServerError",
    "SessionSummary",
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
    "Webhook",
    "WebhookFilter",
    "WebhookFilterInput",
    "WebhookInput",
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
