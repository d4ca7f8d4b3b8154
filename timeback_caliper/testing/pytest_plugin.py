"""pytest plugin: ``caliper_emulator`` and ``caliper_client`` fixtures over a fresh local emulator per test.

Enable it in your ``conftest.py``::

    pytest_plugins = ["timeback_caliper.testing.pytest_plugin"]

Configure one test's emulator with the marker (any :class:`Emulator` keyword)::

    @pytest.mark.caliper_emulator(dedupe="reject", job_delay=0.2)
    def test_something(caliper_client, caliper_emulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .._http import RetryPolicy
from ..client import CaliperClient
from .emulator import Emulator

__all__ = ["FAST_RETRY", "caliper_client", "caliper_emulator", "pytest_configure"]

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.1, deadline=15.0)
"""The ``caliper_client`` fixture's retry policy: the library's attempts, near-zero backoff, a 15 s deadline."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``caliper_emulator`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers", "caliper_emulator(**kwargs): keyword arguments for the test's timeback_caliper Emulator"
    )


@pytest.fixture
def caliper_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A started :class:`Emulator`, fresh for each test (in memory), stopped afterwards."""
    kwargs: dict[str, Any] = {}
    marker = request.node.get_closest_marker("caliper_emulator")
    if marker is not None:
        kwargs.update(marker.kwargs)
    emu = Emulator(**kwargs)
    emu.start()
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def caliper_client(caliper_emulator: Emulator) -> Iterator[CaliperClient]:
    """A :class:`CaliperClient` wired to ``caliper_emulator`` (fast retries, ``(2, 5)`` s timeouts); closed after."""
    client = caliper_emulator.client(retry=FAST_RETRY, timeout=(2.0, 5.0))
    try:
        yield client
    finally:
        client.close()
