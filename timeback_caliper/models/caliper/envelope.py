"""The envelope that carries events and entities to an endpoint."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import attrs

from ...errors import Problem
from .._base import CALIPER_V1P2, CaliperModel, Iri, WireModel, utcnow
from .._validate import (
    Ctx,
    fast_valid,
    join,
    register_fast_path,
    register_field_check,
    register_rule,
    schema_for,
    validate_model,
)

__all__ = ["Envelope"]


@attrs.frozen(kw_only=True, slots=False)
class Envelope(WireModel):
    """A Caliper envelope: ``sensor``, ``sendTime``, ``dataVersion`` and a non-empty ``data`` list."""

    sensor: Iri
    """The sending application's sensor IRI (ENV-1)."""
    data: list[CaliperModel]
    """Events and entity describes, each a top-level object with its own ``@context`` (ENV-4)."""
    send_time: datetime = attrs.field(factory=utcnow)
    """When the envelope was sent; defaults to now (ENV-2)."""
    data_version: str = CALIPER_V1P2
    """Always the Caliper 1.2 context IRI (ENV-3)."""


_EVENT_KEYS = frozenset(
    {"@context", "id", "type", "actor", "action", "object", "eventTime", "profile", "edApp", "generated", "target"}
    | {"referrer", "group", "membership", "session", "federatedSession", "extensions"}
)
_SERVER_PROFILES = frozenset(
    {"AnnotationProfile", "AssessmentProfile", "ToolUseProfile", "GeneralProfile", "FeedbackProfile"}
    | {"MediaProfile", "SurveyProfile", "ResourceManagementProfile", "ForumProfile", "AssignableProfile"}
    | {"GradingProfile", "ReadingProfile", "SessionProfile", "SearchProfile", "ToolLaunchProfile", "TimebackProfile"}
)
_URN_UUID = re.compile(r"^urn:uuid:")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _server_item(item: CaliperModel, path: str, out: list[Problem], ctx: Ctx) -> None:
    """The server's checks (contract §7.2, §7.4): generic events get ENV/EVT rules only, not the Caliper model."""
    from .events import Event  # a late import: events.py imports this module's neighbours

    if isinstance(item, Event) and item.profile == "TimebackProfile":
        validate_model(item, path, out, ctx)
        return
    wire = get_wire_view(item)
    if "action" not in wire:  # an entity describe: needs an absolute id and a type (ENV-4)
        if not (isinstance(wire.get("id"), str) and _ABSOLUTE.match(wire["id"])) or not wire.get("type"):
            ctx.report(out, path, "an entity describe needs an absolute IRI id and a type", "ENV-4")
        return
    event_id = wire.get("id")
    if not isinstance(event_id, str) or not _URN_UUID.match(event_id):
        ctx.report(out, join(path, "id"), "an event id must start with urn:uuid:", "EVT-1")
    for key in ("type", "actor", "action", "object", "eventTime", "profile"):
        if wire.get(key) is None:
            ctx.report(out, join(path, key), f"{key} is required", "EVT-2")
    profile = wire.get("profile")
    if profile is not None and profile not in _SERVER_PROFILES:
        ctx.report(out, join(path, "profile"), f"unknown profile {profile!r}", "EVT-2")
    when = wire.get("eventTime")  # a datetime here was read from the strict form; a string was not
    if when is not None and not isinstance(when, datetime) and not (isinstance(when, str) and _TIMESTAMP.match(when)):
        ctx.report(out, join(path, "eventTime"), "eventTime must be YYYY-MM-DDTHH:MM:SS.sssZ", "EVT-3")
    for key in wire:
        if key not in _EVENT_KEYS:
            ctx.report(out, join(path, key), f"unknown event property {key!r}", "EVT-4")
    context = wire.get("@context")
    if context is not None and not isinstance(context, (str, list, dict)):
        ctx.report(out, join(path, "@context"), "@context must be a URI string", "EVT-5")


def get_wire_view(item: CaliperModel) -> dict[str, Any]:
    """The item's top-level wire keys -> values (nested models and datetimes left as Python objects)."""
    view: dict[str, Any] = {"type": type(item).__dict__.get("TYPE")}
    values = item.__dict__
    for f in schema_for(type(item)).fields:
        if values[f.name] is not None:
            view[f.wire] = values[f.name]
    view.update(item.extra or {})
    return view


def _check_data(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if not isinstance(value, list):
        ctx.report(out, path, f"data must be an array, got {type(value).__name__}", "ENV-4")
        return
    if not value:
        ctx.report(out, path, "data must hold at least one event or entity", "ENV-4")
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, CaliperModel):
            ctx.report(out, where, f"expected an event or entity object, got {type(item).__name__}", "ENV-4")
        elif ctx.server:
            _server_item(item, where, out, ctx)
        elif not ctx.build:
            validate_model(item, where, out, ctx)  # each item is top-level: it may carry @context


def _check_envelope(env: Envelope, path: str, out: list[Problem], ctx: Ctx) -> None:
    if env.data_version != CALIPER_V1P2 and env.data_version is not None:
        ctx.report(out, join(path, "dataVersion"), f"dataVersion must be {CALIPER_V1P2!r}", "ENV-3")


register_field_check(Envelope, "sensor", rule="ENV-1")
register_field_check(Envelope, "send_time", rule="ENV-2")
register_field_check(Envelope, "data_version", rule="ENV-3")
register_field_check(Envelope, "data", _check_data, rule="ENV-4", nested=False)
register_rule(Envelope, _check_envelope)


def _check_data_fast(value: Any, deep: bool) -> bool:
    if type(value) is not list or not value:
        return False
    for item in value:
        if not isinstance(item, CaliperModel) or (deep and not fast_valid(item, deep=True)):
            return False
    return True


def _check_envelope_fast(env: Envelope) -> bool:
    return not (env.data_version != CALIPER_V1P2 and env.data_version is not None)


register_fast_path(_check_data, _check_data_fast)
register_fast_path(_check_envelope, _check_envelope_fast)
