"""The background job worker: ``waiting`` -> ``active`` -> ``completed`` (or ``failed``, or parked ``delayed``)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from ._wire import iso_ms, utcnow
from .store import Store

__all__ = ["JobWorker"]

logger = logging.getLogger(__name__)


class JobWorker:
    """One daemon thread that runs queued jobs in order, like a BullMQ worker with concurrency 1.

    Args:
        store: Where jobs and events live.
        job_delay: Seconds a job stays ``active`` (read on every job, so it can change at run time).
        ignore_duplicates: Whether an already-stored event id is skipped (read on every job).
    """

    def __init__(self, store: Store, job_delay: Callable[[], float], ignore_duplicates: Callable[[], bool]) -> None:
        self._store = store
        self._job_delay, self._ignore = job_delay, ignore_duplicates
        self._cv = threading.Condition()
        self._queue: deque[int] = deque()
        self._busy = False
        self._paused = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread, re-queuing jobs left ``waiting`` or ``active`` by a previous run (``--db``)."""
        with self._cv:
            self._queue.clear()  # a restart in the same process: the store is the truth, not the old queue
            for job in self._store.jobs(states=("waiting", "active")):
                self._queue.append(job.id)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="caliper-emulator-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current step; a job cut short stays ``active`` and is resumed by the next start."""
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("the job worker did not stop within %.1fs", timeout)
            self._thread = None

    def submit(self, job_id: int) -> None:
        """Queue a job created ``waiting``."""
        with self._cv:
            self._queue.append(job_id)
            self._cv.notify_all()

    def pause(self) -> None:
        """Leave new jobs ``waiting`` (a paused BullMQ queue) until :meth:`resume`."""
        with self._cv:
            self._paused = True

    def resume(self) -> None:
        """Process jobs again."""
        with self._cv:
            self._paused = False
            self._cv.notify_all()

    def release_delayed(self) -> int:
        """Move every ``delayed`` job back to ``waiting`` to run normally; returns how many."""
        jobs = self._store.jobs(states=("delayed",))
        for job in jobs:
            self._store.set_state(job.id, "waiting", plan="run")
            self.submit(job.id)
        return len(jobs)

    def clear(self) -> None:
        """Forget queued jobs (used by ``Emulator.reset``)."""
        with self._cv:
            self._queue.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running (``delayed`` ones excepted); False on timeout or while paused."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._queue and not self._busy and not self._paused, timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._stop.is_set() or (self._queue and not self._paused))
                if self._stop.is_set():
                    return
                job_id = self._queue.popleft()
                self._busy = True
            try:
                self._process(job_id)
            except Exception:  # noqa: BLE001 - the worker must survive anything a job does
                logger.exception("job %s crashed", job_id)
                try:
                    self._store.fail_job(job_id, "internal error in the emulator")
                except Exception:  # noqa: BLE001
                    logger.exception("could not mark job %s failed", job_id)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _process(self, job_id: int) -> None:
        job = self._store.job(job_id)
        if job is None or job.state not in ("waiting", "active"):
            return
        if job.plan == "delayed":
            self._store.set_state(job_id, "delayed")
            return
        self._store.set_state(job_id, "active", processed_on=iso_ms(utcnow()))
        delay = self._job_delay()
        if delay > 0 and self._stop.wait(delay):
            return  # stopping: the job stays active and is resumed by the next start
        if job.plan == "fail":
            self._store.fail_job(job_id, job.reason or "injected failure")
            logger.info("job %s failed (injected)", job_id)
        else:
            results = self._store.complete_job(job_id, ignore_duplicates=self._ignore())
            logger.debug("job %s completed: %d events", job_id, len(results))
