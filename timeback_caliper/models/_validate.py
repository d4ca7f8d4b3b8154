"""The validator: per-class schemas compiled once from the type hints, field checks and registered rules.

One engine serves three callers: model construction (shallow: each object checks its own fields, its children
were checked when they were built), strict/lenient parsing and ``validate()`` (deep: the whole tree, with JSON
paths), and the emulator (the server's rule set).
"""

from __future__ import annotations

import math
import re
import types
import typing
import warnings
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Union

import attrs

from ..errors import CaliperValidationError, CaliperWarning, Problem
from . import _base
from ._base import CALIPER_V1P2, VOCABULARIES, Kind, Vocab, WireModel

__all__ = [
    "Ctx",
    "Rule",
    "check_built",
    "known_contexts",
    "register_field_check",
    "register_rule",
    "validate_tree",
]

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$")
_EVENT_ID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DURATION = re.compile(
    r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_CONTEXTS: set[str] = {CALIPER_V1P2}

UNTYPED = "_tc_untyped"
"""Instance-dict key set on a generic model read from an object that had no ``type`` at all."""

CLEAN = "_tc_checked"
"""Instance-dict key set on a model that passed the strict client checks when it was built (its tree too)."""


def known_contexts() -> set[str]:
    """The JSON-LD context IRIs accepted as a string ``@context`` (extensions may add theirs)."""
    return _CONTEXTS


@attrs.frozen
class Ctx:
    """How to validate: strict or lenient, at construction or over a tree, client or server rules."""

    strict: bool = True
    """Lenient mode reports every problem as a warning instead of an error."""
    build: bool = False
    """Construction-time: shallow (children were checked when built); ints in decimal slots become floats."""
    server: bool = False
    """The server's rule set (emulator): client-only data checks off, Caliper vocabularies not enforced on
    profile-extension data."""
    trust_built: bool = False
    """Skip subtrees that passed these same strict checks when they were built (the send path: no re-walk)."""

    def report(
        self, out: list[Problem], path: str, message: str, rule: str = "CALIPER", *, warning: bool = False
    ) -> None:
        """Record a problem at ``path``."""
        severity = "warning" if warning or not self.strict else "error"
        out.append(Problem(path=path, message=message, rule=rule, severity=severity))


Rule = Callable[[Any, str, list[Problem], Ctx], None]
"""A class-level rule: ``rule(obj, path, problems, ctx)`` appends what it finds."""
Check = Callable[[Any, str, list[Problem], Ctx], None]
"""A field check: ``check(value, path, problems, ctx)``."""
"""A class-level rule: ``rule(obj, path, problems, ctx)`` appends what it finds."""

_RULES: dict[type, list[tuple[Rule, bool]]] = {}
_FIELD_OVERRIDES: dict[tuple[type, str], tuple[Check | None, str | None, bool]] = {}
_RULE_ID = re.compile(r"^[A-Z]+-\d+$")


def register_rule(cls: type, rule: Rule, *, client_only: bool = False) -> None:
    """Run ``rule`` on every instance of ``cls`` (and its subclasses); ``client_only`` rules skip the server set."""
    _RULES.setdefault(cls, []).append((rule, client_only))
    _SCHEMAS.clear()


def register_field_check(
    cls: type, name: str, check: Check | None = None, *, rule: str | None = None, nested: bool = True
) -> None:
    """Replace the derived check of field ``name`` on ``cls`` and/or label its problems with a contract rule id.

    Problems found at that field (and, when ``nested``, under it) which carry no contract id of their own
    get ``rule``.
    """
    _FIELD_OVERRIDES[(cls, name)] = (check, rule, nested)
    _SCHEMAS.clear()


_DEEP = Ctx(strict=True)


def join(path: str, key: str) -> str:
    """The JSON path of property ``key`` under ``path``."""
    return f"{path}.{key}" if path else key


# ---------------------------------------------------------------------------------------------------- checks


def _describe(value: Any) -> str:
    if isinstance(value, WireModel):
        return f"a {_type_name(value)} object"
    kind = {str: "string", bool: "boolean", int: "integer", float: "decimal", list: "array", dict: "object"}
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind.get(type(value), type(value).__name__)} {text}"


