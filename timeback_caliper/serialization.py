"""The one cattrs converter: wire names, omission, datetimes, type dispatch; plus parse, to_dict, dumps, validate.

Structuring never judges: it keeps what the wire said (an int in a decimal slot, a malformed timestamp, an
unknown property) so that the validator can report every problem with its path, and lenient parsing can give
back exactly what it read.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import linecache
import operator
import re
import types
import typing
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Union

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

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


_last_formatted: tuple[Any, str] = (None, "")


def format_datetime(value: datetime | str) -> str:
    """``YYYY-MM-DDTHH:MM:SS.sssZ`` in UTC, truncated to milliseconds (a kept raw string passes through)."""
    global _last_formatted
    if isinstance(value, str):
        return value
    # Events built together share their millisecond (utcnow() even returns the same object): the last text is kept.
    last = _last_formatted
    if value is last[0] or (type(value) is datetime and value.tzinfo is not None and value == last[0]):
        return last[1]
    moment = value
    if value.tzinfo is not _UTC:
        if value.tzinfo is None:
            raise CaliperValidationError("naive datetime: give a timezone-aware datetime")
        value = value.astimezone(_UTC)
    # %-formatting: the fastest way to this text (the send path formats every event's time).
    text = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond // 1000,
    )
    _last_formatted = (moment, text)  # one tuple, swapped whole: safe across threads
    return text


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

    unstructure_hooks: dict[type, Callable[[Any], Any]] = {}

    @conv.register_unstructure_hook_factory(_is_model)
    def _unstructure_factory(cls: type[WireModel]) -> Callable[[Any], Any]:
        return _make_unstructure_hook(conv, cls, unstructure_hooks)

    return conv


# ---------------------------------------------------------------------------------------------------- generated hooks
# Unstructuring (to_dict) and writing (dumps, the send path) are generated per model class, once, as plain Python
# code: the type tag first, a None check per field, the declared type's conversion inlined, and a child model's own
# hook called directly by its class. The code follows the rules the cattrs-generated functions followed before
# (see _field_kind); anything unusual (extra properties, a value of an unexpected type) takes the converter's own
# hook for the declared type, so the output stays exactly the same.

_ID, _DATETIME, _LIST, _DISPATCH, _HOOK = "identity", "datetime", "list", "dispatch", "hook"
_PRIMITIVES = (str, int, float, bool, bytes)
_encode_str: Callable[[str], str] = json.encoder.encode_basestring
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
"""Exactly ``json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)``."""


def _strip_optional(tp: Any) -> Any:
    # cattrs unstructures `X | None` with X's hook (only a two-member union counts as optional), `Annotated[X, ...]`
    # with X's.
    while True:
        if _origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        args = typing.get_args(tp)
        if _origin(tp) in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
            tp = args[0] if args[1] is type(None) else args[1]
            continue
        return tp


def _field_kind(name: str, tp: Any) -> tuple[str, Any]:
    """How a field's value is unstructured: (kind, the item type for lists)."""
    if name in _OPAQUE:
        return _ID, None  # kept exactly as given (registered as a passthrough)
    tp = _strip_optional(tp)
    if tp in _PRIMITIVES:
        return _ID, None
    if tp is datetime:
        return _DATETIME, None
    if _is_list(tp):
        (item,) = typing.get_args(tp) or (Any,)
        return _LIST, item
    if _is_model(tp) or _origin(tp) in (Union, types.UnionType):
        return _DISPATCH, None  # a model's hook, or a union's: both go by the value's own class
    return _HOOK, None


def _lazy_hook(conv: cattrs.Converter, tp: Any) -> Callable[[Any], Any]:
    # The converter's hook for a declared type, looked up on first use (a class may refer to itself).
    found: list[Callable[[Any], Any]] = []

    def hook(value: Any) -> Any:
        if not found:
            found.append(conv.get_unstructure_hook(tp))
        return found[0](value)

    return hook


