"""Atelier settings, read from the environment with safe defaults that fail loudly on bad values."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from webapp import hosts
from webapp.env import (
    envbool,
    envfloat,
    envint,
    envlist,
    envnetworks,
    envorigins,
    envrate,
    media_origins,
    s3_options,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


DEBUG = envbool("DEBUG", False)
# The admin account `ensure_admin` creates on first run.
ADMIN_USERNAME = os.environ.get("ADMIN_USERNAME", "admin")
PORT = envint("PORT", 8000)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",
    "django_htmx",
    # For its static files: the API docs page loads Swagger UI from here, not a CDN.
    "ninja",
    "gallery",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webapp.static.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "webapp.urls"
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "webapp.wsgi.application"

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
                "gallery.context.workspace",
            ],
        },
    },
]

# SQLite under var/ unless DATABASE_URL says otherwise.
# Kept connections are checked before their first use in each request or task, so a database
# restart costs a reconnect, not a failed task. The ASGI server keeps none per thread: it
# borrows from a pool of DB_POOL_SIZE connections per process instead (webapp/asgi.py).
DB_POOL_SIZE = envint("DB_POOL_SIZE", 0)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'atelier.sqlite3'}",
        conn_max_age=0 if DB_POOL_SIZE else envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=not DB_POOL_SIZE,
    )
}
if DB_POOL_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg's pool checks a connection when it takes it back; Django returns it after each
    # request (and after each API wait's look), so a wait holds none in between. A request
    # waits at most 10 s for one (not the pool's 30): with the database down, /readyz says 503
    # before a load balancer's probe gives up, and a page fails rather than hangs.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 2, "max_size": DB_POOL_SIZE, "timeout": 10}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at once: wait for the lock instead of failing.
    # Connections are kept (conn_max_age above; in the worker, see CELERY_DB_REUSE_MAX): closing
    # one checkpoints the WAL, ~2 ms of every Celery task when each closed its own (bench/README).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a worker in another process sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Several hosts share nothing but the database, Redis and the object store (README, "Growing past
# one machine"): a production database that is not SQLite means the keys every process must agree
# on come from the environment, never from a file one host wrote (webapp/hosts.py).
MULTI_HOST = not DEBUG and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
if MULTI_HOST:
    hosts.require_shared_keys(os.environ)
SECRET_KEY = secret_key(VAR_DIR)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password logins, and single sign-on (gallery/accounts/sso.py), which does nothing while
# OIDC_ISSUER is unset.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "gallery.accounts.sso.Backend",
]
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip()
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = " ".join(os.environ.get("OIDC_SCOPES", "openid email profile").split())
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups").strip()
# Password logins only for superusers (at /login/ and /admin/login/); everyone else uses SSO.
OIDC_ONLY = envbool("OIDC_ONLY", False)
OIDC_TIMEOUT = envfloat("OIDC_TIMEOUT", 10.0)
if OIDC_ISSUER:
    _issuer = urlsplit(OIDC_ISSUER)
    if _issuer.scheme not in ("http", "https") or not _issuer.hostname or _issuer.query:
        raise ImproperlyConfigured(f"OIDC_ISSUER must be an http(s) URL, got {OIDC_ISSUER!r}")
    if not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
        raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET")
    if "openid" not in OIDC_SCOPES.split():
        raise ImproperlyConfigured(f"OIDC_SCOPES must include openid, got {OIDC_SCOPES!r}")
elif OIDC_ONLY:
    raise ImproperlyConfigured("OIDC_ONLY=1 turns password logins off: set OIDC_ISSUER too")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "gallery:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from here after collectstatic
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Behind nginx: answer media requests with X-Accel-Redirect to this internal location
# (e.g. "/protected-media/", mapped to MEDIA_ROOT with `internal;`), after the access check.
MEDIA_ACCEL_REDIRECT = os.environ.get("MEDIA_ACCEL_REDIRECT", "")
# Media goes to an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set (webapp/storage.py),
# and to MEDIA_ROOT otherwise. The bucket stays private: the file views check access, then
# redirect to a link signed for MEDIA_LINK_SECONDS, or stream the file when MEDIA_STREAM is on
# (for a store the browser cannot reach, as docker-compose's MinIO).
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
MEDIA_LINK_SECONDS = envint("MEDIA_LINK_SECONDS", 300)
if not 1 <= MEDIA_LINK_SECONDS <= 300:
    raise ImproperlyConfigured(f"MEDIA_LINK_SECONDS must be 1 to 300, got {MEDIA_LINK_SECONDS}")
MEDIA_STREAM = envbool("MEDIA_STREAM", False)


STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": s3_options(os.environ, MEDIA_LINK_SECONDS),
        }
        if AWS_STORAGE_BUCKET_NAME
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Content Security Policy: no inline scripts or styles anywhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # Images may also come from the bucket, by the signed links the file views redirect to.
    "img-src": [CSP.SELF, "data:", *media_origins(STORAGES["default"], MEDIA_STREAM)],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if envbool("SECURE_COOKIES", not DEBUG and os.environ.get("HTTPS", "") == "1"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The worker reaches the built-in sandbox provider inside the private network, in plain HTTP;
    # load balancers and Prometheus ask each web process directly, not through the TLS proxy.
    SECURE_REDIRECT_EXEMPT = [r"^sandbox/", r"^healthz$", r"^readyz$", r"^metrics$"]

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/.
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = Path(os.environ.get("BROKER_DIR", VAR_DIR / "broker"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # kombu's filesystem transport, writing messages atomically (webapp/broker.py).
    CELERY_BROKER_URL = "atomicfs://"
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcasts (remote control) also go under var/, not the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup would close the database connections around every task; with this it
# does so only every this many tasks per process, and webapp/celery.py closes old or broken
# ones (CONN_MAX_AGE, errors) around each task as Django does around a request.
CELERY_DB_REUSE_MAX = 10_000
CELERY_TASK_DEFAULT_QUEUE = "provider"
CELERY_TASK_ROUTES = {
    "jobs.tasks.submit": {"queue": "provider"},
    "jobs.tasks.poll": {"queue": "provider"},
    "jobs.tasks.fetch": {"queue": "images"},
    "jobs.tasks.sweep": {"queue": "provider"},
    "jobs.tasks.rollup_usage": {"queue": "images"},
    "jobs.tasks.purge_uploads": {"queue": "images"},
    # A slow receiver holds up only other deliveries, never a generation.
    "jobs.tasks.deliver_webhook": {"queue": "webhooks"},
    "jobs.tasks.sweep_webhooks": {"queue": "webhooks"},
}
# How often the sweeper looks for work left behind; with CLAIM_LEASE, how soon the work of a
# worker that died is taken over (jobs/leases.py).
SWEEP_INTERVAL = envfloat("SWEEP_INTERVAL", 10.0)
if SWEEP_INTERVAL <= 0:
    raise ImproperlyConfigured(
        f"SWEEP_INTERVAL must be more than 0 seconds, got {SWEEP_INTERVAL:g}"
    )
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "jobs.tasks.sweep", "schedule": SWEEP_INTERVAL},
    # The usage dashboard's daily roll-ups: yesterday and the day before, rebuilt hourly.
    "rollup-usage": {"task": "jobs.tasks.rollup_usage", "schedule": 3600.0},
    "purge-uploads": {"task": "jobs.tasks.purge_uploads", "schedule": 3600.0},
    # Webhook retries whose wait is over, and deliveries whose worker died.
    "webhooks-sweep": {"task": "jobs.tasks.sweep_webhooks", "schedule": 30.0},
}
# Per host: its own name under VAR_DIR unless BEAT_SCHEDULE_FILE says where (webapp/hosts.py).
CELERY_BEAT_SCHEDULE_FILENAME = hosts.beat_schedule_file(os.environ, VAR_DIR)

# Providers. Keys never leave the server: not in HTML, logs or task arguments.
AIMLAPI_API_KEY = os.environ.get("AIMLAPI_API_KEY", "")
AIMLAPI_BASE_URL = os.environ.get("AIMLAPI_BASE_URL", "https://api.aimlapi.com").rstrip("/")
RELAY_API_KEY = os.environ.get("RELAY_API_KEY", "")
RELAY_BASE_URL = os.environ.get("RELAY_BASE_URL", "https://relay.opengpu.network").rstrip("/")
A1111_BASE_URL = os.environ.get("A1111_BASE_URL", "").rstrip("/")
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
PROVIDER_DOWNLOAD_HOSTS = envorigins("PROVIDER_DOWNLOAD_HOSTS")

# Webhooks (recorded by gallery/webhooks, sent by jobs/webhooks.py): receivers on private
# networks only where listed, as downloads.
WEBHOOK_ALLOWED_HOSTS = envorigins("WEBHOOK_ALLOWED_HOSTS")
WEBHOOK_TIMEOUT = envfloat("WEBHOOK_TIMEOUT", 10.0)
# Seconds to wait before each retry (with 10 % jitter): 7 attempts over about 1 h 45 min.
try:
    WEBHOOK_RETRY_DELAYS = [
        float(d) for d in envlist("WEBHOOK_RETRY_DELAYS", "5,30,120,600,1800,3600")
    ]
except ValueError:
    raise ImproperlyConfigured(
        "WEBHOOK_RETRY_DELAYS must be seconds, comma-separated (e.g. 5,30,120)"
    ) from None
# How long a worker's claim on a delivery holds; above WEBHOOK_TIMEOUT, so no two send at once.
WEBHOOK_CLAIM_LEASE = envint("WEBHOOK_CLAIM_LEASE", 60)
if WEBHOOK_CLAIM_LEASE <= WEBHOOK_TIMEOUT:
    raise ImproperlyConfigured("WEBHOOK_CLAIM_LEASE must be longer than WEBHOOK_TIMEOUT")
# After a rotation the old secret signs too for this long (receivers move to the new one).
WEBHOOK_SECRET_OVERLAP = envint("WEBHOOK_SECRET_OVERLAP", 24 * 3600)
# How long POST /v1/images/* waits for its generation before answering 504 with its id.
API_WAIT_SECONDS = envint("API_WAIT_SECONDS", 300)
if API_WAIT_SECONDS < 1:
    raise ImproperlyConfigured("API_WAIT_SECONDS must be at least 1")

# The built-in offline provider, served by this app under /sandbox/ and always reached over HTTP.
# Off unless asked for (`make run` and the test suite turn it on); when on, it answers only the
# worker, which sends a key derived from SECRET_KEY (jobs/sandbox/auth.py).
SANDBOX_ENABLED = envbool("SANDBOX_ENABLED", False)
# Its `[sandbox:...]` failure markers and SANDBOX_FAILURE act only when this is on (tests).
SANDBOX_FAULTS = envbool("SANDBOX_FAULTS", False)
SANDBOX_FAILURE = os.environ.get("SANDBOX_FAILURE", "")
SANDBOX_BASE_URL = os.environ.get("SANDBOX_BASE_URL", f"http://127.0.0.1:{PORT}/sandbox").rstrip(
    "/"
)
SANDBOX_LATENCY = envfloat("SANDBOX_LATENCY", 1.5)

# Pipeline limits.
PROVIDER_TIMEOUT = envfloat("PROVIDER_TIMEOUT", 120.0)
GENERATION_DEADLINE = envint("GENERATION_DEADLINE", 300)
# What one provider credit costs, to turn a reported `credits_used` into dollars. The AI/ML API's
# documented examples that give both figures all show 2,000,000 credits per US dollar.
# The sandbox speaks the AI/ML API's protocol and reports credits in the same unit.
USD_PER_CREDIT = {
    "aimlapi": envfloat("AIMLAPI_USD_PER_CREDIT", 0.0000005),
    "sandbox": envfloat("AIMLAPI_USD_PER_CREDIT", 0.0000005),
}
POLL_INTERVAL = envfloat("POLL_INTERVAL", 1.0)
# Live updates (webapp/live.py): how often an open gallery tab asks whether its team changed
# (a cache read, no database query), and how long the signed token it asks with holds before
# the tab renews it through the access-checked view.
LIVE_POLL_INTERVAL = envfloat("LIVE_POLL_INTERVAL", 1.0)
LIVE_TOKEN_MAX_AGE = envint("LIVE_TOKEN_MAX_AGE", 15 * 60)
DOWNLOAD_MAX_BYTES = envint("DOWNLOAD_MAX_BYTES", 50 * 1024 * 1024)
UPLOAD_MAX_BYTES = envint("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
# Uploaded pictures one person may keep at once; those no generation needs go after a day.
UPLOAD_QUOTA_BYTES = envint("UPLOAD_QUOTA_BYTES", 1024 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Files in one request: a bit above the most image inputs one model takes (17, the gpt-image
# edits' 16 pictures and a mask); a test keeps the catalog under it.
DATA_UPLOAD_MAX_NUMBER_FILES = 20
# A whole multipart request, refused unread when it says it is longer: every file at its limit,
# and the text fields.
UPLOAD_REQUEST_MAX_BYTES = envint(
    "UPLOAD_REQUEST_MAX_BYTES",
    DATA_UPLOAD_MAX_NUMBER_FILES * UPLOAD_MAX_BYTES + DATA_UPLOAD_MAX_MEMORY_SIZE,
)
# The first counts each file as it streams in and drops what is over UPLOAD_MAX_BYTES.
FILE_UPLOAD_HANDLERS = [
    "gallery.images.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# When set, URL-only models get short-lived signed links to uploaded images instead of data URLs.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")
DOWNLOAD_DEADLINE = envfloat("DOWNLOAD_DEADLINE", 60.0)
THUMBNAIL_SIZES = (768, 256)
# Attempts to submit before giving up on a provider that keeps failing transiently, and the
# first wait between them (doubled each time, with jitter; tests make it short).
SUBMIT_ATTEMPTS = envint("SUBMIT_ATTEMPTS", 5)
RETRY_INITIAL_DELAY = envfloat("RETRY_INITIAL_DELAY", 1.0)
# How long a worker's hold on a generation lasts without news from it; renewed every third of
# it while the worker is at work, so the sweeper hands a dead worker's work to another within
# CLAIM_LEASE + SWEEP_INTERVAL (jobs/leases.py).
CLAIM_LEASE = envint("CLAIM_LEASE", 30)
if CLAIM_LEASE < 1:
    raise ImproperlyConfigured(f"CLAIM_LEASE must be 1 second or more, got {CLAIM_LEASE}")
# Countdowns stay far below the broker's visibility timeout; longer waits live in the row.
MAX_COUNTDOWN = 60
# Results up to this many bytes (base64) or pixels (URLs with a size) are stored by the task
# that received them; bigger ones, or URLs of unknown size, go to the images queue.
INLINE_FETCH_MAX = envint("INLINE_FETCH_MAX", 1024 * 1024)
# Submissions in flight at once per provider.
PROVIDER_CONCURRENCY = envint("PROVIDER_CONCURRENCY", 8)

# Email: printed to the console unless EMAIL_HOST is set; mentions are mailed when it is.
_email_host = os.environ.get("EMAIL_HOST", "")
MAILERS = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": envint("EMAIL_PORT", 587),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": envbool("EMAIL_USE_TLS", True),
            },
        }
        if _email_host
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "atelier@localhost")
EMAIL_NOTIFICATIONS = bool(_email_host)

# Shared between web processes: Redis when there is one, else files under var/.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that stops answering fails a request in seconds, not never.
            "OPTIONS": {"socket_connect_timeout": 5, "socket_timeout": 5},
        }
        if REDIS_URL
        else {
            # Django's file cache, culling expired entries first and counting under a lock
            # (webapp/cache.py): rate counters must survive a flood of fresh keys.
            "BACKEND": "webapp.cache.CounterFileCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    )
}

# Rate limits: (requests, seconds), each from NAME_COUNT and NAME_SECONDS.
GENERATE_RATE = envrate("GENERATE_RATE", 30, 60)
# Per person, (times, seconds), for what costs no provider call but takes server work. Far above
# what a person does by hand; GENERATE_RATE is the one to tune (a retry, and each model of a
# try, count against it).
ACTION_RATES = {
    "cancel": (60, 60),
    "bulk": (30, 60),  # delete, move, favorite, compare on a selection
    "export": (10, 60),  # zip exports, up to 500 originals each
    # Invitations may mail any address: per person, and per team whoever of its owners sends.
    "invite": (20, 3600),
    "team_invite": (50, 86400),
    "team": (10, 3600),  # new teams
    "gallery": (30, 3600),  # new galleries
    "comment": (30, 300),
    "api_token": (10, 3600),  # new API tokens
    "share": (30, 3600),  # new share links
    # Mails telling teammates an author mentioned them; past it, they are told on the site only.
    "mention_mail": (30, 3600),
}
# Failed logins per (username, address), and per address alone (an office shares one).
LOGIN_RATE = envrate("LOGIN_RATE", 10, 300)
LOGIN_ADDRESS_RATE = envrate("LOGIN_ADDRESS_RATE", 50, 300)
SIGNUP_RATE = envrate("SIGNUP_RATE", 10, 3600)
# Single sign-on logins started, per address (an office behind one address logs in at 9 am).
SSO_RATE = envrate("SSO_RATE", 120, 300)
# Reset mails asked for, per address and per email address.
PASSWORD_RESET_RATE = envrate("PASSWORD_RESET_RATE", 5, 3600)
# How many proxies in front of Atelier append to X-Forwarded-For (gallery.accounts.ratelimit).
PROXY_HOPS = envint("PROXY_HOPS", 0)
if PROXY_HOPS < 0:
    raise ImproperlyConfigured(f"PROXY_HOPS must be 0 or more, got {PROXY_HOPS}")

# Prometheus metrics at /metrics: for `Authorization: Bearer METRICS_TOKEN`, or for clients in
# METRICS_ALLOWED (as PROXY_HOPS tells them). Neither set: /metrics is off (404).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED = envnetworks("METRICS_ALLOWED")
INVITATION_DAYS = envint("INVITATION_DAYS", 7)
# Emailed invitations one team may have waiting for an answer at once.
OPEN_EMAILED_INVITATIONS = envint("OPEN_EMAILED_INVITATIONS", 50)

# `text` (the message alone) or `json` (one object per line, webapp/logs.py); both carry the
# generation's uuid on the pipeline's lines, JSON as its own key.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"generation": {"()": "webapp.logs.GenerationFilter"}},
    "formatters": {"json": {"()": "webapp.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["generation"],
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