def _type_name(obj: WireModel) -> str:
    extra = obj.extra or {}
    name = extra.get("type")
    return name if isinstance(name, str) else type(obj).__dict__.get("TYPE", type(obj).__name__)


def _str_check(kind: str | None, vocab: str | None) -> Check:
    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if not isinstance(value, str):
            ctx.report(out, path, f"expected a string, got {_describe(value)}", "type")
            return
        if kind == "iri" and not _IRI.match(value):
            ctx.report(out, path, f"{value!r} is not an absolute IRI (a scheme such as https: and no spaces)", "iri")
        elif kind == "event_id" and not _EVENT_ID.match(value):
            ctx.report(out, path, f"{value!r} is not an event id of the form urn:uuid:<uuid>", "EVT-1")
        elif kind == "duration" and not _DURATION.match(value):
            ctx.report(out, path, f"{value!r} is not an ISO 8601 duration (e.g. PT4M12S)", "duration")
        elif kind == "email" and not _EMAIL.match(value):
            ctx.report(out, path, f"{value!r} does not look like an e-mail address", "email")
        if vocab is not None and value not in VOCABULARIES.get(vocab, ()):
            ctx.report(out, path, f"{value!r} is not a known {vocab.replace('_', ' ')}", "vocabulary")

    return check


def _int_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if type(value) is not int:
        ctx.report(out, path, f"expected an integer, got {_describe(value)}", "type")


def _float_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if type(value) is not float:
        # Caliper writes decimals with a fraction (25.0); an int here would change type on the wire.
        ctx.report(out, path, f"expected a decimal number (e.g. 10.0), got {_describe(value)}", "type")
    elif not math.isfinite(value):
        ctx.report(out, path, f"{value!r} is not a finite number", "type")


def _number_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if type(value) not in (int, float):
        ctx.report(out, path, f"expected a number, got {_describe(value)}", "type")
    elif not math.isfinite(value):
        ctx.report(out, path, f"{value!r} is not a finite number", "type")


def _bool_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if type(value) is not bool:
        ctx.report(out, path, f"expected true or false, got {_describe(value)}", "type")


def _datetime_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            ctx.report(
                out, path, "naive datetime: give a timezone-aware datetime (e.g. tzinfo=timezone.utc)", "datetime"
            )
    elif isinstance(value, str):  # the converter keeps strings it could not read as YYYY-MM-DDTHH:MM:SS.sssZ
        ctx.report(out, path, f"{value!r} is not a timestamp of the form YYYY-MM-DDTHH:MM:SS.sssZ", "datetime")
    else:
        ctx.report(out, path, f"expected a timestamp, got {_describe(value)}", "datetime")


def _dict_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if not isinstance(value, dict):
        ctx.report(out, path, f"expected a JSON object, got {_describe(value)}", "type")


def _any_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    return None


def _list_check(item: Check) -> Check:
    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if not isinstance(value, list):
            ctx.report(out, path, f"expected an array, got {_describe(value)}", "type")
            return
        for i, v in enumerate(value):
            if v is None:
                ctx.report(out, f"{path}[{i}]", "null is not allowed in an array", "type")
            else:
                item(v, f"{path}[{i}]", out, ctx)

    return check