def _json_value(value: Any) -> str:
    """``_ENCODE(value)`` for a value kept as is, with the common scalar types written directly."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is float and value - value == 0.0:
        return float.__repr__(value)
    return _ENCODE(value)


class _Codegen:
    """Names and globals of one generated function."""

    def __init__(self, conv: cattrs.Converter, cls: type[WireModel]) -> None:
        self.conv, self.cls = conv, cls
        self.globs: dict[str, Any] = {"_UNTYPED": UNTYPED, "_datetime": datetime, "_json_value": _json_value}
        self.count = 0

    def ref(self, value: Any) -> str:
        self.count += 1
        name = f"_g{self.count}"
        self.globs[name] = value
        return name

    def compile(self, name: str, lines: list[str]) -> Callable[[Any], Any]:
        source = "\n".join([*lines, ""])
        filename = f"<timeback_caliper generated {name} {id(self.cls):x}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.globs)
        return typing.cast(Callable[[Any], Any], self.globs[name])


def _model_fields(cls: type[WireModel]) -> list[tuple[str, str, str, Any, Any]]:
    """(attribute, wire name, kind, item type, declared type) of each field, in wire order.

    The wire order is the one the cattrs-generated functions wrote: the fields whose default is not None (required
    ones included) in attrs order, then those that default to None, in attrs order.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for a in sorted(attrs.fields(cls), key=lambda a: a.default is None):
        if a.name == "extra":
            continue
        kind, item = _field_kind(a.name, hints[a.name])
        out.append((a.name, wire_name(a.name), kind, item, hints[a.name]))
    return out


def _make_unstructure_hook(
    conv: cattrs.Converter, cls: type[WireModel], table: dict[type, Callable[[Any], Any]]
) -> Callable[[Any], Any]:
    """to_dict of one class: ``{"type": TYPE, <fields that are not None, in order>, **extra}``.

    ``table`` maps each model class to its generated hook (shared by the converter's hooks): a child is unstructured
    by one dict lookup on its class; a class not met yet goes through the converter once, which fills the table.
    """
    g = _Codegen(conv, cls)
    g.globs.update(_cls=cls, _unstructure=conv.unstructure, _hooks=table, _udt=_unstructure_datetime)
    tag = cls.__dict__.get("TYPE") if is_registered(cls) else None
    name = f"unstructure_{cls.__name__}"
    lines = [f"def {name}(obj):"]
    # A subclass in a base-typed slot: its own hook.
    lines.append("    if obj.__class__ is not _cls: return _unstructure(obj, obj.__class__)")
    lines.append("    _d = obj.__dict__")
    if tag is not None:
        lines.append(f"    _r = {{}} if _d.get(_UNTYPED) else {{'type': {tag!r}}}")
    else:
        lines.append("    _r = {}")

    def value_expr(kind: str, item: Any, declared: Any, v: str) -> str:
        if kind == _ID:
            return v
        if kind == _DATETIME:
            return f"_udt({v})"
        if kind == _LIST:  # the list hook: None items stay None, the rest by the item type's hook
            item_kind, sub = _field_kind("", item)
            g.count += 1
            x = f"_x{g.count}"
            inner = value_expr(item_kind, sub, item, x)
            return f"([None if {x} is None else {inner} for {x} in {v}] if isinstance({v}, list) else {v})"
        hook = g.ref(_lazy_hook(conv, declared))
        if kind == _DISPATCH:
            # By the value's class, as the model and union hooks do: a str (an IRI) as is, a model by its hook.
            return f"({v} if type({v}) is str else _hooks.get({v}.__class__, {hook})({v}))"
        return f"{hook}({v})"

    for attr, wire, kind, item, declared in _model_fields(cls):
        lines.append(f"    _v = _d[{attr!r}]")
        lines.append("    if _v is not None:")
        lines.append(f"        _r[{wire!r}] = {value_expr(kind, item, declared, '_v')}")
    lines.append("    _e = _d['extra']")
    lines.append("    if _e: _r.update(_e)")
    lines.append("    return _r")
    fn = g.compile(name, lines)
    table[cls] = fn
    return fn


