"""The envelope that carries events and entities to an endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from ...errors import Problem
from .._base import CALIPER_V1P2, CaliperModel, Iri, WireModel, utcnow
from .._validate import Ctx, join, register_field_check, register_rule, validate_model

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
        elif not ctx.build:
            validate_model(item, where, out, ctx)  # each item is top-level: it may carry @context


def _check_envelope(env: Envelope, path: str, out: list[Problem], ctx: Ctx) -> None:
    if env.data_version != CALIPER_V1P2 and env.data_version is not None:
        ctx.report(out, join(path, "dataVersion"), f"dataVersion must be {CALIPER_V1P2!r}", "ENV-3")


register_field_check(Envelope, "sensor", rule="ENV-1")
register_field_check(Envelope, "send_time", rule="ENV-2")
register_field_check(Envelope, "data_version", rule="ENV-3")
register_field_check(Envelope, "data", _check_data, rule="ENV-4")
register_rule(Envelope, _check_envelope)
