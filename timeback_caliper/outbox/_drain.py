"""The drain worker: claim due events, send them with ``client.events.send_serialized``, and settle every outcome.

Failure classes (the full table is in docs/outbox.md):

* accepted (any 2xx): marked ``sent`` with its job id, and never sent again, even if the lease was lost meanwhile;
* permanent (``BadRequestError`` 400/422, ``PayloadTooLargeError`` for one event, ``ConflictError``, a local
  ``CaliperValidationError``): a batch is halved until the refused events are alone, then each is ``dead`` with
  the reason. Halving is safe because the server takes an envelope all or nothing;
* retryable (429, 5xx, 408, a connection that failed before sending): rescheduled with capped exponential
  backoff (the server's ``Retry-After`` as a floor); ``dead`` only past ``max_attempts`` when that is set;
* ambiguous (``TransportError.ambiguous``: the server may have stored it): rescheduled the same way and counted,
  never ``dead`` (at-least-once: a possible duplicate is better than a lost event);
* configuration (401, 403, 404 and other 4xx: not the event's fault): rescheduled, the rest of the claim handed
  back, and the error re-raised so the operator sees it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs

from ..errors import (
    ApiError,
    BadRequestError,
    CaliperValidationError,
    ConflictError,
    PartialSendError,
    PayloadTooLargeError,
    RateLimitError,
    ServerError,
    TimebackError,
    TransportError,
)
from ._common import MAX_ERROR_TEXT, Backend, Claimed, DrainReport, Reschedule, backoff_delay

__all__ = ["AMBIGUOUS", "CONFIG", "PERMANENT", "RETRY", "DrainSettings", "classify", "describe", "run_drain"]

logger = logging.getLogger(__name__)

PERMANENT, RETRY, AMBIGUOUS, CONFIG = "permanent", "retry", "ambiguous", "config"
_WRITE_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0)
Part = list[tuple[Claimed, bytes]]


@attrs.frozen(kw_only=True)
class DrainSettings:
    """The outbox's delivery policy, fixed when the Outbox is built."""

    lease: float
    backoff_base: float
    backoff_cap: float
    max_attempts: int | None
    random: Callable[[], float]
    clock: Callable[[], float] = time.monotonic
    """Measures how much of a lease is left (the SQLite outbox's injected clock when it has one)."""


def classify(exc: BaseException) -> str:
    """Which failure class an error from ``client.events.send`` belongs to (see the module docstring)."""
    if isinstance(exc, TransportError):
        return AMBIGUOUS if exc.ambiguous else RETRY
    if isinstance(exc, (CaliperValidationError, BadRequestError, PayloadTooLargeError, ConflictError)):
        return PERMANENT
    if isinstance(exc, (RateLimitError, ServerError)):
        return RETRY
    if isinstance(exc, ApiError):
        return RETRY if exc.status_code == 408 else CONFIG
    return RETRY  # any other TimebackError: nothing says the event is at fault


def describe(exc: BaseException) -> str:
    """The error as stored in ``last_error``: class, message and the server's error details."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ApiError):
        details = exc.errors if exc.errors is not None else exc.body
        if details not in (None, "", {}, []):
            text += f"; server said: {json.dumps(details, default=str, ensure_ascii=False)}"
    return text[:MAX_ERROR_TEXT]


@attrs.define
class _Batch:
    token: str
    rows: list[Claimed]
    limit: int
    at: float
    """When it was claimed, on the settings' clock."""


