"""Shared fixtures: personas per role, the SOC 2 catalog, service requirements.

Under ``CI=true`` a test that needs PostgreSQL, Redis, Chromium or WeasyPrint fails when
the service is missing; elsewhere it is skipped with the reason.
"""

import os
import shutil

import pytest
from django.conf import settings

from tests.factories import PASSWORD, Role, TeamFactory, UserFactory, member_of
from tests.idp.fixtures import idp, idp_slow  # noqa: F401  (a real OpenID Connect provider, for SSO)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def missing(what: str):
    """Skip locally, fail in CI: a missing service must never pass silently there."""
    if IN_CI:
        pytest.fail(f"CI=true but {what} is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": tmp_path / "media"}},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The real hasher costs ~0.3 s a person; tests make hundreds of people.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A cache of the test's own: throttles, used TOTP codes and rate limits start empty, and
    # parallel workers never share them. Tests of the Redis cache ask for it themselves.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"test-{tmp_path.name}"}}
    # Most tests sign people in with force_login and no second factor; the MFA tests turn the
    # production default (Security, Leadership, Finance, Auditors) back on.
    settings.MFA_REQUIRED_GROUPS = []


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    from soc2hub.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def catalog(db):
    """The real SOC 2 catalog (61 criteria and the crosswalk), loaded from the shipped file."""
    from controls.catalog import load_catalog

    load_catalog()


@pytest.fixture
def teams(db):
    return {
        "security": TeamFactory(name="Security", slug="security", function="security"),
        "hr": TeamFactory(name="HR", slug="hr", function="hr"),
        "legal": TeamFactory(name="Legal", slug="legal", function="legal"),
        "engineering": TeamFactory(name="Engineering", slug="engineering", function="engineering"),
        "finance": TeamFactory(name="Finance", slug="finance", function="finance"),
        "leadership": TeamFactory(name="Leadership", slug="leadership", function="leadership"),
    }


@pytest.fixture
def personas(teams):
    """One person per role. ``owner`` is in HR (the owning team in most tests);
    ``other_team`` is in Legal; ``anonymous`` is None."""
    return {
        "anonymous": None,
        "other_team": member_of(teams["legal"], username="olivia_legal"),
        "owner": member_of(teams["hr"], username="harriet_hr"),
        "security": member_of(teams["security"], username="sam_security", roles=[Role.SECURITY]),
        "leadership": member_of(teams["leadership"], username="lee_leadership", roles=[Role.LEADERSHIP]),
        "auditor": UserFactory(username="ada_auditor", roles=[Role.AUDITORS]),
    }


@pytest.fixture
def client_for(client):
    """``client_for(user)``: a test client signed in as ``user`` (None stays anonymous)."""
    from django.test import Client

    def make(user):
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make


@pytest.fixture
def require_postgres():
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing("PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def require_redis():
    url = os.environ.get("REDIS_URL")
    if not url:
        missing("Redis (set REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing(f"Redis at {url} ({exc})")
    return url


@pytest.fixture
def require_pdftools():
    if not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        missing("poppler-utils (pdftoppm, pdftotext)")


__all__ = ["PASSWORD"]


# A throwaway Redis and real Celery worker processes, for the reliability tests (tests/services.py).
from tests.services import throwaway_redis, workers  # noqa: E402,F401
