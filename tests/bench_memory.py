"""Memory benchmark: ``client.events.stream`` over many stored events keeps a flat memory profile.

Run it by hand (it is not part of the test suite; ``make bench`` runs the timing benchmarks)::

    .venv/bin/python tests/bench_memory.py                 # 100,000 events (about a minute)
    .venv/bin/python tests/bench_memory.py --events 20000  # quicker

The emulator runs in a child process, which also stores the events (sent through a client of its own, in envelopes
of 100), so this process only holds what the stream itself holds. It reads its resident set size (RSS) before the
stream and samples it while the stream runs; the figure reported is the peak RSS growth over the baseline, from the
kernel's high-water mark (``ru_maxrss``) and from the samples. The goal is under 50 MB for 100,000 events.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from typing import Any

SENSOR = "https://app.example.com/sensors/main"
LIMIT_MB = 50.0


def _rss_mb() -> float:
    """The current resident set size of this process, in MB (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_mb()


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _serve(conn: Any, n_events: int) -> None:
    """Child process: start the emulator, store ``n_events`` events, hand the URL over, serve until told to stop."""
    from timeback_caliper import create_activity_event
    from timeback_caliper.testing import Emulator

    with Emulator(job_delay=0.0, list_max_limit=1000) as emu:
        started = time.perf_counter()
        with emu.client() as client:
            for start in range(0, n_events, 100):
                events = [
                    create_activity_event(
                        actor={"id": f"https://example.edu/users/{(start + i) % 500}", "email": "s@example.edu"},
                        object={
                            "id": "https://app.example.com/activities/456",
                            "subject": "Math",
                            "app": {"name": "A"},
                        },
                        metrics=[
                            {"type": "xpEarned", "value": 10},
                            {"type": "totalQuestions", "value": 5},
                            {"type": "correctQuestions", "value": 4},
                        ],
                    )
                    for i in range(min(100, n_events - start))
                ]
                client.events.send(SENSOR, events)
        if not emu.wait_for_jobs(timeout=600):
            raise SystemExit("the emulator's jobs did not finish")
        stored = len(emu.stored_events())
        conn.send(
            {
                "url": emu.url,
                "token_url": emu.token_url,
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
                "stored": stored,
                "seconds": time.perf_counter() - started,
            }
        )
        conn.recv()  # until the parent is done


def measure(n_events: int = 100_000, page_size: int = 1000) -> dict[str, float]:
    """Store ``n_events`` in an emulator (child process), stream them all, and return the memory figures."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, n_events), daemon=True)
    proc.start()
    try:
        info = parent.recv()
        from timeback_caliper import CaliperClient

        client = CaliperClient(
            base_url=info["url"],
            token_url=info["token_url"],
            client_id=info["client_id"],
            client_secret=info["client_secret"],
        )
        with client:
            next(iter(client.events.stream(page_size=10, max_items=1)))  # imports, token, connection: not counted
            baseline, peak_before = _rss_mb(), _peak_mb()
            highest, count = baseline, 0
            started = time.perf_counter()
            for _event in client.events.stream(page_size=page_size):
                count += 1
                if count % 1000 == 0:
                    highest = max(highest, _rss_mb())
            seconds = time.perf_counter() - started
            highest = max(highest, _rss_mb())
            peak_after = _peak_mb()
        parent.send("stop")
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    growth_samples = highest - baseline
    # ru_maxrss is this process's lifetime high-water mark: growth beyond the peak reached before the stream.
    growth_peak = max(0.0, peak_after - max(peak_before, baseline))
    return {
        "stored": float(info["stored"]),
        "streamed": float(count),
        "store_seconds": info["seconds"],
        "stream_seconds": seconds,
        "baseline_mb": baseline,
        "growth_mb": max(growth_samples, growth_peak),
        "growth_sampled_mb": growth_samples,
        "growth_peak_mb": growth_peak,
    }


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit status 1 when the growth reaches the 50 MB goal."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000, help="events to store and stream (default 100000)")
    ap.add_argument("--page-size", type=int, default=1000, help="stream page size (default 1000, the maximum)")
    args = ap.parse_args(argv)
    r = measure(args.events, args.page_size)
    _say(
        f"events.stream over {int(r['streamed']):,} stored events (of {int(r['stored']):,}), page size {args.page_size}"
    )
    _say(f"  storing them (child process): {r['store_seconds']:.1f} s")
    _say(f"  streaming: {r['stream_seconds']:.1f} s, {r['streamed'] / r['stream_seconds']:,.0f} events/s")
    _say(f"  RSS before the stream: {r['baseline_mb']:.1f} MB")
    _say(
        f"  peak RSS growth: {r['growth_mb']:.1f} MB (sampled {r['growth_sampled_mb']:.1f} MB, "
        f"high-water mark {r['growth_peak_mb']:.1f} MB); goal < {LIMIT_MB:.0f} MB"
    )
    ok = r["streamed"] == r["stored"] and r["growth_mb"] < LIMIT_MB
    _say("  OK" if ok else "  NOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