def _model_check(allowed: tuple[type[WireModel], ...], iri_ok: bool) -> Check:
    names = " or ".join(sorted({getattr(c, "TYPE", c.__name__) for c in allowed}))

    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        if isinstance(value, str) and iri_ok:
            if not _IRI.match(value):
                ctx.report(out, path, f"{value!r} is neither an absolute IRI nor an embedded {names}", "iri")
            return
        if not isinstance(value, allowed):
            if isinstance(value, WireModel):
                ctx.report(out, path, f"type {_type_name(value)!r} is not allowed here (expected {names})", "range")
            else:
                want = f"an IRI or a {names} object" if iri_ok else f"a {names} object"
                ctx.report(out, path, f"expected {want}, got {_describe(value)}", "range")
            return
        if getattr(value, "context", None) is not None:
            ctx.report(out, join(path, "@context"), "only top-level objects carry @context", "context")
        if not ctx.build:
            validate_model(value, path, out, ctx)
        elif not value.__dict__.get(CLEAN):
            # A child that was not checked when built (parsed leniently, say): check its whole tree now.
            validate_model(value, path, out, _DEEP)

    return check


def _union_check(options: list[Check]) -> Check:
    def check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
        first: list[Problem] = []
        for opt in options:
            found: list[Problem] = []
            opt(value, path, found, ctx)
            if not found:
                return
            first = first or found
        out.extend(first)

    return check


def _compile(tp: Any) -> Check:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        kind = next((m.name for m in marks if isinstance(m, Kind)), None)
        vocab = next((m.name for m in marks if isinstance(m, Vocab)), None)
        if base is str:
            return _str_check(kind, vocab)
        return _compile(base)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _compile(args[0])
        models = tuple(a for a in args if isinstance(a, type) and issubclass(a, WireModel))
        rest = [a for a in args if a not in models]
        if models and rest in ([str], []):
            return _model_check(models, iri_ok=bool(rest))
        if set(args) == {int, float}:
            return _number_check
        return _union_check([_compile(a) for a in args])
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return _list_check(_compile(item))
    if origin is dict or tp is dict:
        return _dict_check
    if tp is str:
        return _str_check(None, None)
    if tp is bool:
        return _bool_check
    if tp is int:
        return _int_check
    if tp is float:
        return _float_check
    if tp is datetime:
        return _datetime_check
    if isinstance(tp, type) and issubclass(tp, WireModel):
        return _model_check((tp,), iri_ok=False)
    return _any_check


# ---------------------------------------------------------------------------------------------------- schemas
@attrs.frozen
class _Field:
    name: str
    wire: str
    required: bool
    check: Check
    is_float: bool
    rule: str | None
    nested: bool


@attrs.frozen
class _Schema:
    fields: tuple[_Field, ...]
    wire_names: frozenset[str]
    rules: tuple[tuple[Rule, bool], ...]
    has_context: bool


_SCHEMAS: dict[type, _Schema] = {}


def wire_name(attr: str) -> str:
    """The wire name of a Python attribute: ``event_time`` -> ``eventTime``, ``context`` -> ``@context``."""
    if attr == "context":
        return "@context"
    head, *rest = attr.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _is_float(tp: Any) -> bool:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return tp is float or (typing.get_origin(tp) in (Union, types.UnionType) and args == [float])


def schema_for(cls: type) -> _Schema:
    """The compiled schema of a model class (built on first use, then cached)."""
    schema = _SCHEMAS.get(cls)
    if schema is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = []
        for a in attrs.fields(cls):
            if a.name == "extra":
                continue
            tp = hints[a.name]
            custom, rule, nested = next(
                (_FIELD_OVERRIDES[(k, a.name)] for k in cls.__mro__ if (k, a.name) in _FIELD_OVERRIDES),
                (None, None, True),
            )
            check = custom or (_context_check if a.name == "context" else _compile(tp))
            required = a.default is attrs.NOTHING
            fields.append(_Field(a.name, wire_name(a.name), required, check, _is_float(tp), rule, nested))
        rules = tuple(r for klass in reversed(cls.__mro__) for r in _RULES.get(klass, ()))
        schema = _Schema(tuple(fields), frozenset(f.wire for f in fields), rules, hasattr(cls, "context"))
        _SCHEMAS[cls] = schema
    return schema


