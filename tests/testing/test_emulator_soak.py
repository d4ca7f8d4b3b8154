"""Soak: 5,000 events from 4 threads through one shared client while 20% of requests fail at random.

What must hold: every event is stored at least once; an event stored k times has at least k-1 copies that came
from requests hit by an ambiguous fault (processed, answer lost or late), so duplicates come only from those;
nothing is lost (the test re-sends what a failed send reports as unsent); and the run ends by itself, quickly.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict, deque
from typing import Any

import pytest

from tests.testing.helpers import SENSOR, events
from timeback_caliper._http import RetryPolicy
from timeback_caliper.errors import PartialSendError, TimebackError
from timeback_caliper.testing import Emulator, RandomFaults

EVENTS = 5000
THREADS = 4
BATCH_SIZES = (1, 3, 10, 25, 60, 100, 150, 240)
MAX_ROUNDS = 400  # per thread: a hard bound on sends, so a bug cannot loop forever
SEED = 20251118


def _worker(client: Any, batch: list[Any], seed: int, tally: Counter[str], errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    pending: deque[list[Any]] = deque()
    rest = list(batch)
    while rest:
        size = rng.choice(BATCH_SIZES)
        pending.append(rest[:size])
        rest = rest[size:]
    rounds = 0
    try:
        while pending and rounds < MAX_ROUNDS:
            rounds += 1
            chunk = pending.popleft()
            try:
                client.events.send(SENSOR, chunk)
                tally["sends_ok"] += 1
            except PartialSendError as exc:  # some envelopes landed: re-send exactly the others
                unsent = set(exc.unsent_event_ids)
                pending.append([e for e in chunk if e.id in unsent])
                tally["partial"] += 1
            except TimebackError:  # nothing was accepted (or an ambiguous failure): re-send it all, same ids
                pending.append(chunk)
                tally["failed_sends"] += 1
        tally["left_over"] += sum(len(c) for c in pending)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


@pytest.mark.timeout(120)
def test_soak_with_random_faults() -> None:
    started = time.monotonic()
    batch = events(EVENTS)
    faults = RandomFaults(rate=0.2, seed=SEED, path="*", delay=(0.05, 0.6))  # every route, token routes included
    with Emulator(job_delay=0, random_faults=faults, max_recorded_requests=50_000) as emu:
        policy = RetryPolicy(max_attempts=3, deadline=5.0, base_delay=0.01, max_delay=0.05, retry_after_cap=0.05)
        tally: Counter[str] = Counter()
        errors: list[BaseException] = []
        with emu.client(retry=policy, timeout=(1.0, 0.3), max_events_per_envelope=20) as client:
            shares = [batch[i::THREADS] for i in range(THREADS)]
            threads = [
                threading.Thread(target=_worker, args=(client, share, SEED + n, tally, errors))
                for n, share in enumerate(shares)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(90)
            assert not any(t.is_alive() for t in threads), "a sender thread did not finish"
        assert errors == []
        assert tally["left_over"] == 0
        emu.random_faults(None)
        assert emu.wait_for_jobs(30)
        stats = emu.fault_stats
        copies = emu.event_copies()
        requests_seen = len(emu.requests())

    elapsed = time.monotonic() - started
    by_id: dict[str, list[bool]] = defaultdict(list)
    for copy in copies:
        by_id[copy.external_id].append(copy.ambiguous)
    assert set(by_id) == {e.id for e in batch}, "an event was lost (or an unknown one appeared)"
    duplicates = sum(len(c) - 1 for c in by_id.values())
    for ext, flags in by_id.items():
        assert len(flags) - 1 <= sum(flags), f"{ext}: {len(flags)} copies, only {sum(flags)} from ambiguous requests"
    ambiguous_jobs = {c.job_id for c in copies if c.ambiguous}
    assert len(ambiguous_jobs) <= stats.ambiguous
    if stats.ambiguous == 0:
        assert duplicates == 0
    assert stats.total > 0.1 * requests_seen  # the faults really happened (20% expected)
    assert elapsed < 60
    print(  # noqa: T201 - the soak's numbers, shown with -s
        f"\nsoak: {EVENTS} events, {THREADS} threads, {requests_seen} requests, faults {stats.total} "
        f"({dict(sorted(stats.injected.items()))}), ambiguous {stats.ambiguous}, duplicates {duplicates} "
        f"(in {len({c.job_id for c in copies if c.ambiguous and len(by_id[c.external_id]) > 1})} envelopes), "
        f"sends ok {tally['sends_ok']}, partial {tally['partial']}, failed {tally['failed_sends']}, {elapsed:.1f}s"
    )
