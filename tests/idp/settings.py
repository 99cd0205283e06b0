"""Settings of the test identity provider. Everything that varies comes from the environment
the harness (``tests.idp.server``) starts it with."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("IDP_SECRET_KEY", "test-idp-only-never-deployed")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oidc_provider",
    "tests.idp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tests.idp.views.SlowTokenEndpointMiddleware",
]
ROOT_URLCONF = "tests.idp.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
    ]},
}]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("IDP_DATABASE", str(BASE_DIR / "idp.sqlite3")),
    # Two IdP processes may share the file (the slow one of the expiry test): wait for locks.
    "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# The stock backend: a disabled person can neither sign in nor keep using an earlier session.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # test people only
LOGIN_URL = "/login/"
USE_TZ = True
TIME_ZONE = "UTC"
# soc2hub runs on localhost beside it in the browser journey; cookies ignore ports, so the IdP's
# cookies get names of their own.
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"

# django-oidc-provider: standard claims and the groups claim, in the ID token as well as at the
# userinfo endpoint; no consent screen for soc2hub (a company IdP's own application).
OIDC_USERINFO = "tests.idp.claims.userinfo"
OIDC_EXTRA_SCOPE_CLAIMS = "tests.idp.claims.GroupsScopeClaims"
OIDC_IDTOKEN_INCLUDE_CLAIMS = True
OIDC_IDTOKEN_EXPIRE = int(os.environ.get("IDP_IDTOKEN_EXPIRE", 600))
# Seconds the token endpoint waits before answering: an IdP (or a network) slow enough for a
# short-lived ID token to expire on the way.
IDP_TOKEN_DELAY = float(os.environ.get("IDP_TOKEN_DELAY", 0))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
