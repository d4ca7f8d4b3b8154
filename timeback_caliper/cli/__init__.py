"""The ``timeback-caliper`` command: send, validate and read events, follow jobs, read insights, check auth.

Needs the ``[cli]`` extra (click; rich draws tables and progress bars on a terminal). Importing this package
imports neither: :func:`main` does, and says which extra to install when click is missing. The submodules
:mod:`.render`, :mod:`.plot` and :mod:`.checks` need no click, so the demo and the integrations use them too.

Exit codes: 0 ok, 1 API error, 2 usage or validation error, 3 partial send, 130 interrupted (see docs/cli.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["EXIT_API", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "main", "run"]

EXIT_OK = 0
"""Everything worked."""
EXIT_API = 1
"""The API (or the network) failed, a job failed, or an unexpected error happened."""
EXIT_USAGE = 2
"""Bad arguments or configuration, or invalid input data: nothing was sent."""
EXIT_PARTIAL = 3
"""``send`` delivered part of the input, then failed: rerun with the same ``--checkpoint`` to send the rest."""
EXIT_INTERRUPTED = 130
"""Ctrl-C or SIGTERM: the checkpoint (if any) is consistent; rerun to resume."""


def run(argv: Sequence[str] | None = None, *, prog_name: str = "timeback-caliper") -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``) and return its exit code; never calls ``sys.exit``."""
    from ..contrib import MissingExtraError

    try:
        from ._app import execute
    except MissingExtraError as exc:
        sys.stderr.write(f"{prog_name}: {exc}\n")
        return EXIT_USAGE
    return execute(list(sys.argv[1:] if argv is None else argv), prog_name)


def main() -> None:
    """Console-script entry point of ``timeback-caliper``."""
    sys.exit(run())
