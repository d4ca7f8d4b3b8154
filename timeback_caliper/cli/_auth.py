"""``timeback-caliper auth check``: a token round trip and a cheap read on each back end, with latencies."""

from __future__ import annotations

from . import EXIT_API, EXIT_OK
from ._common import format_option, get_client
from ._deps import click
from .checks import BACKENDS, check_auth
from .render import print_json, print_jsonl, print_table

__all__ = ["auth"]


@click.group("auth")
def auth() -> None:
    """Check credentials."""


@auth.command("check")
@click.option(
    "--backend",
    type=click.Choice(["all", *BACKENDS]),
    default="all",
    show_default=True,
    help="caliper: the Caliper API (events, jobs); platform: Insights and Applications",
)
@format_option("table")
@click.pass_context
def check_command(ctx: click.Context, backend: str, fmt: str) -> int:
    """Fetch a token and make one read per back end; print latencies. Exit 1 if any back end fails.

    The first call includes the token request, the second reuses the token: the difference is the token
    round trip. No secret or token is printed.
    """
    client = get_client(ctx)
    results = check_auth(client, BACKENDS if backend == "all" else (backend,))
    if fmt == "json":
        print_json([r.as_dict() for r in results])
    elif fmt == "jsonl":
        print_jsonl(r.as_dict() for r in results)
    else:

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f} ms"

        rows = [
            [
                r.backend,
                "ok" if r.ok else "FAILED",
                r.url,
                ms(r.first_ms),
                ms(r.cached_ms),
                ms(r.token_ms),
                r.error or "",
            ]
            for r in results
        ]
        print_table(
            ["Back end", "Result", "URL", "First call", "Cached token", "Token (est.)", "Error"], rows, right=(3, 4, 5)
        )
    return EXIT_OK if all(r.ok for r in results) else EXIT_API
