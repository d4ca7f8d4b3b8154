"""``client.applications``: the application catalogue on the platform back end (contract §5.5), and a cached lookup.

Sessions name their app only by ``applicationId``; :meth:`Applications.lookup` turns the whole catalogue into one
``{applicationId: Application}`` map, fetched once per ``cache_ttl`` seconds and shared by every thread, so a
dashboard shows app names without one call per session.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

from ._http import HttpTransport, PerProcess
from .errors import CaliperValidationError, Problem, UnexpectedResponseError
from .models.insights import Application, ApplicationsPage

__all__ = ["Applications"]

logger = logging.getLogger(__name__)

_PATH = "/applications/1.0"
DEFAULT_LIMIT = 100


class _Cache:
    """The lookup map of one process, and the lock that makes one thread refresh it while the others wait."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.apps: Mapping[str, Application] | None = None
        self.fetched_at = 0.0


def _query(
    limit: Any,
    offset: Any,
    sort: Any,
    order_by: Any,
    filter: Any,  # the OneRoster parameter's own name, shadowing the builtin here only
    fields: Any,
    *,
    limit_name: str = "limit",
) -> dict[str, Any]:
    problems: list[Problem] = []
    params: dict[str, Any] = {}
    for name, value, low, wire in ((limit_name, limit, 1, "limit"), ("offset", offset, 0, "offset")):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(Problem(name, f"must be an integer >= {low}, got {value!r}", "range"))
        else:
            params[wire] = value
    for name, value in (("sort", sort), ("filter", filter)):
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(name, f"must be a non-empty string, got {value!r}", "type"))
        else:
            params[name] = value
    if order_by is not None:
        if order_by not in ("asc", "desc"):
            problems.append(Problem("order_by", f"must be 'asc' or 'desc', got {order_by!r}", "vocabulary"))
        elif sort is None:
            problems.append(Problem("order_by", "needs sort= (the field to order by)", "required"))
        else:
            params["orderBy"] = order_by
    if fields is not None:
        names = [fields] if isinstance(fields, str) else builtins.list(fields) if isinstance(fields, Iterable) else []
        bad = [n for n in names if not isinstance(n, str) or not n.strip() or "," in n]
        if not names or bad:
            problems.append(Problem("fields", f"must be one or more field names, got {fields!r}", "type"))
        else:
            params["fields"] = ",".join(dict.fromkeys(names))
    if problems:
        raise CaliperValidationError("invalid arguments to applications.list(): nothing was sent", problems)
    return params


