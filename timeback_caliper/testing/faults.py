"""Fault injection for the emulator: scripted faults, a seeded random mode, the spec syntax and the tallies.

A :class:`Fault` applies to the next ``count`` requests that match it (any API route by default; the token
routes only when ``path`` names them). Kinds:

* ``status``: answer ``status`` (with ``Retry-After`` when given) without processing the request.
* ``drop``: read the request, then close the connection without processing it or answering.
* ``close``: read and **process** the request, then close without answering: the ambiguous case (the
  client cannot tell whether its events were stored).
* ``delay``: process the request, then wait ``seconds`` before answering (past the client's read timeout,
  this is ambiguous too).
* ``trickle``: process the request, then send the answer in small pieces spread over ``seconds``.
* ``expire-token``: the bearer token of the matching request expires now, so it gets a 401.
* ``job-fail`` / ``job-delayed``: the next accepted envelopes' jobs end ``failed`` (with ``reason``) or stay
  ``delayed`` until released.

Spec strings (the CLI's ``--fault`` and :meth:`Emulator.inject`) read ``KIND[=SECONDS][xCOUNT][@PATH][,key=value...]``:
``503x2@/caliper/event``, ``429,retry-after=1``, ``close@/caliper/event``, ``delay=2x3``, ``trickle=1``,
``expire-token``, ``job-fail,reason=disk full``, ``job-delayed``, ``500x*`` (until cleared). Keys:
``retry-after``, ``seconds``, ``method``, ``reason``, ``skip`` (let that many matching requests through first).
"""

from __future__ import annotations

import fnmatch
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = [
    "AMBIGUOUS_KINDS",
    "DEFAULT_RANDOM_KINDS",
    "Fault",
    "FaultController",
    "FaultStats",
    "RandomFaults",
    "parse_fault",
]

logger = logging.getLogger(__name__)

REQUEST_KINDS = frozenset({"status", "drop", "close", "delay", "trickle", "expire-token"})
JOB_KINDS = frozenset({"job-fail", "job-delayed"})
AMBIGUOUS_KINDS = frozenset({"close", "delay", "trickle"})
"""Kinds whose request is processed while its answer is lost or late: the only source of duplicates."""
DEFAULT_RANDOM_KINDS = ("429", "500", "502", "503", "504", "drop", "close", "delay")
"""What the random mode picks from, uniformly."""


def _upper(method: str | None) -> str | None:
    return method.upper() if isinstance(method, str) else None


def _kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    return tuple(kinds)


def _norm_path(path: str | None) -> str | None:
    if path is None or path in ("", "/") or path.endswith("*"):
        return path or None
    return path.rstrip("/")