_WRITERS: dict[type, Callable[[Any], str]] = {int: _json_value, float: _json_value, bool: _json_value}
"""class -> its generated JSON writer (for the shared converter). A model slot (a union, or a model type) holding a
plain number keeps it as is, as the dispatching hooks do: those classes are here too."""


def writer_for(cls: type[WireModel]) -> Callable[[Any], str]:
    """The JSON text writer of a model class: ``writer(obj) == _ENCODE(to_dict(obj))``, without the dicts."""
    writer = _WRITERS.get(cls)
    if writer is None:
        writer = _WRITERS[cls] = _make_writer(get_converter(), cls)
    return writer


def _write_model(value: Any) -> str:
    return writer_for(value.__class__)(value)


def _make_writer(conv: cattrs.Converter, cls: type[WireModel]) -> Callable[[Any], str]:
    """Generate the JSON writer of ``cls``: the same keys, order and values as its unstructure hook, as text."""
    g = _Codegen(conv, cls)
    g.globs.update(_encode=_ENCODE, _dict_hook=conv.get_unstructure_hook(cls))
    name = f"write_{cls.__name__}"
    lines = [f"def {name}(obj):", "    _d = obj.__dict__"]
    # Extra properties (lenient parsing) may replace declared keys in place: the dict path gets those right.
    lines.append("    if _d['extra'] or _d.get(_UNTYPED): return _encode(_dict_hook(obj))")
    lines += _writer_body(conv, cls, g.ref, "    ")
    lines.append("    return _ws")
    return typing.cast(Callable[[Any], str], g.compile(name, lines))


