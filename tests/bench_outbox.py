"""Benchmark of the outbox: add and drain throughput on SQLite and PostgreSQL against the emulator.

Run it with ``python tests/bench_outbox.py`` (``make bench``). The emulator runs in its own process, as the real
API would be remote, and a fresh one serves each measurement. The baseline is ``client.events.send`` on the
same batches of already built events (the target is a drain at >= 80% of it), and for context ``parse()`` then
``send`` from the same wire JSON. PostgreSQL is measured when
``TIMEBACK_TEST_POSTGRES_URL`` (or ``--postgres``) is set; its tables go in a throwaway schema.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(0, str(ROOT))

from tests.outbox.events import SENSOR, make_events  # noqa: E402
from timeback_caliper._http import RetryPolicy  # noqa: E402
from timeback_caliper.client import CaliperClient  # noqa: E402
from timeback_caliper.outbox import Outbox  # noqa: E402
from timeback_caliper.serialization import parse  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "emulator-client", "emulator-secret"  # noqa: S105 - the emulator's test credential


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator_process() -> Iterator[str]:
    """A fresh emulator in its own process; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "timeback_caliper.testing", "--port", str(port), "--no-seed-applications"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def client_for(url: str) -> CaliperClient:
    return CaliperClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        base_url=url,
        token_url=url + "/oauth2/token",
        retry=RetryPolicy(base_delay=0.01, retry_ambiguous=False),
    )


def rate(count: int, fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def bench_send(events: list[dict[str, Any]], batch: int) -> dict[str, float]:
    """Plain ``client.events.send`` on the same batches, two ways.

    ``send``: the models already built before the clock starts (the target's baseline). ``parse_send``: from
    the same wire JSON, read with ``parse()`` then sent: what an app holding the events as data pays without
    an outbox (building them with the factories costs about the same, as they validate too).
    """
    models = [parse(e) for e in events]
    texts = [json.dumps(e) for e in make_events(len(events))]
    with emulator_process() as url, client_for(url) as client:
        client.events.send(SENSOR, models[:1])  # token and connection warm-up, outside the measurement

        def run() -> None:
            for i in range(0, len(models), batch):
                client.events.send(SENSOR, models[i : i + batch])

        def run_parsed() -> None:
            for i in range(0, len(texts), batch):
                client.events.send(SENSOR, [parse(t) for t in texts[i : i + batch]])

        return {"send": rate(len(models), run), "parse_send": rate(len(texts), run_parsed)}


def bench_outbox(url: str, options: dict[str, Any], events: list[dict[str, Any]], batch: int) -> dict[str, float]:
    """Add in batches, add one by one (a request path), then drain everything."""
    singles = events[:300]
    batched = events[300:]
    with Outbox(url, **options) as box:
        try:
            add_batch = rate(
                len(batched),
                lambda: [box.add(batched[i : i + batch], sensor=SENSOR) for i in range(0, len(batched), batch)],
            )
            add_one = rate(len(singles), lambda: [box.add([e], sensor=SENSOR) for e in singles])
            with emulator_process() as api, client_for(api) as client:
                client.events.send(SENSOR, [parse(make_events(1)[0])])  # warm-up, as for the baseline
                started = time.perf_counter()
                report = box.drain(client, batch_size=batch)
                drain = report.sent / (time.perf_counter() - started)
            assert report.sent == len(events) and report.dead == 0, report
        finally:
            box.drop_tables()
    return {"add_batch": add_batch, "add_one": add_one, "drain": drain}


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table; returns 0 (1 with ``--strict`` when a drain is below 80% of plain send)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per measurement (default 5000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="repetitions; the median is reported")
    parser.add_argument("--postgres", default=os.environ.get("TIMEBACK_TEST_POSTGRES_URL"), help="PostgreSQL URL")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a drain is below 80%% of plain send")
    args = parser.parse_args(argv)
    if args.events <= 300:
        parser.error("--events must be above 300 (300 are added one by one)")

    tmp = tempfile.TemporaryDirectory(prefix="bench-outbox-")
    backends: list[tuple[str, str, dict[str, Any]]] = [("sqlite", f"sqlite:///{tmp.name}/outbox.db", {})]
    schema = f"tbo_bench_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        backends.append(("postgresql", args.postgres, {"schema": schema}))

    sends: list[dict[str, float]] = []
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in backends}
    try:
        for r in range(args.rounds):  # interleaved, so a busy moment on the machine hits every column alike
            sends.append(bench_send(make_events(args.events), args.batch_size))
            for name, url, options in backends:
                opts = {**options, "table_prefix": f"bench_{r}"}
                results[name].append(bench_outbox(url, opts, make_events(args.events), args.batch_size))
    finally:
        tmp.cleanup()
        if args.postgres:
            _drop_schema(args.postgres, schema)

    send = statistics.median(row["send"] for row in sends)
    parse_send = statistics.median(row["parse_send"] for row in sends)
    print(  # noqa: T201
        f"outbox benchmark: {args.events} events, batches of {args.batch_size}, median of {args.rounds} rounds\n"
        f"plain client.events.send: {send:.0f} events/s (models built beforehand); "
        f"{parse_send:.0f} events/s (parse() then send, from the same wire JSON)"
    )
    header = (
        f"{'backend':<12}{'add (batch)':>14}{'add (1/txn)':>14}{'drain':>12}{'drain/send':>12}{'vs parse+send':>15}"
    )
    print(header)  # noqa: T201
    ok = True
    for name, rows in results.items():
        med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        ratio = med["drain"] / send
        ok = ok and ratio >= 0.8
        print(  # noqa: T201
            f"{name:<12}{med['add_batch']:>12.0f}/s{med['add_one']:>12.0f}/s{med['drain']:>10.0f}/s"
            f"{ratio:>11.0%}{med['drain'] / parse_send:>15.0%}"
        )
    print("events/s; the target is drain >= 80% of plain send" + ("" if ok else "  ** BELOW TARGET **"))  # noqa: T201
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
