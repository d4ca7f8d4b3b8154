"""Base classes, field markers and the open registries every Caliper and Timeback model shares."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, TypeVar, Union

import attrs

__all__ = [
    "CALIPER_V1P2",
    "TYPE_REGISTRY",
    "VOCABULARIES",
    "CaliperModel",
    "Duration",
    "EventId",
    "Iri",
    "IriOr",
    "JsonLdContext",
    "Kind",
    "Vocab",
    "WireModel",
    "building_disabled",
    "new_event_id",
    "register_type",
    "register_vocabulary",
    "utcnow",
]

CALIPER_V1P2 = "http://purl.imsglobal.org/ctx/caliper/v1p2"
"""The Caliper 1.2 JSON-LD context IRI, also the envelope's ``dataVersion``."""

T = TypeVar("T")


@attrs.frozen
class Kind:
    """A marker in ``Annotated[str, Kind(...)]`` naming the lexical rule a string must follow."""

    name: str


@attrs.frozen
class Vocab:
    """A marker in ``Annotated[str, Vocab(...)]``: the string must be a term of that open vocabulary."""

    name: str


Iri = Annotated[str, Kind("iri")]
"""An absolute IRI (a scheme, then no whitespace)."""
EventId = Annotated[str, Kind("event_id")]
"""An event id: ``urn:uuid:<uuid>``."""
Duration = Annotated[str, Kind("duration")]
"""An ISO 8601 duration (``PT4M12S``), kept verbatim."""
IriOr = Union[str, T]
"""``IriOr[Agent]``: the agent's IRI, or the embedded Agent itself."""
JsonLdContext = Union[str, list[Any], dict[str, Any]]
"""A JSON-LD ``@context``: a string, an array or an object, kept exactly as given."""

TYPE_REGISTRY: dict[str, type[WireModel]] = {}
"""Every concrete wire ``type`` name -> the class that models it (Caliper core and profile extensions)."""

VOCABULARIES: dict[str, set[str]] = {}
"""Open vocabularies (actions, profiles, roles...): extensions add terms with :func:`register_vocabulary`."""


def register_type(cls: type[WireModel]) -> None:
    """Register ``cls`` under its ``TYPE``; a profile extension calls this (attrs does it for subclasses)."""
    name = cls.__dict__.get("TYPE")
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__}: TYPE missing")
    if TYPE_REGISTRY.setdefault(name, cls) is not cls:
        raise TypeError(f"{cls.__name__}: type {name!r} already registered by {TYPE_REGISTRY[name].__name__}")


def register_vocabulary(name: str, *terms: str) -> None:
    """Add terms to the open vocabulary ``name`` (creating it if needed)."""
    VOCABULARIES.setdefault(name, set()).update(terms)


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_event_id() -> str:
    """A fresh event id, ``urn:uuid:<uuid4>``: 122 random bits from ``os.urandom``, as ``uuid.uuid4()`` has."""
    # str(uuid.uuid4()) costs three times as much: the UUID object, its int and its formatting are not needed.
    h = os.urandom(16).hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to milliseconds (the wire precision)."""
    global _last_now
    ms = time.time_ns() // 1_000_000
    last = _last_now
    if last[0] == ms:
        return last[1]  # datetimes are immutable: calls within one millisecond share one
    # Whole milliseconds as a float are exact to well under a microsecond here, so fromtimestamp (which rounds to the
    # microsecond) lands on the millisecond itself: the same value as now().replace(microsecond=...//1000*1000).
    now = _fromtimestamp(ms / 1000, timezone.utc)
    _last_now = (ms, now)  # one tuple, swapped whole: safe across threads
    return now


_fromtimestamp = datetime.fromtimestamp
_last_now: tuple[int, datetime] = (-1, datetime(1970, 1, 1, tzinfo=timezone.utc))


class _BuildState(threading.local):
    # Structuring wire data must not run the build-time checks (it validates the whole tree afterwards,
    # with paths), so the converter switches them off for its thread while it builds instances.
    suspended = 0


_STATE = _BuildState()


class building_disabled:  # noqa: N801 - used like a function: `with building_disabled():`
    """Context manager: models built inside it skip their construction-time validation."""

    def __enter__(self) -> None:
        _STATE.suspended += 1

    def __exit__(self, *exc: object) -> None:
        _STATE.suspended -= 1


# Set by models/_validate.py at import: the construction-time check (kept as a hook to avoid an import cycle).
_check_on_build: list[Callable[[WireModel], None]] = []
# Filled by models/_validate.py: class -> its generated construction-time predicate (True: valid, and marked so).
_FAST_BUILT: dict[type, Callable[[Any], bool]] = {}


@attrs.frozen(kw_only=True, slots=False)
class WireModel:
    """Base of every model that travels as JSON. Knows nothing of HTTP or of the converter."""

    extra: dict[str, Any] | None = attrs.field(default=None, repr=False)
    """Wire properties this model does not declare, kept verbatim (only lenient parsing fills it)."""

    TYPE: ClassVar[str]
    """The wire ``type`` of a registered class; classes without one (metric items) are plain wire models."""

    @classmethod
    def __attrs_init_subclass__(cls) -> None:
        if "TYPE" in cls.__dict__:
            register_type(cls)

    def __attrs_post_init__(self) -> None:
        if _check_on_build and not _STATE.suspended:
            fast = _FAST_BUILT.get(self.__class__)  # the happy path without the call through check_built
            if fast is None or not fast(self):
                _check_on_build[0](self)


@attrs.frozen(kw_only=True, slots=False)
class CaliperModel(WireModel):
    """A Caliper 1.2 type: every concrete subclass sets ``TYPE`` and is registered automatically."""

    context: JsonLdContext | None = None
    """Wire ``@context``; only top-level objects carry it."""


def is_registered(cls: type) -> bool:
    """True when ``cls`` is the class registered for its own ``TYPE``."""
    name = cls.__dict__.get("TYPE")
    return isinstance(name, str) and TYPE_REGISTRY.get(name) is cls
