"""The validator: per-class schemas compiled once from the type hints, field checks and registered rules.

One engine serves three callers: model construction (shallow: each object checks its own fields, its children
were checked when they were built), strict/lenient parsing and ``validate()`` (deep: the whole tree, with JSON
paths), and the emulator (the server's rule set).
"""

from __future__ import annotations

import linecache
import math
import operator
import re
import types
import typing
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Union

import attrs

from ..errors import CaliperValidationError, CaliperWarning, Problem
from . import _base
from ._base import CALIPER_V1P2, VOCABULARIES, Kind, Vocab, WireModel

__all__ = [
    "Ctx",
    "FastCheck",
    "FastRule",
    "Rule",
    "check_built",
    "fast_valid",
    "known_contexts",
    "register_fast_path",
    "register_fast_type",
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
    _FAST.clear()
    _FAST_BUILT.clear()


def register_field_check(
    cls: type, name: str, check: Check | None = None, *, rule: str | None = None, nested: bool = True
) -> None:
    """Replace the derived check of field ``name`` on ``cls`` and/or label its problems with a contract rule id.

    Problems found at that field (and, when ``nested``, under it) which carry no contract id of their own
    get ``rule``.
    """
    _FIELD_OVERRIDES[(cls, name)] = (check, rule, nested)
    _SCHEMAS.clear()
    _FAST.clear()
    _FAST_BUILT.clear()


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
    tp: Any = None
    """The field's type hint (the fast path compiles it)."""
    custom: Check | None = None
    """The check that replaces the derived one (a registered override, or the ``@context`` check)."""


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
            custom = custom or (_context_check if a.name == "context" else None)
            check = custom or _compile(tp)
            required = a.default is attrs.NOTHING
            fields.append(_Field(a.name, wire_name(a.name), required, check, _is_float(tp), rule, nested, tp, custom))
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
    if (
        not ctx.server
        and not ctx.build
        and ((ctx.trust_built and obj.__dict__.get(CLEAN)) or fast_valid(obj, deep=True))
    ):
        return []  # the generated checks found nothing: no need for the walk that builds paths and messages
    out: list[Problem] = []
    validate_model(obj, path, out, ctx)
    return out


_BUILD_CTX = Ctx(strict=True, build=True)


def check_built(obj: WireModel) -> None:
    """Construction-time check: raise :class:`CaliperValidationError` listing every problem of ``obj``."""
    fast = _FAST_BUILT.get(obj.__class__)
    if fast is None:
        fast = _make_fast(obj.__class__, False)
    if not fast(obj):  # it marks obj CLEAN when it passes
        _check_built_walk(obj)


def _check_built_walk(obj: WireModel) -> None:
    out: list[Problem] = []
    validate_model(obj, "", out, _BUILD_CTX)
    errors = [p for p in out if p.severity == "error"]
    if errors:
        raise CaliperValidationError(f"invalid {_type_name(obj)}", errors)
    for p in out:
        warnings.warn(str(p), CaliperWarning, stacklevel=4)
    obj.__dict__[CLEAN] = True


# ---------------------------------------------------------------------------------------------------- fast path
# The walk above is generic: it interprets each class's schema field by field, builds a JSON path for every value
# and collects Problem objects. Valid data (nearly everything an application builds) needs none of that, so each
# class also gets a predicate generated from the same schema, once: plain type checks, the precompiled regexes and
# vocabulary lookups inlined, children's own predicates called directly. It answers one question, "would the walk
# report nothing (no error, no warning) and change nothing?". A False is never a verdict: the generic walk then runs
# and finds the problems with their paths and messages. So a predicate may be conservative, never lenient.
#
# Custom field checks and class rules take part through register_fast_path(); one without a predicate is run as is
# (into a scratch list) by the generated code. The server rule set (the emulator) always takes the generic walk.

FastCheck = Callable[[Any, bool], bool]
"""``fast(value, deep) -> bool`` for a field check: True only when the check would report nothing for ``value``
(client rules, strict or lenient) and the walk would keep it as is (False for an enum member, which a model being
built stores as its plain value). ``deep``: the tree is being validated (parsing, ``validate()``), not built."""
FastRule = Callable[[Any], bool]
"""``fast(obj) -> bool`` for a class rule: True only when the rule would report nothing (client rules). It runs
after every field of ``obj`` passed its own fast check."""

_FAST_PATHS: dict[Callable[..., Any], Callable[..., bool]] = {}
_FAST: dict[tuple[type, bool], Callable[[Any], bool]] = {}
_FAST_BUILT = _base._FAST_BUILT
"""class -> its construction-time predicate, which also marks the instance CLEAN when it passes."""
_DEEP_CLIENT = Ctx(strict=True)


@attrs.frozen
class _AsType:
    tp: Any


def register_fast_path(check_or_rule: Callable[..., Any], fast: Callable[..., bool]) -> None:
    """Give a field check (:data:`FastCheck`) or a class rule (:data:`FastRule`) its happy-path predicate."""
    _FAST_PATHS[check_or_rule] = fast
    _FAST.clear()
    _FAST_BUILT.clear()


def register_fast_type(check: Check, tp: Any) -> None:
    """Declare that ``check`` accepts silently exactly what the derived check of type ``tp`` accepts silently.

    ``tp`` is ``Iri``, a model class...: the generated code then inlines that type's checks (no call).
    """
    _FAST_PATHS[check] = typing.cast(Callable[..., bool], _AsType(tp))
    _FAST.clear()
    _FAST_BUILT.clear()


def fast_valid(obj: WireModel, deep: bool = True) -> bool:
    """True when ``obj`` certainly passes the strict client checks; False means "run the generic walk".

    ``deep``: its whole tree; else only its own fields, children being trusted if they were checked when built (that
    predicate also marks ``obj`` as checked when it passes).
    """
    fast = _FAST.get((type(obj), deep))
    if fast is None:
        fast = _make_fast(type(obj), deep)
    return fast(obj)


def _fast_model(obj: Any) -> bool:
    # A child model in deep mode (or one that was not checked when built): its own generated predicate.
    fast = _FAST.get((type(obj), True))
    if fast is None:
        fast = _make_fast(type(obj), True)
    return fast(obj)


class _Gen:
    """Source and globals of one generated predicate."""

    def __init__(self, deep: bool) -> None:
        self.deep = deep
        self.lines: list[str] = []
        self.globs: dict[str, Any] = {
            "_CLEAN": CLEAN,
            "_UNTYPED": UNTYPED,
            "_Enum": Enum,
            "_datetime": datetime,
            "_VOCABULARIES": VOCABULARIES,
            "_fast_model": _fast_model,
            "_getattr": getattr,
        }
        self.count = 0

    def ref(self, value: Any) -> str:
        for name, known in self.globs.items():
            if known is value and name.startswith("_g"):
                return name
        self.count += 1
        name = f"_g{self.count}"
        self.globs[name] = value
        return name

    def var(self) -> str:
        self.count += 1
        return f"_v{self.count}"

    def line(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def scratch(self, check: Callable[..., Any], args: str, indent: int) -> None:
        # No predicate for this check: run it on a scratch list; anything it reports sends us to the generic walk.
        ctx = self.ref(_DEEP_CLIENT if self.deep else _BUILD_CTX)
        self.line(indent, "_o = []")
        self.line(indent, f"{self.ref(check)}({args}, _o, {ctx})")
        self.line(indent, "if _o: return False")


_KIND_PATTERNS = {"iri": _IRI, "event_id": _EVENT_ID, "duration": _DURATION, "email": _EMAIL}


def _emit_str(g: _Gen, kind: str | None, vocab: str | None, v: str, ind: int) -> None:
    g.line(ind, f"if type({v}) is not str: return False")
    pattern = _KIND_PATTERNS.get(kind or "")
    if pattern is not None:
        g.line(ind, f"if {g.ref(pattern.match)}({v}) is None: return False")
    if vocab is not None:
        g.line(ind, f"if {v} not in _VOCABULARIES.get({vocab!r}, ()): return False")


def _emit_model(g: _Gen, allowed: tuple[type[WireModel], ...], iri_ok: bool, v: str, ind: int) -> None:
    body = ind
    if iri_ok:
        g.line(ind, f"if type({v}) is str:")
        g.line(ind + 1, f"if {g.ref(_IRI.match)}({v}) is None: return False")
        g.line(ind, "else:")
        body = ind + 1
    # Only top-level objects carry @context: the allowed classes that cannot hold one need no look at it.
    bare = frozenset(c for c in allowed if not hasattr(c, "context"))
    if bare:
        g.line(body, f"if {v}.__class__ not in {g.ref(bare)}:")
        g.line(body + 1, f"if not isinstance({v}, {g.ref(allowed)}): return False")
        g.line(body + 1, f"if _getattr({v}, 'context', None) is not None: return False")
    else:
        g.line(body, f"if not isinstance({v}, {g.ref(allowed)}): return False")
        g.line(body, f"if _getattr({v}, 'context', None) is not None: return False")
    if g.deep:
        g.line(body, f"if not _fast_model({v}): return False")
    else:  # built children were checked when built; one that was not (parsed, say) gets the deep check
        g.line(body, f"if not {v}.__dict__.get(_CLEAN) and not _fast_model({v}): return False")


def _emit_type(g: _Gen, tp: Any, v: str, ind: int, top: bool) -> None:
    """Lines that ``return False`` unless the derived check of ``tp`` would accept ``v`` (not None) silently."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:  # only from register_fast_type: one of these strings (and a plain str)
        g.line(ind, f"if type({v}) is not str or {v} not in {g.ref(frozenset(typing.get_args(tp)))}: return False")
        return
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        if base is str:
            kind = next((m.name for m in marks if isinstance(m, Kind)), None)
            vocab = next((m.name for m in marks if isinstance(m, Vocab)), None)
            _emit_str(g, kind, vocab, v, ind)
        else:
            _emit_type(g, base, v, ind, top)
        return
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            _emit_type(g, args[0], v, ind, top)
            return
        models = tuple(a for a in args if isinstance(a, type) and issubclass(a, WireModel))
        rest = [a for a in args if a not in models]
        if models and rest in ([str], []):
            _emit_model(g, models, bool(rest), v, ind)
        elif set(args) == {int, float}:
            g.line(ind, f"if type({v}) is float:")
            g.line(ind + 1, f"if {v} - {v} != 0.0: return False")  # inf or nan
            g.line(ind, f"elif type({v}) is not int or not -1e308 < {v} < 1e308: return False")
        else:
            g.scratch(_compile(tp), f"{v}, ''", ind)
        return
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        x = g.var()
        g.line(ind, f"if type({v}) is not list: return False")
        g.line(ind, f"for {x} in {v}:")
        g.line(ind + 1, f"if {x} is None: return False")
        _emit_type(g, item, x, ind + 1, False)
        return
    if origin is dict or tp is dict:
        g.line(ind, f"if type({v}) is not dict: return False")
    elif tp is str:
        g.line(ind, f"if type({v}) is not str: return False")
    elif tp is bool:
        g.line(ind, f"if type({v}) is not bool: return False")
    elif tp is int:
        g.line(ind, f"if type({v}) is not int: return False")
    elif tp is float:  # an int here is an error when parsed, and becomes a float when built (the walk does that)
        g.line(ind, f"if type({v}) is not float or {v} - {v} != 0.0: return False")
    elif tp is datetime:
        g.line(ind, f"if type({v}) is not _datetime: return False")
        g.line(ind, f"if {v}.tzinfo is not {g.ref(timezone.utc)} and {v}.utcoffset() is None: return False")
    elif isinstance(tp, type) and issubclass(tp, WireModel):
        _emit_model(g, (tp,), False, v, ind)
    elif top and not g.deep:  # anything goes, but a built enum member is replaced by its value (the walk does that)
        g.line(ind, f"if isinstance({v}, _Enum): return False")


def _emit_field(g: _Gen, f: _Field, ind: int) -> None:
    v = f"_f_{f.name}"
    g.line(ind, f"{v} = _d[{f.name!r}]")
    if f.required:
        g.line(ind, f"if {v} is None: return False")
        body = ind
    else:
        g.line(ind, f"if {v} is not None:")
        body = ind + 1
    fast = None if f.custom is None else _FAST_PATHS.get(f.custom)
    if f.custom is None:
        _emit_type(g, f.tp, v, body, True)
    elif isinstance(fast, _AsType):  # the check accepts silently exactly what the derived check of a type does
        _emit_type(g, fast.tp, v, body, True)
    elif fast is not None:
        g.line(body, f"if not {g.ref(fast)}({v}, {g.deep}): return False")
    else:
        if not g.deep:  # the walk would store an enum member as its plain value: leave that to it
            g.line(body, f"if isinstance({v}, _Enum): return False")
        g.scratch(f.custom, f"{v}, ''", body)
    if g.lines[-1].endswith(":"):
        g.line(body, "pass")


def _make_fast(cls: type, deep: bool) -> Callable[[Any], bool]:
    schema = _SCHEMAS.get(cls) or schema_for(cls)
    g = _Gen(deep)
    g.line(1, "_d = obj.__dict__")
    # A model read from the wire may carry extra properties or no type at all (never one being built).
    g.line(1, "if _d['extra'] or _d.get(_UNTYPED): return False" if deep else "if _d['extra']: return False")
    # Fields that default to None are usually None: one C-level look at all of them first.
    unset = {a.name for a in attrs.fields(cls) if a.default is None}
    rare = [f for f in schema.fields if f.name in unset]
    for f in schema.fields:
        if f.name not in unset:
            _emit_field(g, f, 1)
    if len(rare) > 1:
        names = tuple(f.name for f in rare)
        g.line(1, f"if {g.ref(operator.itemgetter(*names))}(_d) != {g.ref((None,) * len(names))}:")
        for f in rare:
            _emit_field(g, f, 2)
    else:
        for f in rare:
            _emit_field(g, f, 1)
    for rule, _client_only in schema.rules:
        fast = _FAST_PATHS.get(rule)
        if fast is not None:
            g.line(1, f"if not {g.ref(fast)}(obj): return False")
        else:
            g.scratch(rule, "obj, ''", 1)
    if not deep:
        g.line(1, "_d[_CLEAN] = True")
    g.line(1, "return True")
    name = f"fast_{'deep' if deep else 'built'}_{cls.__name__}"
    source = "\n".join([f"def {name}(obj):", *g.lines, ""])
    filename = f"<timeback_caliper generated {name} {id(cls):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), g.globs)
    fn: Callable[[Any], bool] = g.globs[name]
    _FAST[(cls, deep)] = fn
    if not deep:
        _FAST_BUILT[cls] = fn
    return fn


def _context_fast(value: Any, deep: bool) -> bool:
    if type(value) is str:
        return value in _CONTEXTS
    if isinstance(value, Enum):
        return False
    out: list[Problem] = []
    _context_check(value, "", out, _DEEP_CLIENT)
    return not out


register_fast_path(_context_check, _context_fast)
_base._check_on_build.append(check_built)
