"""``check_auth``: the shared credential check (timings from an injected clock)."""

from __future__ import annotations

import itertools

import pytest

from timeback_caliper.cli.checks import check_auth
from timeback_caliper.testing import Emulator


def test_each_back_end_reports_first_and_cached_timings(emu: Emulator):
    ticks = itertools.count(0.0, 0.010)  # every clock read is 10 ms after the last
    with emu.client() as client:
        results = check_auth(client, clock=lambda: next(ticks))
    assert [(r.backend, r.ok, r.first_ms, r.cached_ms) for r in results] == [
        ("caliper", True, pytest.approx(10.0), pytest.approx(10.0)),
        ("platform", True, pytest.approx(10.0), pytest.approx(10.0)),
    ]
    assert results[0].as_dict()["token_ms"] == 0.0
    assert results[0].probe == "GET /caliper/events?limit=1"


def test_a_refused_back_end_is_a_result_not_an_exception(emu: Emulator):
    emu.add_client("caliper-only", "s3cret-value", scopes=["https://purl.imsglobal.org/spec/caliper/v1p1/scope/admin"])
    with emu.client(client_id="caliper-only", client_secret="s3cret-value") as client:
        [caliper, platform] = check_auth(client)
    assert caliper.ok
    assert not platform.ok and platform.error_type in ("ForbiddenError", "AuthenticationError")
    assert "s3cret-value" not in repr(platform.as_dict())


def test_unknown_back_end(emu: Emulator):
    with emu.client() as client, pytest.raises(ValueError, match="unknown back end"):
        check_auth(client, ["nope"])
