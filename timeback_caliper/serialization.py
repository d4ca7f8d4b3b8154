"""The one cattrs converter: wire names, omission, datetimes, type dispatch; plus parse, to_dict, dumps, validate.

Structuring never judges: it keeps what the wire said (an int in a decimal slot, a malformed timestamp, an
unknown property) so that the validator can report every problem with its path, and lenient parsing can give
back exactly what it read.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Union

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .errors import CaliperValidationError, CaliperWarning, Problem
from .models._base import TYPE_REGISTRY, WireModel, building_disabled, is_registered
from .models._validate import UNTYPED, Ctx, schema_for, validate_tree, wire_name
from .models.caliper.entity import Entity
from .models.caliper.envelope import Envelope
from .models.caliper.events import Event

__all__ = [
    "dumps",
    "format_datetime",
    "get_converter",
    "loads_json",
    "make_converter",
    "parse",
    "parse_datetime",
    "to_dict",
    "validate",
]

_OPAQUE = frozenset({"context", "extensions", "message_parameters", "extra"})
_STRICT_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_UTC = timezone.utc


def format_datetime(value: datetime | str) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` in UTC, truncated to milliseconds (a kept raw string passes through)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is not _UTC:
        if value.tzinfo is None:
            raise CaliperValidationError("naive datetime: give a timezone-aware datetime")
        value = value.astimezone(_UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def _unstructure_datetime(value: Any) -> Any:
    # Lenient parsing keeps whatever the wire held in a timestamp slot (null, a number...): write it back as it was.
    return format_datetime(value) if isinstance(value, (datetime, str)) else value


def parse_datetime(value: Any) -> Any:
    """A strict Caliper timestamp -> aware UTC datetime; anything else is returned unchanged."""
    if isinstance(value, str) and len(value) == 24 and _STRICT_TS.match(value):
        return datetime(
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
            int(value[20:23]) * 1000,
            tzinfo=_UTC,
        )
    return value


def _passthrough(value: Any, _: Any = None) -> Any:
    return value


def _origin(tp: Any) -> Any:
    return typing.get_origin(tp)


def _is_opaque(tp: Any) -> bool:
    return tp is Any or tp is dict or _origin(tp) is dict


def _is_list(tp: Any) -> bool:
    return _origin(tp) is list


def _is_plain_union(tp: Any) -> bool:
    return _origin(tp) in (Union, types.UnionType) and _models_in(tp) is None


def _is_model_union(tp: Any) -> bool:
    return _models_in(tp) is not None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, WireModel)


def _models_in(tp: Any) -> tuple[type[WireModel], ...] | None:
    if _origin(tp) in (Union, types.UnionType):
        found = tuple(a for a in typing.get_args(tp) if _is_model(a))
        return found or None
    return None


def make_converter() -> cattrs.Converter:
    """Build a fresh converter with every wire rule registered (never cattrs' global one)."""
    conv = cattrs.Converter()
    for prim in (str, int, float, bool):
        conv.register_structure_hook(prim, _passthrough)
    conv.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook_func(_is_opaque, _passthrough)

    def structure_node(value: Any, allowed: tuple[type[WireModel], ...]) -> Any:
        """Structure one JSON object into the class its ``type`` names (the validator judges the fit)."""
        if not isinstance(value, dict):
            return value  # wrong JSON type: kept as is, reported by the validator
        if len(allowed) == 1 and _untyped(allowed[0]):
            # Untyped nodes (metric items, app, course, the envelope) are read as their own class. Going back
            # through conv.structure would re-enter this hook forever.
            return _structure_exact(value, allowed[0])
        name = value.get("type")
        cls = TYPE_REGISTRY.get(name) if isinstance(name, str) else None
        if cls is None:
            return _generic(value)
        return _structure_exact(value, cls)

    untyped_cache: dict[type[WireModel], tuple[int, bool]] = {}

    def _untyped(cls: type[WireModel]) -> bool:
        # A class with no TYPE of its own and no registered subclass (CaliperModel has many: it dispatches on
        # `type`). Cached per registry size, so profile extensions imported later are still seen.
        size = len(TYPE_REGISTRY)
        hit = untyped_cache.get(cls)
        if hit is None or hit[0] != size:
            flag = "TYPE" not in cls.__dict__ and not any(issubclass(t, cls) for t in TYPE_REGISTRY.values())
            hit = untyped_cache[cls] = (size, flag)
        return hit[1]

    def _generic(value: dict[str, Any]) -> WireModel:
        # Unknown type: the closest generic class keeps every property (the type itself goes to `extra`).
        base: type[WireModel] = Event if "action" in value else Entity
        obj = _structure_exact(value, base, keep_type=True)
        if "type" not in value:
            obj.__dict__[UNTYPED] = True  # written back without a type, as it was read
        return obj

    exact_hooks: dict[type[WireModel], Callable[[dict[str, Any], bool], WireModel]] = {}

    def exact_hook(cls: type[WireModel]) -> Callable[[dict[str, Any], bool], WireModel]:
        hook = exact_hooks.get(cls)
        if hook is None:
            hook = exact_hooks[cls] = _make_exact_hook(cls)
        return hook

    def _make_exact_hook(cls: type[WireModel]) -> Callable[[dict[str, Any], bool], WireModel]:
        schema = schema_for(cls)
        wires = {f.wire for f in schema.fields}
        overrides: dict[str, Any] = {
            a.name: override(rename=wire_name(a.name), struct_hook=_passthrough if a.name in _OPAQUE else None)
            for a in attrs.fields(cls)
            if a.name != "extra"
        }
        fn = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=False, extra=override(omit=True), **overrides)
        tag = cls.__dict__.get("TYPE")
        blank = dict.fromkeys(wires)

        def hook(value: dict[str, Any], keep_type: bool) -> WireModel:
            extra = {
                k: v
                for k, v in value.items()
                if (k not in wires or v is None)
                and not (k == "type" and tag is not None and v == tag and not keep_type)
            }
            full = {**blank, **value}
            obj = fn(full, cls)
            if extra:
                object.__setattr__(obj, "extra", extra)
            return obj

        return hook

    def _structure_exact(value: dict[str, Any], cls: type[WireModel], keep_type: bool = False) -> WireModel:
        return exact_hook(cls)(value, keep_type)

    @conv.register_structure_hook_factory(_is_model)
    def _model_factory(cls: type[WireModel]) -> Callable[[Any, Any], Any]:
        allowed = (cls,)
        return lambda value, _: structure_node(value, allowed)

    @conv.register_structure_hook_factory(_is_model_union)
    def _union_factory(tp: Any) -> Callable[[Any, Any], Any]:
        allowed = _models_in(tp) or ()

        def hook(value: Any, _: Any) -> Any:
            if value is None or isinstance(value, str):
                return value  # an IRI stays an IRI: never expanded or collapsed
            return structure_node(value, allowed)

        return hook

    @conv.register_structure_hook_factory(_is_plain_union)
    def _plain_union_factory(tp: Any) -> Callable[[Any, Any], Any]:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            return _passthrough  # int | float and the like: kept as read
        inner = conv.get_structure_hook(args[0])
        return lambda value, _: None if value is None else inner(value, args[0])

    @conv.register_structure_hook_factory(_is_list)
    def _list_factory(tp: Any) -> Callable[[Any, Any], Any]:
        (item_type,) = typing.get_args(tp) or (Any,)

        def hook(value: Any, _: Any) -> Any:
            if not isinstance(value, list):
                return value  # "not a list": kept, reported by the validator
            item = conv.get_structure_hook(item_type)
            return [None if v is None else item(v, item_type) for v in value]

        return hook

    @conv.register_unstructure_hook_factory(_is_list)
    def _list_unstructure_factory(tp: Any) -> Callable[[Any], Any]:
        (item_type,) = typing.get_args(tp) or (Any,)
        item: list[Callable[[Any], Any]] = []  # resolved on first use: a class may hold a list of itself

        def hook(value: Any) -> Any:
            if not isinstance(value, list):
                return value  # lenient parsing kept a non-array (null, a string...): write it back as it was
            if not item:
                item.append(conv.get_unstructure_hook(item_type))
            each = item[0]
            return [None if v is None else each(v) for v in value]

        return hook

    @conv.register_unstructure_hook_factory(_is_model)
    def _unstructure_factory(cls: type[WireModel]) -> Callable[[Any], Any]:
        fields = [a for a in attrs.fields(cls) if a.name != "extra"]
        overrides: dict[str, Any] = {
            a.name: override(
                rename=wire_name(a.name),
                omit_if_default=a.default is None,
                unstruct_hook=_passthrough if a.name in _OPAQUE else None,
            )
            for a in fields
        }
        body = make_dict_unstructure_fn(cls, conv, extra=override(omit=True), **overrides)
        # Fields whose default is not None (an event's @context, the envelope's dataVersion) are always
        # written, except when they hold None (parsed data that lacked them): drop only None.
        droppable = [wire_name(a.name) for a in fields if a.default is not None]
        tag = cls.__dict__.get("TYPE") if is_registered(cls) else None

        def hook(obj: Any) -> Any:
            if obj.__class__ is not cls:  # a subclass in a base-typed slot: use its own hook
                return conv.unstructure(obj, obj.__class__)
            out = body(obj)
            for key in droppable:
                if out.get(key, 0) is None:
                    del out[key]
            if tag is not None and not obj.__dict__.get(UNTYPED):
                out = {"type": tag, **out}
            if obj.extra:
                out.update(obj.extra)
            return out

        return hook

    return conv


