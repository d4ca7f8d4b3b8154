"""The root ``timeback-caliper`` group: global options, logging, and each failure as one line and an exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .._version import __version__
from ..errors import TimebackError
from . import EXIT_API, EXIT_INTERRUPTED, EXIT_OK
from ._common import Runtime, Settings, runtime
from ._deps import click
from ._errors import details, exit_code, one_line

__all__ = ["cli", "execute"]

logger = logging.getLogger(__name__)

_ENV_HELP = """
\b
Configuration: options first, then environment variables, then defaults.
  TIMEBACK_ENV (production | staging), TIMEBACK_CLIENT_ID, TIMEBACK_CLIENT_SECRET
  (or TIMEBACK_CLIENT_SECRET_FILE), TIMEBACK_CALIPER_URL, TIMEBACK_TOKEN_URL,
  TIMEBACK_PLATFORM_URL, TIMEBACK_PLATFORM_TOKEN_URL, TIMEBACK_PLATFORM_CLIENT_ID,
  TIMEBACK_PLATFORM_CLIENT_SECRET (or ..._FILE), TIMEBACK_API_URL.
Secrets are never taken on the command line.

\b
Exit codes: 0 ok, 1 API error, 2 usage or validation error,
3 partial send (rerun with the same --checkpoint), 130 interrupted.
"""


@click.group(
    help="Send and read Timeback Caliper events, follow ingestion jobs, read insights.\n" + _ENV_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--env", type=click.Choice(["production", "staging"]), help="Which Timeback hosts to use [TIMEBACK_ENV]")
@click.option("--base-url", metavar="URL", help="Caliper API base URL [TIMEBACK_CALIPER_URL]")
@click.option("--token-url", metavar="URL", help="Caliper token endpoint [TIMEBACK_TOKEN_URL]")
@click.option("--platform-url", metavar="URL", help="Insights/Applications base URL [TIMEBACK_PLATFORM_URL]")
@click.option("--platform-token-url", metavar="URL", help="Platform token endpoint [TIMEBACK_PLATFORM_TOKEN_URL]")
@click.option("--client-id", metavar="ID", help="OAuth client id [TIMEBACK_CLIENT_ID]")
@click.option(
    "--client-secret-file",
    metavar="FILE",
    envvar="TIMEBACK_CLIENT_SECRET_FILE",
    help="File holding the client secret [TIMEBACK_CLIENT_SECRET_FILE; or TIMEBACK_CLIENT_SECRET]",
)
@click.option("--platform-client-id", metavar="ID", help="Platform client id [TIMEBACK_PLATFORM_CLIENT_ID]")
@click.option(
    "--platform-client-secret-file",
    metavar="FILE",
    envvar="TIMEBACK_PLATFORM_CLIENT_SECRET_FILE",
    help="File holding the platform secret [TIMEBACK_PLATFORM_CLIENT_SECRET_FILE]",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="SECONDS", help="HTTP read timeout (default 15)")
@click.option(
    "--deadline", type=click.FloatRange(min=0.1), metavar="SECONDS", help="Time per HTTP request, retries in (60)"
)
@click.option("--max-attempts", type=click.IntRange(min=1), metavar="N", help="Attempts per HTTP request (4)")
@click.option("-v", "--verbose", count=True, help="More detail: -v error details and retries, -vv debug logs")
@click.option("-q", "--quiet", is_flag=True, help="No progress or status lines on stderr (results still print)")
@click.version_option(__version__, "-V", "--version", prog_name="timeback-caliper")
@click.pass_context
def cli(
    ctx: click.Context,
    env: str | None,
    base_url: str | None,
    token_url: str | None,
    platform_url: str | None,
    platform_token_url: str | None,
    client_id: str | None,
    client_secret_file: str | None,
    platform_client_id: str | None,
    platform_client_secret_file: str | None,
    timeout: float | None,
    deadline: float | None,
    max_attempts: int | None,
    verbose: int,
    quiet: bool,
) -> None:
    run = runtime(ctx)
    run.verbose, run.quiet = verbose, quiet
    run.settings = Settings(
        env=env,
        base_url=base_url,
        token_url=token_url,
        platform_url=platform_url,
        platform_token_url=platform_token_url,
        client_id=client_id,
        client_secret_file=client_secret_file,
        platform_client_id=platform_client_id,
        platform_client_secret_file=platform_client_secret_file,
        timeout=timeout,
        deadline=deadline,
        max_attempts=max_attempts,
    )
    _logging_level(verbose)


def _register() -> None:
    from ._auth import auth
    from ._emulator import emulator
    from ._events import events
    from ._insights import insights
    from ._jobs import jobs
    from ._send import send
    from ._validate import validate_command

    for command in (send, validate_command, events, jobs, insights, auth, emulator):
        cli.add_command(command)
    try:  # another module's group; optional until it ships, and never fatal for the rest of the command
        from ..outbox.cli import outbox
    except (ImportError, TimebackError) as exc:  # pragma: no cover - depends on the outbox module
        logger.debug("outbox commands unavailable: %s", exc)
    else:
        cli.add_command(outbox)


_register()


# ---------------------------------------------------------------------------------------------------- logging
class _Stderr(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (so test capture and redirections see it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except (OSError, ValueError):  # a closed stderr: nowhere left to report to
            pass


_HANDLER = _Stderr()
_HANDLER.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def _logging_level(verbose: int) -> None:
    # Without -v the level stays inherited (WARNING by default), so a mounted group such as `outbox
    # --log-level` can still raise it through the root logger.
    if verbose:
        logging.getLogger("timeback_caliper").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


@contextmanager
def _library_logging() -> Iterator[None]:
    """Show the library's log records on stderr for the duration of one run, then leave logging as it was."""
    package = logging.getLogger("timeback_caliper")
    old_level, old_propagate = package.level, package.propagate
    package.addHandler(_HANDLER)
    package.propagate = False  # one copy of each record, even when a subcommand configures the root logger
    try:
        yield
    finally:
        package.removeHandler(_HANDLER)
        package.setLevel(old_level)
        package.propagate = old_propagate


def execute(argv: list[str], prog_name: str) -> int:
    """Run the group on ``argv``; print one line per failure (details with ``-v``) and return the exit code."""
    run = Runtime()
    with _library_logging():
        try:
            result = cli.main(args=argv, prog_name=prog_name, standalone_mode=False, obj=run)
        except click.exceptions.Abort:  # click turns Ctrl-C (KeyboardInterrupt) into Abort
            sys.stderr.write(f"{prog_name}: interrupted\n")
            return EXIT_INTERRUPTED
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except KeyboardInterrupt:
            sys.stderr.write(f"{prog_name}: interrupted\n")
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # the reader went away (| head): nothing more to say
            return EXIT_OK
        except Exception as exc:  # noqa: BLE001 - the command line's last line of defence: one line, an exit code
            known = isinstance(exc, (TimebackError, ValueError))
            prefix = "error" if known else f"unexpected error ({type(exc).__name__})"
            sys.stderr.write(f"{prog_name}: {prefix}: {one_line(exc)}\n")
            if run.verbose or not known:
                hint = [] if run.verbose else ["  (run with -vv for the traceback)"]
                sys.stderr.write("\n".join(details(exc, max(run.verbose, 1)) + hint) + "\n")
            return exit_code(exc) if known else EXIT_API
    return result if isinstance(result, int) else EXIT_OK
