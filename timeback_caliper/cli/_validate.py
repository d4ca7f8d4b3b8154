"""``timeback-caliper validate``: the client's strict check of a file, and with ``--server`` the API's own verdict."""

from __future__ import annotations

from typing import Any

from ..models.caliper.envelope import Envelope
from . import EXIT_OK, EXIT_USAGE
from ._common import get_client, note
from ._deps import click
from ._input import Item
from ._send import batches, load_checked
from .render import print_json

__all__ = ["validate_command"]


def _server_lines(errors: Any, batch: list[Item], source: str) -> list[str]:
    """The server's error list, each tied to the line of the item it names (``path: ["data", 3, ...]``)."""
    if not isinstance(errors, list) or not errors:
        return [f"{source}: {errors}"] if errors else []
    lines = []
    for err in errors:
        if not isinstance(err, dict):
            lines.append(f"{source}: {err}")
            continue
        path = err.get("path")
        line = batch[0].line
        where = ""
        if isinstance(path, list) and len(path) > 1 and path[0] == "data" and isinstance(path[1], int):
            if 0 <= path[1] < len(batch):
                line = batch[path[1]].line
            where = ".".join(str(p) for p in path[2:])
        elif isinstance(path, (list, str)):
            where = ".".join(str(p) for p in path) if isinstance(path, list) else path
        rule = f" [{err['rule']}]" if err.get("rule") else ""
        lines.append(f"{source}:{line}: server: {where + ': ' if where else ''}{err.get('message', err)}{rule}")
    return lines


@click.command("validate", short_help="Check a file of events (--server: the API too).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--server", is_flag=True, help="Also ask the API (POST /caliper/event/validate); nothing is stored")
@click.option("--sensor", envvar="TIMEBACK_SENSOR", metavar="IRI", help="Sensor of bare events, for --server")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=100, show_default=True, help="Events per request")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout")
@click.pass_context
def validate_command(
    ctx: click.Context, file: str, server: bool, sensor: str | None, batch_size: int, as_json: bool
) -> int:
    """Check the events in FILE with the client's strict rules; list every problem with its line.

    Exit 0 when everything is valid, 2 when anything is not. With --server, the API checks the valid
    events too (in envelopes of --batch-size), and its refusals are listed the same way.
    """
    data = load_checked(ctx, file, sensor, need_sensor=server)
    local_errors = data.errors()
    server_lines: list[str] = []
    if server and not local_errors:
        client = get_client(ctx)
        for batch_sensor, batch in batches(data.valid, batch_size):
            envelope = Envelope(sensor=batch_sensor, data=[item.model for item in batch if item.model is not None])
            result = client.events.validate(envelope)
            if not result.ok:
                lines = _server_lines(result.errors, batch, data.source) or [
                    f"{data.source}:{batch[0].line}: server: {result.message or 'refused'}"
                ]
                server_lines += lines
        for line in server_lines:
            click.echo(line, err=True)
    ok = not local_errors and not server_lines
    events = sum(1 for item in data.items if item.is_event)
    if as_json:
        print_json(
            {
                "ok": ok,
                "items": len(data.items),
                "events": events,
                "problems": [
                    {"line": p.line, "path": p.path, "message": p.message, "rule": p.rule, "severity": p.severity}
                    for p in data.all_problems()
                ],
                "server": None if not server else ("skipped" if local_errors else (server_lines or "ok")),
            }
        )
    if ok:
        checked = " and by the API" if server else ""
        note(ctx, f"{data.source}: {len(data.items)} items ({events} events) valid{checked}")
        return EXIT_OK
    n = len(local_errors) + len(server_lines)
    note(ctx, f"{data.source}: {n} problem{'s' if n != 1 else ''}")
    return EXIT_USAGE
