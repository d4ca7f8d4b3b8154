"""Activity runs: ``client.activity.start()`` measures a learner's active time in this process and reports it.

What the browser SDK's ``activity.start()`` gives, for Python apps that run the activity themselves (a desktop or
terminal tutor, a kiosk, a worker grading a long exercise), synchronously and without background threads: the app
calls :meth:`ActivityRun.flush_time_spent` when it suits it (the SDK sends every 15 s), :meth:`ActivityRun.pause`
and :meth:`ActivityRun.resume` around breaks, and :meth:`ActivityRun.end` once.

Time model: durations come from a monotonic clock, so a wall-clock jump cannot distort them; window bounds and event
times come from the wall clock. Running time is ``active``, paused time ``inactive``. Each TimeSpentEvent covers one
window, from the end of the last accepted window to now, so windows are contiguous and a failed send is simply
folded into the next one: nothing measured is lost, and nothing is sent twice (short of a request the server stored
but never answered, contract §11).
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from .activity import Activity, _fail, _inputs, _Parts, _seconds, _text
from .errors import ActivityRunError, TimebackError
from .models.api import parse_timestamp
from .models.caliper.envelope import Envelope
from .models.gradebook import AssessmentResult
from .models.timeback import ActivityEvent, TimeSpentEvent, TimeSpentMetric
from .serialization import format_datetime
from .timeback import create_activity_event, create_time_spent_event
from .xp import compute_xp

if TYPE_CHECKING:
    from .models._base import CaliperModel

__all__ = ["DEFAULT_MAX_GAP_S", "STATE_VERSION", "ActivityRun", "ActivityRunError", "ErrorCallback", "RecordResult"]

logger = logging.getLogger(__name__)

ErrorCallback = Callable[[TimebackError, dict[str, Any]], None]
"""``on_error(error, context)``: ``context["type"]`` is ``"timeSpent"``, ``"completion"`` or ``"gradebook"``."""
STATE_VERSION = 1
"""The version of the :meth:`ActivityRun.to_state` format."""
DEFAULT_MAX_GAP_S = 1800.0
"""Longest pause between ``to_state()`` and ``resume_from()`` that is counted (seconds)."""
_TIME_OWNERS_KEPT = 10_000  # run ids remembered for the double-counting check, oldest forgotten first
_METRIC_KEYS = ("xp_earned", "total_questions", "correct_questions", "mastered_units", "pct_complete")


@attrs.frozen(kw_only=True)
class RecordResult:
    """What ``record(..., gradebook=True)`` and :meth:`ActivityRun.end` delivered.

    The events and the gradebook write are reported apart: when ``gradebook_error`` is set the events **were**
    accepted, so do not record them again (that counts the XP twice); retry the gradebook write alone
    (``client.activity.write_gradebook(...)``, or ``run.end()`` again).
    """

    run_id: str
    """The run id shared by the events (``extensions.runId``)."""
    send: Any = None
    """The send's result (a ``SendResult``), or None when nothing was left to send."""
    gradebook: AssessmentResult | None = None
    """The OneRoster result, when the gradebook was asked for and the write succeeded."""
    gradebook_error: TimebackError | None = None
    """Why the gradebook write failed (the events were accepted all the same)."""

    @property
    def job_id(self) -> str | None:
        """The send's first job id, when there was a send."""
        job_id = getattr(self.send, "job_id", None)
        return job_id if isinstance(job_id, str) else None


# ---------------------------------------------------------------------------------------------- bookkeeping
def refuse_double_count(resource: Activity, run_id: str, by: str) -> None:
    """Raise when ``run_id``'s time is (or will be) sent by the other of ``record()`` and an activity run.

    Args:
        resource: The client's ``Activity``, which remembers who sends time for which run id.
        run_id: The run id about to get time.
        by: ``"record"`` or ``"run"``.
    """
    runs = resource._runs.get()
    with runs.lock:
        owner = runs.time_owner.get(run_id)
    if owner is None or owner == by:
        return
    if by == "record":
        message = (
            f"run {run_id!r} sends its own time (an activity run with time=True): passing time to record() as well "
            "would count those minutes twice (contract §9.2); leave time out, or end() the run instead"
        )
        raise _fail("time", message, "double-count")
    message = (
        f"record() already sent time for run {run_id!r}: a run measuring time under the same id would count those "
        "minutes twice (contract §9.2); use time=False or another run_id"
    )
    raise _fail("run_id", message, "double-count")


