"""``python -m timeback_caliper.testing``: run the emulator from the command line until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator
from .faults import DEFAULT_RANDOM_KINDS, RandomFaults, parse_fault


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m timeback_caliper.testing",
        description="A local emulator of the Timeback Caliper API (Caliper, Insights, Applications, webhooks).",
        epilog="Fault specs: KIND[=SECONDS][xCOUNT][@PATH][,key=value...], e.g. 503x2@/caliper/event,retry-after=1 "
        "| 429,retry-after=1 | close@/caliper/event | drop | delay=2x3 | trickle=1 | expire-token | "
        "job-fail,reason=disk full | job-delayed | 500x* (until cleared). See docs/testing.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one (default 8080)")
    p.add_argument("--db", metavar="FILE", help="keep everything in this SQLite file across restarts")
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help=f"client id accepted (default {DEFAULT_CLIENT_ID})")
    p.add_argument(
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help=f"its secret (default {DEFAULT_CLIENT_SECRET})"
    )
    p.add_argument("--token-lifetime", type=int, default=3600, metavar="SECONDS", help="expires_in of tokens")
    p.add_argument("--job-delay", type=float, default=0.005, metavar="SECONDS", help="time a job stays active")
    p.add_argument(
        "--dedupe",
        choices=("off", "ignore", "reject"),
        default="off",
        help="repeated event ids: store every copy (off, like the service), ignore them, or reject with 409",
    )
    p.add_argument("--success-status", type=int, choices=(200, 201, 202), default=200)
    p.add_argument("--success-body", choices=("json", "job-id", "empty"), default="json")
    p.add_argument("--max-body-bytes", type=int, default=1_048_576, help="larger bodies get a 413")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC", help="arm a fault (repeatable)")
    p.add_argument("--random-faults", type=float, metavar="RATE", help="fail this share of requests at random")
    p.add_argument("--seed", type=int, help="seed of the random faults")
    p.add_argument(
        "--random-kinds",
        default=",".join(DEFAULT_RANDOM_KINDS),
        help=f"kinds the random mode draws from (default {','.join(DEFAULT_RANDOM_KINDS)})",
    )
    p.add_argument("--no-seed-applications", action="store_true", help="start with an empty application catalogue")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log requests (-v) or everything (-vv)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        faults = [parse_fault(spec) for spec in args.fault]
        random = None
        if args.random_faults is not None:
            kinds = tuple(k.strip() for k in args.random_kinds.split(",") if k.strip())
            random = RandomFaults(rate=args.random_faults, seed=args.seed, kinds=kinds)
        emu = Emulator(
            host=args.host,
            port=args.port,
            db=args.db,
            client_id=args.client_id,
            client_secret=args.client_secret,
            token_lifetime=args.token_lifetime,
            job_delay=args.job_delay,
            dedupe=args.dedupe,
            success_status=args.success_status,
            success_body=args.success_body,
            max_body_bytes=args.max_body_bytes,
            seed_applications=not args.no_seed_applications,
            faults=faults,
            random_faults=random,
        )
        emu.start()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's own output
        return 2
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    # The default secret is a well-known test value; one given on the command line is never echoed.
    shown = emu.client_secret if emu.client_secret == DEFAULT_CLIENT_SECRET else "<as given>"
    lines = [
        f"Timeback Caliper emulator listening on {emu.url}",
        f"  client id / secret : {emu.client_id} / {shown}",
        f"  Caliper token URL  : {emu.token_url}",
        f"  platform token URL : {emu.platform_token_url}",
        f"  storage            : {args.db or 'memory'}",
        "  environment for CaliperClient.from_env():",
        f"    TIMEBACK_CALIPER_URL={emu.url} TIMEBACK_TOKEN_URL={emu.token_url}",
        f"    TIMEBACK_PLATFORM_URL={emu.url} TIMEBACK_PLATFORM_TOKEN_URL={emu.platform_token_url}",
        f"    TIMEBACK_CLIENT_ID={emu.client_id} TIMEBACK_CLIENT_SECRET={shown}",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)  # noqa: T201
    try:
        while not done.wait(0.5):
            pass
    finally:
        emu.close()
        print("stopped", flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
