"""A durable outbox for Caliper events: SQLite by default, PostgreSQL for workers on several machines.

``Outbox(url).add(events, sensor=...)`` commits events (inside your own transaction if you like), and
``Outbox(url).drain(client)`` delivers each of them once, retrying what can be retried and parking what the
server refuses. See docs/outbox.md.
"""

from __future__ import annotations

from ._common import DeadEvent, DrainReport, OutboxEntry, OutboxError, OutboxStats
from ._outbox import DEFAULT_TABLE_PREFIX, Outbox

__all__ = ["DEFAULT_TABLE_PREFIX", "DeadEvent", "DrainReport", "Outbox", "OutboxEntry", "OutboxError", "OutboxStats"]