class Applications:
    """``client.applications``: list the catalogue (OneRoster-style query) and look apps up by id.

    Args:
        http: The platform transport (``lti.readonly`` scope).
        cache_ttl: Seconds a :meth:`lookup` map is reused (0: fetch on every call).
        clock: Monotonic clock for the cache (the client passes its retry policy's, so tests can move it).
    """

    def __init__(
        self, http: HttpTransport, *, cache_ttl: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, (int, float)) or not cache_ttl >= 0:
            raise ValueError(f"cache_ttl must be a number of seconds >= 0, got {cache_ttl!r}")
        self._http, self._clock = http, clock
        self.cache_ttl = float(cache_ttl)
        # Per process: a forked child must not inherit a lock some parent thread held (see _http.PerProcess).
        self._cache = PerProcess(_Cache)

    def list(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        sort: str | None = None,
        order_by: Literal["asc", "desc"] | None = None,
        filter: str | None = None,
        fields: str | Iterable[str] | None = None,
    ) -> ApplicationsPage:
        """One page of the catalogue (``GET /applications/1.0``).

        Args:
            limit: Page size, >= 1 (the server's maximum is not documented; it may send fewer).
            offset: Applications to skip, >= 0.
            sort: Field to sort by (``"name"``).
            order_by: ``"asc"`` or ``"desc"``; needs ``sort``.
            filter: A OneRoster filter expression, sent verbatim (``"name='Math Learning Suite'"``).
            fields: Only these fields of each application (``["sourcedId", "name"]``); the others read as None.

        Returns:
            The page: ``applications``, ``total``, ``has_more``.

        Raises:
            CaliperValidationError: an argument is invalid (nothing was sent).
            BadRequestError: e.g. a filter the server cannot parse; AuthenticationError, ForbiddenError (scope),
                ServerError, TransportError; UnexpectedResponseError: a 2xx answer without an applications list.
        """
        params = _query(limit, offset, sort, order_by, filter, fields)
        reply = self._http.request("GET", _PATH, params=params)
        try:
            return ApplicationsPage.from_wire(reply.body, offset=offset, limit=limit)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UnexpectedResponseError(
                str(exc), status_code=reply.status_code, body=reply.body, request_id=reply.request_id
            ) from exc

    def iter_all(
        self,
        *,
        page_size: int = DEFAULT_LIMIT,
        sort: str | None = None,
        order_by: Literal["asc", "desc"] | None = None,
        filter: str | None = None,
        fields: str | Iterable[str] | None = None,
        max_items: int | None = None,
    ) -> Iterator[Application]:
        """Every application matching the query (as :meth:`list`), fetched lazily one page at a time.

        The arguments are checked now, before the first page is requested.

        Args:
            page_size: Applications per request, >= 1.
            sort: See :meth:`list`.
            order_by: See :meth:`list`.
            filter: See :meth:`list`.
            fields: See :meth:`list`.
            max_items: Stop after this many applications (None: all).
        """
        _query(page_size, 0, sort, order_by, filter, fields, limit_name="page_size")
        if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0):
            raise CaliperValidationError(
                "invalid arguments to applications.iter_all()",
                [Problem("max_items", f"must be an integer >= 0 or None, got {max_items!r}", "range")],
            )
        return self._pages(page_size, sort, order_by, filter, fields, max_items)

    def _pages(
        self,
        page_size: int,
        sort: str | None,
        order_by: Literal["asc", "desc"] | None,
        filter: str | None,
        fields: str | Iterable[str] | None,
        max_items: int | None,
    ) -> Iterator[Application]:
        offset, yielded = 0, 0
        while max_items is None or yielded < max_items:
            page = self.list(limit=page_size, offset=offset, sort=sort, order_by=order_by, filter=filter, fields=fields)
            for app in page.applications:
                if max_items is not None and yielded >= max_items:
                    return
                yield app
                yielded += 1
            if not page.has_more:
                return
            offset = page.next_offset

    def lookup(self, *, refresh: bool = False) -> Mapping[str, Application]:
        """Every application by its id (``sourcedId`` = the Insights ``applicationId``), cached ``cache_ttl`` seconds.

        One thread fetches (every page) while the others wait for its result. If the fetch fails the error is
        raised and the old map is kept for the next attempt, never served past its lifetime.

        Args:
            refresh: Fetch now, even if the cached map is still fresh.

        Returns:
            A read-only ``{application_id: Application}`` map; ``.get(session.application_id)`` gives None for an
            app the catalogue does not list.

        Raises:
            ApiError, TransportError, UnexpectedResponseError: as for :meth:`list`.
        """
        cache = self._cache.get()
        with cache.lock:
            if not refresh and cache.apps is not None and self._clock() - cache.fetched_at < self.cache_ttl:
                return cache.apps
            apps: dict[str, Application] = {}
            for app in self._pages(DEFAULT_LIMIT, None, None, None, None, None):
                if app.sourced_id is not None:
                    apps[app.sourced_id] = app
            cache.apps, cache.fetched_at = MappingProxyType(apps), self._clock()
            logger.debug("application lookup refreshed: %d applications", len(apps))
            return cache.apps

    def invalidate(self) -> None:
        """Forget the cached lookup map: the next :meth:`lookup` fetches the catalogue again."""
        cache = self._cache.get()
        with cache.lock:
            cache.apps = None
