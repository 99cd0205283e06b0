"""soc2hub settings, all from the environment.

With nothing set, soc2hub runs on one laptop: SQLite under ./var, media under
./var/media, e-mail to the console, and Celery on a filesystem broker that needs
no server (``make run`` starts a worker with embedded beat beside the web server).
``DATABASE_URL``, ``REDIS_URL`` and the ``AWS_*`` storage variables switch to
PostgreSQL, Redis and S3-compatible storage.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SOC2HUB_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEVELOPMENT_SECRET_KEY = "django-insecure-soc2hub-development-key-never-use-in-production"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DEBUG is off but SECRET_KEY is the development key. Set SECRET_KEY to a long random value."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "django_htmx",
    "soc2hub",
    "controls",
    "evidence",
    "exceptions",
    "nhi",
    "audits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audits.middleware.AuditorMiddleware",
]

ROOT_URLCONF = "soc2hub.urls"
WSGI_APPLICATION = "soc2hub.wsgi.application"
ASGI_APPLICATION = "soc2hub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "soc2hub.context_processors.roles",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'soc2hub.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the embedded worker share the file: wait for locks
    # instead of failing, and take the write lock at the start of a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "soc2hub.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous-user row; anonymous users get nothing
GUARDIAN_RAISE_403 = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- static and media -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Media is never served at a public URL: every file goes through a permission-checked view.
MEDIA_URL = "/media-not-served/"

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads stream to a temporary file
FILE_UPLOAD_HANDLERS = [
    "soc2hub.uploads.SizeLimitUploadHandler",  # stops an oversized file while it arrives
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- e-mail -------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="soc2hub <soc2hub@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- celery ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    # No server: a filesystem broker the embedded worker polls.
    _broker_dir = VAR_DIR / "celery"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # else the worker writes control/ where it starts
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The daily jobs' schedule is created in django-celery-beat's tables after migrate (see
# soc2hub.apps) at this hour; from then on it is changed in the admin, not here.
DAILY_JOBS_HOUR = env.int("DAILY_JOBS_HOUR", default=6)

# --- REST API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["soc2hub.permissions.ApiPermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "soc2hub API",
    "DESCRIPTION": "Criteria, controls, owners and the SOC 2 programme around them.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a ``status`` with its own choices; name each set after its model.
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "evidence.models.RequestStatus",
        "EvidenceStatusEnum": "evidence.models.EvidenceStatus",
        "SignatureDecisionEnum": "exceptions.models.SignatureDecision",
        "AuditStatusEnum": "audits.models.AuditStatus",
        "AuditRequestStatusEnum": "audits.models.AuditRequestStatus",
        "ReportStatusEnum": "audits.models.ReportStatus",
        "ReportKindEnum": "audits.models.ReportKind",
        "CategoryEnum": "controls.models.Category",
        "ExceptionStatusEnum": "exceptions.models.ExceptionStatus",
        "NhiKindEnum": "nhi.models.NhiKind",
        "NhiEnvironmentEnum": "nhi.models.Environment",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- security (production) -------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- soc2hub -------------------------------------------------------------------------------
DEMO_PASSWORD = "soc2hub-demo"
EVIDENCE_MAX_UPLOAD_BYTES = env.int("EVIDENCE_MAX_UPLOAD_MB", default=50) * 1024 * 1024
EVIDENCE_ALLOWED_TYPES = env.list(
    "EVIDENCE_ALLOWED_TYPES", default=["pdf", "png", "jpg", "jpeg", "gif", "webp", "csv", "xlsx", "docx", "txt", "json", "zip"]
)
# Reminders go to the owning team this many days before the due date, then on the day.
EVIDENCE_REMINDER_DAYS = sorted(env.list("EVIDENCE_REMINDER_DAYS", cast=int, default=[7, 1]), reverse=True)
EVIDENCE_DUE_SOON_DAYS = env.int("EVIDENCE_DUE_SOON_DAYS", default=14)
# Exceptions: the longest an exception may run, and who must sign each type
# ("type=role+role;..."; roles: leadership = the Leadership group, finance = Finance teams).
EXCEPTION_MAX_DAYS = env.int("EXCEPTION_MAX_DAYS", default=365)
EXCEPTION_SIGNERS = {
    kind: roles.split("+")
    for kind, roles in (
        item.split("=", 1)
        for item in env.str(
            "EXCEPTION_SIGNERS",
            default="access=leadership+finance;policy=leadership;control_deviation=leadership;vendor=leadership",
        ).split(";")
        if "=" in item
    )
}
EXCEPTION_REMINDER_DAYS = sorted(env.list("EXCEPTION_REMINDER_DAYS", cast=int, default=[30, 7, 1]), reverse=True)
# Non-human identities: unused this long counts as stale (CIS: disable after 45 days unused);
# expiring within this many days counts as expiring soon.
NHI_STALE_DAYS = env.int("NHI_STALE_DAYS", default=45)
NHI_EXPIRING_DAYS = env.int("NHI_EXPIRING_DAYS", default=30)
NHI_IMPORT_MAX_ROWS = env.int("NHI_IMPORT_MAX_ROWS", default=250_000)
NHI_IMPORT_MAX_BYTES = env.int("NHI_IMPORT_MAX_MB", default=100) * 1024 * 1024
NHI_IMPORT_MAX_JSON_BYTES = env.int("NHI_IMPORT_MAX_JSON_MB", default=25) * 1024 * 1024
# Form fields (not files) larger than this are refused before Django reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # non-file form fields