def note_time(resource: Activity, run_id: str, by: str) -> None:
    """Remember that ``by`` (``"record"`` or ``"run"``) sends the time of ``run_id``."""
    runs = resource._runs.get()
    with runs.lock:
        runs.time_owner.setdefault(run_id, by)
        runs.time_owner.move_to_end(run_id)
        while len(runs.time_owner) > _TIME_OWNERS_KEPT:
            runs.time_owner.popitem(last=False)


def _claim(resource: Activity, run: ActivityRun, *, resumed: bool) -> None:
    """Make ``run`` the active run of its (learner, activity); a resumed copy replaces an older copy of itself."""
    runs = resource._runs.get()
    with runs.lock:
        current = runs.active.get(run.key)
        if current is not None and current is not run:
            if not (resumed and current.run_id == run.run_id):
                raise ActivityRunError(
                    f"{run.key[0]} already has an active run of activity {run.key[1]!r}: run {current.run_id}, "
                    f"started at {format_datetime(current.started_at)}; end() it (or resume that run) first"
                )
            current._superseded = True
        runs.active[run.key] = run


def _release(resource: Activity, run: ActivityRun) -> None:
    runs = resource._runs.get()
    with runs.lock:
        if runs.active.get(run.key) is run:
            del runs.active[run.key]


def _completion_inputs(metrics: Mapping[str, Any], attempt: Any) -> None:
    """Check the completion metrics and ``attempt`` as the completion event will, before anything changes."""
    if attempt is not None and (isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1):
        raise _fail("attempt", f"attempt must be an integer >= 1, got {attempt!r}", "TB-6")
    Activity._activity_metrics(metrics)
    Activity._pct(metrics)
    if "total_questions" in metrics:
        try:  # the checks compute_xp makes at end(), made before the clock stops
            compute_xp(0, total_questions=metrics["total_questions"], correct_questions=metrics["correct_questions"])
        except (TypeError, ValueError) as exc:
            raise _fail("correct_questions", str(exc), "TB-7") from None


