#!/usr/bin/env python3
"""Cron job: send one day's exported events to Timeback with ``timeback-caliper send --checkpoint``.

Your app writes each day's events (or envelopes) as JSON Lines to ``EXPORT_DIR/events-YYYY-MM-DD.jsonl``. This
script sends the file for a day (yesterday by default) with a per-day checkpoint in ``STATE_DIR``, then waits for
the ingestion jobs. Run it more than once a night: a run after a failure, a crash or a reboot resumes where the
last one stopped, and a run after a complete send sends nothing.

    # m  h   dom mon dow  command
    15   2-6 *   *   *    cd /srv/app && .venv/bin/python examples/cron_send.py >> /var/log/timeback-send.log 2>&1

Credentials come from the environment, never the command line: ``TIMEBACK_ENV``, ``TIMEBACK_CLIENT_ID`` and
``TIMEBACK_CLIENT_SECRET_FILE`` (a file readable only by the cron user), and ``TIMEBACK_SENSOR`` for bare events.
The exit code is the command's: 0 done, 1 API down (the next run retries), 2 bad data or configuration (a person
must look), 3 partial send (the next run resumes), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from timeback_caliper.cli import EXIT_API, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, run

logger = logging.getLogger("cron_send")

OUTCOMES = {
    EXIT_OK: "done",
    EXIT_API: "the API failed; the next run retries (nothing accepted is sent twice)",
    EXIT_USAGE: "invalid data or configuration: nothing was sent; fix it before the next run",
    EXIT_PARTIAL: "partly sent; the next run resumes from the checkpoint",
}


def main(argv: list[str] | None = None) -> int:
    """Send the day's export; return the ``timeback-caliper send`` exit code."""
    parser = argparse.ArgumentParser(description="Send one day's exported events to Timeback (resumable).")
    parser.add_argument("--day", type=date.fromisoformat, default=date.today() - timedelta(days=1))
    parser.add_argument("--export-dir", type=Path, default=Path(os.environ.get("EXPORT_DIR", "exports")))
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("STATE_DIR", "state")))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    export = args.export_dir / f"events-{args.day.isoformat()}.jsonl"
    if not export.exists():
        logger.error("%s does not exist: did the export run?", export)
        return EXIT_USAGE
    args.state_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = args.state_dir / f"send-{args.day.isoformat()}.checkpoint"

    logger.info("sending %s (checkpoint %s)", export, checkpoint)
    code = run(["send", str(export), "--checkpoint", str(checkpoint), "--wait", "--no-progress"])
    logger.log(logging.INFO if code == EXIT_OK else logging.ERROR, "exit %d: %s", code, OUTCOMES.get(code, "stopped"))
    return code


if __name__ == "__main__":
    sys.exit(main())
