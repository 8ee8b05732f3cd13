"""One settings module, read from the environment with safe development defaults.

DATABASE_URL  default: a SQLite file in the project folder (db.sqlite3)
SECRET_KEY    required, long and random, when DEBUG is off
DEBUG         "1"/"true"/"yes" to turn on; default on for local use
ALLOWED_HOSTS comma-separated; default localhost names when DEBUG is on
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off.")


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from exc


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-cmo-kb-development-only-key"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    if SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY is insecure: use at least 50 random characters, not a 'django-insecure' key."
        )
elif not SECRET_KEY:
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "projects",
    "mechanisms",
    "evidence",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mechanisms.publish_lock.ActingUserMiddleware",  # who acts, for the publish lock
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "cmo_kb.urls"

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

WSGI_APPLICATION = "cmo_kb.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Kept open between requests: with 0 (Django's default) every request that reads the database
        # opens a connection, and a new PostgreSQL backend starts with empty catalog caches, about
        # 4 ms on each API list before its first row (the benchmark's "GET /api/ root", which reads
        # nothing, never paid it). The development server closes its connections after each request.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # A kept-open connection is pinged before a request reuses it, so one the database dropped
        # (restart, pg_terminate_backend) is replaced instead of failing that request.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
    )
}
# Tests on PostgreSQL use their own database next to the one DATABASE_URL names.
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers queue instead of failing with "database is locked" (cmo_kb/concurrency.py):
    # a transaction takes SQLite's write lock when it begins (BEGIN IMMEDIATE), so a read inside it
    # is never stale, and a writer waits up to DB_SQLITE_TIMEOUT seconds for the lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": env_int("DB_SQLITE_TIMEOUT", 20)}
    )

elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql") and not env_bool("DB_POSTGRES_JIT", False):
    # PostgreSQL's JIT compiles any plan whose estimated cost passes jit_above_cost. The matrix's
    # crosswalk axis over a dozen filters is estimated at millions of rows (joined subqueries'
    # estimates multiply) while it reads none: 5 s compiling for a 2 ms query (make fuzz found it).
    # A web app's queries are short; their time is never in expression evaluation.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Where collectstatic writes (make serve runs it); served from there when DEBUG is off.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Serve straight from the finders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "admin:login"

# Uploaded originals of sources (evidence/documents.py). Never served at MEDIA_URL by the app: the
# originals of a private programme are downloaded through a view that checks who asks
# (evidence/admin_views.py source_file_view), so keep MEDIA_ROOT out of any public web root.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = os.environ.get("MEDIA_URL") or "/media/"
# The largest document a source may be read from, in bytes (20 MB: a long report as PDF); a larger
# file is refused before it is read.
SOURCE_UPLOAD_MAX_BYTES = env_int("SOURCE_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
if SOURCE_UPLOAD_MAX_BYTES < 1:
    raise ImproperlyConfigured(f"SOURCE_UPLOAD_MAX_BYTES={SOURCE_UPLOAD_MAX_BYTES} must be a positive number of bytes.")

# Where the workbench keeps an upload between its dry-run preview and its confirmation
# (evidence/staged_uploads.py); default: a folder of the server's temporary directory. Several servers
# behind one address need a folder they share.
UPLOAD_STAGING_DIR = os.environ.get("UPLOAD_STAGING_DIR") or None

# Where the seed corpus lives; load_ctg reads fixtures/ctg/ and fixtures/sources/.
CTG_FIXTURES_DIR = Path(os.environ.get("CTG_FIXTURES_DIR") or BASE_DIR / "fixtures")

def env_rate(name, default):
    """A DRF throttle rate such as '120/minute'; refuses anything DRF would misread."""
    import re

    raw = os.environ.get(name) or default
    if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", raw.strip()):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate; use e.g. 120/minute, 10/second, 5000/day.")
    return raw.strip()


# The REST API (cmo_kb/api.py, cmo_kb/api_urls.py). Token auth first, so an anonymous write gets a
# 401 with a WWW-Authenticate header rather than a 403. The API's own views set their permission,
# filter, pagination, renderer (JSON, CSV) and throttle classes from cmo_kb.api.KBAPIDefaults: DRF
# imports the DEFAULT_* classes below while rest_framework.views is loading, so naming cmo_kb.api
# there would be a circular import. The throttle rates are read on every request.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Anonymous clients by IP, signed-in clients (token or session) by account.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "120/minute"),
        "user": env_rate("API_THROTTLE_USER", "1200/minute"),
    },
    "EXCEPTION_HANDLER": "cmo_kb.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "cmo_kb.openapi.KBAutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CMO KB API",
    "DESCRIPTION": (BASE_DIR / "cmo_kb" / "api_description.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies leave out read-only fields, responses show them.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Tags start closed: with every operation listed at once (130-odd), Swagger UI 5 rendered the first
    # tag only. A reader opens the resource they want.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "docExpansion": "none", "filter": True},
    "REDOC_DIST": "SIDECAR",
    # Request bodies are documented as JSON only. The API also reads forms (the browsable API's HTML
    # forms, the token endpoint), by the same rules, but a form cannot say null, a number or an empty
    # list apart from text, so the schema's types do not describe it (make fuzz held us to them).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cmo_kb.openapi.forbid_nul_in_request_text",
    ],
    # Marks a schema served at /api/schema/ (it lists the slugs the filters accept; cmo_kb/openapi.py).
    "GET_MOCK_REQUEST": "cmo_kb.openapi.mock_request",
    "ENUM_NAME_OVERRIDES": {
        "ReviewStatusEnum": "cmo_kb.vocabulary.ReviewStatus",
        "EffectEnum": "mechanisms.models.Effect",
        "InfluenceEnum": "mechanisms.models.Influence",
        "ConfidenceEnum": "mechanisms.models.Confidence",
        "ExcerptKindEnum": "evidence.models.ExcerptKind",
        "StanceEnum": "evidence.models.Stance",
        "PartEnum": "evidence.models.Part",
        "ImportStatusEnum": "evidence.import_runs.ImportStatus",
        "ConcernsEnum": "mechanisms.confidence.Concerns",
        "AssessedConfidenceEnum": "mechanisms.confidence.AssessedConfidence",
        "AppraisalEnum": "evidence.models.Appraisal",
    },
}


# --- Doors: request checks, shared cache, login lockout (issue 9) ------------------------------
# Kept in one block so it merges apart from the deployment settings above.
from datetime import timedelta  # noqa: E402

# Malformed requests (NUL bytes, too many parameters) are a 400 naming the parameter before any
# view runs (cmo_kb/middleware.py); after the static files, which never read parameters.
MIDDLEWARE.insert(MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1, "cmo_kb.middleware.RequestChecksMiddleware")
# JSON bodies: too deep or holding a NUL character is a 400, not a 500 (cmo_kb/parsers.py).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "cmo_kb.parsers.JSONParser",
    "cmo_kb.parsers.FormParser",
    "cmo_kb.parsers.MultiPartParser",
]


def env_cache(name, default_table="cmo_kb_cache"):
    """CACHES['default'] from a URL, so throttle counts are shared by every worker process.

    unset or db://          the database cache (table made by migrate: cmo_kb/migrations/0001)
    db://<table>            the database cache in another table
    redis://host:6379/0     Redis (also rediss://); needs the `redis` package installed
    memcached://host:11211  Memcached (several hosts comma-separated); needs `pymemcache`
    locmem://               per process only: development, or one single worker
    """
    from urllib.parse import urlsplit

    raw = (os.environ.get(name) or "db://").strip()
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "db":
        table = (parts.netloc + parts.path).strip("/") or default_table
        return {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": table,
            # Throttle entries are one per client and scope: keep culling (and its lost counts) rare.
            "OPTIONS": {"MAX_ENTRIES": 50000},
        }
    if scheme in ("redis", "rediss"):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": raw}
    if scheme in ("memcached", "pymemcache"):
        hosts = [host.strip() for host in parts.netloc.split(",") if host.strip()]
        if not hosts:
            raise ImproperlyConfigured(f"{name}={raw!r} names no host; use e.g. memcached://127.0.0.1:11211.")
        return {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": hosts}
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": parts.netloc or "cmo-kb"}
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a cache URL; use db://, redis://host:6379/0, memcached://host:11211 or locmem://."
    )


CACHES = {"default": env_cache("CACHE_URL")}

# django-axes: an account is locked after LOGIN_FAILURE_LIMIT wrong passwords in a row, on the admin
# login and on POST /api/auth/token/, for LOGIN_COOLOFF_MINUTES (0: until an administrator runs
# `manage.py axes_reset_username <user>`). Failures are rows in the database (axes' database
# handler), so every worker process counts the same ones. By account, not by address: behind a
# proxy every client may share one address, and an attacker has many.
INSTALLED_APPS += ["axes", "cmo_kb"]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Last: it turns the lockout flag set during authentication into the answer (cmo_kb/lockout.py).
MIDDLEWARE.append("axes.middleware.AxesMiddleware")


def env_positive_int(name, default, minimum):
    value = env_int(name, default)
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is too small: use a whole number of {minimum} or more.")
    return value


AXES_FAILURE_LIMIT = env_positive_int("LOGIN_FAILURE_LIMIT", 5, 1)
_cooloff_minutes = env_positive_int("LOGIN_COOLOFF_MINUTES", 15, 0)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes else None
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for the address among the lockout parameters, against attackers rotating
# User-Agents or cookies; neither changes the account, so by-account locking holds against them,
# while adding the address would let one client behind a shared proxy lock everybody out.
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cmo_kb.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# --- Deployment: HTTPS, cookies, proxy (README "Running in production") -------------------------
# `manage.py check --deploy` reports nothing with the production environment the README documents.
# HSTS is opt-in: browsers remember it (and preload lists ship it), so it is switched on only for a
# domain that will stay on HTTPS.
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured(f"SECURE_HSTS_SECONDS={SECURE_HSTS_SECONDS} is negative; use 0 (off) or e.g. 31536000.")


def env_proxy_ssl_header(name):
    """A TLS-terminating proxy's header, e.g. 'X-Forwarded-Proto' -> ('HTTP_X_FORWARDED_PROTO', 'https').
    Set it only behind a proxy that always sets (or strips) that header: a client could send it too."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]+", raw):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a header name; use e.g. X-Forwarded-Proto.")
    meta = raw.upper().replace("-", "_")
    return (meta if meta.startswith("HTTP_") else "HTTP_" + meta, "https")


SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
# Origins (scheme://host) allowed to POST forms, e.g. https://kb.example.org, when it is not the Host.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Content-Security-Policy (django-csp 4) -------------------------------------------------------
# Everything comes from this origin. The few inline <script>/<style> blocks (Swagger UI and ReDoc,
# templates/api/) carry the per-request nonce (request.csp_nonce); a nonce is added to the header only
# on responses that used one. ReDoc's own styles are injected at run time, so /api/redoc/ alone adds
# 'unsafe-inline' for styles (cmo_kb/api_docs.py). img-src allows data: for the icons Swagger UI and
# the admin inline in their CSS.
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES  # noqa: E402


def _csp_hash(text):
    import base64
    import hashlib

    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


INSTALLED_APPS += ["csp"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # The one inline style attribute the admin shows: django-simple-history's history page.
        "style-src-attr": [UNSAFE_HASHES, _csp_hash("border-top: 0")],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Logging: everything to stderr, a traceback for every 500 -------------------------------------
# django.request logs each 5xx at ERROR with its traceback; the apps' own loggers (projects,
# mechanisms, evidence, cmo_kb) at INFO. gunicorn's access and error logs go to stderr too
# (gunicorn.conf.py). LOG_LEVEL changes the level of everything.
_LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()
if _LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={_LOG_LEVEL!r} is not a level; use DEBUG, INFO, WARNING, ERROR or CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": _LOG_LEVEL, "propagate": False},
        # runserver's request lines, as Django prints them by default.
        "django.server": {"handlers": ["stderr"], "level": _LOG_LEVEL, "propagate": False},
        **{
            app: {"handlers": ["stderr"], "level": _LOG_LEVEL, "propagate": False}
            for app in ("cmo_kb", "projects", "mechanisms", "evidence")
        },
    },
}

