"""Webhook and webhook-filter registrations (Caliper back end, contract §4.6-4.7): checked inputs, lenient replies.

The inputs (:class:`WebhookInput`, :class:`WebhookFilterInput`) check every field when built, so a bad registration
never reaches the network. The replies (:class:`Webhook`, :class:`WebhookFilter`) keep unknown values as strings.
A webhook's ``secret`` comes back in clear: it is kept out of every ``repr`` (``raw`` included) and every message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import attrs

from ..errors import CaliperValidationError, Problem
from .api import as_id, parse_timestamp

__all__ = [
    "FILTER_OPERATIONS",
    "FILTER_TYPES",
    "FilterOperation",
    "FilterType",
    "Webhook",
    "WebhookFilter",
    "WebhookFilterInput",
    "WebhookInput",
]


class FilterType(str, Enum):
    """How a filter reads its ``filterValue`` string."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"


class FilterOperation(str, Enum):
    """How a filter compares the event's value with its ``filterValue``."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"
    NOT_CONTAINS = "notContains"
    IN = "in"
    NOT_IN = "notIn"
    STARTS_WITH = "startsWith"
    ENDS_WITH = "endsWith"
    REGEXP = "regexp"


FILTER_TYPES = frozenset(t.value for t in FilterType)
FILTER_OPERATIONS = frozenset(op.value for op in FilterOperation)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _text(problems: list[Problem], path: str, value: Any, *, optional: bool = False, show: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        got = f", got {value!r}" if show else ""  # show=False: never echo a secret
        problems.append(Problem(path, f"must be a non-empty string{' or None' if optional else ''}{got}", "type"))


def _flag(problems: list[Problem], path: str, value: Any) -> None:
    if not isinstance(value, bool):
        problems.append(Problem(path, f"must be True or False, got {value!r}", "type"))


def _raise(what: str, problems: list[Problem]) -> None:
    if problems:
        raise CaliperValidationError(f"invalid {what}: nothing was sent", problems)


@attrs.frozen(kw_only=True, slots=False)
class WebhookInput:
    """A webhook registration to create, or the full replacement of one (``PUT`` replaces every field).

    Raises:
        CaliperValidationError: when built with a missing or malformed field (every problem is listed).
    """

    name: str
    target_url: str
    """Where the service posts: an absolute ``http(s)://`` URL. Wire name: ``targetUrl``."""
    secret: str = attrs.field(repr=False)
    """Shared secret the service holds for this webhook; never logged or shown."""
    description: str | None = None
    """Always sent (the wire key is required), as ``null`` when None."""
    active: bool = True
    """Always sent (the wire key is required)."""
    sensor: str | None = None
    """Only events of this sensor; left out of the request when None."""

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        _text(problems, "name", self.name)
        _text(problems, "target_url", self.target_url)
        if isinstance(self.target_url, str) and self.target_url.strip():
            parts = urlsplit(self.target_url)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                problems.append(
                    Problem("target_url", f"must be an absolute http(s) URL, got {self.target_url!r}", "iri")
                )
        _text(problems, "secret", self.secret, show=False)
        if self.description is not None and not isinstance(self.description, str):
            problems.append(Problem("description", f"must be a string or None, got {self.description!r}", "type"))
        _flag(problems, "active", self.active)
        _text(problems, "sensor", self.sensor, optional=True)
        _raise("webhook", problems)


@attrs.frozen(kw_only=True, slots=False)
class WebhookFilterInput:
    """A filter on a webhook: the service calls it only for events where ``filter_key`` matches.

    ``filter_value`` is always a string on the wire, whatever ``filter_type`` says (``"42"``, ``"true"``).

    Raises:
        CaliperValidationError: when built with a missing or malformed field (every problem is listed).
    """

    webhook_id: str
    """The webhook's id (a UUID), stored in its canonical lowercase form. Wire name: ``webhookId``."""
    filter_key: str
    """The event field to test, e.g. ``sensor``."""
    filter_value: str
    filter_type: str
    """A :class:`FilterType` value (members are accepted and stored as their string)."""
    filter_operation: str
    """A :class:`FilterOperation` value (members are accepted and stored as their string)."""
    active: bool = True
    """Always sent (the wire key is required)."""

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        try:
            object.__setattr__(self, "webhook_id", str(uuid.UUID(str(_plain(self.webhook_id)))))
        except ValueError:
            problems.append(Problem("webhook_id", f"must be a UUID, got {self.webhook_id!r}", "uuid"))
        _text(problems, "filter_key", self.filter_key)
        if not isinstance(self.filter_value, str):
            problems.append(
                Problem("filter_value", f"must be a string (e.g. str(value)), got {self.filter_value!r}", "type")
            )
        for name, known in (("filter_type", FILTER_TYPES), ("filter_operation", FILTER_OPERATIONS)):
            value = _plain(getattr(self, name))
            object.__setattr__(self, name, value)
            if value not in known:
                problems.append(Problem(name, f"must be one of {sorted(known)}, got {value!r}", "vocabulary"))
        _flag(problems, "active", self.active)
        _raise("webhook filter", problems)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _unwrap(body: Any, key: str, marker: str) -> Mapping[str, Any]:
    """The object under ``key``, or the body itself when it already is one (it holds ``marker``)."""
    if isinstance(body, Mapping):
        inner = body.get(key)
        if isinstance(inner, Mapping):
            return inner
        if marker in body:
            return body
    raise ValueError(f"the answer has no {key!r} object")