# ---------------------------------------------------------------------------------------------- the run
class ActivityRun:
    """One learner's run of one activity, measuring active time and reporting it.

    Start one with ``client.activity.start(...)``, or continue a saved one with :meth:`resume_from`.
    Thread-safe: every method holds the run's lock, sends included (a ``pause()`` from a UI thread waits for a flush
    in progress). Send failures raise, or go to ``on_error`` when one was given; either way the run stays usable and
    the unsent time stays in the window for the next flush.
    """

    def __init__(
        self,
        resource: Activity,
        *,
        user: dict[str, Any],
        activity: dict[str, Any],
        parts: _Parts,
        run_id: str,
        time: bool,
        process: bool | None,
        on_error: ErrorCallback | None,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        started_at: datetime,
    ) -> None:
        """Use ``client.activity.start()`` or :meth:`resume_from`, which check the inputs and claim the run."""
        self._resource, self._user, self._activity, self._parts = resource, user, activity, parts
        self.run_id = run_id
        """``extensions.runId`` of every event of this run."""
        self.time = time
        """Whether this run sends TimeSpentEvents."""
        self.process = process
        self.key = (str(user["email"]).lower(), str(activity["id"]))
        """(learner e-mail, activity id): a client has at most one active run per key."""
        self._on_error, self._clock, self._mono = on_error, clock, monotonic
        self._lock = threading.RLock()
        self._started_at = started_at
        self._paused = False
        self._ended_at: datetime | None = None
        self._mark = monotonic()
        self._carry = 0.0  # sub-millisecond remainder, so many short segments do not drift
        self._active = self._inactive = 0  # everything measured, in ms
        self._win_start, self._win_active, self._win_inactive = started_at, 0, 0  # the unsent window
        self._windows_sent = 0
        self._time_sent = False
        self._completion: dict[str, Any] | None = None
        self._attempt: int | None = None
        self._completion_sent = False
        self._gradebook = self._gradebook_done = False
        self._superseded = False

    @classmethod
    def _begin(
        cls,
        resource: Activity,
        *,
        user: Mapping[str, Any],
        activity: Mapping[str, Any],
        run_id: str | None,
        time: bool,
        process: bool | None,
        on_error: ErrorCallback | None,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> ActivityRun:
        if resource._send is None:
            raise TimebackError("this Activity was built without a send function: runs need one")
        if not isinstance(time, bool):
            raise _fail("time", f"time must be True or False, got {time!r}")
        user_in = _inputs(user, "user", ("email", "timeback_id"), ("email",))
        activity_in = _inputs(activity, "activity", ("id", "name", "course"), ("id", "name", "course"))
        run = str(uuid.uuid4()) if run_id is None else _text(run_id, "run_id")
        parts = resource._parts(user_in, activity_in, process)
        if time:
            refuse_double_count(resource, run, "run")
        self = cls(
            resource,
            user=user_in,
            activity=activity_in,
            parts=parts,
            run_id=run,
            time=time,
            process=process,
            on_error=on_error,
            clock=clock,
            monotonic=monotonic,
            started_at=clock(),
        )
        _claim(resource, self, resumed=False)
        if time:
            note_time(resource, run, "run")
        logger.debug("run %s of %r started for %s", run, self.key[1], self.key[0])
        return self

    # ---------------------------------------------------------------------------------------------- reading
    @property
    def started_at(self) -> datetime:
        """When the run started (wall clock, aware)."""
        return self._started_at

    @property
    def ended_at(self) -> datetime | None:
        """When :meth:`end` stopped the clock, or None."""
        return self._ended_at

    @property
    def is_paused(self) -> bool:
        """Paused: time counts as inactive until :meth:`resume`."""
        return self._paused

    @property
    def is_ended(self) -> bool:
        """:meth:`end` was called: the clock stopped (see :attr:`has_unsent` for what is still to deliver)."""
        return self._ended_at is not None

    @property
    def total_active_ms(self) -> int:
        """Active milliseconds measured so far, sent or not."""
        with self._lock:
            return self._active + (0 if self._paused else self._open_ms())

    @property
    def total_inactive_ms(self) -> int:
        """Paused milliseconds measured so far."""
        with self._lock:
            return self._inactive + (self._open_ms() if self._paused else 0)

    @property
    def elapsed_ms(self) -> int:
        """Everything measured so far: active plus paused milliseconds."""
        with self._lock:
            return self._active + self._inactive + self._open_ms()

    @property
    def time_sent(self) -> bool:
        """Whether a TimeSpentEvent of this run was accepted."""
        return self._time_sent

    @property
    def has_unsent(self) -> bool:
        """Measured time, a completion or a gradebook write not delivered yet."""
        with self._lock:
            window = self.time and (self._win_active or self._win_inactive or self._open_ms())
            completion = self._completion is not None and not self._completion_sent
            return bool(window or completion or (self._gradebook and not self._gradebook_done))

    def __repr__(self) -> str:
        state = "ended" if self.is_ended else "paused" if self._paused else "running"
        return f"<ActivityRun {self.run_id} {self.key[1]!r} {state} active={self.total_active_ms}ms>"

    # ---------------------------------------------------------------------------------------------- lifecycle
    def pause(self) -> Any:
        """Stop counting active time (paused time is ``inactive``) and flush the window.

        The run is paused even when the flush fails; the window is then kept for the next flush.

        Returns:
            The send's result, or None when nothing was sent (already paused, ``time=False``, empty window,
            or a failure that went to ``on_error``).

        Raises:
            ActivityRunError: the run ended or was resumed elsewhere.
            TimebackError: the flush failed and there is no ``on_error``.
        """
        with self._lock:
            self._usable(ending=False)
            if self._paused:
                return None
            self._tick()
            self._paused = True
            return self._flush() if self.time else None

    def resume(self) -> None:
        """Count active time again (a no-op when not paused).

        Raises:
            ActivityRunError: the run ended or was resumed elsewhere.
        """
        with self._lock:
            self._usable(ending=False)
            if self._paused:
                self._tick()
                self._paused = False

    def flush_time_spent(self) -> Any:
        """Send a TimeSpentEvent for the window since the last accepted one (``active``/``inactive`` seconds).

        A no-op when paused (``pause()`` flushed already), when ``time=False``, after :meth:`end`, or when nothing
        was measured. On failure the window is kept and included in the next flush.

        Returns:
            The send's result, or None when nothing was sent.

        Raises:
            ActivityRunError: the run was resumed elsewhere.
            TimebackError: the send failed and there is no ``on_error``.
        """
        with self._lock:
            self._usable(ending=True)
            if self._paused or not self.time or self._ended_at is not None:
                return None
            self._tick()
            return self._flush()

    def end(
        self,
        *,
        xp_earned: float | None = None,
        total_questions: float | None = None,
        correct_questions: float | None = None,
        mastered_units: float | None = None,
        pct_complete: float | None = None,
        attempt: int | None = None,
        gradebook: bool = False,
    ) -> RecordResult | None:
        """Stop the clock, then send the remaining time and the completion (ActivityEvent) in one envelope.

        With no metrics it only flushes the time. If the send fails, everything stays pending: call ``end()``
        again (with no arguments, or the same ones) to resend it; the clock stays stopped at the first call.

        Args:
            xp_earned: XP for the run; when omitted and the question counts are given, ``compute_xp`` of the
                active minutes measured by this run, the counts and ``attempt``.
            total_questions: Questions presented; give it together with ``correct_questions``.
            correct_questions: Questions answered correctly.
            mastered_units: New units mastered in this run.
            pct_complete: Course completion, 0-100 (``generated.extensions.pctCompleteApp``).
            attempt: ``generated.attempt`` (>= 1); also the XP attempt multiplier.
            gradebook: Also write the OneRoster result once the completion is accepted (see
                ``Activity.record``); needs the user's ``timeback_id`` and refuses ``process=True``.

        Returns:
            What was delivered; ``gradebook_error`` set when only the gradebook write failed (it stays pending:
            ``end()`` again retries it alone). None when the send failed and went to ``on_error``.

        Raises:
            CaliperValidationError: invalid metrics (the run is left as it was).
            ActivityRunError: everything was delivered already, a completion was already sent and new metrics
                were given, or the run was resumed elsewhere.
            TimebackError: the send failed and there is no ``on_error``.
        """
        values = (xp_earned, total_questions, correct_questions, mastered_units, pct_complete)
        given = {k: v for k, v in zip(_METRIC_KEYS, values, strict=True) if v is not None}
        with self._lock:
            self._usable(ending=True)
            if given and self._completion_sent:
                raise ActivityRunError(f"run {self.run_id}: the completion was already sent; events cannot change")
            more_gradebook = gradebook and not self._gradebook_done
            if self._ended_at is not None and not (self.has_unsent or more_gradebook):
                raise ActivityRunError(f"run {self.run_id} has already ended and everything was delivered")
            if given:
                _completion_inputs(given, attempt)
            if gradebook:
                self._resource._check_gradebook(self._user, self.process)
                if not given and self._completion is None:
                    raise _fail("gradebook", "gradebook=True needs the completion metrics (xp_earned, questions...)")
            if self._ended_at is None:
                self._tick()
                self._ended_at = self._clock()
                _release(self._resource, self)
            if given:
                self._completion, self._attempt = self._with_xp(given, attempt), attempt
            self._gradebook = self._gradebook or gradebook
            return self._finish()

    # ---------------------------------------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot, to continue the run later (another request, process or machine).

        Continue with exactly one copy: in the same client, :meth:`resume_from` supersedes this object. The time
        until :meth:`resume_from` counts as the run was: active if running, inactive if paused (up to
        ``max_gap_s``).
        """
        with self._lock:
            self._usable(ending=True)
            self._tick()
            return {
                "version": STATE_VERSION,
                "run_id": self.run_id,
                "user": dict(self._user),
                "activity": {**self._activity, "course": dict(self._activity["course"])},
                "time": self.time,
                "process": self.process,
                "started_at": format_datetime(self._started_at),
                "saved_at": format_datetime(self._clock()),
                "paused": self._paused,
                "ended_at": None if self._ended_at is None else format_datetime(self._ended_at),
                "active_ms": self._active,
                "inactive_ms": self._inactive,
                "window": {
                    "started_at": format_datetime(self._win_start),
                    "active_ms": self._win_active,
                    "inactive_ms": self._win_inactive,
                },
                "windows_sent": self._windows_sent,
                "time_sent": self._time_sent,
                "completion": None if self._completion is None else dict(self._completion),
                "attempt": self._attempt,
                "completion_sent": self._completion_sent,
                "gradebook": self._gradebook,
                "gradebook_done": self._gradebook_done,
            }

    @classmethod
    def resume_from(
        cls,
        client: Any,
        state: Mapping[str, Any],
        *,
        on_error: ErrorCallback | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
        max_gap_s: float | None = DEFAULT_MAX_GAP_S,
    ) -> ActivityRun:
        """Continue a run saved with :meth:`to_state`, under the same run id.

        Args:
            client: The ``CaliperClient`` (or its ``client.activity``).
            state: What :meth:`to_state` returned (after a JSON round trip, if you like).
            on_error: As for ``client.activity.start`` (callbacks are not saved).
            clock: Wall clock (default: the client's).
            monotonic: Monotonic clock (default: the client's).
            max_gap_s: The time since the save counts (active if the run was running, inactive if paused) only up
                to this many seconds; a longer gap (the learner left) is not counted at all. None: no limit.

        Returns:
            The run; an older copy of it in this client stops working.

        Raises:
            ActivityRunError: ``state`` is not a saved run, or another run of this learner and activity is active.
            CaliperValidationError: the saved inputs no longer validate (e.g. a course code left the course map),
                or ``record()`` sent time under this run id.
        """
        resource = client if isinstance(client, Activity) else getattr(client, "activity", None)
        if not isinstance(resource, Activity):
            raise TypeError(f"resume_from() needs a CaliperClient or its .activity, got {type(client).__name__}")
        s = _State(state)
        time, process = s.get("time", bool), s.get("process", (bool, type(None)))
        run_id = s.get("run_id", str)
        user_in = _inputs(s.get("user", dict), "user", ("email", "timeback_id"), ("email",))
        activity_in = _inputs(s.get("activity", dict), "activity", ("id", "name", "course"), ("id", "name", "course"))
        parts = resource._parts(user_in, activity_in, process)
        if time:
            refuse_double_count(resource, run_id, "run")
        clock = clock or resource._clock
        run = cls(
            resource,
            user=user_in,
            activity=activity_in,
            parts=parts,
            run_id=run_id,
            time=time,
            process=process,
            on_error=on_error,
            clock=clock,
            monotonic=monotonic or resource._monotonic,
            started_at=s.when("started_at"),
        )
        window = _State(s.get("window", dict), top=False)
        run._paused, run._ended_at = s.get("paused", bool), s.when("ended_at", optional=True)
        run._active, run._inactive = s.count("active_ms"), s.count("inactive_ms")
        run._win_start = window.when("started_at")
        run._win_active, run._win_inactive = window.count("active_ms"), window.count("inactive_ms")
        run._windows_sent, run._time_sent = s.count("windows_sent"), s.get("time_sent", bool)
        completion = s.get("completion", (dict, type(None)))
        run._attempt = s.get("attempt", (int, type(None)))
        if completion is not None:
            unknown = set(completion) - set(_METRIC_KEYS)
            if unknown:
                raise ActivityRunError(f"invalid run state: unknown completion keys {sorted(unknown)}")
            _completion_inputs(completion, run._attempt)
        run._completion, run._completion_sent = completion, s.get("completion_sent", bool)
        run._gradebook, run._gradebook_done = s.get("gradebook", bool), s.get("gradebook_done", bool)
        if run._ended_at is None:
            run._count_gap(s.when("saved_at"), max_gap_s)
            _claim(resource, run, resumed=True)
        if time:
            note_time(resource, run_id, "run")
        logger.debug("run %s of %r resumed", run_id, run.key[1])
        return run

    # ---------------------------------------------------------------------------------------------- internals
    def _usable(self, *, ending: bool) -> None:
        if self._superseded:
            raise ActivityRunError(
                f"run {self.run_id} was resumed from its saved state (ActivityRun.resume_from): use that copy"
            )
        if not ending and self._ended_at is not None:
            raise ActivityRunError(f"run {self.run_id} has ended")

    def _open_ms(self) -> int:
        """Milliseconds of the open segment (since the last tick), not yet added anywhere."""
        if self._ended_at is not None:
            return 0
        return max(0, math.floor((self._mono() - self._mark) * 1000 + self._carry))

    def _tick(self) -> None:
        """Add the open segment to the active or inactive count, by the current state."""
        if self._ended_at is not None:
            return
        now = self._mono()
        exact = max(0.0, (now - self._mark) * 1000 + self._carry)
        ms = math.floor(exact)
        self._mark, self._carry = now, exact - ms
        self._add(ms, inactive=self._paused)

    def _add(self, ms: int, *, inactive: bool) -> None:
        if inactive:
            self._inactive += ms
            self._win_inactive += ms
        else:
            self._active += ms
            self._win_active += ms

    def _count_gap(self, saved_at: datetime, max_gap_s: float | None) -> None:
        gap = round((self._clock() - saved_at).total_seconds() * 1000)
        if gap < 0:
            return  # the wall clock went back: count nothing rather than a negative time
        if max_gap_s is not None and gap > max_gap_s * 1000:
            logger.info(
                "run %s resumed after %.0f s, beyond max_gap_s: the gap is not counted", self.run_id, gap / 1000
            )
            return
        self._add(gap, inactive=self._paused)

    def _time_event(self, end: datetime) -> TimeSpentEvent | None:
        if not (self._win_active or self._win_inactive):
            return None
        end = max(end, self._win_start)  # a wall clock set back must not give endDate < startDate
        items = [
            TimeSpentMetric(type="active", value=_seconds(self._win_active), start_date=self._win_start, end_date=end)
        ]
        if self._win_inactive:
            inactive = _seconds(self._win_inactive)
            items.append(TimeSpentMetric(type="inactive", value=inactive, start_date=self._win_start, end_date=end))
        return create_time_spent_event(
            actor=self._parts.actor,
            object=self._parts.context,
            metrics=items,
            event_time=end,
            run_id=self.run_id,
            course_id=self._parts.code,
            generated_id=f"{self._parts.run_url(self.run_id)}/time/{self._windows_sent + 1}",
        )

    def _completion_event(self, end: datetime) -> ActivityEvent:
        metrics = self._completion or {}
        return create_activity_event(
            actor=self._parts.actor,
            object=self._parts.context,
            metrics=Activity._activity_metrics(metrics),
            attempt=self._attempt,
            generated_extensions=Activity._pct(metrics),
            event_time=end,
            run_id=self.run_id,
            course_id=self._parts.code,
            generated_id=f"{self._parts.run_url(self.run_id)}/completion",
        )

    def _with_xp(self, metrics: dict[str, Any], attempt: int | None) -> dict[str, Any]:
        if "xp_earned" in metrics or "total_questions" not in metrics:
            if "xp_earned" not in metrics:
                logger.warning("run %s: completion without xpEarned (the SDK requires it)", self.run_id)
            return metrics
        xp = compute_xp(
            self._active / 60_000,
            total_questions=metrics["total_questions"],
            correct_questions=metrics["correct_questions"],
            attempt=attempt or 1,
        )
        return {"xp_earned": int(xp) if xp == int(xp) else xp, **metrics}

    def _window_done(self, end: datetime) -> None:
        self._win_start, self._win_active, self._win_inactive = end, 0, 0
        self._windows_sent += 1
        self._time_sent = True

    def _send(self, data: list[CaliperModel], now: datetime) -> Any:
        send = self._resource._send
        if send is None:  # checked when the run began; kept for the type checker
            raise TimebackError("this Activity has no send function")
        return send(Envelope(sensor=self._resource.config.sensor, send_time=now, data=data))

    def _failed(self, exc: TimebackError, kind: str, **details: Any) -> bool:
        """Hand a send failure to ``on_error``; False when there is none (the caller re-raises)."""
        if self._on_error is None:
            return False
        logger.warning("run %s: %s send failed (kept for the next attempt): %s", self.run_id, kind, exc)
        context = {"type": kind, "run_id": self.run_id, "activity_id": self.key[1], "email": self._user["email"]}
        self._on_error(exc, {**context, **details})
        return True

    def _window_details(self, end: datetime) -> dict[str, Any]:
        return {
            "started_at": self._win_start,
            "ended_at": end,
            "active_ms": self._win_active,
            "inactive_ms": self._win_inactive,
        }

    def _flush(self) -> Any:
        now = self._clock()
        event = self._time_event(now)
        if event is None:
            return None
        try:
            result = self._send([event], now)
        except TimebackError as exc:
            if not self._failed(exc, "timeSpent", **self._window_details(now)):
                raise
            return None
        self._window_done(now)
        return result

    def _finish(self) -> RecordResult | None:
        end = self._ended_at
        assert end is not None  # noqa: S101 - end() stopped the clock before calling this
        data: list[CaliperModel] = []
        spent = self._time_event(end) if self.time else None
        if spent is not None:
            data.append(spent)
        completion = self._completion is not None and not self._completion_sent
        if completion:
            data.append(self._completion_event(end))
        result = None
        if data:
            try:
                result = self._send(data, self._clock())
            except TimebackError as exc:
                kind = "completion" if completion else "timeSpent"
                if not self._failed(exc, kind, **self._window_details(end)):
                    raise
                return None
            if spent is not None:
                self._window_done(end)
            self._completion_sent = self._completion_sent or completion
        written, error = None, None
        if self._gradebook and not self._gradebook_done:
            try:
                written = self._resource._write_gradebook(
                    self._user, self._activity, self._completion or {}, self._parts.object_id, self.run_id, end
                )
                self._gradebook_done = True
            except TimebackError as exc:
                error = exc
                if not self._failed(exc, "gradebook"):
                    logger.warning("run %s: events accepted, but the gradebook write failed: %s", self.run_id, exc)
        logger.debug("run %s ended: %d ms active, %d ms inactive", self.run_id, self._active, self._inactive)
        return RecordResult(run_id=self.run_id, send=result, gradebook=written, gradebook_error=error)


class _State:
    """Reads a saved run state, naming the key at fault."""

    def __init__(self, state: Any, *, top: bool = True) -> None:
        if not isinstance(state, Mapping):
            raise ActivityRunError(f"invalid run state: expected a dict from to_state(), got {type(state).__name__}")
        if top and state.get("version") != STATE_VERSION:
            raise ActivityRunError(f"invalid run state: version {state.get('version')!r} (expected {STATE_VERSION})")
        self._state = state

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        value = self._state.get(key)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ActivityRunError(f"invalid run state: {key!r} is {value!r}")
        return value

    def count(self, key: str) -> int:
        value = self.get(key, int)
        if value < 0:
            raise ActivityRunError(f"invalid run state: {key!r} is negative")
        return int(value)

    def when(self, key: str, *, optional: bool = False) -> Any:
        raw = self._state.get(key)
        if raw is None and optional:
            return None
        value = parse_timestamp(raw) if isinstance(raw, str) else None
        if value is None:
            raise ActivityRunError(f"invalid run state: {key!r} is not a timestamp: {raw!r}")
        return value
