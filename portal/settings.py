"""Settings for the ops portal, read from PORTAL_* environment variables.

Every variable is optional; .env.example documents them. A bad value stops
start-up with a one-line message naming the variable (see manage.py).
"""

from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from portal import env

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = Path(env.env_str("PORTAL_DATA_DIR", str(BASE_DIR / "var"))).expanduser().resolve()
# `make test` runs the suite in pytest-xdist workers ("gw0", "gw1", …). pytest-django gives each
# its own test database; here each also gets its own data dir and Redis database.
TEST_WORKER = env.env_str("PYTEST_XDIST_WORKER")
if TEST_WORKER:
    DATA_DIR = DATA_DIR / TEST_WORKER
# The data dir holds the secret key, the database and its WAL: private (see README, "Files").
env.private_dir(DATA_DIR)
(DATA_DIR / "static").mkdir(mode=0o700, exist_ok=True)

DEBUG = env.env_bool("PORTAL_DEBUG", False)
SECRET_KEY = env.secret_key("PORTAL_SECRET_KEY", DATA_DIR)
# Keys of the encrypted fields (core.fields): the first encrypts, all decrypt.
FIELD_KEYS = env.field_keys("PORTAL_FIELD_KEYS", DATA_DIR)
PORT = env.env_int("PORTAL_PORT", 8000, minimum=1, maximum=65535)
ALLOWED_HOSTS = env.env_list("PORTAL_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.env_list("PORTAL_CSRF_TRUSTED_ORIGINS", [])
BASE_URL = env.env_str("PORTAL_BASE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")

# Folders that probes may read and backups may read and write. None by default: what a probe reads
# is shown to viewers, so the operator names the folders (a log directory). The data dir, the code
# and backup destinations are never readable by probes, even under a root; backups may also use the
# data dir, where the portal keeps its own copies (core.paths).
FILE_ROOTS = env.env_paths("PORTAL_FILE_ROOTS", [])
# Probes and webhooks never connect to link-local or cloud metadata addresses (169.254.169.254 hands
# out the instance's credentials) unless this says they may (core.outbound).
ALLOW_LINK_LOCAL = env.env_bool("PORTAL_ALLOW_LINK_LOCAL", False)
# Below this much free space in the data dir, /api/health says "degraded".
DISK_MIN_FREE_GB = env.env_int("PORTAL_DISK_MIN_FREE_GB", 1, minimum=0)
# Prometheus may scrape /api/metrics with `Authorization: Bearer <this>` (empty: users with a role
# only).
PORTAL_METRICS_TOKEN = env.env_str("PORTAL_METRICS_TOKEN")
# The longest maintenance window (days) an operator may announce; managers may plan up to a year.
# How long a page's one-click acknowledge link works (incidents.acklinks), in seconds.
PORTAL_ACK_LINK_MAX_AGE = env.env_int(
    "PORTAL_ACK_LINK_MAX_AGE", 24 * 60 * 60, minimum=60, maximum=30 * 24 * 60 * 60
)
PORTAL_OPERATOR_MAINTENANCE_DAYS = env.env_int(
    "PORTAL_OPERATOR_MAINTENANCE_DAYS", 7, minimum=1, maximum=366
)
# Public holidays skipped by business hours, checklists and due dates: a country code of the
# `holidays` library (KR: lunar and substitute holidays included); empty for none.
PORTAL_HOLIDAYS = env.env_holidays("PORTAL_HOLIDAYS", "KR")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "simple_history",
    "axes",
    "csp",
    # The portal's apps; "portal" stays last (its post_migrate sets up roles
    # once every other app's permissions exist).
    "incidents",
    "checklists",
    "probes",
    "backups",
    "status",
    "oncall",
    "alerts",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.SessionLanguageMiddleware",
    # Before any view reads the body; after auth so its 413 page has the menu.
    "core.middleware.BodySizeLimitMiddleware",
    "core.middleware.RepeatedQueryParameterMiddleware",
    "core.middleware.LoginRequiredMiddleware",
    "core.middleware.RoleRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.metrics.RequestMetricsMiddleware",
    # Last: turns axes' lock-out flag into the login page with its message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

DATABASES = {"default": env.database_config("PORTAL_DATABASE_URL", DATA_DIR / "portal.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.redis_url("PORTAL_REDIS_URL")
if REDIS_URL and TEST_WORKER:
    REDIS_URL = env.redis_database_offset(REDIS_URL, int(TEST_WORKER.removeprefix("gw")))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
            # A cache outage must slow pages down, not take them down.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    # Files in the data dir: one cache for gunicorn's workers and the clusters. A per-process cache
    # let one web worker serve a status page another had just invalidated, and counted throttles per
    # worker.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": DATA_DIR / "cache",
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after N failed logins for one username from
# one address, that pair is locked out for the cool-off time, on the portal's
# login page and the admin's alike; after M failures from one address whatever
# the usernames (password spraying), the address is. API tokens are not
# passwords and are not counted. Attempts live in the database, so every web
# worker sees them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.env_int("PORTAL_LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(minutes=env.env_int("PORTAL_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
LOGIN_ADDRESS_FAILURE_LIMIT = env.env_int(
    "PORTAL_LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1, maximum=10_000
)
# axes has one limit for all parameters; core.security.LoginAttemptHandler gives
# the address (the second entry) its own. The order matters to it.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "core.security.LoginAttemptHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "core.security.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
# A locked-out user who keeps trying must not stay locked forever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Passwords are never logged; usernames are, so lock-outs can be investigated.
AXES_SENSITIVE_PARAMETERS = []

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ko", _("Korean"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.env_time_zone("PORTAL_TIME_ZONE", "UTC")
USE_I18N = True
# 24-hour clocks in both languages (portal/formats/<lang>/formats.py).
FORMAT_MODULE_PATH = ["portal.formats"]
USE_TZ = True

STATIC_URL = "static/"
# Files served at the site's root, like static files: browsers ask every page for /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "portal" / "root"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Without PORTAL_EMAIL_URL, each e-mail is written to a file in <data dir>/mail/ (console:// prints
# them instead: whole messages in the terminal scrolled the one-time admin password away).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = DATA_DIR / "mail"
EMAIL_TIMEOUT = 10  # seconds: bounds a send, so the notification lease (incidents/notify.py) holds
DEFAULT_FROM_EMAIL = env.env_str("PORTAL_FROM_EMAIL", "ops-portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
globals().update(env.email_config("PORTAL_EMAIL_URL"))

# Behind a TLS-terminating proxy: secure cookies, HSTS, redirect to https.
HTTPS = env.env_bool("PORTAL_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Pages load only the portal's own scripts and styles: no inline <script> or
# style="" (data for scripts goes in data-* attributes or json_script). The API
# docs pages relax this for themselves (portal/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Request bodies: form and JSON fields are held in memory up to Django's
# limit; anything larger (uploads included) is refused with 413 before it is
# read (core.middleware.BodySizeLimitMiddleware).
MAX_REQUEST_BYTES = env.env_int("PORTAL_MAX_UPLOAD_MB", 10, minimum=1, maximum=1024) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
# JSON bodies and fields nested deeper than this are refused with 400 (core.parsers): a
# 2 KB body of 1 000 brackets otherwise exhausts the recursion of whatever walks it.
JSON_MAX_DEPTH = env.env_int("PORTAL_JSON_MAX_DEPTH", 32, minimum=2, maximum=200)
# Runbook imports (checklists.importer): bounded so that a dry run stays well under a second.
RUNBOOK_MAX_BYTES = env.env_int(
    "PORTAL_RUNBOOK_MAX_BYTES", 1024 * 1024, minimum=1024, maximum=8 * 1024 * 1024
)
RUNBOOK_MAX_SECTIONS = env.env_int("PORTAL_RUNBOOK_MAX_SECTIONS", 500, minimum=1, maximum=5000)
RUNBOOK_MAX_ITEMS = env.env_int("PORTAL_RUNBOOK_MAX_ITEMS", 5000, minimum=1, maximum=50000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous API call then gets 401 with WWW-Authenticate.
        "portal.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.RolePermission"],
    # JSON in: a form or multipart body cannot say null, so its "null" reached fields as text.
    # Uploads (runbook imports) name their own parsers.
    # core.parsers.JSONParser refuses bodies nested deeper than JSON_MAX_DEPTH with 400.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ops Portal API",
    "DESCRIPTION": "Incidents, checklists, probes and backups of an operations team.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["core.permissions.HasRole"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # drf-spectacular's defaults, and no validator badge: Swagger UI would fetch it from
    # validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        "persistAuthorization": True,
        "displayOperationId": True,
        "validatorUrl": None,
    },
    # One group per app (core.schema.PortalAutoSchema.get_tags), in the menu's order.
    "TAGS": [
        {
            "name": "incidents",
            "description": "Incidents, timelines, postmortems, contacts and escalation.",
        },
        {
            "name": "checklists",
            "description": "Checklist templates, runs, handovers, playbooks, runbook import.",
        },
        {"name": "probes", "description": "Probes, results, heartbeats and host agents."},
        {
            "name": "backups",
            "description": "Backup targets, runs, restores, rehearsals and off-site copies.",
        },
        {"name": "oncall", "description": "On-call schedules, layers and overrides."},
        {
            "name": "alerts",
            "description": "Alert integrations: incoming alerts from monitoring tools.",
        },
        {"name": "portal", "description": "Health, metrics and the portal's own settings."},
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.describe_ids_and_links",
    ],
    # Several models have a "kind" or "status"; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "incidents.models.ChannelKind",
        "EventKindEnum": "incidents.models.EventKind",
        "IncidentStatusEnum": "incidents.models.Status",
        "NotificationStatusEnum": "incidents.models.NotificationStatus",
        "ChecklistRunStatusEnum": "checklists.models.RunStatus",
        "PostmortemStatusEnum": "incidents.models.PostmortemStatus",
        # Every source an incident may have, and the few a person may declare one with.
        "IncidentSourceEnum": "incidents.models.Source",
        "DeclaredSourceEnum": "incidents.models.DECLARABLE_SOURCE_CHOICES",
        "SeverityEnum": "incidents.models.Severity",
        "AlertStatusEnum": "alerts.models.AlertStatus",
    },
}

# django-q2 defaults are unsafe for us (DESIGN §8): name the broker, bound the
# attempts, acknowledge failures, never replay missed slots, and keep `retry`
# above `timeout` so a slow task is not handed to a second worker.
Q_WORKERS = env.env_int("PORTAL_Q_WORKERS", 2, minimum=1, maximum=64)
Q_CLUSTER = {
    "name": "portal",
    "workers": Q_WORKERS,
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "queue_limit": Q_WORKERS * 4,
    "recycle": 200,
    "max_rss": 300_000,
    "poll": 1,
    "label": _("Background tasks"),
    "time_zone": TIME_ZONE,
    # Long jobs (backups, restores, rehearsals) go to their own cluster so a
    # one-hour backup never holds up a probe tick.
    "ALT_CLUSTERS": {
        "long": {"workers": 1, "timeout": 6 * 3600, "retry": 6 * 3600 + 600, "max_attempts": 1},
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
LONG_QUEUE = "long"

# Off-site backups (backups.restic): the restic binary, and an ssh_config file for SFTP repositories
# (identity, port, known_hosts); unset, ssh reads the worker user's ~/.ssh/config.
RESTIC_BINARY = env.env_str("PORTAL_RESTIC_BINARY", "restic")
RESTIC_SSH_CONFIG = (env.env_paths("PORTAL_RESTIC_SSH_CONFIG", []) or [None])[0]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Heartbeat ping URLs and token= parameters are logged masked (portal.logs).
    "filters": {"mask_secrets": {"()": "portal.logs.MaskSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["mask_secrets"],
        }
    },
    # Quiet by default: django-q2 logs ~20 INFO lines a minute. PORTAL_LOG_LEVEL=INFO shows them.
    "root": {"handlers": ["console"], "level": env.env_log_level("PORTAL_LOG_LEVEL", "WARNING")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes logs a start-up banner at INFO in every process; its lock-outs are WARNING.
        "axes": {"level": "WARNING"},
        # Django's default config gives runserver's request log a handler of its own, unmasked.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
