"""Django settings for the tests, configured once per process (Django allows one ``settings.configure``)."""

from __future__ import annotations

URLCONF = "tests.contrib.test_django"


def configure() -> None:
    """In-memory SQLite, the integration's app installed, ``tests.contrib.test_django`` as the URLconf."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=["timeback_caliper.contrib.django"],
        ROOT_URLCONF=URLCONF,
        MIDDLEWARE=[],
        USE_TZ=True,
    )
    django.setup()
