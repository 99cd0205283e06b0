"""soc2hub settings, all from the environment.

With nothing set, soc2hub runs on one laptop: SQLite under ./var, media under
./var/media, e-mail to the console, and Celery on a filesystem broker that needs
no server (``make run`` starts a worker with embedded beat beside the web server).
``DATABASE_URL``, ``REDIS_URL`` and the ``AWS_*`` storage variables switch to
PostgreSQL, Redis and S3-compatible storage.
"""

import os
import secrets
from pathlib import Path

import environ
import structlog
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SOC2HUB_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

# Django's debug page shows settings, source and the URL map to whoever meets an error: a
# developer asks for it with DEBUG=true, nobody gets it by default.
DEBUG = env.bool("DEBUG", default=False)
# A local server (`make run`): plain HTTP on loopback, so nothing that needs HTTPS (redirect,
# secure cookies, HSTS), static files served from the source tree, and a secret key generated
# once under the var dir. Anywhere else SECRET_KEY must be set.
LOCAL = env.bool("SOC2HUB_LOCAL", default=False)
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=LOOPBACK_HOSTS)
if LOCAL and not set(ALLOWED_HOSTS) <= {*LOOPBACK_HOSTS, "::1", "testserver"}:
    raise ImproperlyConfigured(
        f"SOC2HUB_LOCAL serves plain HTTP on loopback only, but ALLOWED_HOSTS is {ALLOWED_HOSTS}. "
        "Serve other hosts with SOC2HUB_LOCAL unset, behind HTTPS."
    )


