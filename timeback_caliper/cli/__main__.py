"""``python -m timeback_caliper.cli``: the ``timeback-caliper`` command without the console script on PATH."""

from __future__ import annotations

from . import main

if __name__ == "__main__":
    main()
