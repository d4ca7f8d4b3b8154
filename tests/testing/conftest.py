"""The emulator's own tests use the shipped pytest plugin's fixtures (a subprocess test covers ``pytest_plugins``)."""

from __future__ import annotations

import pytest

from timeback_caliper.testing import pytest_plugin
from timeback_caliper.testing.pytest_plugin import caliper_client, caliper_emulator  # noqa: F401 - fixtures


def pytest_configure(config: pytest.Config) -> None:
    pytest_plugin.pytest_configure(config)
