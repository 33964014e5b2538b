"""Settings for the order-integration service.

Every value comes from the environment (or a ``.env`` file beside
``manage.py``); ``.env.example`` documents each one. With ``DEBUG=1`` the
service runs on embedded defaults: an SQLite file and the sandbox upstreams on
127.0.0.1:8081. With ``DEBUG`` off, every value marked *required* below must
be set, or start-up fails with ``ImproperlyConfigured`` naming it.
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import environ

from django.core.exceptions import ImproperlyConfigured

from phpservice.jwt_keys import jwt_keys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SANDBOX_URL = "http://127.0.0.1:8081"
DEVELOPMENT_DEFAULTS = {
    "SECRET_KEY": "dev-only-secret-key-never-use-in-production-0123456789",
    "JWT_SIGNING_KEY": "dev-only-jwt-signing-key-never-use-in-production-0123",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],testserver",
    "SALES_API_URL": f"{SANDBOX_URL}/sales",
    "BILL_API_URL": f"{SANDBOX_URL}/bill",
    "CUSTOM_API_URL": f"{SANDBOX_URL}/custom",
}


def required(name: str) -> str:
    """Return the variable ``name``; outside DEBUG refuse to start without it."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return DEVELOPMENT_DEFAULTS[name]
    raise ImproperlyConfigured(
        f"Set the environment variable {name} (see .env.example); "
        "it has no default when DEBUG is off."
    )


SECRET_KEY = required("SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in required("ALLOWED_HOSTS").split(",")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "anymail",
    "django_q",
    "orders",
    "integrations",
    "notifications",
]

MIDDLEWARE = [
    "phpservice.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "phpservice.security.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it sees the admin's failed logins (see phpservice.auth).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "phpservice.urls"
WSGI_APPLICATION = "phpservice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# SQLite by default; MySQL/MariaDB with DATABASE_URL=mysql://user:pass@host/db.

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Strict mode turns silent truncation into errors, and READ
            # COMMITTED keeps row claims from waiting on gap locks.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
            "isolation_level": "read committed",
        }
    )
    DATABASES["default"]["TEST"] = {
        "CHARSET": "utf8mb4",
        "COLLATION": "utf8mb4_unicode_ci",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Several processes (web, qcluster) share the file: wait for
            # the write lock instead of failing at once.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en-us")
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

# --- API and JWT ----------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["phpservice.jwt.BearerJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["phpservice.api.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Answers are JSON only; ?format= would only turn them into 404s.
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "phpservice.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "notify": env.str("NOTIFY_THROTTLE_RATE", default="30/hour"),
        # Token requests per client address, against password guessing.
        "login": env.str("LOGIN_THROTTLE_RATE", default="20/minute"),
    },
    # Proxies in front of the service that append to X-Forwarded-For: the
    # client address of throttles and the login lockout is read from there.
    # With 0 the connection's own address is used. (DRF's default, None,
    # would take X-Forwarded-For as the client wrote it.)
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": None,
}

# HS256 with JWT_SIGNING_KEY by default; RS256 or ES256 with a key pair in
# PEM files. The algorithm is pinned: tokens signed any other way are refused.
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="HS256")
JWT_KEYS = jwt_keys(
    algorithm=JWT_ALGORITHM,
    signing_key=required("JWT_SIGNING_KEY") if JWT_ALGORITHM == "HS256" else "",
    secret_key=SECRET_KEY,
    private_key_file=env.str("JWT_PRIVATE_KEY_FILE", default=""),
    public_key_file=env.str("JWT_PUBLIC_KEY_FILE", default=""),
    enforce_size=not DEBUG,
)
JWT_SIGNING_KEY = JWT_KEYS.signing_key

