"""``python -m timeback_caliper.outbox``: the outbox command group on its own (see ``cli.py``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
