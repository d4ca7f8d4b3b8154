"""``python manage.py timeback_caliper_check``: check the credentials in ``settings.TIMEBACK_CALIPER``."""

from __future__ import annotations

import json
from typing import Any

from timeback_caliper.cli.checks import BACKENDS, check_auth
from timeback_caliper.contrib import MissingExtraError
from timeback_caliper.contrib.django import get_client

try:
    from django.core.management.base import BaseCommand, CommandError  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("django", "django", "timeback_caliper_check") from exc

__all__ = ["Command"]


class Command(BaseCommand):  # type: ignore[misc]  # Django ships no type hints
    """Fetch a token and make one read per back end with the settings' client; fail if any back end fails."""

    help = "Check the Timeback credentials in settings.TIMEBACK_CALIPER: a token round trip per back end, with latency."

    def add_arguments(self, parser: Any) -> None:
        """``--backend`` and ``--json``."""
        parser.add_argument("--backend", choices=["all", *BACKENDS], default="all", help="Which back end to check")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the checks; raise CommandError (exit 1) if one fails. No secret or token is printed."""
        backends = BACKENDS if options["backend"] == "all" else (options["backend"],)
        results = check_auth(get_client(), backends)
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in results], indent=2))
        else:
            for r in results:
                if r.ok:
                    self.stdout.write(
                        f"{r.backend}: ok ({r.url}; first call {r.first_ms:.0f} ms with the token request, "
                        f"then {r.cached_ms:.0f} ms)"
                    )
                else:
                    self.stderr.write(f"{r.backend}: FAILED ({r.url}): {r.error}")
        failed = [r.backend for r in results if not r.ok]
        if failed:
            raise CommandError(f"Timeback credentials check failed for: {', '.join(failed)}")