# --- Curators' internal notes (cmo_kb/internal_notes.py) ------------------------------------------
# Templates show configuration notes and excerpt notes to evaluators only, via `show_internal_notes`.
TEMPLATES[0]["OPTIONS"]["context_processors"].append("cmo_kb.internal_notes.context_processor")

# --- Imports in the background (evidence/import_runs.py) -------------------------------------------
# django-tasks (the backport of Django 6's tasks framework) with its database backend
# (django-tasks-db): an import is a row in the database, run by `manage.py db_worker`, which
# `make run` and `make serve` start next to the web server. Nothing else to install or run.
# TASKS_BACKEND=immediate runs each import in the request that starts it (no worker needed; the
# page then shows it ended).
# (Before the project's apps: evidence/admin.py takes the queue's table out of the workbench.)
INSTALLED_APPS[INSTALLED_APPS.index("projects"):INSTALLED_APPS.index("projects")] = ["django_tasks", "django_tasks_db"]
_TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
_task_backend = (os.environ.get("TASKS_BACKEND") or "database").strip().lower()
if _task_backend not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASKS_BACKEND={_task_backend!r}: use database (a db_worker runs imports) or immediate.")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[_task_backend]}}


def env_progress_cache(name):
    """The import progress cache. The import holds its transaction open (on SQLite: the database's
    write lock), so progress cannot go through the database: by default it is files in a folder
    (IMPORT_PROGRESS_DIR, default a folder of the server's temporary directory) that the web and
    worker processes of one host share; with web and worker on several hosts, a shared folder or a
    redis:// / memcached:// URL."""
    import hashlib
    import tempfile

    raw = (os.environ.get(name) or "").strip()
    if raw:
        if raw.lower().startswith(("db:", "locmem:")):
            raise ImproperlyConfigured(f"{name}={raw!r}: the progress of an import cannot go through the database "
                                       "(the import holds its transaction) or one process's memory; use redis:// "
                                       "or memcached://, or leave it unset for files.")
        return env_cache(name)
    folder = os.environ.get("IMPORT_PROGRESS_DIR") or os.path.join(tempfile.gettempdir(), "cmo-kb-import-progress")
    # Keys by run number: two knowledge bases on one host (two databases) must not read each other's.
    database = hashlib.sha256(repr((DATABASES["default"].get("HOST"), DATABASES["default"]["NAME"])).encode())
    return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": folder,
            "KEY_PREFIX": database.hexdigest()[:16]}


CACHES["import_progress"] = env_progress_cache("IMPORT_PROGRESS_CACHE_URL")
