"""``client.jobs``: the status of background ingestion jobs, and waiting for one to finish."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote

from ._http import HttpTransport
from .errors import JobFailedError, JobTimeoutError, UnexpectedResponseError
from .models.api import JobStatus

__all__ = ["Jobs"]

logger = logging.getLogger(__name__)


class Jobs:
    """``client.jobs``: read a job's state (BullMQ names on the wire) and wait for it."""

    def __init__(
        self,
        http: HttpTransport,
        *,
        paths: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http, self._sleep, self._clock = http, sleep, clock
        self._path = (paths or {}).get("job_status", "/jobs/{job_id}/status")

    def get_status(self, job_id: str) -> JobStatus:
        """The job's current state (``GET /jobs/{jobId}/status``).

        Raises:
            NotFoundError: unknown or expired job id.
            UnexpectedResponseError: a 2xx answer without a job object.
        """
        if isinstance(job_id, bool) or not isinstance(job_id, (str, int)) or str(job_id) == "":
            raise ValueError(f"job_id must be a non-empty string, got {job_id!r}")
        job_id = str(job_id)
        reply = self._http.request("GET", self._path.format(job_id=quote(job_id, safe="")))
        try:
            return JobStatus.from_wire(reply.body, job_id)
        except ValueError as exc:
            raise UnexpectedResponseError(
                str(exc), status_code=reply.status_code, body=reply.body, request_id=reply.request_id
            ) from exc

    def wait_for_completion(
        self, job_id: str, timeout: float = 120.0, poll_interval: float = 0.5, *, max_interval: float = 10.0
    ) -> JobStatus:
        """Poll until the job is ``completed`` (returned) or ``failed`` (raised), within ``timeout`` seconds.

        The interval starts at ``poll_interval`` and grows by half each poll, up to ``max_interval``; the wait is
        bounded by real elapsed time, requests included. Each poll has its own timeout and retries.

        Raises:
            JobFailedError: the job ended ``failed``; the message carries the server's ``failedReason``.
            JobTimeoutError: still not done after ``timeout``; carries the last state seen.
        """
        if timeout <= 0 or poll_interval <= 0 or max_interval < poll_interval:
            raise ValueError("timeout and poll_interval must be > 0, and max_interval >= poll_interval")
        start = self._clock()
        interval = poll_interval
        status: JobStatus | None = None
        while True:
            status = self.get_status(job_id)
            if status.is_failed:
                raise JobFailedError(status.id, state=status.state, failed_reason=status.failed_reason, status=status)
            if status.is_done:
                return status
            elapsed = self._clock() - start
            remaining = timeout - elapsed
            if remaining <= 0:
                raise JobTimeoutError(str(job_id), state=status.state, waited=elapsed, status=status)
            pause = min(interval, remaining)
            logger.debug("job %s is %s; polling again in %.2fs", job_id, status.state, pause)
            self._sleep(pause)
            interval = min(interval * 1.5, max_interval)
