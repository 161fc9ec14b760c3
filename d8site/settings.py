"""Settings for d8 LLM Fallback. Every environment variable the service reads is read here."""

import os
import socket
from datetime import timedelta
from pathlib import Path

from d8site import settings_stores as stores
from d8site.drain import graceful_timeout_s
from d8site.env import (  # noqa: F401 - DEV_SECRET_KEY and secret_key_file: for the tests
    DEV_SECRET_KEY,
    data_paths_guard,
    env_bool,
    env_file_load,
    env_float,
    env_int,
    env_list,
    env_str,
    secret_key,
    secret_key_file,
    simulator_from_serve,
)
from d8site.serving import Limits
from d8site.settings_api import (  # noqa: F401 - settings Django reads
    API_PATH_PREFIXES,
    CSRF_FAILURE_VIEW,
    REST_FRAMEWORK,
    SPECTACULAR_SETTINGS,
)
from d8site.settings_apps import INSTALLED_APPS, MIDDLEWARE  # noqa: F401 - read by Django
from llmfallback.providers.config import parse_provider_configs, parse_route_configs
from llmfallback.simulated_env import simulated_env_read

BASE_DIR = Path(__file__).resolve().parent.parent
env_file_load(BASE_DIR)


DEBUG = env_bool("DJANGO_DEBUG", False)
# The files the service keeps: the key serve makes, the embedded database, and escalation files
# with fallback_state.json. The key file's path is relative to the project, like every process
# serve starts (whatever directory it was run from).
SECRET_KEY_FILE = BASE_DIR / (env_str("DJANGO_SECRET_KEY_FILE") or "data/secret_key")
SQLITE_PATH = Path(env_str("SQLITE_PATH") or BASE_DIR / "data" / "db.sqlite3")
LLM_DATA_DIR = Path(env_str("LLM_DATA_DIR") or BASE_DIR / "data" / "llm_fallback")
# The test suite (tests/isolation.py) never writes into the developer's own data/.
data_paths_guard(BASE_DIR / "data", [SECRET_KEY_FILE, SQLITE_PATH, LLM_DATA_DIR])
SECRET_KEY = secret_key(debug=DEBUG, key_file=SECRET_KEY_FILE)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# HTTPS. The defaults serve plain HTTP, as `manage.py serve` does on 127.0.0.1. In production the
# service usually sits behind a proxy that terminates TLS: DJANGO_BEHIND_TLS_PROXY trusts the
# proxy's X-Forwarded-Proto (only safe when the proxy sets it and drops a client's own) and makes
# the redirect to HTTPS and secure-only cookies the default; `manage.py check --deploy` is then
# clean but for the HSTS choices that belong to the domain's owner (README, "Production").
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
BEHIND_TLS_PROXY = env_bool("DJANGO_BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", BEHIND_TLS_PROXY)
# Browsers remember HSTS for this long, whatever the site says later: off unless set.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)

ROOT_URLCONF = "d8site.urls"
WSGI_APPLICATION = "d8site.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# SQLite by default, tuned so several worker processes can write at once; PostgreSQL with a pool
# per worker when DATABASE_URL is set (d8site/settings_stores.py says why each is set so).
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 8)  # README: "Capacity"
    DATABASES = {"default": stores.postgres_database(DATABASE_URL, pool_size=DATABASE_POOL_SIZE)}