def _context_check(value: Any, path: str, out: list[Problem], ctx: Ctx) -> None:
    if isinstance(value, str):
        if value not in _CONTEXTS:
            ctx.report(out, path, f"unknown @context {value!r} (expected {CALIPER_V1P2!r})", "context")
    elif isinstance(value, list):
        if not value or not all(isinstance(v, (str, dict)) for v in value):
            ctx.report(out, path, "an @context array holds context IRIs and objects", "context")
        elif not any(isinstance(v, str) and v in _CONTEXTS for v in value):
            ctx.report(out, path, f"an @context array must include {CALIPER_V1P2!r}", "context")
    elif not isinstance(value, dict):
        ctx.report(out, path, f"@context must be a string, an array or an object, got {_describe(value)}", "context")


# ---------------------------------------------------------------------------------------------------- walking
def validate_model(obj: WireModel, path: str, out: list[Problem], ctx: Ctx) -> None:
    """Check ``obj`` (and, unless ``ctx.build``, everything under it); append problems to ``out``."""
    values = obj.__dict__
    if ctx.trust_built and values.get(CLEAN):
        return  # built in Python and checked then, children included: nothing to re-walk
    cls = type(obj)
    schema = _SCHEMAS.get(cls) or schema_for(cls)
    extra = obj.extra
    if values.get(UNTYPED):
        ctx.report(out, join(path, "type"), "type is required", "type")
    for f in schema.fields:
        value = values[f.name]
        if value is None:
            if f.required and not (extra and f.wire in extra):  # an explicit null is reported once, below
                ctx.report(out, join(path, f.wire), f"{f.wire} is required", f.rule or "required")
            continue
        if ctx.build:
            if f.is_float and type(value) is int:
                # Built in Python: 5 means 5.0 in a decimal slot; parsed data keeps what the wire said.
                value = float(value)
                object.__setattr__(obj, f.name, value)
            elif isinstance(value, Enum):
                # A vocabulary enum member travels as its plain string value.
                value = value.value
                object.__setattr__(obj, f.name, value)
        where = join(path, f.wire)
        if f.rule is None:
            f.check(value, where, out, ctx)
        else:
            before = len(out)
            f.check(value, where, out, ctx)
            for i in range(before, len(out)):
                if not _RULE_ID.match(out[i].rule) and (f.nested or out[i].path == where):
                    out[i] = attrs.evolve(out[i], rule=f.rule)
    if obj.extra:
        _check_extra(obj, schema, path, out, ctx)
    for rule, client_only in schema.rules:
        if not (client_only and ctx.server):
            rule(obj, path, out, ctx)


def _check_extra(obj: WireModel, schema: _Schema, path: str, out: list[Problem], ctx: Ctx) -> None:
    for key, value in (obj.extra or {}).items():
        where = join(path, key)
        if key == "type":
            ctx.report(out, where, f"unknown type {value!r}", "type")
        elif value is None and key in schema.wire_names:
            ctx.report(out, where, f"null is not allowed: leave {key} out instead", "null")
        else:
            hint = wire_name(key)
            maybe = f" (did you mean {hint!r}?)" if hint != key and hint in schema.wire_names else ""
            ctx.report(out, where, f"unknown property {key!r} for {_type_name(obj)}{maybe}", "unknown-property")


def validate_tree(obj: WireModel, ctx: Ctx, path: str = "") -> list[Problem]:
    """Every problem in the tree under ``obj`` (a top-level object), with JSON paths."""
    out: list[Problem] = []
    validate_model(obj, path, out, ctx)
    return out


_BUILD_CTX = Ctx(strict=True, build=True)


def check_built(obj: WireModel) -> None:
    """Construction-time check: raise :class:`CaliperValidationError` listing every problem of ``obj``."""
    out: list[Problem] = []
    validate_model(obj, "", out, _BUILD_CTX)
    errors = [p for p in out if p.severity == "error"]
    if errors:
        raise CaliperValidationError(f"invalid {_type_name(obj)}", errors)
    for p in out:
        warnings.warn(str(p), CaliperWarning, stacklevel=4)
    obj.__dict__[CLEAN] = True


_base._check_on_build.append(check_built)