SIMPLE_JWT = {
    "ALGORITHM": JWT_KEYS.algorithm,
    "SIGNING_KEY": JWT_KEYS.signing_key,
    "VERIFYING_KEY": JWT_KEYS.verifying_key,
    "ISSUER": env.str("JWT_ISSUER", default="phpservice"),
    "AUDIENCE": env.str("JWT_AUDIENCE", default="phpservice-api"),
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_ACCESS_LIFETIME_SECONDS", default=300)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env.int("JWT_REFRESH_LIFETIME_SECONDS", default=86400)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_REFRESH_SERIALIZER": "phpservice.jwt.SingleUseRefreshSerializer",
    # A password change ends every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
    "UPDATE_LAST_LOGIN": False,
    "LEEWAY": env.int("JWT_LEEWAY_SECONDS", default=5),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Failed logins (API and admin) are counted per username and client address
# by django-axes, in the database; the pair is locked for a while after too
# many. See phpservice/auth.py.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "phpservice.auth.client_address"
AXES_CLIENT_STR_CALLABLE = "phpservice.auth.client_str"
AXES_RESET_ON_SUCCESS = True
# Attempts while locked do not extend the lock.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Keep failures only (AccessAttempt); successful logins are in api.log.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_HTTP_RESPONSE_CODE = 429

# /api/schema and /api/docs: see phpservice/schema.py.
SPECTACULAR_SETTINGS = {
    "TITLE": "Order integration service",
    "DESCRIPTION": (
        "Order status and customer notifications. Log in at /auth/token and "
        "send the access token as 'Authorization: Bearer ACCESS_TOKEN'. Every "
        'error answers {"error": {"code": ..., "message": ..., "fields": ...}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "notifications.models.Channel.values",
        "NotificationStatusEnum": "notifications.models.NotificationStatus.values",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "phpservice.schema.add_error_component",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Upstreams --------------------------------------------------------------


def upstream(prefix: str) -> dict:
    """Return the connection settings of one upstream API."""
    return {
        "URL": required(f"{prefix}_URL").rstrip("/"),
        "TOKEN": env.str(f"{prefix}_TOKEN", default=""),
        "CONNECT_TIMEOUT": env.float(f"{prefix}_CONNECT_TIMEOUT", default=3.0),
        "READ_TIMEOUT": env.float(f"{prefix}_READ_TIMEOUT", default=15.0),
        "MAX_RESPONSE_BYTES": env.int(
            f"{prefix}_MAX_RESPONSE_BYTES", default=2 * 1024 * 1024
        ),
    }


UPSTREAMS = {
    "sales": upstream("SALES_API"),
    "bill": upstream("BILL_API"),
    "custom": upstream("CUSTOM_API"),
}

SALES_POLL_INTERVAL_MINUTES = env.int("SALES_POLL_INTERVAL_MINUTES", default=1)
SALES_POLL_PAGE_SIZE = env.int("SALES_POLL_PAGE_SIZE", default=200)
SALES_POLL_MAX_PAGES = env.int("SALES_POLL_MAX_PAGES", default=50)
SALES_POLL_LEASE_SECONDS = env.int("SALES_POLL_LEASE_SECONDS", default=120)
# GET /ready fails once the last successful poll is older than this.
READY_MAX_POLL_AGE_SECONDS = env.int(
    "READY_MAX_POLL_AGE_SECONDS", default=5 * 60 * SALES_POLL_INTERVAL_MINUTES
)

PIPELINE = {
    "MAX_ATTEMPTS": env.int("PIPELINE_MAX_ATTEMPTS", default=6),
    "BACKOFF_BASE_SECONDS": env.float("PIPELINE_BACKOFF_BASE_SECONDS", default=5.0),
    "BACKOFF_MAX_SECONDS": env.float("PIPELINE_BACKOFF_MAX_SECONDS", default=600.0),
    "LEASE_SECONDS": env.int("PIPELINE_LEASE_SECONDS", default=300),
    "BATCH_SIZE": env.int("PIPELINE_BATCH_SIZE", default=32),
    "CONCURRENCY": env.int("PIPELINE_CONCURRENCY", default=8),
}

# --- Notifications (Mailgun email, Twilio SMS) --------------------------
# Not required at start-up, so that a deployment may run the pipeline alone;
# ``manage.py check`` warns about what is missing, and POST /notify answers
# 503 naming the variable to set.

MAILGUN_SANDBOX = {
    "MAILGUN_API_KEY": "sandbox-mailgun-key",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "sandbox-mailgun-signing-key",
    "MAILGUN_API_URL": f"{SANDBOX_URL}/mailgun/v3",
}
TWILIO_SANDBOX = {
    "ACCOUNT_SID": "ACsandbox0000000000000000000000000",
    "AUTH_TOKEN": "sandbox-twilio-token",
    "API_URL": f"{SANDBOX_URL}/twilio",
}


def optional(name: str, sandbox: dict, key: str, default: str = "") -> str:
    """Return ``name`` from the environment; in DEBUG fall back to the sandbox."""
    return env.str(name, default="") or (sandbox[key] if DEBUG else default)


EMAIL_BACKEND = "notifications.email.MailgunBackend"
MAILGUN_SENDER_DOMAIN = env.str(
    "MAILGUN_SENDER_DOMAIN", default="mg.example.com" if DEBUG else ""
)
ANYMAIL = {
    "MAILGUN_API_KEY": optional("MAILGUN_API_KEY", MAILGUN_SANDBOX, "MAILGUN_API_KEY"),
    "MAILGUN_SENDER_DOMAIN": MAILGUN_SENDER_DOMAIN,
    "MAILGUN_API_URL": optional(
        "MAILGUN_API_URL",
        MAILGUN_SANDBOX,
        "MAILGUN_API_URL",
        default="https://api.mailgun.net/v3",
    ),
    "MAILGUN_WEBHOOK_SIGNING_KEY": optional(
        "MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_SANDBOX, "MAILGUN_WEBHOOK_SIGNING_KEY"
    ),
    # "user:password" that Mailgun's webhook URL carries as basic auth.
    "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="") or None,
    "REQUESTS_TIMEOUT": (
        env.float("MAILGUN_CONNECT_TIMEOUT", default=3.0),
        env.float("MAILGUN_READ_TIMEOUT", default=10.0),
    ),
}
DEFAULT_FROM_EMAIL = env.str(
    "NOTIFY_FROM_EMAIL",
    default=f"Служба заказов <orders@{MAILGUN_SENDER_DOMAIN or 'localhost'}>",
)

TWILIO = {
    "ACCOUNT_SID": optional("TWILIO_ACCOUNT_SID", TWILIO_SANDBOX, "ACCOUNT_SID"),
    "AUTH_TOKEN": optional("TWILIO_AUTH_TOKEN", TWILIO_SANDBOX, "AUTH_TOKEN"),
    "FROM_NUMBER": env.str(
        "TWILIO_FROM_NUMBER", default="+15005550006" if DEBUG else ""
    ),
    "MESSAGING_SERVICE_SID": env.str("TWILIO_MESSAGING_SERVICE_SID", default=""),
    "API_URL": optional(
        "TWILIO_API_URL", TWILIO_SANDBOX, "API_URL", default="https://api.twilio.com"
    ).rstrip("/"),
    # The public URL of /webhooks/twilio/status; given to Twilio with each
    # message and used to check the signature of its callbacks.
    "STATUS_CALLBACK_URL": env.str("TWILIO_STATUS_CALLBACK_URL", default=""),
    "TIMEOUT": env.float("TWILIO_TIMEOUT", default=10.0),
}

NOTIFY = {
    "COOLDOWN_SECONDS": env.int("NOTIFY_COOLDOWN_SECONDS", default=60),
    "PHONE_REGION": env.str("NOTIFY_PHONE_REGION", default="RU"),
    # A notification still "sending" after this long was left by a process
    # that died mid-call, and becomes "unknown". Keep it well above the
    # providers' timeouts (MAILGUN_*_TIMEOUT, TWILIO_TIMEOUT).
    "SENDING_TIMEOUT_SECONDS": env.int("NOTIFY_SENDING_TIMEOUT_SECONDS", default=300),
}

# Throttle counters live in the cache: give several web nodes a shared one
# (e.g. CACHE_URL=dbcache://cache_table, then `manage.py createcachetable`).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Background work (django-q2) ------------------------------------------
# The ORM broker needs nothing beyond the database. ``retry`` is kept above
# ``timeout`` so that a task still running is never handed out twice, and
# missed schedules are not replayed in a burst after downtime. Q_REDIS_URL
# moves the queue to Redis instead, which takes the polling load off the
# database when several worker nodes share it (see docs/deploy.md).

Q_CLUSTER = {
    "name": "phpservice",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT_SECONDS", default=600),
    "retry": env.int("Q_RETRY_SECONDS", default=720),
    "max_attempts": 1,
    "catch_up": False,
    "orm": "default",
    "ack_failures": True,
    "save_limit": 500,
    "label": "Background tasks",
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY_SECONDS must be larger than Q_TIMEOUT_SECONDS.")
Q_REDIS_URL = env.str("Q_REDIS_URL", default="")
Q_REDIS_PASSWORD = ""
if Q_REDIS_URL:
    redis_url = urlsplit(Q_REDIS_URL)
    if redis_url.scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(
            "Q_REDIS_URL must be a redis://, rediss:// or unix:// URL, "
            "e.g. redis://127.0.0.1:6379/0."
        )
    # Without timeouts a Redis that stops answering would hang workers and
    # /ready; the URL's own socket_timeout/socket_connect_timeout win.
    redis_options = {"socket_connect_timeout": "3", "socket_timeout": "10"}
    redis_options.update(parse_qsl(redis_url.query))
    # django-q2 takes the first broker it finds configured: drop the ORM's.
    del Q_CLUSTER["orm"]
    Q_CLUSTER["redis"] = redis_url._replace(query=urlencode(redis_options)).geturl()
    Q_REDIS_PASSWORD = redis_url.password or ""

# --- Metrics (Prometheus) -------------------------------------------------
# GET /metrics asks for "Authorization: Bearer METRICS_TOKEN"; without a token
# it answers 404 unless DEBUG is on. See docs/metrics.md.

METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Read by prometheus_client itself when it is first imported; checked here so
# that a missing directory stops start-up instead of the first counted call.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if not PROMETHEUS_MULTIPROC_DIR:
    # Set but empty would still turn the mode on, writing into the current
    # directory: empty means off.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
elif not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR} is not a directory; "
        "create it (empty) before starting, or unset it."
    )

# --- Logging ------------------------------------------------------------------

LOG_DIR = env.path("LOG_DIR", default=BASE_DIR / "logs")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_BODY_MAX_CHARS = env.int("LOG_BODY_MAX_CHARS", default=2000)
# Further settings whose values never appear in a log line.
LOG_SECRET_SETTINGS = [
    "ANYMAIL.MAILGUN_API_KEY",
    "ANYMAIL.MAILGUN_WEBHOOK_SIGNING_KEY",
    "ANYMAIL.WEBHOOK_SECRET",
    "TWILIO.AUTH_TOKEN",
    "METRICS_TOKEN",
    "Q_REDIS_PASSWORD",
]

from phpservice.logging import build_logging_config  # noqa: E402

LOGGING = build_logging_config(log_dir=LOG_DIR, level=LOG_LEVEL)

# --- Security -------------------------------------------------------------
# With DEBUG off these defaults pass `manage.py check --deploy`: HTTPS only,
# HSTS for a year, secure cookies. Behind a proxy that terminates TLS, name
# the header by which it says so (SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto),
# or every request looks like plain HTTP and is redirected without end.

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Admin sessions end after this many seconds (default 12 hours).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=65536)

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe these over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_PROXY_SSL_HEADER_NAME = env.str("SECURE_PROXY_SSL_HEADER", default="")
if SECURE_PROXY_SSL_HEADER_NAME:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + SECURE_PROXY_SSL_HEADER_NAME.upper().replace("-", "_"),
        "https",
    )

# Where the admin is served: a path of its own makes it harder to find.
ADMIN_URL_PATH = env.str("ADMIN_URL_PATH", default="admin/")
if not re.fullmatch(r"(?:[A-Za-z0-9._~-]+/)+", ADMIN_URL_PATH) or (
    ADMIN_URL_PATH.split("/")[0] in ("api", "auth", "webhooks", "static")
):
    raise ImproperlyConfigured(
        "ADMIN_URL_PATH must be a relative path ending in '/', e.g. 'back-office/', "
        "outside api/, auth/, webhooks/ and static/."
    )