def local_secret_key(path: Path) -> str:
    """The local server's key: made on first start, kept in ``path`` (readable by its owner
    only), so sessions survive restarts and the web server and the worker agree on it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)  # atomic: when two processes start together, the first one's key wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or LOCAL):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value, or SOC2HUB_LOCAL=true for a "
            "local server on loopback (it keeps a generated key under the var dir)."
        )
    SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")
elif SECRET_KEY.startswith("django-insecure") and not (DEBUG or LOCAL):
    raise ImproperlyConfigured("SECRET_KEY is a development key. Set SECRET_KEY to a long random value.")

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
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "axes",
    "django_structlog",
    "soc2hub",
    "controls",
    "evidence",
    "exceptions",
    "nhi",
    "audits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Early, so every page, refusal and error page gets the policy and its nonce.
    "soc2hub.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # One log line per request with its id, the person's id, path and status (django-structlog).
    "django_structlog.middlewares.RequestMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "soc2hub.auth.MfaRequiredMiddleware",
    # Work that could not be queued answers 503, saying it will start when the queue is back.
    "soc2hub.jobqueue.QueueUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audits.middleware.AuditorMiddleware",
    # Last, so it sees the lockout that the authentication backend flagged on the request.
    "axes.middleware.AxesMiddleware",
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
                "csp.context_processors.nonce",
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
    # First: refuses any attempt for a username + address that is locked out.
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous-user row; anonymous users get nothing
GUARDIAN_RAISE_403 = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Accounts (django-allauth): people sign in with a username and password, or through the
# company's identity provider (OIDC_* below). Nobody signs up: Security or the IdP creates
# accounts.
ACCOUNT_ADAPTER = "soc2hub.auth.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# django-axes alone counts failed sign-ins (per username + address, and per address): allauth's
# own per-address login limit would also throttle a busy office behind one NAT address.
ACCOUNT_RATE_LIMITS = {"login": False, "login_failed": False}

# Second factor (allauth.mfa): TOTP with recovery codes. Members of these groups must enrol
# before they can use anything else ("Finance" means members of a finance team); every
# exception signature asks for a current code whatever the group.
MFA_ADAPTER = "soc2hub.auth.MfaAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="soc2hub")
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side, for clocks a little off
MFA_RECOVERY_CODE_COUNT = 10
MFA_FORMS = {"authenticate": "soc2hub.auth_forms.MfaAuthenticateForm"}
MFA_REQUIRED_GROUPS = env.list("MFA_REQUIRED_GROUPS", default=["Security", "Leadership", "Finance", "Auditors"])

# Failed sign-ins (django-axes): per username + address, this many failures lock that pair
# out for the cool-off; any address with MAX_PER_IP failures across usernames is locked out
# as a whole (password spraying). Wrong signing passwords and second-factor codes count too.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_MINUTES", default=15) / 60  # hours
AXES_IP_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT_PER_IP", default=50)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "soc2hub.auth.LockoutHandler"
AXES_USERNAME_CALLABLE = "soc2hub.auth.lockout_username"  # case-folded: Alice and alice are one person
AXES_LOCKOUT_CALLABLE = "soc2hub.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_SENSITIVE_PARAMETERS = ["password", "code", "otp_code"]
# Behind a proxy, the address comes from X-Forwarded-For set by that many trusted proxies.
AXES_IPWARE_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# Single sign-on through OpenID Connect (allauth's openid_connect provider). Set
# OIDC_SERVER_URL (the issuer), OIDC_CLIENT_ID and OIDC_CLIENT_SECRET to show "Sign in with
# <OIDC_PROVIDER_NAME>". OIDC_GROUP_MAP maps the IdP's group claim to teams and roles:
# "idp-group=team:<slug>" or "idp-group=role:<Security|Leadership|Auditors>", separated by ";".
OIDC_SERVER_URL = env.str("OIDC_SERVER_URL", default="").rstrip("/")
OIDC_PROVIDER_ID = env.str("OIDC_PROVIDER_ID", default="sso")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_GROUP_MAP = env.str("OIDC_GROUP_MAP", default="")
# Optional: only IdP accounts whose (verified) e-mail is in one of these domains may sign in.
OIDC_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in env.list("OIDC_ALLOWED_DOMAINS", default=[])]
SOCIALACCOUNT_ADAPTER = "soc2hub.sso.SsoAdapter"
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never join an IdP identity to a local account by e-mail
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": OIDC_PROVIDER_ID,
                "name": OIDC_PROVIDER_NAME,
                "client_id": env.str("OIDC_CLIENT_ID", default=""),
                "secret": env.str("OIDC_CLIENT_SECRET", default=""),
                "settings": {
                    "server_url": OIDC_SERVER_URL,
                    "token_auth_method": "client_secret_post",
                    "auth_params": {"scope": env.str("OIDC_SCOPES", default="openid profile email groups")},
                },
            }
        ] if OIDC_SERVER_URL else [],
    }
}

# Argon2 for new and changed passwords; the others verify older hashes, which Django re-hashes
# with Argon2 at the next successful sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

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
            if DEBUG or LOCAL
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# A local server has no collectstatic: WhiteNoise serves static/ and the apps' files directly.
WHITENOISE_USE_FINDERS = DEBUG or LOCAL
WHITENOISE_AUTOREFRESH = DEBUG or LOCAL
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
# Mail is sent by tasks after commit; a server that stops answering must still free the worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)

# --- celery ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The longest job (an evidence package of every file in scope, an NHI import at its row limit)
# must finish inside the visibility timeout, or Redis hands its unacknowledged message to a
# second worker (whose claim then finds the job taken). A worker that dies is noticed much
# sooner by the job sweeper (JOB_STALE_SECONDS), so a long timeout delays nothing.
JOB_VISIBILITY_TIMEOUT = env.int("JOB_VISIBILITY_TIMEOUT_SECONDS", default=6 * 60 * 60)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": JOB_VISIBILITY_TIMEOUT, "socket_connect_timeout": 5}
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
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a task whose worker process died goes back to the queue
# A worker outlives a broker restart: it keeps trying to reconnect, at start-up too.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The worker logs through LOGGING below (JSON lines or console), with each task's id bound.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
DJANGO_STRUCTLOG_CELERY_ENABLED = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The daily jobs' schedule is created in django-celery-beat's tables after migrate (see
# soc2hub.apps) at this hour; from then on it is changed in the admin, not here.
DAILY_JOBS_HOUR = env.int("DAILY_JOBS_HOUR", default=6)
# The job sweeper (soc2hub.jobqueue, every minute): a running job whose worker has not beaten for
# this long is queued again; a queued job never started this long after it was sent is sent again.
JOB_STALE_SECONDS = env.int("JOB_STALE_SECONDS", default=5 * 60)
JOB_LOST_SECONDS = env.int("JOB_LOST_SECONDS", default=30 * 60)
# /readyz: the sweeper's last run (beat, through a worker) must be this recent.
BEAT_TICK_MAX_AGE_SECONDS = env.int("BEAT_TICK_MAX_AGE_SECONDS", default=3 * 60)

# --- cache -------------------------------------------------------------------------------
# Shared by every process: used-code markers for TOTP replay, API throttles, allauth's rate
# limits. Redis when there is one, else files under the var dir (web and worker share them).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
              "LOCATION": str(VAR_DIR / "cache")}
    )
}

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
    # Services raise Django's ValidationError/PermissionDenied; this turns them into the API's answers.
    "EXCEPTION_HANDLER": "soc2hub.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="30/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
    },
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
if not (DEBUG or LOCAL):
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

# Error pages: branded HTML, JSON under /api/ (soc2hub.error_views; the 400, 403, 404 and 500
# handlers are in soc2hub.urls).
CSRF_FAILURE_VIEW = "soc2hub.error_views.csrf_failure"

# Content-Security-Policy (django-csp): scripts from this site or carrying the response's nonce,
# styles from this site only: no inline event handlers, style attributes or eval. Single
# sign-on posts a form that redirects to the identity provider, so form-action also names the
# OIDC_SERVER_URL origin (added per response by soc2hub.security). Downloads send their own
# sandbox policy, which this one never replaces.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features nobody here needs are off for this site and anything it embeds;
# WebAuthn stays open to the site itself for security keys and passkeys.
PERMISSIONS_POLICY = {
    **{feature: [] for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture",
        "encrypted-media", "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer",
        "microphone", "midi", "payment", "picture-in-picture", "screen-wake-lock", "serial", "usb",
        "xr-spatial-tracking",
    )},
    "publickey-credentials-create": "self",
    "publickey-credentials-get": "self",
}

# --- logs and error reporting ----------------------------------------------------------------
# Structured logs (structlog): every line carries the request id, the person's id, or the Celery
# task id it belongs to. LOG_FORMAT=json writes one JSON object a line for a log collector (the
# docker-compose default); anything else, readable console lines.
LOG_FORMAT = "json" if env.str("LOG_FORMAT", default="console").lower() == "json" else "console"
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
_log_pre_chain = [  # for lines from the standard library's loggers (Django, Celery, axes, ...)
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "foreign_pre_chain": _log_pre_chain,
            "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                           structlog.processors.format_exc_info,
                           structlog.processors.JSONRenderer()],
        },
        "console": {
            "()": structlog.stdlib.ProcessorFormatter,
            "foreign_pre_chain": _log_pre_chain,
            "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                           structlog.dev.ConsoleRenderer(colors=False)],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # every attempt is INFO there; lockouts reach the activity log
        "fontTools": {"level": "WARNING"},
    },
}

# Error reporting to Sentry, only when SENTRY_DSN is set: exceptions from requests and tasks,
# without personal data (no cookies, user details or request bodies); performance traces
# sampled at SENTRY_TRACES_SAMPLE_RATE (0: none).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
    )

# --- soc2hub -------------------------------------------------------------------------------
DEMO_PASSWORD = "soc2hub-demo"
# The demo's signers and Security sign in with this authenticator key (README); never a real one.
DEMO_TOTP_SECRET = "SOC2HUBDEMOKEY234567SOC2HUBDEMO2"
EVIDENCE_MAX_UPLOAD_BYTES = env.int("EVIDENCE_MAX_UPLOAD_MB", default=50) * 1024 * 1024
EVIDENCE_ALLOWED_TYPES = env.list(
    "EVIDENCE_ALLOWED_TYPES", default=["pdf", "png", "jpg", "jpeg", "gif", "webp", "csv", "xlsx", "docx", "txt", "json", "zip"]
)
# Reminders go to the owning team this many days before the due date, then on the day.
EVIDENCE_REMINDER_DAYS = sorted(env.list("EVIDENCE_REMINDER_DAYS", cast=int, default=[7, 1]), reverse=True)
EVIDENCE_DUE_SOON_DAYS = env.int("EVIDENCE_DUE_SOON_DAYS", default=14)
# The day of the week (a name) on which the daily jobs re-hash every stored file (evidence.verify).
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_verify_day = env.str("EVIDENCE_VERIFY_WEEKDAY", default="sunday").strip().lower()
if _verify_day not in WEEKDAYS:
    raise ImproperlyConfigured(f"EVIDENCE_VERIFY_WEEKDAY is {_verify_day!r}; use a day name such as sunday.")
EVIDENCE_VERIFY_WEEKDAY = WEEKDAYS.index(_verify_day)  # as date.weekday(): Monday is 0
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
# A preview nobody applies within this many days is discarded and its file removed.
NHI_IMPORT_PREVIEW_DAYS = env.int("NHI_IMPORT_PREVIEW_DAYS", default=7)
# Form fields (not files) larger than this are refused before Django reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # non-file form fields