@attrs.frozen(kw_only=True)
class Fault:
    """One scripted fault: what to do, to how many requests, and which ones.

    Build one with the class methods (``Fault.status_code(503, count=2)``) or :func:`parse_fault`.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(REQUEST_KINDS | JOB_KINDS))
    status: int | None = None
    """The HTTP status of a ``status`` fault."""
    count: int | None = attrs.field(default=1)
    """Requests (or jobs) it applies to; ``None`` means until cleared."""
    path: str | None = attrs.field(default=None, converter=_norm_path)
    """A path or ``fnmatch`` pattern (``/caliper/events*``); ``None`` matches every API route but the token routes."""
    method: str | None = attrs.field(default=None, converter=_upper)
    retry_after: str | None = None
    """``Retry-After`` value to send (seconds or an HTTP-date), for ``status`` faults."""
    seconds: float = 0.0
    """``delay``/``trickle``: how long; other request kinds: a wait before acting."""
    body: Any = None
    """JSON body of a ``status`` fault (default: the route family's error shape)."""
    reason: str | None = None
    """``failedReason`` of a ``job-fail`` fault."""
    skip: int = 0
    """Matching requests let through before the fault starts."""

    def __attrs_post_init__(self) -> None:
        if self.kind == "status" and (self.status is None or not 100 <= self.status <= 599):
            raise ValueError(f"a status fault needs an HTTP status, got {self.status!r}")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1 (or None for 'until cleared')")
        if self.seconds < 0 or self.skip < 0:
            raise ValueError("seconds and skip must be >= 0")

    @property
    def ambiguous(self) -> bool:
        """True when the request is processed but its answer may never reach the client."""
        return self.kind in AMBIGUOUS_KINDS

    @property
    def label(self) -> str:
        """Short name used in the tallies: the status code or the kind."""
        return str(self.status) if self.kind == "status" else self.kind

    @classmethod
    def status_code(
        cls,
        status: int,
        count: int | None = 1,
        *,
        path: str | None = None,
        method: str | None = None,
        retry_after: float | str | None = None,
        body: Any = None,
        delay: float = 0.0,
        skip: int = 0,
    ) -> Fault:
        """Answer ``status`` to the next ``count`` matching requests (nothing is processed)."""
        ra = None if retry_after is None else _retry_after_text(retry_after)
        return cls(
            kind="status",
            status=status,
            count=count,
            path=path,
            method=method,
            retry_after=ra,
            body=body,
            seconds=delay,
            skip=skip,
        )

    @classmethod
    def close(
        cls,
        count: int | None = 1,
        *,
        path: str | None = None,
        method: str | None = None,
        process: bool = True,
        skip: int = 0,
    ) -> Fault:
        """Close the connection after reading the request: processed first (ambiguous) unless ``process=False``."""
        return cls(kind="close" if process else "drop", count=count, path=path, method=method, skip=skip)

    @classmethod
    def delay(
        cls, seconds: float, count: int | None = 1, *, path: str | None = None, method: str | None = None, skip: int = 0
    ) -> Fault:
        """Process the request, then wait ``seconds`` before answering."""
        return cls(kind="delay", seconds=seconds, count=count, path=path, method=method, skip=skip)

    @classmethod
    def trickle(cls, seconds: float = 1.0, count: int | None = 1, *, path: str | None = None, skip: int = 0) -> Fault:
        """Process the request, then trickle the answer out over ``seconds``."""
        return cls(kind="trickle", seconds=seconds, count=count, path=path, skip=skip)

    @classmethod
    def expire_token(cls, count: int | None = 1, *, path: str | None = None) -> Fault:
        """The next matching request's token expires just before it is checked (a 401)."""
        return cls(kind="expire-token", count=count, path=path)

    @classmethod
    def job_fail(cls, count: int | None = 1, *, reason: str = "injected failure") -> Fault:
        """The next accepted envelopes' jobs end ``failed`` with ``reason`` (nothing stored)."""
        return cls(kind="job-fail", count=count, reason=reason)

    @classmethod
    def job_delayed(cls, count: int | None = 1) -> Fault:
        """The next accepted envelopes' jobs stay ``delayed`` until ``Emulator.release_jobs()``."""
        return cls(kind="job-delayed", count=count)


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


_HEAD = re.compile(
    r"^(?P<kind>\d+|[A-Za-z][A-Za-z-]*)(?:=(?P<value>[0-9.]+))?(?:x(?P<count>\d+|\*))?(?:@(?P<path>\S+))?$"
)
_KIND_ALIASES = {"expire": "expire-token", "job-failed": "job-fail", "delayed": "job-delayed"}


def parse_fault(spec: str) -> Fault:
    """Read a spec string (see the module docs): ``503x2@/caliper/event,retry-after=1``.

    Raises:
        ValueError: the spec cannot be read.
    """
    head, *options = [p.strip() for p in spec.strip().split(",")]
    m = _HEAD.match(head)
    if not m:
        raise ValueError(f"cannot read fault spec {spec!r}: expected KIND[=SECONDS][xCOUNT][@PATH][,key=value...]")
    kind = m["kind"].lower()
    kind = _KIND_ALIASES.get(kind, kind)
    fields: dict[str, Any] = {}
    if kind.isdigit():
        fields.update(kind="status", status=int(kind))
    else:
        fields["kind"] = kind
    if m["value"]:
        fields["seconds"] = float(m["value"])
    count = m["count"]
    fields["count"] = None if count == "*" else int(count) if count else 1
    if m["path"]:
        fields["path"] = m["path"]
    for option in options:
        if not option:
            continue
        key, sep, value = option.partition("=")
        key = key.strip().lower().replace("_", "-")
        if not sep:
            raise ValueError(f"fault option {option!r} in {spec!r} is not key=value")
        value = value.strip()
        if key == "retry-after":
            fields["retry_after"] = value
        elif key in ("seconds", "delay"):
            fields["seconds"] = float(value)
        elif key == "method":
            fields["method"] = value
        elif key == "reason":
            fields["reason"] = value
        elif key == "skip":
            fields["skip"] = int(value)
        elif key == "path":
            fields["path"] = value
        elif key == "count":
            fields["count"] = None if value == "*" else int(value)
        else:
            raise ValueError(f"unknown fault option {key!r} in {spec!r}")
    if fields["kind"] == "job-fail":
        fields.setdefault("reason", "injected failure")
    try:
        return Fault(**fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad fault spec {spec!r}: {exc}") from exc


@attrs.frozen(kw_only=True)
class RandomFaults:
    """Seeded random faults for soak tests: each matching request fails with probability ``rate``.

    The kind is drawn uniformly from ``kinds`` (status codes as strings, ``drop``, ``close``, ``delay``,
    ``trickle``, ``expire-token``); a 429 carries ``Retry-After: 1``, and ``delay``/``trickle`` last a
    uniform draw from ``delay`` seconds.
    """

    rate: float = attrs.field(validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])
    seed: int | None = None
    kinds: tuple[str, ...] = attrs.field(default=DEFAULT_RANDOM_KINDS, converter=_kinds)
    path: str | None = attrs.field(default=None, converter=_norm_path)
    delay: tuple[float, float] = (0.05, 0.5)

    def __attrs_post_init__(self) -> None:
        for kind in self.kinds:
            if not (kind.isdigit() or kind in REQUEST_KINDS - {"status"}):
                raise ValueError(f"unknown random fault kind {kind!r}")
        if not self.kinds:
            raise ValueError("kinds must not be empty")


@attrs.frozen(kw_only=True)
class FaultStats:
    """What was injected so far (a snapshot)."""

    injected: dict[str, int]
    """Count per label: the status code (``"503"``) or the kind (``"close"``, ``"job-fail"``...)."""
    ambiguous: int
    """Faults whose request was processed while its answer was lost or late (``close``, ``delay``, ``trickle``)."""
    random: int
    """How many of them the random mode drew."""

    @property
    def total(self) -> int:
        """Every fault injected."""
        return sum(self.injected.values())


class _Armed:
    __slots__ = ("fault", "left", "skip")

    def __init__(self, fault: Fault) -> None:
        self.fault, self.left, self.skip = fault, fault.count, fault.skip


def _matches(fault: Fault | RandomFaults, method: str, path: str, token_route: bool) -> bool:
    if isinstance(fault, Fault) and fault.method is not None and fault.method != method:
        return False
    if fault.path is None:
        return not token_route
    return fnmatch.fnmatchcase(path, fault.path)


class FaultController:
    """The emulator's fault queue: thread-safe, consumed by the request handler and the job worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._jobs: list[_Armed] = []
        self._random: RandomFaults | None = None
        self._rng = random.Random()
        self._tally: Counter[str] = Counter()
        self._ambiguous = 0
        self._random_count = 0

    def add(self, *faults: Fault | str) -> None:
        """Arm faults (objects or spec strings); they apply in the order given."""
        parsed = [f if isinstance(f, Fault) else parse_fault(f) for f in faults]
        with self._lock:
            for fault in parsed:
                (self._jobs if fault.kind in JOB_KINDS else self._armed).append(_Armed(fault))
        for fault in parsed:
            logger.info("fault armed: %s", fault.label)

    def set_random(self, config: RandomFaults | None) -> None:
        """Turn the random mode on (with its seed) or off (``None``)."""
        with self._lock:
            self._random = config
            self._rng = random.Random(config.seed if config is not None else None)

    @property
    def random_mode(self) -> RandomFaults | None:
        """The random mode's settings, or None when it is off."""
        return self._random

    def clear(self) -> None:
        """Disarm every scripted fault and turn the random mode off (the tallies are kept)."""
        with self._lock:
            self._armed.clear()
            self._jobs.clear()
            self._random = None

    def reset_stats(self) -> None:
        """Zero the tallies."""
        with self._lock:
            self._tally.clear()
            self._ambiguous = self._random_count = 0

    def pending(self) -> list[Fault]:
        """The scripted faults still armed."""
        with self._lock:
            return [a.fault for a in (*self._armed, *self._jobs)]

    def take(self, method: str, path: str, *, token_route: bool = False) -> Fault | None:
        """The fault for this request, if any (consumes one use of it)."""
        with self._lock:
            for armed in self._armed:
                if not _matches(armed.fault, method, path, token_route):
                    continue
                if armed.skip:
                    armed.skip -= 1
                    continue
                if armed.left is not None:
                    armed.left -= 1
                    if armed.left <= 0:
                        self._armed.remove(armed)
                self._count(armed.fault, False)
                return armed.fault
            cfg = self._random
            if cfg is None or not _matches(cfg, method, path, token_route) or self._rng.random() >= cfg.rate:
                return None
            fault = self._draw(cfg)
            self._count(fault, True)
            return fault

    def take_job(self) -> Fault | None:
        """The fault for the next accepted envelope's job, if any."""
        with self._lock:
            if not self._jobs:
                return None
            armed = self._jobs[0]
            if armed.left is not None:
                armed.left -= 1
                if armed.left <= 0:
                    self._jobs.pop(0)
            self._count(armed.fault, False)
            return armed.fault

    def _draw(self, cfg: RandomFaults) -> Fault:
        kind = self._rng.choice(cfg.kinds)
        if kind.isdigit():
            status = int(kind)
            return Fault(kind="status", status=status, retry_after="1" if status == 429 else None)
        seconds = self._rng.uniform(*cfg.delay) if kind in ("delay", "trickle") else 0.0
        return Fault(kind=kind, seconds=seconds)

    def _count(self, fault: Fault, drawn: bool) -> None:
        self._tally[fault.label] += 1
        self._ambiguous += fault.ambiguous
        self._random_count += drawn

    def stats(self) -> FaultStats:
        """A snapshot of what was injected so far."""
        with self._lock:
            return FaultStats(injected=dict(self._tally), ambiguous=self._ambiguous, random=self._random_count)

    def add_specs(self, specs: Iterable[str]) -> None:
        """Arm faults from spec strings (the CLI's ``--fault``)."""
        self.add(*specs)