def _list(body: Any, key: str) -> list[Mapping[str, Any]]:
    """The objects under ``key`` (or a bare list); rows that are not objects are skipped."""
    rows = body.get(key) if isinstance(body, Mapping) else body
    if not isinstance(rows, list):
        raise ValueError(f"the answer has no {key!r} list")
    return [row for row in rows if isinstance(row, Mapping)]


@attrs.frozen(kw_only=True, slots=False)
class Webhook:
    """A registered webhook, as the server returns it."""

    id: str | None
    """The webhook's id (a UUID string)."""
    name: str | None = None
    description: str | None = None
    target_url: str | None = None
    secret: str | None = attrs.field(default=None, repr=False)
    """The shared secret, returned in clear by the server: never shown in ``repr``."""
    active: bool | None = None
    sensor: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    """Set on live webhooks in the documented example: do not read it as "deleted"."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)
    """The object as received (it holds the secret too)."""

    def to_input(self) -> WebhookInput:
        """This webhook as a :class:`WebhookInput`, to change with ``attrs.evolve`` and pass to ``update``."""
        return WebhookInput(
            name=self.name,  # type: ignore[arg-type]  # a missing field is reported by WebhookInput's own checks
            target_url=self.target_url,  # type: ignore[arg-type]
            secret=self.secret,  # type: ignore[arg-type]
            description=self.description,
            active=True if self.active is None else self.active,
            sensor=self.sensor,
        )

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> Webhook:
        """Read a Webhook object."""
        g = value.get
        return cls(
            id=as_id(g("id")),
            name=_str(g("name")),
            description=_str(g("description")),
            target_url=_str(g("targetUrl")),
            secret=_str(g("secret")),
            active=g("active") if isinstance(g("active"), bool) else None,
            sensor=_str(g("sensor")),
            created_at=parse_timestamp(g("createdAt")),
            updated_at=parse_timestamp(g("updatedAt")),
            deleted_at=parse_timestamp(g("deletedAt")),
            raw=dict(value),
        )

    @classmethod
    def from_reply(cls, body: Any) -> Webhook:
        """Read ``{"webhook": {...}}`` (or the object itself); raises ValueError when there is none."""
        return cls.from_wire(_unwrap(body, "webhook", "targetUrl"))

    @classmethod
    def list_from_reply(cls, body: Any) -> list[Webhook]:
        """Read ``{"webhooks": [...]}`` (or a bare list); raises ValueError when there is no list."""
        return [cls.from_wire(row) for row in _list(body, "webhooks")]


def _filter_value(value: Any) -> str | None:
    if isinstance(value, bool):  # the wire value is documented as a string; a typed JSON value is normalised
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return _str(value)


@attrs.frozen(kw_only=True, slots=False)
class WebhookFilter:
    """A webhook filter, as the server returns it."""

    id: str | None
    """The filter's id: not in the documented schema (None then), though the ``{id}`` routes need it."""
    webhook_id: str | None = None
    filter_key: str | None = None
    filter_value: str | None = None
    filter_type: str | None = None
    """A :class:`FilterType` value or another wire string."""
    filter_operation: str | None = None
    """A :class:`FilterOperation` value or another wire string."""
    active: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    def to_input(self) -> WebhookFilterInput:
        """This filter as a :class:`WebhookFilterInput`, to change with ``attrs.evolve`` and pass to ``update``."""
        return WebhookFilterInput(
            webhook_id=self.webhook_id,  # type: ignore[arg-type]  # reported by WebhookFilterInput's own checks
            filter_key=self.filter_key,  # type: ignore[arg-type]
            filter_value=self.filter_value,  # type: ignore[arg-type]
            filter_type=self.filter_type,  # type: ignore[arg-type]
            filter_operation=self.filter_operation,  # type: ignore[arg-type]
            active=True if self.active is None else self.active,
        )

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> WebhookFilter:
        """Read a Filter object."""
        g = value.get
        return cls(
            id=as_id(g("id")),
            webhook_id=as_id(g("webhookId")),
            filter_key=_str(g("filterKey")),
            filter_value=_filter_value(g("filterValue")),
            filter_type=_str(g("filterType")),
            filter_operation=_str(g("filterOperation")),
            active=g("active") if isinstance(g("active"), bool) else None,
            created_at=parse_timestamp(g("createdAt")),
            updated_at=parse_timestamp(g("updatedAt")),
            deleted_at=parse_timestamp(g("deletedAt")),
            raw=dict(value),
        )

    @classmethod
    def from_reply(cls, body: Any) -> WebhookFilter:
        """Read ``{"filter": {...}}`` (or the object itself); raises ValueError when there is none."""
        return cls.from_wire(_unwrap(body, "filter", "filterKey"))

    @classmethod
    def list_from_reply(cls, body: Any) -> list[WebhookFilter]:
        """Read ``{"filters": [...]}`` (or a bare list); raises ValueError when there is no list."""
        return [cls.from_wire(row) for row in _list(body, "filters")]
