"""Test settings: the real stack, kept apart from a developer's running product.

Tests use Redis database 15 (flushed at the start of a run) and their own media folder; workers
started by the tests load this module too, so web side and worker side agree.
"""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("WEBAPP_VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test"))


def _own_share_of_the_stack(process: str) -> None:
    """pytest -n N (bin/test) runs N test processes, gw0, gw1, ...: each gets its own broker database (two
    apart, since test_bench_web's stack takes the one below) and its own var folder (test database, media,
    worker caches), so one process's workers never take another's tasks or files. The processes a test
    starts inherit the adjusted values; TESTS_PARTITIONED keeps them from being adjusted twice."""
    n = int(process.removeprefix("gw"))
    base, db = os.environ["REDIS_URL"].rsplit("/", 1)
    os.environ["REDIS_URL"] = f"{base}/{(int(db) - 2 * n) % 16}"
    # pytest's first process has imported this module before it starts the test processes, so they inherit its
    # MEDIA_ROOT as well as its var folder: both move into the process's own folder.
    for folder in ("WEBAPP_VAR_DIR", "MEDIA_ROOT"):
        if folder in os.environ:
            os.environ[folder] = os.path.join(os.environ[folder], process)
    os.environ["TESTS_PARTITIONED"] = process


if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("TESTS_PARTITIONED"):
    _own_share_of_the_stack(os.environ["PYTEST_XDIST_WORKER"])
os.environ.setdefault("MEDIA_ROOT", os.path.join(os.environ["WEBAPP_VAR_DIR"], "media"))

from webapp.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
JOB_HEARTBEAT_SECONDS = int(os.environ.get("JOB_HEARTBEAT_SECONDS", 1))
JOB_STALE_AFTER_SECONDS = int(os.environ.get("JOB_STALE_AFTER_SECONDS", 6))
JOB_OUTAGE_FIRST_WAIT_SECONDS = float(os.environ.get("JOB_OUTAGE_FIRST_WAIT_SECONDS", "0.2"))
CELERY_BEAT_SCHEDULE = {}  # tests call the reaper themselves, or start beat on purpose
TUNING_BACKBONE_PLUGINS = ["tests.webapp.tiny_backbone"]  # a tiny random CLIP: fast CPU jobs
WORKER_MEASURE_BACKBONE = os.environ.get("WORKER_MEASURE_BACKBONE", "tiny-test")  # workers measure it at start
# The test run, its workers and Chromium share the machine: each tuning worker takes its share of the cores.
WORKER_PROCESSES_ON_MACHINE = int(os.environ.get("WORKER_PROCESSES_ON_MACHINE", 3))
WORKER_CHECKIN_SECONDS = int(os.environ.get("WORKER_CHECKIN_SECONDS", 1))
WORKER_FRESH_SECONDS = int(os.environ.get("WORKER_FRESH_SECONDS", 10))
