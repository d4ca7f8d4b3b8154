"""``client.insights``: read-only Insights queries on the platform back end (contract §5.1-5.4).

Every argument is checked before any call, and all problems are reported at once in one
:class:`~timeback_caliper.errors.CaliperValidationError` (a ``ValueError``): ids must be UUIDs, ``limit`` 1..100,
``offset`` >= 0, datetimes timezone-aware and in order, insight types known (or explicitly allowed), and the
overview's time zone an IANA name. Server errors arrive in the platform shape ``{"error", "message"}`` and raise
the usual :class:`~timeback_caliper.errors.ApiError` subclasses.
"""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

from ._http import HttpResponse, HttpTransport
from .errors import CaliperValidationError, Problem, UnexpectedResponseError
from .models.insights import (
    KNOWN_INSIGHT_TYPES,
    Insight,
    InsightSession,
    InsightsPage,
    InsightType,
    Overview,
    SessionsPage,
)
from .serialization import format_datetime

__all__ = ["Insights", "InsightTypes"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
InsightTypes = str | InsightType | Iterable[str | InsightType]
"""One insight type, or several (sent comma-separated as ``type``)."""

_USER = "/insights/1.0/users/{user_id}"
_SESSIONS = "/insights/1.0/users/{user_id}/sessions"
_SESSION = "/insights/1.0/sessions/{session_id}"
_OVERVIEW = "/insights/1.0/users/{user_id}/overview"
MAX_LIMIT = 100


class _Query:
    """Collects query parameters and every problem with them, so one error can list all problems."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str, rule: str) -> None:
        self.problems.append(Problem(path, message, rule))

    def uuid(self, name: str, value: Any, wire: str | None = None) -> str:
        try:
            if isinstance(value, uuid.UUID):
                text = str(value)
            elif isinstance(value, str):
                text = str(uuid.UUID(value))  # canonical lowercase form: the server's UUID check is exact
            else:
                raise ValueError
        except ValueError:
            self.problem(name, f"must be a UUID, got {value!r}", "uuid")
            return ""
        if wire:
            self.params[wire] = text
        return text

    def integer(self, name: str, value: Any, low: int, high: int | None = None, wire: str | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            self.problem(name, f"must be an integer {bound}, got {value!r}", "range")
        elif wire:
            self.params[wire] = value

    def when(self, name: str, value: datetime | None, wire: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            self.problem(name, f"must be a timezone-aware datetime, got {value!r}", "datetime")
            return None
        self.params[wire] = format_datetime(value)
        return value

    def order(self, first: tuple[str, datetime | None], second: tuple[str, datetime | None], *, strict: bool) -> None:
        (a_name, a), (b_name, b) = first, second
        if a is not None and b is not None and (a >= b if strict else a > b):
            self.problem(b_name, f"{a_name} must be {'before' if strict else 'at or before'} {b_name}", "range")

    def flag(self, name: str, value: bool | None, wire: str) -> None:
        if value is None:
            return
        if not isinstance(value, bool):
            self.problem(name, f"must be True, False or None, got {value!r}", "type")
        else:
            self.params[wire] = "true" if value else "false"

    def types(self, value: InsightTypes | None, allow_unknown: bool) -> None:
        if value is None:
            return
        items: list[Any] = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else []
        if not items:
            self.problem("types", "must name at least one insight type (None means every type)", "vocabulary")
        names: dict[str, None] = {}  # ordered and without repeats
        for i, item in enumerate(items):
            name = item.value if isinstance(item, Enum) else item
            if not isinstance(name, str) or not name.strip() or "," in name:
                self.problem(f"types[{i}]", f"must be one insight type name, got {item!r}", "vocabulary")
            elif name not in KNOWN_INSIGHT_TYPES and not allow_unknown:
                self.problem(
                    f"types[{i}]",
                    f"unknown insight type {name!r} (pass allow_unknown_types=True for a type newer than this "
                    f"client; known: {', '.join(sorted(KNOWN_INSIGHT_TYPES))})",
                    "vocabulary",
                )
            else:
                names[name] = None
        if names:
            self.params["type"] = ",".join(names)

    def timezone(self, value: Any) -> None:
        key = getattr(value, "key", None) if isinstance(value, tzinfo) else value  # a ZoneInfo carries its name
        if not isinstance(key, str) or not key:
            self.problem("target_timezone", f"must be an IANA time zone name, got {value!r}", "timezone")
            return
        try:
            zoneinfo.ZoneInfo(key)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a directory
            # Without any tz database (a slim container, Windows without tzdata) every name fails here:
            # then the server, which checks the name too, has the last word.
            if zoneinfo.available_timezones():
                self.problem("target_timezone", f"unknown IANA time zone {key!r}", "timezone")
                return
            logger.debug("no time zone database found: sending target_timezone %r unchecked", key)
        self.params["targetTimezone"] = key

    def check(self, what: str) -> dict[str, Any]:
        if self.problems:
            raise CaliperValidationError(f"invalid arguments to insights.{what}(): nothing was sent", self.problems)
        return self.params


def _read(reply: HttpResponse, reader: Callable[[Any], T]) -> T:
    try:
        return reader(reply.body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a safety net: readers are meant to be total
        raise UnexpectedResponseError(
            str(exc), status_code=reply.status_code, body=reply.body, request_id=reply.request_id
        ) from exc


class Insights:
    """``client.insights``: what Timeback derived from a user's events (insights, sessions, overview)."""

    def __init__(self, http: HttpTransport) -> None:
        self._http = http

    def user(
        self,
        user_id: str | uuid.UUID,
        *,
        application_id: str | uuid.UUID | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = 20,
        offset: int = 0,
        types: InsightTypes | None = None,
        allow_unknown_types: bool = False,
    ) -> InsightsPage:
        """One page of a user's insights (``GET /insights/1.0/users/{userId}``).

        Args:
            user_id: The Timeback user id (a UUID).
            application_id: Only insights from this app (its ``sourcedId``, a UUID).
            after: Only insights at or after this time (timezone-aware).
            before: Only insights at or before this time (timezone-aware).
            limit: Page size, 1..100.
            offset: Insights to skip, >= 0.
            types: Only these insight types (:class:`InsightType` members or names).
            allow_unknown_types: Send type names this client does not know (types added after its release).

        Returns:
            The page: ``insights``, and ``session`` totals when the server sends them.

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            BadRequestError: 400; NotFoundError: unknown user; AuthenticationError, ForbiddenError (scope),
                ServerError, TransportError; UnexpectedResponseError: a 2xx answer without an insights list.
        """
        q = _Query()
        uid = q.uuid("user_id", user_id)
        self._user_filters(q, application_id, after, before, types, allow_unknown_types)
        q.integer("limit", limit, 1, MAX_LIMIT, "limit")
        q.integer("offset", offset, 0, None, "offset")
        params = q.check("user")
        reply = self._http.request("GET", _USER.format(user_id=quote(uid, safe="")), params=params)
        return _read(reply, lambda body: InsightsPage.from_wire(body, offset=offset, limit=limit))

    def sessions(
        self,
        user_id: str | uuid.UUID,
        *,
        application_id: str | uuid.UUID | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        is_proctored: bool | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SessionsPage:
        """One page of a user's learning sessions (``GET /insights/1.0/users/{userId}/sessions``).

        The order of the sessions is the server's (not documented).

        Args:
            user_id: The Timeback user id (a UUID).
            application_id: Only sessions in this app (its ``sourcedId``, a UUID).
            started_after: Only sessions started at or after this time (timezone-aware).
            started_before: Only sessions started at or before this time (timezone-aware).
            is_proctored: Only proctored (True) or unproctored (False) sessions.
            limit: Page size, 1..100.
            offset: Sessions to skip, >= 0.

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            ApiError: as for :meth:`user`; UnexpectedResponseError: a 2xx answer without a sessions list.
        """
        q = _Query()
        uid = q.uuid("user_id", user_id)
        self._session_filters(q, application_id, started_after, started_before, is_proctored)
        q.integer("limit", limit, 1, MAX_LIMIT, "limit")
        q.integer("offset", offset, 0, None, "offset")
        params = q.check("sessions")
        reply = self._http.request("GET", _SESSIONS.format(user_id=quote(uid, safe="")), params=params)
        return _read(reply, lambda body: SessionsPage.from_wire(body, offset=offset, limit=limit))

    def session(
        self,
        session_id: str | uuid.UUID,
        *,
        is_proctored: bool | None = None,
        limit: int = 20,
        offset: int = 0,
        types: InsightTypes | None = None,
        allow_unknown_types: bool = False,
    ) -> InsightsPage:
        """One page of the insights of one session (``GET /insights/1.0/sessions/{sessionId}``).

        Args:
            session_id: The session id (``InsightSession.id``, a UUID).
            is_proctored: Only when the session is (True) or is not (False) proctored.
            limit: Page size, 1..100.
            offset: Insights to skip, >= 0.
            types: Only these insight types (:class:`InsightType` members or names).
            allow_unknown_types: Send type names this client does not know.

        Returns:
            The page, with the ``session`` totals.

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            NotFoundError: unknown session; other ApiError subclasses and UnexpectedResponseError as for :meth:`user`.
        """
        q = _Query()
        sid = q.uuid("session_id", session_id)
        q.flag("is_proctored", is_proctored, "isProctored")
        q.types(types, allow_unknown_types)
        q.integer("limit", limit, 1, MAX_LIMIT, "limit")
        q.integer("offset", offset, 0, None, "offset")
        params = q.check("session")
        reply = self._http.request("GET", _SESSION.format(session_id=quote(sid, safe="")), params=params)
        return _read(reply, lambda body: InsightsPage.from_wire(body, offset=offset, limit=limit))

    def overview(
        self,
        user_id: str | uuid.UUID,
        *,
        started_after: datetime,
        started_before: datetime,
        target_timezone: str | tzinfo,
    ) -> Overview:
        """Summary, daily trend and breakdown of a user's time (``GET /insights/1.0/users/{userId}/overview``).

        Args:
            user_id: The Timeback user id (a UUID).
            started_after: Start of the period, inclusive (timezone-aware).
            started_before: End of the period, exclusive (timezone-aware, after ``started_after``).
            target_timezone: IANA zone name (``"America/Chicago"``) or a ``ZoneInfo``; trend buckets are its local days.

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            ApiError: as for :meth:`user`; UnexpectedResponseError: a 2xx answer that is not an overview.
        """
        q = _Query()
        uid = q.uuid("user_id", user_id)
        for name, value in (("started_after", started_after), ("started_before", started_before)):
            if value is None:
                q.problem(name, "is required", "required")
        after = q.when("started_after", started_after, "startedAfter")
        before = q.when("started_before", started_before, "startedBefore")
        q.order(("started_after", after), ("started_before", before), strict=True)
        q.timezone(target_timezone)
        params = q.check("overview")
        reply = self._http.request("GET", _OVERVIEW.format(user_id=quote(uid, safe="")), params=params)
        return _read(reply, Overview.from_wire)

    # ------------------------------------------------------------------------------------------ every page
    def iter_user(
        self,
        user_id: str | uuid.UUID,
        *,
        application_id: str | uuid.UUID | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        types: InsightTypes | None = None,
        allow_unknown_types: bool = False,
        page_size: int = MAX_LIMIT,
        max_items: int | None = None,
    ) -> Iterator[Insight]:
        """Every insight of a user (filters as in :meth:`user`), fetched lazily one page at a time.

        The arguments are checked now, before the first page is requested. Memory stays flat: only the
        current page is held. Offset paging over live data may repeat or skip a row if insights are added meanwhile.

        Args:
            user_id: The Timeback user id (a UUID).
            application_id: See :meth:`user`.
            after: See :meth:`user`.
            before: See :meth:`user`.
            types: See :meth:`user`.
            allow_unknown_types: See :meth:`user`.
            page_size: Insights per request, 1..100.
            max_items: Stop after this many insights (None: all).
        """
        q = _Query()
        q.uuid("user_id", user_id)
        self._user_filters(q, application_id, after, before, types, allow_unknown_types)
        self._paging_args(q, page_size, max_items)
        q.check("iter_user")

        def page(offset: int) -> tuple[list[Insight], InsightsPage]:
            p = self.user(
                user_id,
                application_id=application_id,
                after=after,
                before=before,
                types=types,
                allow_unknown_types=allow_unknown_types,
                limit=page_size,
                offset=offset,
            )
            return p.insights, p

        return _every(page, max_items)

    def iter_sessions(
        self,
        user_id: str | uuid.UUID,
        *,
        application_id: str | uuid.UUID | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        is_proctored: bool | None = None,
        page_size: int = MAX_LIMIT,
        max_items: int | None = None,
    ) -> Iterator[InsightSession]:
        """Every session of a user (filters as in :meth:`sessions`), fetched lazily one page at a time.

        Args:
            user_id: The Timeback user id (a UUID).
            application_id: See :meth:`sessions`.
            started_after: See :meth:`sessions`.
            started_before: See :meth:`sessions`.
            is_proctored: See :meth:`sessions`.
            page_size: Sessions per request, 1..100.
            max_items: Stop after this many sessions (None: all).
        """
        q = _Query()
        q.uuid("user_id", user_id)
        self._session_filters(q, application_id, started_after, started_before, is_proctored)
        self._paging_args(q, page_size, max_items)
        q.check("iter_sessions")

        def page(offset: int) -> tuple[list[InsightSession], SessionsPage]:
            p = self.sessions(
                user_id,
                application_id=application_id,
                started_after=started_after,
                started_before=started_before,
                is_proctored=is_proctored,
                limit=page_size,
                offset=offset,
            )
            return p.sessions, p

        return _every(page, max_items)

    def iter_session(
        self,
        session_id: str | uuid.UUID,
        *,
        is_proctored: bool | None = None,
        types: InsightTypes | None = None,
        allow_unknown_types: bool = False,
        page_size: int = MAX_LIMIT,
        max_items: int | None = None,
    ) -> Iterator[Insight]:
        """Every insight of one session (filters as in :meth:`session`), fetched lazily one page at a time.

        Args:
            session_id: The session id (a UUID).
            is_proctored: See :meth:`session`.
            types: See :meth:`session`.
            allow_unknown_types: See :meth:`session`.
            page_size: Insights per request, 1..100.
            max_items: Stop after this many insights (None: all).
        """
        q = _Query()
        q.uuid("session_id", session_id)
        q.flag("is_proctored", is_proctored, "isProctored")
        q.types(types, allow_unknown_types)
        self._paging_args(q, page_size, max_items)
        q.check("iter_session")

        def page(offset: int) -> tuple[list[Insight], InsightsPage]:
            p = self.session(
                session_id,
                is_proctored=is_proctored,
                types=types,
                allow_unknown_types=allow_unknown_types,
                limit=page_size,
                offset=offset,
            )
            return p.insights, p

        return _every(page, max_items)

    # ------------------------------------------------------------------------------------------ shared checks
    @staticmethod
    def _user_filters(
        q: _Query,
        application_id: str | uuid.UUID | None,
        after: datetime | None,
        before: datetime | None,
        types: InsightTypes | None,
        allow_unknown_types: bool,
    ) -> None:
        if application_id is not None:
            q.uuid("application_id", application_id, "applicationId")
        a = q.when("after", after, "after")
        b = q.when("before", before, "before")
        q.order(("after", a), ("before", b), strict=False)  # both bounds are inclusive
        q.types(types, allow_unknown_types)

    @staticmethod
    def _session_filters(
        q: _Query,
        application_id: str | uuid.UUID | None,
        started_after: datetime | None,
        started_before: datetime | None,
        is_proctored: bool | None,
    ) -> None:
        if application_id is not None:
            q.uuid("application_id", application_id, "applicationId")
        a = q.when("started_after", started_after, "startedAfter")
        b = q.when("started_before", started_before, "startedBefore")
        q.order(("started_after", a), ("started_before", b), strict=False)  # both bounds are inclusive
        q.flag("is_proctored", is_proctored, "isProctored")

    @staticmethod
    def _paging_args(q: _Query, page_size: int, max_items: int | None) -> None:
        q.integer("page_size", page_size, 1, MAX_LIMIT)
        if max_items is not None:
            q.integer("max_items", max_items, 0)


def _every(fetch: Callable[[int], tuple[list[T], Any]], max_items: int | None) -> Iterator[T]:
    """Yield the rows of page after page from offset 0 until the last page (or ``max_items``)."""
    offset, yielded = 0, 0
    while max_items is None or yielded < max_items:
        rows, page = fetch(offset)
        for row in rows:
            if max_items is not None and yielded >= max_items:
                return
            yield row
            yielded += 1
        if not page.has_more:
            return
        offset = page.next_offset
