"""Fixtures for the real parts: a Celery worker process on the real Redis broker, and users."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _database_url(settings_dict: dict) -> str:
    """The URL of the database the tests are using right now (the test database, not the dev one)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    """A real `celery worker` subprocess; can be killed like a crashed machine would be."""

    def __init__(self, env: dict, log_dir: Path, queues: str, extra_args: tuple = ()):
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.broker_url = env.get("CELERY_BROKER_URL")  # set when a test gives the worker its own broker
        self.log_path = log_dir / f"{self.name}.log"
        cmd = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "-c", "1",
               "-n", self.name, "--without-gossip", "--without-mingle", "-l", "info", *extra_args]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        import redis
        from celery import Celery

        from webapp.celery import app

        # A worker on its own broker is pinged through an app bound to that broker (control messages
        # go out through the app's producer pool, whatever connection is passed).
        pinger = Celery("ping", broker=self.broker_url, set_as_current=False) if self.broker_url else app
        patience = Patience(timeout)
        while not patience.exhausted():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            try:
                if pinger.control.ping(destination=[self.name], timeout=0.5):
                    return
            except (ConnectionError, OSError, redis.RedisError):
                continue  # a broker that has just restarted may drop the first pings
        raise RuntimeError(f"worker did not come up in {patience}:\n{self.log()}")

    def kill(self, sig: int = 9) -> None:
        """Kill the whole process group (main process and its pool child), like a power cut."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]


@pytest.fixture(scope="session")
def _clean_broker():
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def _worker_env(django_db_setup, _clean_broker, tmp_path_factory) -> tuple[dict, Path]:
    """The environment a worker process needs to use the test database, and a folder for its logs."""
    from django.db import connection

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": _database_url(connection.settings_dict), "PYTHONUNBUFFERED": "1"}
    return env, tmp_path_factory.mktemp("workers")


def _worker_starter(worker_env: tuple[dict, Path], started: list[WorkerProcess]):
    env, log_dir = worker_env

    def start(queues: str = "tuning,default", extra_args: tuple = (), extra_env: dict | None = None) -> WorkerProcess:
        worker = WorkerProcess({**env, **(extra_env or {})}, log_dir, queues, extra_args)
        started.append(worker)
        worker.wait_ready()
        return worker

    return start


@pytest.fixture
def start_worker(_worker_env):
    """Factory: start a worker process that uses the test database. All are stopped when the test ends, so
    a worker started for one test (with its own queue or settings) never takes another test's work."""
    started: list[WorkerProcess] = []
    yield _worker_starter(_worker_env, started)
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def celery_worker(_worker_env):
    """One shared worker for the tests that only need the queue to be served."""
    worker = _worker_starter(_worker_env, [])()
    yield worker
    worker.stop()


class Patience:
    """A time limit that only guards against a hang: it stretches with the machine's load (load average
    per core, when above 1), so a state reached slowly on a busy machine is still a pass and a state
    never reached is still a failure."""

    def __init__(self, timeout: float):
        self.timeout, self.start, self.stretch = timeout, time.monotonic(), 1.0

    def exhausted(self) -> bool:
        self.stretch = max(self.stretch, os.getloadavg()[0] / (os.cpu_count() or 1))
        return time.monotonic() - self.start > self.timeout * self.stretch

    def __str__(self) -> str:
        return f"{time.monotonic() - self.start:.0f}s (limit {self.timeout:g}s, x{self.stretch:.1f} for the load)"


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, message: str = "condition"):
    patience = Patience(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if patience.exhausted():
            raise AssertionError(f"timed out after {patience} waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def make_user(db):
    """make_user("alice", workspace="Press line", role="engineer") -> a user with a membership."""
    from django.contrib.auth import get_user_model

    from webapp.accounts.models import Membership, Workspace

    def make(username: str, *, workspace: str | None = None, role: str = "engineer", password: str = "pw-for-tests-1"):
        user = get_user_model().objects.create_user(username=username, password=password)
        if workspace:
            ws, _ = Workspace.objects.get_or_create(name=workspace)
            Membership.objects.create(user=user, workspace=ws, role=role)
        return user

    return make


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium driven by chromedriver; files it downloads land in `browser.downloads`."""
    webdriver = pytest.importorskip("selenium.webdriver")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-dev-shm-usage"]:
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)  # bin/test installs Chromium: fail, never skip
    driver.downloads = downloads
    yield driver
    driver.quit()


def log_in(browser, live_server, username: str, password: str = "pw-for-tests-1") -> None:
    """Log in through the real form, and wait until the redirect has happened before moving on."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server.url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form button, form [type=submit]").click()
    WebDriverWait(browser, 30).until(lambda b: "/login/" not in b.current_url)