@functools.cache
def get_converter() -> cattrs.Converter:
    """The package's shared converter (built on first use)."""
    return make_converter()


# ---------------------------------------------------------------------------------------------------- public API
def loads_json(data: str | bytes | bytearray) -> Any:
    """Decode JSON text, turning a decode failure into :class:`CaliperValidationError`."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaliperValidationError(
            f"not valid JSON: {exc}", [Problem(path="", message=f"not valid JSON: {exc}", rule="json")]
        ) from exc


def _structure_top(data: Any) -> WireModel:
    if not isinstance(data, dict):
        raise CaliperValidationError(
            [Problem(path="", message=f"expected a JSON object, got {type(data).__name__}", rule="type")]
        )
    conv = get_converter()
    with building_disabled():
        if "dataVersion" in data or ("sensor" in data and "data" in data):
            return typing.cast(WireModel, conv.structure(data, Envelope))
        return typing.cast(WireModel, conv.structure(data, typing.cast(Any, Entity | Event)))


_STRICT = Ctx(strict=True)
_LENIENT = Ctx(strict=False)


def parse(data: dict[str, Any] | str | bytes, *, strict: bool = True) -> Any:
    """Read an Envelope, an Event or an Entity from a dict or JSON text.

    Args:
        data: a JSON object, or its text (str or UTF-8 bytes).
        strict: reject any problem (default); ``False`` keeps everything and warns (:class:`CaliperWarning`).

    Returns:
        An :class:`Envelope` (when the object has ``dataVersion``), else the Event or Entity model of its ``type``.

    Raises:
        CaliperValidationError: not JSON, or (strict) any rule broken; ``.errors`` lists every problem.
    """
    if isinstance(data, (str, bytes, bytearray)):
        data = loads_json(data)
    obj = _structure_top(data)
    problems = validate_tree(obj, _STRICT if strict else _LENIENT)
    if strict and any(p.severity == "error" for p in problems):
        raise CaliperValidationError(f"invalid {_what(obj)}", problems)
    for p in problems:
        warnings.warn(str(p), CaliperWarning, stacklevel=2)
    return obj


def _what(obj: WireModel) -> str:
    return "Caliper envelope" if isinstance(obj, Envelope) else f"Caliper {type(obj).__dict__.get('TYPE', 'data')}"


def validate(obj_or_data: Any, *, server: bool = False) -> list[Problem]:
    """Every problem the strict rules find (empty when valid); never raises for invalid data.

    Args:
        obj_or_data: a model (Envelope, Event, Entity), a dict, or JSON text.
        server: apply the server's rule set instead of the client's (what the emulator enforces).

    Returns:
        The problems, each with ``path``, ``message``, ``rule`` and ``severity`` (``error`` or ``warning``).
    """
    ctx = Ctx(strict=True, server=server)
    if isinstance(obj_or_data, WireModel):
        return validate_tree(obj_or_data, ctx)
    try:
        data = loads_json(obj_or_data) if isinstance(obj_or_data, (str, bytes, bytearray)) else obj_or_data
        obj = _structure_top(data)
    except CaliperValidationError as exc:
        return list(exc.errors)
    return validate_tree(obj, ctx)


def to_dict(obj: Any) -> Any:
    """The wire form (JSON-ready dicts and lists) of a model, or a list of models."""
    return get_converter().unstructure(obj)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes of a model (what goes on the wire)."""
    return json.dumps(to_dict(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
