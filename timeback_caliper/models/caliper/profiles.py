"""The (profile, event type) table: allowed actions and object/generated/target types; open to extensions."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from .._base import register_vocabulary

__all__ = ["EVENT_RULES", "EventRule", "register_event_rule"]


@attrs.frozen
class EventRule:
    """What a profile allows for one event type. An empty type tuple means "any entity"."""

    actions: frozenset[str]
    objects: tuple[type, ...] = ()
    generated: tuple[type, ...] = ()
    targets: tuple[type, ...] = ()
    referrers: tuple[type, ...] = ()
    generated_required: bool = False


EVENT_RULES: dict[tuple[str, str], EventRule] = {}
"""(profile name, event type name) -> rule. Profiles and event types are open: extensions add rows."""


def register_event_rule(
    profile: str,
    event_type: str,
    *,
    actions: Iterable[str],
    objects: Iterable[type] = (),
    generated: Iterable[type] = (),
    targets: Iterable[type] = (),
    referrers: Iterable[type] = (),
    generated_required: bool = False,
) -> None:
    """Allow ``event_type`` in ``profile`` with these actions and ranges (adds to an existing row)."""
    register_vocabulary("profile", profile)
    acts = frozenset(actions)
    register_vocabulary("action", *acts)
    old = EVENT_RULES.get((profile, event_type))
    if old is not None:
        acts = acts | old.actions
        objects, generated = (*old.objects, *objects), (*old.generated, *generated)
        targets, referrers = (*old.targets, *targets), (*old.referrers, *referrers)
        generated_required = generated_required or old.generated_required
    EVENT_RULES[(profile, event_type)] = EventRule(
        acts, tuple(objects), tuple(generated), tuple(targets), tuple(referrers), generated_required
    )