else:
    DATABASES = {"default": stores.sqlite_database(SQLITE_PATH)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
# A Redis that accepts connections but never answers must cost a request a short wait, never
# the TCP timeout: every Redis client on the chat path has these socket timeouts, and
# llmfallback/ops/shared_cache.py skips a failed Redis for REDIS_RETRY_S per worker.
REDIS_TIMEOUT_S = env_float("REDIS_TIMEOUT_S", 0.25)
REDIS_RETRY_S = env_float("REDIS_RETRY_S", 1.0)
CACHES = {"default": stores.cache(REDIS_URL, timeout_s=REDIS_TIMEOUT_S)}
Q_CLUSTER = stores.q_cluster(
    REDIS_URL, workers=env_int("Q_WORKERS", 2), sync=env_bool("Q_SYNC", False)
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Staff logins, the admin's and the dashboard's alike, against password guessing: django-axes
# locks a username, and separately a client address, after DJANGO_LOGIN_FAILURE_LIMIT failed
# logins, for DJANGO_LOGIN_LOCKOUT_S (0: until an operator unlocks it). Each failure is logged
# and kept for the admin (Axes > Access attempts / failures). https://django-axes.readthedocs.io
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before checking it
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = (
    timedelta(seconds=_s) if (_s := env_int("DJANGO_LOGIN_LOCKOUT_S", 900)) else None
)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one alone is enough to lock
AXES_CLIENT_IP_CALLABLE = "d8site.logins.client_ip"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # one row per failed login, shown in the admin
AXES_SENSITIVE_PARAMETERS: list[str] = []  # log who and from where (never the password)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/dashboard/llm"
LOGOUT_REDIRECT_URL = "login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- The gateway -------------------------------------------------------------
PORT = env_int("PORT", 7001)
# How long a stopping gunicorn worker may take to finish its requests (d8site/drain.py reads it,
# for gunicorn.conf.py too); `serve` waits that long for gunicorn before killing it.
WEB_GRACEFUL_TIMEOUT_S = graceful_timeout_s()
# The web server's limits (WEB_THREADS, WEB_QUEUE, WEB_QUEUE_WAIT_S, WEB_READ_TIMEOUT_S,
# WEB_SLOW_PER_ADDRESS, WEB_ACCEPT_SOFT), read as gunicorn.conf.py and its worker read them.
WEB_LIMITS = Limits.from_env(os.environ)
WEB_THREADS = WEB_LIMITS.threads  # also sizes each worker's pool of idle upstream connections
# Hosts sharing the database: gunicorn warns at start past max_connections (d8site/db_budget.py).
WEB_HOSTS = env_int("WEB_HOSTS", 1)
# This host's name where a host is recorded (the escalation file's copy); several instances on
# one machine each need a name of their own.
LLM_HOST_NAME = env_str("LLM_HOST_NAME") or socket.gethostname()
LLM_PROVIDERS = parse_provider_configs(os.environ)
# Set by `manage.py serve` when it points providers at the built-in simulator (shown on the dashboard).
LLM_SIMULATED_PROVIDERS = env_list("LLM_SIMULATED_PROVIDERS")
# With no provider configured, the commands an operator runs beside a `serve` that simulates
# them see its providers; a gunicorn or a qcluster never does (d8site/env.py, simulator_from_serve).
if (
    all(c.missing for c in LLM_PROVIDERS)
    and simulator_from_serve(env_str("LLM_SIMULATOR_FROM_SERVE"))
    and (_served := simulated_env_read(LLM_DATA_DIR))
):
    LLM_PROVIDERS = parse_provider_configs({**os.environ, **_served})
    LLM_SIMULATED_PROVIDERS = _served.get("LLM_SIMULATED_PROVIDERS", "").split(",")
# Named routes (a `model` such as "fast" or "long" picks one) and the one "auto" stands for.
LLM_ROUTES, LLM_DEFAULT_ROUTE = parse_route_configs(os.environ, LLM_PROVIDERS)
# OpenTelemetry traces (llmfallback/ops/tracing.py): off unless an OTLP endpoint is set. The
# exporter reads the other OTEL_EXPORTER_OTLP_* variables (headers, protocol...) itself.
OTEL_EXPORTER_OTLP_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_ENDPOINT")
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME") or "d8-llm-fallback"
# Prompts and answers go into spans only when operators opt in (GenAI conventions' variable).
OTEL_CAPTURE_CONTENT = env_bool("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", False)
# The largest request body the API reads (a 413 beyond it), and how deeply its JSON may nest
# (a 400 beyond it). Django's own limit for form bodies is kept the same.
LLM_MAX_BODY_BYTES = env_int("LLM_MAX_BODY_BYTES", 4 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = LLM_MAX_BODY_BYTES
LLM_MAX_JSON_DEPTH = env_int("LLM_MAX_JSON_DEPTH", 32)
# /metrics (llmfallback/ops/metrics.py): a bearer token and/or client CIDRs; neither = a 404.
LLM_METRICS_TOKEN = env_str("LLM_METRICS_TOKEN")
LLM_METRICS_ALLOW = env_list("LLM_METRICS_ALLOW")
# One request, every provider and retry included; one call to one provider, every phase (DNS,
# connect, TLS, headers, body) included; and the longest a call may go without a content byte.
LLM_DEADLINE_S = env_float("LLM_DEADLINE_S", 60.0)
LLM_ATTEMPT_TIMEOUT_S = env_float("LLM_ATTEMPT_TIMEOUT_S", 20.0)
LLM_CONNECT_TIMEOUT_S = env_float("LLM_CONNECT_TIMEOUT_S", 5.0)
LLM_READ_TIMEOUT_S = env_float("LLM_READ_TIMEOUT_S", 15.0)
LLM_MAX_RETRIES_PER_PROVIDER = env_int("LLM_MAX_RETRIES_PER_PROVIDER", 2)
# While other providers remain, one attempt may use at most this share of the time left (never
# less than the floor): a provider trickling keep-alives cannot take the whole deadline.
LLM_ATTEMPT_SHARE = env_float("LLM_ATTEMPT_SHARE", 0.5)
LLM_ATTEMPT_FLOOR_S = env_float("LLM_ATTEMPT_FLOOR_S", 2.0)
# Streaming: one attempt's wait for its first token on an ordinary prompt (it falls back after);
# the limit grows with the prompt (LLM_FIRST_TOKEN_PER_1K_TOKENS_S per thousand estimated
# tokens) and with the provider's recent p95 time to first token times LLM_FIRST_TOKEN_P95_FACTOR.
LLM_FIRST_TOKEN_TIMEOUT_S = env_float("LLM_FIRST_TOKEN_TIMEOUT_S", 10.0)
LLM_FIRST_TOKEN_PER_1K_TOKENS_S = env_float("LLM_FIRST_TOKEN_PER_1K_TOKENS_S", 0.5)
LLM_FIRST_TOKEN_P95_FACTOR = env_float("LLM_FIRST_TOKEN_P95_FACTOR", 3.0)
# Once tokens flow, the longest gap without content before the stream counts as broken and is
# continued on the next provider (keep-alive comments and blank lines are not content).
LLM_STREAM_STALL_S = env_float("LLM_STREAM_STALL_S", 10.0)
LLM_STREAM_MAX_S = env_float("LLM_STREAM_MAX_S", 300.0)  # a whole stream, from its request
# First wait before retrying a transient failure (doubles, jittered); longer waits fall back
# instead. A rate limit naming a wait up to the cap is waited out once on the first provider.
LLM_RETRY_BACKOFF_S = env_float("LLM_RETRY_BACKOFF_S", 0.2)
LLM_RETRY_WAIT_CAP_S = env_float("LLM_RETRY_WAIT_CAP_S", 3.0)
# A content-filter refusal is returned to the caller as a 400 (code content_filter); true routes
# around it to the next provider instead.
LLM_CONTENT_FILTER_FALLBACK = env_bool("LLM_CONTENT_FILTER_FALLBACK", False)
# A cooling provider is probed by one live request (under a lease every worker shares) at least
# this often, however long its cooldown has grown: a recovered provider is back within it.
LLM_PROBE_INTERVAL_S = env_float("LLM_PROBE_INTERVAL_S", 15.0)
# Seconds a worker may hold success counts before writing them in one transaction (0: at once).
# Failures and cooldowns are always written at once. The gunicorn config sets 0.25.
LLM_SUCCESS_FLUSH_S = env_float("LLM_SUCCESS_FLUSH_S", 0.0)
# On PostgreSQL, workers keep a copy of provider health that NOTIFY keeps fresh, instead of
# reading it before every attempt (llmfallback/health/watch.py). Off: read per attempt.
LLM_HEALTH_NOTIFY = env_bool("LLM_HEALTH_NOTIFY", True)
LLM_ERROR_HISTORY_KEEP_DAYS = env_int("LLM_ERROR_HISTORY_KEEP_DAYS", 30)
# The opt-in response cache (llmfallback/ops/cache.py): how long an answer is served again
# (0 turns the cache off), and whether temperature-0 requests use it without being asked.
LLM_CACHE_TTL_S = env_float("LLM_CACHE_TTL_S", 600.0)
LLM_CACHE_DETERMINISTIC = env_bool("LLM_CACHE_DETERMINISTIC", False)
LLM_CACHE_ALIAS = env_str("LLM_CACHE_ALIAS", "default")
# Entries are each agent key's own; true shares them across keys (any key then reads the
# answers another key was given): only where every key belongs to one trust domain.
LLM_CACHE_SHARED = env_bool("LLM_CACHE_SHARED", False)
LLM_CONGRESS_THRESHOLD_FAILURES = env_int("LLM_CONGRESS_THRESHOLD_FAILURES", 10)
LLM_CONGRESS_WINDOW_S = env_int("LLM_CONGRESS_WINDOW_S", 300)
LLM_CONGRESS_THRESHOLD_REPEATED_ERROR = env_int("LLM_CONGRESS_THRESHOLD_REPEATED_ERROR", 5)
LLM_ENABLE_CONGRESS_ESCALATION = env_bool("LLM_ENABLE_CONGRESS_ESCALATION", True)
# Distinct non-abstaining voters a vote needs to approve a remedy (at least 2): no single agent
# key can get a remedy carried out alone; operators and staff may approve one directly.
CONGRESS_REMEDY_MIN_VOTERS = env_int("CONGRESS_REMEDY_MIN_VOTERS", 3)
# An incident closes only after its providers have answered this long with no failure between.
LLM_INCIDENT_SETTLE_S = env_float("LLM_INCIDENT_SETTLE_S", 60.0)
# Alerts (llmfallback/ops/alerts.py): a channel is on when its variables are set.
LLM_ALERT_TELEGRAM_BOT_TOKEN = env_str("LLM_ALERT_TELEGRAM_BOT_TOKEN")
LLM_ALERT_TELEGRAM_CHAT_ID = env_str("LLM_ALERT_TELEGRAM_CHAT_ID")
LLM_ALERT_TELEGRAM_API_BASE = env_str("LLM_ALERT_TELEGRAM_API_BASE", "https://api.telegram.org")
LLM_ALERT_SLACK_WEBHOOK_URL = env_str("LLM_ALERT_SLACK_WEBHOOK_URL")
LLM_ALERT_WEBHOOK_URL = env_str("LLM_ALERT_WEBHOOK_URL")
LLM_ALERT_WEBHOOK_SECRET = env_str("LLM_ALERT_WEBHOOK_SECRET")  # the webhook is never unsigned
# Attempts per delivery, the first backoff (doubling) and each attempt's timeout: 4 attempts
# of 10 s plus 2+4+8 s of backoff stay inside Q_CLUSTER's 120 s task timeout.
LLM_ALERT_ATTEMPTS = env_int("LLM_ALERT_ATTEMPTS", 4)
LLM_ALERT_BACKOFF_S = env_float("LLM_ALERT_BACKOFF_S", 2.0)
LLM_ALERT_TIMEOUT_S = env_float("LLM_ALERT_TIMEOUT_S", 10.0)
# The seed's agent interface may call a remote gateway instead of the in-process manager.
D8_GATEWAY_URL = env_str("D8_GATEWAY_URL")
D8_AGENT_KEY = env_str("D8_AGENT_KEY")
