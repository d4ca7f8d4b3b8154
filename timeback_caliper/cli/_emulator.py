"""``timeback-caliper emulator``: the bundled local emulator (``python -m timeback_caliper.testing``'s options)."""

from __future__ import annotations

from ._deps import click

__all__ = ["emulator"]


@click.command(
    "emulator",
    short_help="Run the bundled local emulator (see: emulator --help).",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def emulator(args: tuple[str, ...]) -> int:
    """Run the local Timeback emulator until Ctrl-C (--port, --db, --fault...; see `emulator --help`)."""
    from ..testing.__main__ import main

    try:
        return main(list(args))
    except SystemExit as exc:  # argparse exits on --help and on bad options; run() must return a code instead
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
