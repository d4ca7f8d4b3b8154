"""``client.events``: send Caliper data to ``/caliper/event``, validate it on the server, and read it back."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import quote

from ._http import HttpResponse, HttpTransport
from .errors import (
    ApiError,
    CaliperValidationError,
    CaliperWarning,
    PartialSendError,
    PayloadTooLargeError,
    Problem,
    TimebackError,
    UnexpectedResponseError,
)
from .models._base import CALIPER_V1P2, CaliperModel, utcnow
from .models._validate import CLEAN, Ctx, fast_valid, validate_model
from .models.api import SendResult, StoredEvent, StoredEventsPage, ValidationResult, job_id_from_body
from .models.caliper.envelope import Envelope
from .models.caliper.events import Event
from .serialization import _encode_str, format_datetime, get_converter, parse, to_json, validate
from .timeback import create_activity_event, create_time_spent_event

__all__ = ["DEFAULT_PATHS", "Events"]

logger = logging.getLogger(__name__)

DEFAULT_PATHS: dict[str, str] = {
    "send": "/caliper/event",
    "validate": "/caliper/event/validate",
    "list": "/caliper/events",
    "get": "/caliper/events/{external_id}",
    "job_status": "/jobs/{job_id}/status",
}
_STRICT = Ctx(strict=True, trust_built=True)
_SPACE = re.compile(r"\s")  # the whitespace str.isspace() knows
_DATA_VERSION = CALIPER_V1P2.encode()
_to_json = to_json


class _Chunk:
    """A run of serialized items that travel together in one envelope."""

    __slots__ = ("event_ids", "items", "models")

    def __init__(self, models: list[CaliperModel], items: list[bytes], event_ids: list[str]) -> None:
        self.models, self.items, self.event_ids = models, items, event_ids

    def halves(self) -> tuple[_Chunk, _Chunk]:
        mid = len(self.items) // 2
        return (
            _Chunk(self.models[:mid], self.items[:mid], self.event_ids[:mid]),
            _Chunk(self.models[mid:], self.items[mid:], self.event_ids[mid:]),
        )


class Events:
    """``client.events``: send events (split into envelopes, never silently lost), validate, list and get them."""

    def __init__(
        self,
        http: HttpTransport,
        *,
        paths: Mapping[str, str] | None = None,
        max_events_per_envelope: int = 100,
        max_envelope_bytes: int = 1_048_576,
        clock: Callable[[], datetime] = utcnow,
        recorder: Callable[[bytes], HttpResponse] | None = None,
    ) -> None:
        if max_events_per_envelope < 1 or max_envelope_bytes < 1024:
            raise ValueError("max_events_per_envelope must be >= 1 and max_envelope_bytes >= 1024")
        self._http, self._clock = http, clock
        self._paths = {**DEFAULT_PATHS, **(paths or {})}
        self._max_events, self._max_bytes = max_events_per_envelope, max_envelope_bytes
        self._unstructure = get_converter().unstructure
        self._recorder = recorder  # dry-run: envelopes are recorded instead of sent

    # ------------------------------------------------------------------------------------------------ sending
    def send(self, sensor: str, events: Sequence[CaliperModel]) -> SendResult:
        """Send events (or entity describes) to ``POST /caliper/event``, in order.

        Large sends are split into envelopes of at most ``max_events_per_envelope`` events and
        ``max_envelope_bytes`` bytes; each envelope is one background job.

        Args:
            sensor: The sending application's sensor IRI (``https://your-app.example``).
            events: Events built with the model classes or the factories (ids and times already fixed).

        Returns:
            A :class:`SendResult` with the job id of every envelope.

        Raises:
            CaliperValidationError: an event is invalid, lacks ``profile``, repeats an id, or is alone larger
                than the size limit. Nothing was sent.
            PartialSendError: some envelopes were accepted and a later one was not; it lists both sides.
            ApiError: the first envelope failed (nothing was accepted); ``TransportError`` likewise.
        """
        return self._send(sensor, list(events), None)

    def send_envelope(self, envelope: Envelope) -> SendResult:
        """Send a ready envelope (keeping its ``sensor`` and ``sendTime``); split like :meth:`send` if needed."""
        if not isinstance(envelope, Envelope):
            raise TypeError(f"send_envelope() takes an Envelope, got {type(envelope).__name__}")
        problems = validate(envelope)
        if any(p.severity == "error" for p in problems):
            raise CaliperValidationError("invalid envelope: nothing was sent", problems)
        return self._send(envelope.sensor, list(envelope.data), envelope.send_time)

    def send_activity(self, sensor: str, **event_input: Any) -> SendResult:
        """Build one Timeback ActivityEvent (see ``create_activity_event``) and send it."""
        return self._send(sensor, [create_activity_event(**event_input)], None)

    def send_time_spent(self, sensor: str, **event_input: Any) -> SendResult:
        """Build one Timeback TimeSpentEvent (see ``create_time_spent_event``) and send it."""
        return self._send(sensor, [create_time_spent_event(**event_input)], None)

    def send_serialized(self, sensor: str, items: Sequence[tuple[str, bytes]]) -> SendResult:
        """Send events that were already validated and serialized, e.g. stored by an outbox.

        For code that keeps events as wire JSON: each item is ``(event_id, json_bytes)`` where the bytes are what
        :func:`~timeback_caliper.dumps` wrote for an event that passed the strict checks. The bytes are sent as
        they are (no second validation, no re-serialization), split, retried and reported exactly as
        :meth:`send` does; the unsent envelopes of a ``PartialSendError`` are parsed back from the bytes.

        Raises:
            CaliperValidationError: an empty send, a bad sensor, a repeated id or an item over the size limit.
        """
        items = list(items)
        problems = _sensor_problems(sensor)
        if not items:
            problems.append(Problem("data", "send_serialized() needs at least one item", "ENV-4"))
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (bytes, bytearray))):
                problems.append(Problem(f"data[{i}]", "expected an (event_id, json_bytes) pair", "ENV-4"))
            elif item[0] in seen:
                problems.append(Problem(f"data[{i}].id", f"duplicate event id {item[0]!r} in one send", "EVT-1"))
            else:
                seen.add(item[0])
        if problems:
            raise CaliperValidationError("invalid events: nothing was sent", problems)
        return self._deliver(sensor, [bytes(b) for _, b in items], [i for i, _ in items], None, None)

    def _send(self, sensor: str, data: list[CaliperModel], send_time: datetime | str | None) -> SendResult:
        ids = self._check(sensor, data)
        # Each item is serialized once, here; splits, 413 halves and retries reuse these bytes.
        items = [_to_json(m).encode() for m in data]
        return self._deliver(sensor, items, ids, data, send_time)

    def _deliver(
        self,
        sensor: str,
        items: list[bytes],
        ids: list[str],
        data: list[CaliperModel] | None,
        send_time: datetime | str | None,
    ) -> SendResult:
        stamp = format_datetime(send_time if send_time is not None else self._clock())
        prefix = b'{"sensor":%s,"sendTime":"%s","dataVersion":"%s","data":[' % (
            _encode_str(sensor).encode(),
            stamp.encode(),
            _DATA_VERSION,
        )
        room = self._max_bytes - len(prefix) - 2
        for i, item in enumerate(items):
            if len(item) > room:
                raise CaliperValidationError(
                    "an event is larger than the envelope size limit: nothing was sent",
                    [Problem(f"data[{i}]", f"{len(item)} bytes; the limit is {self._max_bytes} per envelope", "size")],
                )
        pending = list(self._chunks(data or [], items, ids, room))
        sent: list[tuple[str | None, list[str]]] = []
        request_ids: list[str] = []
        attempts = 0
        while pending:
            chunk = pending.pop(0)
            body = prefix + b",".join(chunk.items) + b"]}"
            try:
                reply = self._post(body)
            except PayloadTooLargeError as exc:
                if len(chunk.items) > 1:
                    logger.info("HTTP 413 for %d events: sending the envelope in two halves", len(chunk.items))
                    pending[:0] = chunk.halves()  # a 413 split is not a retry
                    continue
                self._fail(exc, sent, [chunk, *pending], sensor, send_time, stamp)
            except TimebackError as exc:
                self._fail(exc, sent, [chunk, *pending], sensor, send_time, stamp)
            attempts += reply.attempts
            request_ids.append(reply.request_id)
            # Any 2xx means the server took the envelope: never raise from here on (a resend counts XP twice).
            sent.append((job_id_from_body(reply.body), chunk.event_ids))
        job_ids = [job for job, _ in sent]
        return SendResult(
            job_id=job_ids[0] if job_ids else None,
            job_ids=job_ids,
            event_ids=[i for _, chunk_ids in sent for i in chunk_ids],
            request_ids=request_ids,
            attempts=attempts,
            envelopes=len(sent),
            sent=sent,
        )

    def _post(self, body: bytes) -> HttpResponse:
        if self._recorder is not None:
            return self._recorder(body)
        return self._http.request("POST", self._paths["send"], data=body)

    def _fail(
        self,
        exc: TimebackError,
        sent: list[tuple[str | None, list[str]]],
        unsent: list[_Chunk],
        sensor: str,
        send_time: datetime | str | None,
        stamp: str,
    ) -> NoReturn:
        if not sent:
            raise exc
        when = send_time if isinstance(send_time, datetime) else _ts(stamp)
        envelopes = [Envelope(sensor=sensor, data=c.models or _models_of(c.items), send_time=when) for c in unsent]
        unsent_ids = [i for c in unsent for i in c.event_ids]
        n_sent = sum(len(ids) for _, ids in sent)
        raise PartialSendError(
            f"{n_sent} events in {len(sent)} envelopes were accepted; {len(unsent_ids)} events were not "
            f"({type(exc).__name__}: {exc})",
            sent=sent,
            unsent=envelopes,
            unsent_event_ids=unsent_ids,
        ) from exc

    def _check(self, sensor: str, data: list[CaliperModel]) -> list[str]:
        problems = _sensor_problems(sensor)
        if not data:
            problems.append(Problem("data", "send() needs at least one event or entity", "ENV-4"))
        ids: list[str] = []
        seen: set[str] = set()
        for i, item in enumerate(data):
            where = f"data[{i}]"
            if not isinstance(item, CaliperModel):
                problems.append(
                    Problem(where, f"expected an event or entity model, got {type(item).__name__}", "ENV-4")
                )
                continue
            if not item.__dict__.get(CLEAN) and not fast_valid(item, deep=True):
                validate_model(item, where, problems, _STRICT)  # built and checked: trusted, else walked
            if isinstance(item, Event):
                if item.profile is None:
                    problems.append(Problem(f"{where}.profile", "profile is required to send an event", "EVT-2"))
                if item.id in seen:
                    problems.append(Problem(f"{where}.id", f"duplicate event id {item.id!r} in one send", "EVT-1"))
                seen.add(item.id)
            ids.append(str(getattr(item, "id", "")))
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise CaliperValidationError("invalid events: nothing was sent", errors)
        return ids

    def _chunks(self, data: list[CaliperModel], items: list[bytes], ids: list[str], room: int) -> Iterator[_Chunk]:
        # `data` is empty for pre-serialized items: slicing it then gives empty model lists.
        start, size = 0, 0
        for i, item in enumerate(items):
            extra = len(item) + (1 if i > start else 0)
            if i > start and (i - start >= self._max_events or size + extra > room):
                yield _Chunk(data[start:i], items[start:i], ids[start:i])
                start, size, extra = i, 0, len(item)
            size += extra
        if start < len(items):
            yield _Chunk(data[start:], items[start:], ids[start:])

    # ------------------------------------------------------------------------------------------------ validating
    def validate(
        self, envelope_or_events: Envelope | Sequence[CaliperModel], sensor: str | None = None
    ) -> ValidationResult:
        """Ask the server (``POST /caliper/event/validate``) whether it would accept this; nothing is stored.

        The server's 400 for an invalid payload is a result (``ok=False``), not an exception. Local checks run
        first: an envelope the client itself refuses raises :class:`CaliperValidationError` with no call made.
        """
        if isinstance(envelope_or_events, Envelope):
            envelope = envelope_or_events
        else:
            if sensor is None:
                raise ValueError("validate() needs sensor= when given events instead of an Envelope")
            envelope = Envelope(sensor=sensor, data=list(envelope_or_events), send_time=self._clock())
        self._check(envelope.sensor, list(envelope.data))
        body = json.dumps(self._unstructure(envelope), ensure_ascii=False, separators=(",", ":")).encode()
        try:
            reply = self._http.request("POST", self._paths["validate"], data=body)
        except ApiError as exc:
            if exc.status_code in (400, 422):
                return ValidationResult.from_wire(exc.status_code, exc.body)
            raise
        return ValidationResult.from_wire(reply.status_code, reply.body)

    # ------------------------------------------------------------------------------------------------ reading
    def list(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        sensor: str | None = None,
        actor_id: str | None = None,
        actor_email: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> StoredEventsPage:
        """One page of stored events (``GET /caliper/events``), newest ``eventTime`` first.

        Args:
            limit: Page size, 1..1000 (the server may cap it; see ``page.pagination.limit``).
            offset: Rows to skip, >= 0.
            sensor: Only events sent with this sensor.
            actor_id: Only events whose ``actor.id`` is this.
            actor_email: Only events whose ``actor.email`` is this.
            start_date: Only events with ``eventTime`` at or after this (aware datetime).
            end_date: Only events with ``eventTime`` before this (aware datetime).
        """
        params = _list_params(limit, offset, sensor, actor_id, actor_email, start_date, end_date)
        reply = self._http.request("GET", self._paths["list"], params=params)
        if not isinstance(reply.body, (dict, type(None))):
            raise UnexpectedResponseError(
                "the event list is not a JSON object",
                status_code=reply.status_code,
                body=reply.body,
                request_id=reply.request_id,
            )
        return StoredEventsPage.from_wire(reply.body, offset=offset, limit=limit)

    def get(self, external_id: str) -> StoredEvent:
        """One stored event by the id it was sent with (``urn:uuid:...``); NotFoundError if unknown."""
        if not isinstance(external_id, str) or not external_id:
            raise ValueError("get() needs the event's id (urn:uuid:...)")
        path = self._paths["get"].format(external_id=quote(external_id, safe=""))
        reply = self._http.request("GET", path)
        row = reply.body.get("event") if isinstance(reply.body, dict) else None
        if not isinstance(row, dict):
            raise UnexpectedResponseError(
                "a 200 answer without an 'event' object",
                status_code=reply.status_code,
                body=reply.body,
                request_id=reply.request_id,
            )
        return StoredEvent.from_wire(row)

    def stream(self, *, page_size: int = 100, max_items: int | None = None, **filters: Any) -> Iterator[StoredEvent]:
        """Every stored event matching ``filters`` (as :meth:`list`), fetched lazily page by page (flat memory)."""
        if max_items is not None and max_items < 0:
            raise ValueError("max_items must be >= 0")
        offset, yielded = 0, 0
        while max_items is None or yielded < max_items:
            page = self.list(limit=page_size, offset=offset, **filters)
            for event in page.events:
                if max_items is not None and yielded >= max_items:
                    return
                yield event
                yielded += 1
            if not page.has_more:
                return
            offset += page.rows


def _ts(stamp: str) -> datetime:
    from .serialization import parse_datetime

    value = parse_datetime(stamp)
    return value if isinstance(value, datetime) else utcnow()


def _sensor_problems(sensor: Any) -> list[Problem]:
    if not isinstance(sensor, str) or ":" not in sensor or _SPACE.search(sensor) is not None:
        return [Problem("sensor", f"sensor must be an absolute IRI, got {sensor!r}", "ENV-1")]
    return []


def _models_of(items: list[bytes]) -> list[CaliperModel]:
    """Models back from pre-serialized items (only for the unsent envelopes of a failed send)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaliperWarning)  # they passed the strict checks before they were stored
        return [parse(json.loads(item), strict=False) for item in items]


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")


def _list_params(
    limit: int,
    offset: int,
    sensor: str | None,
    actor_id: str | None,
    actor_email: str | None,
    start_date: datetime | None,
    end_date: datetime | None,
) -> dict[str, Any]:
    _check_int("limit", limit, 1, 1000)
    _check_int("offset", offset, 0)
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for key, value in (("sensor", sensor), ("actorId", actor_id), ("actorEmail", actor_email)):
        if value is not None:
            params[key] = value
    for key, when in (("startDate", start_date), ("endDate", end_date)):
        if when is not None:
            if not isinstance(when, datetime) or when.tzinfo is None:
                raise ValueError(f"{key} must be a timezone-aware datetime")
            params[key] = format_datetime(when)
    if start_date is not None and end_date is not None and start_date >= end_date:
        raise ValueError("start_date must be before end_date")
    return params