def _writer_body(
    conv: cattrs.Converter,
    cls: type[WireModel],
    ref: Callable[[Any], str],
    pad: str,
) -> list[str]:
    """Lines that leave the JSON text of ``obj`` (whose ``extra`` is empty) in ``_ws``.

    Each value is written directly when its type is the expected one (a str, an int, a finite float, a bool, an
    aware datetime, a list, a model); anything else is encoded from what the unstructure hook makes of it.
    """
    encode_str, json_value, fmt, writers = ref(_encode_str), ref(_json_value), ref(format_datetime), ref(_WRITERS)
    int_repr, datetime_cls = ref(int.__repr__), ref(datetime)
    count = [0]

    def fallback(kind: str, item: Any, declared: Any) -> str:
        # The unstructured value, encoded: exactly what the dict path would produce for this slot.
        if kind == _ID:
            return json_value
        if kind == _DATETIME:
            return ref(lambda v: _json_value(_unstructure_datetime(v)))
        if kind == _LIST:
            item_kind, sub = _field_kind("", item)
            item_hook = conv.get_unstructure_hook(item) if item_kind in (_DISPATCH, _HOOK) else None
            if item_kind == _DATETIME:
                item_hook = _unstructure_datetime

            def list_fallback(v: Any) -> str:
                if not isinstance(v, list):
                    return _json_value(v)
                each = item_hook or _passthrough
                return _ENCODE([None if x is None else each(x) for x in v])

            return ref(list_fallback)
        hook = _lazy_hook(conv, declared)
        if kind == _DISPATCH:

            def dispatch_fallback(v: Any) -> str:
                if isinstance(v, WireModel):  # a model of a class met for the first time here
                    return _write_model(v)
                return _json_value(hook(v))

            return ref(dispatch_fallback)
        return ref(lambda v: _json_value(hook(v)))

    def value_expr(kind: str, item: Any, declared: Any, v: str) -> str:
        slow = fallback(kind, item, declared)
        if kind == _ID:
            return f"({encode_str}({v}) if type({v}) is str else {json_value}({v}))"
        if kind == _DATETIME:
            return f"('\"' + {fmt}({v}) + '\"' if type({v}) is {datetime_cls} else {slow}({v}))"
        if kind == _LIST:
            item_kind, sub = _field_kind("", item)
            count[0] += 1
            x = f"_wx{count[0]}"
            inner = value_expr(item_kind, sub, item, x)
            return (
                f"('[' + ','.join(['null' if {x} is None else {inner} for {x} in {v}]) + ']'"
                f" if type({v}) is list else {slow}({v}))"
            )
        if kind == _DISPATCH:
            number = ""
            if int in typing.get_args(_strip_optional(declared)):  # int | float: a number slot
                number = f"{int_repr}({v}) if type({v}) is int else "
            return f"({encode_str}({v}) if type({v}) is str else {number}{writers}.get({v}.__class__, {slow})({v}))"
        return f"{slow}({v})"

    lines: list[str] = []
    tag = cls.__dict__.get("TYPE") if is_registered(cls) else None
    fields = _model_fields(cls)
    usual = {a.name for a in attrs.fields(cls) if a.default is not None and a.name != "extra"}
    # The fields that are written unless None (required ones, and those with a default) come first on the wire:
    # when none of them is None, which is the rule for a model that was built, they make one %-format.
    head = [f for f in fields if f[0] in usual]
    opening = "{" + (f'"type":{_encode_str(tag)}' if tag is not None else "")
    if head:
        names = [f"_w{i}" for i in range(len(head))]
        lines += [f"{pad}{local} = _d[{attr!r}]" for local, (attr, *_) in zip(names, head, strict=True)]
        lines.append(f"{pad}if {' and '.join(f'{n} is not None' for n in names)}:")
        template = opening + ("," if tag is not None else "") + ",".join(f"{_encode_str(w)}:%s" for _, w, *_ in head)
        values = ", ".join(value_expr(k, i, d, local) for local, (_, _, k, i, d) in zip(names, head, strict=True))
        lines.append(f"{pad}    _ws = {template!r} % ({values},)")
        lines.append(f"{pad}else:")
        lines.append(f"{pad}    _ws = ''")
        for local, (_, wire, kind, item, declared) in zip(names, head, strict=True):
            lines.append(f"{pad}    if {local} is not None:")
            expr = value_expr(kind, item, declared, local)
            lines.append(f"{pad}        _ws += {(',' + _encode_str(wire) + ':')!r} + {expr}")
        lines.append(f"{pad}    _ws = {opening!r} + _ws" if tag is not None else f"{pad}    _ws = '{{' + _ws[1:]")
        rest = fields[len(head) :]
    else:
        lines.append(f"{pad}_ws = {opening!r}")
        rest = fields
    # Then the fields that default to None, each when set (after "{", the first one needs no comma). They are
    # usually all None: one C-level look at all of them first.
    inner = pad
    if len(rest) > 1:
        getter = ref(operator.itemgetter(*(attr for attr, *_ in rest)))
        lines.append(f"{pad}if {getter}(_d) != {ref((None,) * len(rest))}:")
        inner = pad + "    "
    if rest:
        lines.append(f"{inner}_wc = '' if _ws[-1] == '{{' else ','")
    for attr, wire, kind, item, declared in rest:
        lines.append(f"{inner}_wv = _d[{attr!r}]")
        lines.append(f"{inner}if _wv is not None:")
        lines.append(
            f"{inner}    _ws += _wc + {(_encode_str(wire) + ':')!r} + {value_expr(kind, item, declared, '_wv')}"
        )
        lines.append(f"{inner}    _wc = ','")
    lines.append(f"{pad}_ws += '}}'")
    return lines


def to_json(obj: Any) -> str:
    """The compact JSON text of a model (or of anything ``to_dict`` takes): what :func:`dumps` encodes."""
    if isinstance(obj, WireModel):
        return writer_for(obj.__class__)(obj)
    return _ENCODE(to_dict(obj))


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
    return to_json(obj).encode()
