"""Testing kit: a local emulator of the Timeback Caliper API, fault injection and a pytest plugin.

``with Emulator() as emu: client = emu.client()`` gives a real HTTP server on loopback that behaves like the
service (contract §12), with no dependency beyond the package's own. See ``docs/testing.md``.
"""

from __future__ import annotations

from .backend import ClientSpec, EmulatorConfig, RecordedRequest
from .emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator
from .faults import AMBIGUOUS_KINDS, DEFAULT_RANDOM_KINDS, Fault, FaultStats, RandomFaults, parse_fault
from .insights import application_id_for, user_id_for
from .records import EventCopy, JobRow

__all__ = [
    "AMBIGUOUS_KINDS",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_RANDOM_KINDS",
    "ClientSpec",
    "Emulator",
    "EmulatorConfig",
    "EventCopy",
    "Fault",
    "FaultStats",
    "JobRow",
    "RandomFaults",
    "RecordedRequest",
    "application_id_for",
    "parse_fault",
    "user_id_for",
]