class _Abort(Exception):  # noqa: N818 - internal control flow, never escapes run_drain
    def __init__(self, cause: TimebackError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Drainer:
    def __init__(
        self, backend: Backend, client: Any, settings: DrainSettings, report: DrainReport, stop: threading.Event
    ) -> None:
        self.backend, self.client, self.settings, self.report, self.stop = backend, client, settings, report, stop
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        retry = getattr(client, "retry", None)
        # The lease must outlive one send (all its retries): renew it when less than that is left.
        self.margin = float(getattr(retry, "deadline", 60.0)) + 5.0
        if settings.lease < self.margin:
            logger.warning(
                "outbox lease %.1fs is short for the client's %.1fs deadline: a slow send may lose its lease "
                "(and its events may then be sent twice)",
                settings.lease,
                self.margin - 5.0,
            )
        self.token = ""  # the batch being processed: its claim token, rows still held, and lease start
        self.held: dict[int, Claimed] = {}
        self.lease_from = 0.0
        # One helper thread does the database work off the sending thread: claiming (and decoding) the next batch
        # while this one is on the wire, and the durable "sent" write (a commit, so an fsync) while the next one
        # is. One thread, so the two never wait on each other's write lock. A mark is queued the moment the
        # server answers, behind at most one claim, so a crash leaves barely more unmarked than writing inline.
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-io")
        self.marking: Future[int] | None = None

    # ------------------------------------------------------------------------------------------------ writes
    def _write(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a backend write, retrying transient database errors: losing a 'sent' mark means a duplicate."""
        for delay in (*_WRITE_RETRY_DELAYS, None):
            try:
                return fn(*args)
            except self.backend.transient_errors as exc:
                if delay is None:
                    logger.error("outbox: could not %s after retries: %s", what, exc)
                    raise
                logger.warning("outbox: %s failed (%s); retrying in %.1fs", what, exc, delay)
                time.sleep(delay)
        return None  # pragma: no cover - the loop always returns or raises

    def _sent(self, items: list[tuple[Claimed, str | None]]) -> None:
        """Mark accepted events sent: written by the marker thread while the next send is on the wire."""
        if not items:
            return
        for c, _ in items:
            self.held.pop(c.seq, None)
        self.report.sent += len(items)
        self.settle_marks()  # at most one mark in flight, so marks commit in order and failures surface at once
        pairs = [(c.seq, job) for c, job in items]
        self.marking = self.io.submit(self._write, "mark events sent", self.backend.mark_sent, self.token, pairs)

    def settle_marks(self) -> None:
        """Wait for the mark in flight; raise if it could not be written (its events then stay leased)."""
        if self.marking is None:
            return
        running, self.marking = self.marking, None
        lost = running.result()
        if lost:
            self.report.lease_lost += lost
            logger.warning("outbox: %d events were sent after their lease expired (another worker may resend)", lost)

    def _reschedule(self, rows: list[Claimed], exc: BaseException, kind: str) -> None:
        floor = exc.retry_after if isinstance(exc, ApiError) else None
        reason, later, dead = describe(exc), [], []
        cap = self.settings.max_attempts
        for c in rows:
            if kind == RETRY and cap is not None and c.attempts >= cap:
                dead.append((c.seq, f"gave up after {c.attempts} attempts: {reason}"[:MAX_ERROR_TEXT]))
                continue
            delay = backoff_delay(
                c.attempts,
                base=self.settings.backoff_base,
                cap=self.settings.backoff_cap,
                random=self.settings.random,
                floor=floor,
            )
            later.append(Reschedule(seq=c.seq, delay=delay, error=reason, ambiguous=kind == AMBIGUOUS))
        if later:
            self._write("reschedule events", self.backend.reschedule, self.token, later)
            self.report.retried += len(later)
            if kind == AMBIGUOUS:
                self.report.ambiguous += len(later)
        self._dead(dead)
        for c in rows:
            self.held.pop(c.seq, None)
        logger.info("outbox: %d events will be retried (%s): %s", len(later), kind, reason[:200])

    def _dead(self, items: list[tuple[int, str]]) -> None:
        if not items:
            return
        self._write("park dead events", self.backend.mark_dead, self.token, items)
        for seq, reason in items:
            c = self.held.pop(seq, None)
            logger.warning("outbox: event %s is dead: %s", c.event_id if c else seq, reason[:500])
        self.report.dead += len(items)

    def _release_rest(self) -> None:
        if not self.held:
            return
        seqs = list(self.held)
        self.held.clear()
        self._write("release claimed events", self.backend.release, self.token, seqs)
        self.report.released += len(seqs)

    # ------------------------------------------------------------------------------------------------ one claim
    def claim(self, limit: int) -> _Batch:
        """Claim up to ``limit`` due events (runs ahead on the I/O thread while the current batch is sent)."""
        token, claimed_at = uuid.uuid4().hex, self.settings.clock()  # read before: the lease may be older, not newer
        if self.stop.is_set():  # running ahead while the drain stops: claim nothing it would only hand back
            return _Batch(token=token, rows=[], limit=limit, at=claimed_at)
        rows = self.backend.claim(limit, self.settings.lease, token, self.worker)
        return _Batch(token=token, rows=rows, limit=limit, at=claimed_at)

    def release(self, batch: _Batch) -> None:
        """Hand back a batch claimed ahead but never started (the drain is stopping)."""
        if batch.rows:
            self._write("release claimed events", self.backend.release, batch.token, [r.seq for r in batch.rows])
            self.report.claimed += len(batch.rows)
            self.report.released += len(batch.rows)

    def process(self, batch: _Batch) -> None:
        """Send and settle one claimed batch; whatever is left unsettled is handed back."""
        self.token, self.lease_from = batch.token, batch.at
        self.held = {c.seq: c for c in batch.rows}
        by_sensor: dict[str, Part] = {}
        dead: list[tuple[int, str]] = []
        for c in batch.rows:
            # Stored by add() as the wire JSON of an event that passed the strict checks: sent as it is, with no
            # decoding (a payload the server refuses is isolated and parked dead like any refused event).
            if not c.payload:
                dead.append((c.seq, "stored payload is empty"))
            else:
                by_sensor.setdefault(c.sensor, []).append((c, c.payload.encode()))
        try:
            self._dead(dead)
            for sensor, part in by_sensor.items():
                parts: list[Part] = [part]
                while parts and not self.stop.is_set():
                    part = [p for p in parts.pop(0) if p[0].seq in self.held]
                    if part and self._keep_lease():
                        part = [p for p in part if p[0].seq in self.held]
                    if part:
                        self._send(sensor, part, parts)
                if self.stop.is_set():
                    break
        except _Abort as abort:
            self._release_rest()
            raise abort.cause from None
        finally:
            self._release_rest()

    def _keep_lease(self) -> bool:
        """Renew the lease when it may run out during the next send; False if nothing is held any more."""
        if self.settings.lease - (self.settings.clock() - self.lease_from) >= self.margin:
            return True
        still = self._write("renew the lease", self.backend.renew, self.token, self.settings.lease)
        self.lease_from = self.settings.clock()
        lost = [s for s in self.held if s not in still]
        for seq in lost:
            self.held.pop(seq)
        if lost:
            logger.warning(
                "outbox: lease on %d events expired before they were sent; another worker has them", len(lost)
            )
        return bool(self.held)

    def _send(self, sensor: str, part: Part, parts: list[Part]) -> None:
        self.report.requests += 1
        rows = [c for c, _ in part]
        try:
            result = self.client.events.send_serialized(sensor, [(c.event_id, raw) for c, raw in part])
        except PartialSendError as exc:
            by_id = {c.event_id: c for c in rows}
            self._sent([(by_id[i], job) for job, ids in exc.sent for i in ids if i in by_id])
            unsent = set(exc.unsent_event_ids)
            cause = exc.__cause__ if isinstance(exc.__cause__, TimebackError) else exc
            self._failed([p for p in part if p[0].event_id in unsent], cause, parts)
        except TimebackError as exc:
            self._failed(part, exc, parts)
        except BaseException:
            # Interrupted mid-send (KeyboardInterrupt, a bug): the server may have the events. Retry them,
            # counted as ambiguous, rather than hand them back as never sent.
            try:
                self._reschedule(rows, TransportError("interrupted while sending", ambiguous=True), AMBIGUOUS)
            except BaseException:  # noqa: BLE001 - best effort; the lease expiry covers the rest
                logger.exception("outbox: could not reschedule %d interrupted events", len(rows))
            raise
        else:
            by_id = {c.event_id: c for c in rows}
            self._sent([(by_id[i], job) for job, ids in result.sent for i in ids if i in by_id])

    def _failed(self, part: Part, exc: TimebackError, parts: list[Part]) -> None:
        if not part:
            return
        kind = classify(exc)
        if kind == PERMANENT and len(part) > 1:
            mid = len(part) // 2
            parts[:0] = [part[:mid], part[mid:]]  # find the refused events; the server took none of these
            return
        if kind == PERMANENT:
            self._dead([(c.seq, describe(exc)) for c, _ in part])
            return
        self._reschedule([c for c, _ in part], exc, kind)
        if kind == CONFIG:
            logger.error("outbox: the API refused the request (%s); stopping this drain", describe(exc)[:300])
            raise _Abort(exc)

    # ------------------------------------------------------------------------------------------------ the loop
    def run(
        self,
        *,
        max_events: int | None,
        max_seconds: float | None,
        batch_size: int,
        forever: bool,
        poll_interval: float,
    ) -> None:
        started = time.monotonic()
        report = self.report

        def limit() -> int:
            return batch_size if max_events is None else min(batch_size, max_events - report.claimed)

        # While one batch is on the wire, the I/O thread claims the next one, so the claim's round trip costs no
        # wall time. Only after a full batch (more is probably due).
        ahead: Future[_Batch] | None = None
        pause = 1.0
        try:
            while True:
                if self.stop.is_set():
                    report.stopped = "stop"
                    return
                elapsed = time.monotonic() - started
                if max_seconds is not None and elapsed >= max_seconds:
                    report.stopped = "max_seconds"
                    return
                if ahead is None and limit() <= 0:
                    report.stopped = "max_events"
                    return
                try:
                    if ahead is not None:
                        running, ahead = ahead, None
                        batch = running.result()
                    else:
                        batch = self.claim(limit())
                except self.backend.transient_errors as exc:
                    if not forever:
                        raise
                    # A worker outlives a database restart: wait and claim again (nothing is held).
                    logger.warning("outbox: cannot claim (%s); retrying in %.0fs", exc, pause)
                    self.stop.wait(pause)
                    pause = min(pause * 2, 30.0)
                    continue
                pause = 1.0
                if not batch.rows:
                    if not forever:
                        report.stopped = "idle"
                        return
                    wait = poll_interval if max_seconds is None else min(poll_interval, max_seconds - elapsed)
                    self.stop.wait(max(wait, 0.0))
                    continue
                report.batches += 1
                report.claimed += len(batch.rows)
                reclaimed = sum(c.reclaimed for c in batch.rows)
                if reclaimed:
                    report.reclaimed += reclaimed
                    logger.warning("outbox: reclaimed %d events whose worker's lease expired", reclaimed)
                if len(batch.rows) == batch.limit and limit() > 0:
                    ahead = self.io.submit(self.claim, limit())
                self.process(batch)
        finally:
            if ahead is not None:
                try:
                    self.release(ahead.result())
                except Exception:  # noqa: BLE001 - best effort: never mask the error in flight; the lease expires
                    logger.exception("outbox: could not hand back the batch claimed ahead; its lease will expire")
            try:
                self.settle_marks()  # never return (or stop) before every accepted event is marked sent
            finally:
                self.io.shutdown(wait=True)
                report.seconds = time.monotonic() - started


def run_drain(
    backend: Backend,
    client: Any,
    settings: DrainSettings,
    *,
    max_events: int | None,
    max_seconds: float | None,
    batch_size: int,
    forever: bool,
    poll_interval: float,
    stop: threading.Event | None,
) -> DrainReport:
    """Drain the outbox (see ``Outbox.drain``); returns what was done."""
    report = DrainReport()
    drainer = _Drainer(backend, client, settings, report, stop or threading.Event())
    drainer.run(
        max_events=max_events,
        max_seconds=max_seconds,
        batch_size=batch_size,
        forever=forever,
        poll_interval=poll_interval,
    )
    logger.info(
        "outbox drain: %d claimed, %d sent, %d retried (%d ambiguous), %d dead, %d released in %.2fs (%s)",
        report.claimed,
        report.sent,
        report.retried,
        report.ambiguous,
        report.dead,
        report.released,
        report.seconds,
        report.stopped,
    )
    return report
