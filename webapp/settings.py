"""Settings, read from the environment, with embedded defaults for a single machine.

WEBAPP_MODE=production switches on the deployment checks (`manage.py check --deploy` is clean when
SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL are given real values).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WEBAPP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


MODE = os.environ.get("WEBAPP_MODE", "development")
PRODUCTION = MODE == "production"
# Off unless asked for (DEBUG=1): bin/serve is what users run, and DEBUG pages show any member the
# settings (REDIS_URL with its password), paths and local variables.
DEBUG = env_bool("DEBUG", False)


def _installation_secret_key() -> str:
    """Made on first run and kept in var/ (readable by this user only): a key in the source code
    would let anyone forge sessions of every installation."""
    path = VAR_DIR / "secret-key"
    if not path.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
                fh.write(secrets.token_urlsafe(50))
        except FileExistsError:
            pass  # another process (web or a worker starting at the same time) made it first
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("Set SECRET_KEY: production mode has no default secret key.")
    SECRET_KEY = _installation_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "webapp.core",
    "webapp.accounts",
    "webapp.datasets",
    "webapp.jobs",
    "webapp.adapters",
    "webapp.reports",
    "webapp.api",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webapp.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

ROOT_URLCONF = "webapp.urls"
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
                "webapp.accounts.context_processors.workspaces",
            ],
        },
    },
]

# --- database: SQLite in var/ by default, anything dj-database-url understands via DATABASE_URL ---
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and workers write concurrently: wait for the lock instead of failing at once, and keep the
    # test database in a file so that a real worker process can open it too.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one user from one address,
# that pair is refused until AXES_COOLOFF_TIME has passed since the last failure. Counting the pair
# and expiring the lock keep an attacker from locking the real user out for good. The API counts
# wrong tokens the same way (webapp.api.auth).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_FAILURE_LIMIT = "webapp.api.auth.failure_limit"  # LOGIN_FAILURE_LIMIT; more for scripts' tokens
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Proxies in front of the web server whose X-Forwarded-For entry is believed (webapp/core/client_address.py):
# 0 counts the connecting address; compose and bin/serve put one nginx in front and set 1.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)
AXES_CLIENT_IP_CALLABLE = "webapp.core.client_address.client_address"
# Usernames no account has count together, once per address: no row and no lock per made-up name.
AXES_USERNAME_CALLABLE = "webapp.accounts.login_names.counted_username"
# Tries refused during a lock are not recorded: a guesser who changes its user agent would add a row for
# each (axes keys rows by user agent too). Rows older than the cool-off are deleted at the next failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
API_TOKENS_PER_USER = env_int("API_TOKENS_PER_USER", 20)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- files: everything goes through Django's storage API (local media, or S3-compatible storage) ---
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: downloads go through permission-checked views
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_COLLECTED = env_bool("STATIC_COLLECTED", PRODUCTION)
# The `tuning` wheel offered beside adapter downloads, built from this source tree on first use
# (webapp/integrations/tuning/wheel.py); local to each web machine, like the static files.
TUNING_WHEEL_DIR = Path(os.environ.get("TUNING_WHEEL_DIR", VAR_DIR / "wheels"))
PLOTLY_BUNDLE_DIR = BASE_DIR / "var" / "vendor" / "plotly"  # bin/fetch-plotly puts the cartesian bundle here


def _plotly_static_dir() -> Path:
    """The cartesian Plotly bundle that bin/serve fetches (npm, pinned); else the full bundle that ships
    inside the pinned `plotly` package. Served by us either way, never from a CDN."""
    if (PLOTLY_BUNDLE_DIR / "plotly.min.js").is_file():
        return PLOTLY_BUNDLE_DIR
    import plotly

    return Path(plotly.__file__).parent / "package_data"


STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", _plotly_static_dir())]

STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("S3_BUCKET", "tuning"),
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "access_key": os.environ.get("S3_ACCESS_KEY_ID"),
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY"),
            "region_name": os.environ.get("S3_REGION") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            # Reading an object spools it; without a limit django-storages keeps it whole in memory
            # (a 1 GiB dataset zip included). Above this size the spool is a temporary file.
            "max_memory_size": env_int("S3_MAX_MEMORY_SIZE", 2 * 1024 * 1024),
        },
    }
elif STORAGE_BACKEND == "local":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be 'local' or 's3', not {STORAGE_BACKEND!r}.")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Collected (bin/serve and the image run collectstatic): hashed names that browsers cache for a year,
# each with a gzip copy. Otherwise (tests, a developer's runserver) served straight from the sources.
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED
WHITENOISE_AUTOREFRESH = not STATIC_COLLECTED
# A worker copies what a job needs from storage into this local folder before it calls the tuner.
WORKER_CACHE_DIR = Path(os.environ.get("WORKER_CACHE_DIR", VAR_DIR / "worker-cache"))

# --- uploads and their limits (checked before anything is extracted) ---
# Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE are spooled here (not /tmp), inside media so that the
# scheduler's worker, which shares media, removes the files of killed requests (webapp/worker/cleanup.py).
FILE_UPLOAD_TEMP_DIR = Path(os.environ.get("FILE_UPLOAD_TEMP_DIR", MEDIA_ROOT / "upload-temp"))
try:
    FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
except OSError:  # a read-only machine that receives no uploads
    pass
UPLOAD_TEMP_MAX_AGE_SECONDS = env_int("UPLOAD_TEMP_MAX_AGE_SECONDS", 6 * 3600)
CLEANUP_INTERVAL_SECONDS = env_int("CLEANUP_INTERVAL_SECONDS", 3600)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATASET_MAX_UPLOAD_BYTES = env_int("DATASET_MAX_UPLOAD_BYTES", 1024 * 1024 * 1024)
DATASET_MAX_UNCOMPRESSED_BYTES = env_int("DATASET_MAX_UNCOMPRESSED_BYTES", 2 * 1024 * 1024 * 1024)
DATASET_MAX_FILES = env_int("DATASET_MAX_FILES", 20_000)
DATASET_MAX_IMAGE_PIXELS = env_int("DATASET_MAX_IMAGE_PIXELS", 40_000_000)
# One file, unpacked: an image within the pixel limit needs at most 8 bytes a pixel (16-bit RGBA,
# uncompressed) plus its headers; ingestion never holds more of one file than this.
DATASET_MAX_FILE_BYTES = env_int("DATASET_MAX_FILE_BYTES", DATASET_MAX_IMAGE_PIXELS * 8 + 2**20)
# Threads that decode and re-encode images during ingestion (Pillow releases the GIL while it works).
DATASET_INGEST_THREADS = env_int("DATASET_INGEST_THREADS", min(4, os.cpu_count() or 1))
ADAPTER_MAX_UPLOAD_BYTES = env_int("ADAPTER_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
# "Try an image": the pixels of all the images of one request together, read from their headers.
TRY_MAX_REQUEST_PIXELS = env_int("TRY_MAX_REQUEST_PIXELS", 120_000_000)

# --- jobs ---
JOB_MAX_SECONDS = env_int("JOB_MAX_SECONDS", 24 * 3600)
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10)
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 60)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
# A queued job (or import) whose message the broker lost is sent again once queued this long; the scheduler
# looks every JOB_REAPER_INTERVAL_SECONDS. The resend checks the broker first, so a short wait is safe.
JOB_RESEND_AFTER_SECONDS = env_int("JOB_RESEND_AFTER_SECONDS", 30)
JOB_REAPER_INTERVAL_SECONDS = env_int("JOB_REAPER_INTERVAL_SECONDS", 20)
# A worker that meets the file storage or the database away keeps its claim and tries the same write
# again, waiting 1 s, 2 s, 4 s... (at most 60 s between tries) for this long before giving up.
JOB_OUTAGE_RETRY_SECONDS = env_int("JOB_OUTAGE_RETRY_SECONDS", 600)
JOB_OUTAGE_FIRST_WAIT_SECONDS = float(os.environ.get("JOB_OUTAGE_FIRST_WAIT_SECONDS", "1"))
COST_PER_WORKER_HOUR = float(os.environ.get("COST_PER_WORKER_HOUR", "1.00"))
COST_CURRENCY = os.environ.get("COST_CURRENCY", "EUR")
WORKER_KIND = os.environ.get("WORKER_KIND", "cpu")  # what this worker is, for run-time estimates
# The backbone a tuning worker loads and measures itself on when it starts (webapp/worker/self_measure.py):
# estimates are right before any job has finished, and the first job finds it loaded. Empty: measure nothing.
WORKER_MEASURE_BACKBONE = os.environ.get("WORKER_MEASURE_BACKBONE", "demo")
# torch's intra-op threads in a tuning worker: its share of the machine's cores (webapp/worker/threads.py).
# Unset: the cores divided by WORKER_PROCESSES_ON_MACHINE (the busy processes the deployment starts here).
TUNING_THREADS = env_int("TUNING_THREADS", 0)
WORKER_PROCESSES_ON_MACHINE = env_int("WORKER_PROCESSES_ON_MACHINE", 1)
# Every worker records itself and its queues this often; one silent for WORKER_FRESH_SECONDS counts as gone
# (a queued job with no live worker on its queue then says so).
WORKER_CHECKIN_SECONDS = env_int("WORKER_CHECKIN_SECONDS", 20)
WORKER_FRESH_SECONDS = env_int("WORKER_FRESH_SECONDS", 120)
# Modules imported once (web and worker) before backbones are listed or loaded: each may call
# tuning.register_backbone(...) to add a site's own backbones (tests add a tiny random one).
TUNING_BACKBONE_PLUGINS = env_list("TUNING_BACKBONE_PLUGINS", "")
# Local CLIP checkpoints ("ViT-B-16:openai@/opt/clip/ViT-B-16.pt", comma-separated) that uploaded adapters may
# name: matched by the file's sha256, whatever path the card gives (see integrations.backbones.installed_backbone).
TUNING_LOCAL_CHECKPOINTS = env_list("TUNING_LOCAL_CHECKPOINTS", "")
# A worker that may download weights offers a short list of recommended pretrained tags besides what it has.
TUNING_WORKER_ONLINE = env_bool("TUNING_WORKER_ONLINE", False)

# --- E-mail when a job completes or fails (to the address of the user who launched it) ---
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # a worker waits at most this long for the mail server
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tuning-dashboard@localhost")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")  # the links in e-mails

# --- Celery: Redis broker; two queues; long jobs acknowledged late, one at a time per worker ---
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True  # results live in the database rows, not in the broker
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"webapp.jobs.tasks.run_tuning_job": {"queue": "tuning"}}
# The worker runtime's tasks (autodiscovery only finds each app's `tasks` module). Their names keep the
# module paths they were first sent under ("webapp.jobs.tasks.run_tuning_job"): queued messages name them.
CELERY_IMPORTS = ["webapp.worker.tasks"]
# A job that asks for a GPU goes here instead; only workers with WORKER_KIND=gpu may consume it.
TUNING_GPU_QUEUE = os.environ.get("TUNING_GPU_QUEUE", "tuning-gpu")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Prefetch 1 is not enough: after a broker reconnect the running job's message belongs to the old
# connection, and Celery lets the new one reserve a message (it never lowers the count below one), so
# a busy worker would hold the next job while another worker idles. With Redis, this makes a worker
# take a message only when a pool process is free.
CELERY_WORKER_DISABLE_PREFETCH = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": JOB_MAX_SECONDS + 3600}
# A worker that serves no tuning queue (dataset ingestion, clean-up) uses this instead, and its own
# unacknowledged-message keys (webapp/celery.py): a message of a killed short task comes back soon.
SHORT_TASK_VISIBILITY_TIMEOUT = env_int("SHORT_TASK_VISIBILITY_TIMEOUT", 15 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A tuning job keeps running through a broker outage (its progress lives in the database, and a
# redelivered message finds the row already claimed): never cancel it because Redis went away.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-jobs": {
        "task": "webapp.jobs.tasks.requeue_stale_jobs",
        "schedule": float(JOB_REAPER_INTERVAL_SECONDS),
    },
    "clean-up-leftovers": {
        "task": "webapp.core.tasks.clean_up_leftovers",
        "schedule": float(CLEANUP_INTERVAL_SECONDS),
    },
    "recover-ingestions": {  # the same pass for dataset imports, with the jobs' limits
        "task": "webapp.datasets.tasks.recover_ingestions",
        "schedule": float(JOB_REAPER_INTERVAL_SECONDS),
    },
}

# --- production hardening (check --deploy) ---
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},  # axes: a line per login
}
