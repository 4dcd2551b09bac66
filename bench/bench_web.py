"""Web speed, measured on the real stack: what an engineer waits for in the browser.

Starts what bin/serve starts (static files collected, gunicorn with webapp/gunicorn_conf.py, a Celery
worker on the `default` queue for ingestion; Redis must answer at REDIS_URL) on a free port, with a
private SQLite database and media folder, then measures:

- ingestion: a zip of --images 336 px JPEGs uploaded through the upload form, until its version is ready;
- in headless Chromium (Navigation Timing, a fresh profile per round, so the first visit has a cold
  cache): the job form as the first page after the server start, the job page of a job with --points
  metric points until its plots are drawn (first and repeat visit), and the "Launch" click until the
  new job's page has loaded;
- metrics.json over HTTP with 1 and 40 concurrent clients: the page's first load (after=0, downsampled
  for a long job), the whole series (full=1) and the incremental poll (10 new points);
- the resident memory of the gunicorn workers after all that.

    .venv/bin/python bench/bench_web.py [--points 20000] [--images 2000] [--rounds 3]
    .venv/bin/python bench/bench_web.py --app-dir /path/to/other/checkout --out /tmp/web-before.md

--app-dir serves another checkout of the product with the same harness (a "before" run): nothing is
written into it (no bytecode; database, media and static files live in a temporary folder).
Writes bench/results/web.md (or --out) with the load average sampled during the run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_ingestion import make_zip  # noqa: E402  (the same images as the ingestion benchmark)

PASSWORD = "bench-password-1"
GOALS = {"first": 1.5, "form": 1.0, "launch": 1.0, "metrics_p95_ms": 100, "metrics_40_p95_s": 1.0, "ingest_s": 60}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class LoadSampler(threading.Thread):
    """The 1-minute load average every second while the benchmark runs (the machine may be shared)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(1.0):
            self.samples.append(os.getloadavg()[0])


# ---------------------------------------------------------------------------------------- the stack

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """gunicorn and a default-queue worker, as bin/serve starts them, for one checkout."""

    def __init__(self, app_dir: Path, work: Path):
        self.app_dir, self.work = app_dir, work
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "PYTHONDONTWRITEBYTECODE": "1",
                    "WEBAPP_VAR_DIR": str(work / "var"), "MEDIA_ROOT": str(work / "media"),
                    "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "STATIC_ROOT": str(work / "static"),
                    "STATIC_COLLECTED": "1", "PORT": str(self.port), "HOST": "127.0.0.1",
                    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    "PYTHONPATH": str(app_dir)}
        self.procs: list[subprocess.Popen] = []

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=self.app_dir, env=self.env, check=True)

    def spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=self.app_dir, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> float:
        """Seconds from gunicorn's start until it answers /healthz."""
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        self.spawn("worker", "celery", "-A", "webapp", "worker", "-Q", "default", "-c", "2", "-n",
                   f"bench-default-{self.port}@%h", "-l", "warning")
        start = time.monotonic()
        self.gunicorn = self.spawn("gunicorn", "gunicorn", "-c", "python:webapp.gunicorn_conf", "webapp.wsgi")
        while time.monotonic() - start < 120:
            try:
                requests.get(self.base + "/healthz", timeout=5)
                return time.monotonic() - start
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit(f"gunicorn did not answer; see {self.work / 'gunicorn.log'}")

    def web_rss_mib(self) -> list[float]:
        """Resident memory of each gunicorn worker (the processes that serve requests)."""
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.gunicorn.pid)], capture_output=True,
                                  text=True).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
        return sizes

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=60)


# ------------------------------------------------------------------------------------- the data

def orm(app_dir: Path, env: dict):
    """Django set up in this process on the stack's database, for what has no page (a long job's points)."""
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    sys.path.insert(0, str(app_dir))
    import django

    django.setup()


def make_user() -> int:
    from django.contrib.auth import get_user_model

    from webapp.accounts.models import Membership, Workspace

    user = get_user_model().objects.create_user("bench", password=PASSWORD)
    workspace = Workspace.objects.create(name="Bench")
    Membership.objects.create(user=user, workspace=workspace, role="engineer")
    return workspace.pk


def make_long_job(points: int) -> int:
    """A running job holding `points` metric points (a long SharpZO run)."""
    from django.utils import timezone

    from webapp.accounts.models import Workspace
    from webapp.datasets.models import DatasetVersion
    from webapp.jobs.models import Job, MetricPoint

    version = DatasetVersion.objects.filter(status="ready").first()
    job = Job.objects.create(workspace=Workspace.objects.get(name="Bench"), dataset_version=version,
                             backbone="demo", method="sharpzo", shots=4, budget=points * 2,
                             status=Job.Status.RUNNING, attempts=1, heartbeat_at=timezone.now(),
                             queries_used=points * 2 - 2, stage="zo", name="long run")
    MetricPoint.objects.bulk_create(
        (MetricPoint(job=job, seq=s, step=s, stage="cmaes" if s < points // 4 else "zo", queries=2 * s,
                     train_loss=1.0 / s ** 0.3, val_acc=0.5 + 0.3 * s / points if s % 10 == 0 else None,
                     sharpness=0.01 if s % 50 == 0 else None, sparsity=0.5, elapsed_s=s * 0.01)
         for s in range(1, points + 1)), batch_size=5000)
    return job.pk


def logged_in_session(base: str) -> requests.Session:
    session = requests.Session()
    session.get(base + "/login/")
    session.post(base + "/login/", data={"username": "bench", "password": PASSWORD,
                                         "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                 headers={"Referer": base + "/login/"})
    return session


def ingest(base: str, workspace_id: int, zip_path: Path, images: int) -> dict:
    """Upload through the form, then wait for the worker to finish; seconds and images per second."""
    session = logged_in_session(base)
    session.get(base + "/datasets/")
    start = time.monotonic()
    with open(zip_path, "rb") as handle:
        response = session.post(base + "/datasets/upload/", files={"file": ("parts.zip", handle, "application/zip")},
                                data={"name": "bench parts", "workspace": workspace_id,
                                      "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                                headers={"Referer": base + "/datasets/"})
    uploaded = time.monotonic() - start
    version_id = int(re.search(r"/datasets/versions/(\d+)/", response.url).group(1))
    while True:
        status = session.get(f"{base}/datasets/versions/{version_id}/status.json").json()
        if status["done"]:
            break
        if time.monotonic() - start > 600:
            raise SystemExit(f"the upload was not ingested within 10 minutes (is a worker consuming the default "
                             f"queue at {os.environ.get('REDIS_URL')}?): {status}")
        time.sleep(0.2)
    total = time.monotonic() - start
    if status["status"] != "ready":
        raise SystemExit(f"ingestion did not finish: {status}")
    return {"seconds": total, "upload_seconds": uploaded, "rate": images / total}


# ---------------------------------------------------------------------------------------- browser

def chromium():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-dev-shm-usage"]:
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))


NAVIGATION_SECONDS = "return performance.getEntriesByType('navigation')[0].loadEventEnd / 1000"
PLOTS_DRAWN = """var p = document.getElementById('plot-loss');
return p && p.data && p.data[0].x.length > 0 ? performance.now() / 1000 : null"""


def until(driver, script: str, timeout: float = 120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(lambda d: d.execute_script(script))


def browser_round(base: str, job_id: int) -> dict:
    """One fresh Chromium profile: log in, the form, the job page twice, a launch."""
    from selenium.webdriver.common.by import By

    driver = chromium()
    try:
        driver.get(base + "/login/")
        driver.find_element(By.NAME, "username").send_keys("bench")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button, form [type=submit]").click()
        until(driver, "return !location.pathname.startsWith('/login/')")
        driver.get(base + "/jobs/new/")
        form = until(driver, NAVIGATION_SECONDS)
        driver.get(f"{base}/jobs/{job_id}/")
        first = until(driver, PLOTS_DRAWN)
        driver.get(f"{base}/jobs/{job_id}/")
        repeat = until(driver, PLOTS_DRAWN)
        driver.get(base + "/jobs/new/")
        until(driver, NAVIGATION_SECONDS)
        shots = driver.find_element(By.NAME, "shots")  # 1 shot: a small --images run has few per class
        shots.clear()
        shots.send_keys("1")
        driver.find_element(By.ID, "launch").click()
        try:
            until(driver, "return /^\\/jobs\\/\\d+\\/$/.test(location.pathname) && document.readyState == 'complete'",
                  timeout=60)
        except Exception as exc:
            raise SystemExit("the launch did not reach a job page: "
                             + driver.find_element(By.TAG_NAME, "main").text[:2000]) from exc
        launch = until(driver, NAVIGATION_SECONDS)  # the POST, its redirect and the job page, as one navigation
        return {"form": form, "first": first, "repeat": repeat, "launch": launch}
    finally:
        driver.quit()


# -------------------------------------------------------------------------------------- metrics.json

def poll_latencies(sessions: list[requests.Session], url: str, rounds: int) -> tuple[list[float], int, int]:
    """The sessions fetch `url` at the same moment, `rounds` times; seconds per request, largest body, and
    how many connections the server reset (each retried once, as a browser does, and timed from the start)."""
    barrier = threading.Barrier(len(sessions), timeout=300)
    sizes, resets = [], []

    def one(session) -> list[float]:
        seconds = []
        try:
            for _ in range(rounds):
                barrier.wait()
                start = time.perf_counter()
                # a new connection per request: gunicorn closes a kept-alive one after 2 s idle, which races
                # with a client that waited longer at the barrier (a browser would retry; we would count twice)
                try:
                    response = session.get(url, timeout=120, headers={"Connection": "close"})
                except requests.ConnectionError:
                    resets.append(1)
                    response = session.get(url, timeout=120, headers={"Connection": "close"})
                response.raise_for_status()
                seconds.append(time.perf_counter() - start)
                sizes.append(len(response.content))
        except Exception:
            barrier.abort()  # the others stop waiting for this client, and the run fails with the reason
            raise
        return seconds

    with ThreadPoolExecutor(len(sessions)) as pool:
        futures = [pool.submit(one, session) for session in sessions]
    errors = [f.exception() for f in futures if f.exception() is not None]
    causes = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if errors:
        raise (causes or errors)[0]
    return [s for f in futures for s in f.result()], max(sizes), len(resets)


def metrics_table(base: str, job_id: int, points: int) -> list[dict]:
    url = f"{base}/jobs/{job_id}/metrics.json"
    sessions = [logged_in_session(base) for _ in range(40)]
    rows = []
    for label, query in [("first load (after=0)", "?after=0"), ("whole series (full=1)", "?after=0&full=1"),
                         ("incremental (10 new points)", f"?after={points - 10}")]:
        for clients, rounds in [(1, 30), (40, 5)]:
            seconds, size, resets = poll_latencies(sessions[:clients], url + query, rounds)
            rows.append({"request": label, "clients": clients, "requests": len(seconds), "bytes": size,
                         "resets": resets,
                         "p50": statistics.median(seconds), "p95": percentile(seconds, 95), "max": max(seconds)})
    return rows


# -------------------------------------------------------------------------------------------- report

def report(args, result: dict) -> str:
    b, m = result["browser"], result["metrics"]
    first_load = {(r["request"], r["clients"]): r for r in m}
    one, forty = first_load[("first load (after=0)", 1)], first_load[("first load (after=0)", 40)]

    def verdict(value, goal):
        return "met" if value <= goal else f"missed by {value - goal:.2f}"

    median = {k: statistics.median(r[k] for r in b) for k in ("form", "first", "repeat", "launch")}
    lines = [
        "# Web speed on the real stack",
        "",
        f"`{result['command']}`",
        "",
        f"Served from {result['app_dir']}. gunicorn (webapp/gunicorn_conf.py: {result['web_workers']}), a Celery "
        "worker on the default queue (ingestion), Redis, SQLite; static files collected. Browser figures are medians "
        f"of {args.rounds} rounds, each in a fresh headless Chromium profile (cold cache on the first visit).",
        "",
        "| what | measured | goal | |",
        "|---|---:|---:|---|",
        f"| job page, first visit, until the plots are drawn ({args.points:,} points) | {median['first']:.2f} s | "
        f"<= {GOALS['first']} s | {verdict(median['first'], GOALS['first'])} |",
        f"| job page, repeat visit, until the plots are drawn | {median['repeat']:.2f} s | | |",
        f"| job form, first page after the server start (Navigation Timing, load) | {median['form']:.2f} s | "
        f"<= {GOALS['form']} s | {verdict(median['form'], GOALS['form'])} |",
        f"| \"Launch\" click until the job page has loaded | {median['launch']:.2f} s | <= {GOALS['launch']} s | "
        f"{verdict(median['launch'], GOALS['launch'])} |",
        f"| metrics.json first load, p95, 1 client | {one['p95'] * 1000:.0f} ms | <= {GOALS['metrics_p95_ms']} ms | "
        f"{verdict(one['p95'] * 1000, GOALS['metrics_p95_ms'])} |",
        f"| the same, 40 clients at once, p95 | {forty['p95']:.2f} s | <= {GOALS['metrics_40_p95_s']} s | "
        f"{verdict(forty['p95'], GOALS['metrics_40_p95_s'])} |",
        f"| ingestion of {args.images:,} images (336 px JPEG), upload to ready | {result['ingest']['seconds']:.1f} s "
        f"({result['ingest']['rate']:.0f} images/s) | <= {GOALS['ingest_s']} s | "
        f"{verdict(result['ingest']['seconds'], GOALS['ingest_s'])} |",
        "",
        "Per round (seconds): " + "; ".join(
            f"form {r['form']:.2f}, first {r['first']:.2f}, repeat {r['repeat']:.2f}, launch {r['launch']:.2f}"
            for r in b),
        "",
        "## metrics.json",
        "",
        "| request | clients at once | requests | p50 (ms) | p95 (ms) | max (ms) | response size | connections reset |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['request']} | {r['clients']} | {r['requests']} | {r['p50'] * 1000:.1f} | {r['p95'] * 1000:.1f} | "
          f"{r['max'] * 1000:.1f} | {r['bytes'] / 1024:,.0f} KiB | {r['resets']} |" for r in m),
        "",
        "The first load of a long job is computed once per web process and series state (the first request of "
        "a row pays it: see max) and served from the process's cache while no new point arrives.",
        "",
        "## Web process",
        "",
        f"gunicorn answered /healthz {result['boot']:.1f} s after its start. Resident memory of the web workers "
        f"after the run: {', '.join(f'{x:.0f} MiB' for x in result['rss'])}.",
        f"Upload of the {result['zip_mb']:.0f} MB zip: {result['ingest']['upload_seconds']:.1f} s of the ingestion "
        "time.",
        "",
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} logical CPUs, Python "
        f"{platform.python_version()}. 1-minute load average during the run: median {result['load_median']:.1f}, "
        f"max {result['load_max']:.1f} (the machine is shared; figures are upper bounds).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="fresh browser profiles")
    parser.add_argument("--app-dir", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "web.md")
    args = parser.parse_args(argv)
    app_dir = args.app_dir.resolve()

    sampler = LoadSampler()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        work = Path(tmp)
        zip_mb = make_zip(work / "upload.zip", args.images, 336) / 1e6
        stack = Stack(app_dir, work)
        try:
            boot = stack.start()
            orm(app_dir, stack.env)
            workspace_id = make_user()
            ingested = ingest(stack.base, workspace_id, work / "upload.zip", args.images)
            job_id = make_long_job(args.points)
            browser = [browser_round(stack.base, job_id) for _ in range(args.rounds)]
            metrics = metrics_table(stack.base, job_id, args.points)
            rss = stack.web_rss_mib()
        finally:
            stack.stop()
    sampler.stopped.set()
    loads = sampler.samples or [os.getloadavg()[0]]
    result = {
        "command": "python " + " ".join([f"bench/{Path(__file__).name}",
                                         *(argv if argv is not None else sys.argv[1:])]),
        "app_dir": ("this checkout" if app_dir == ROOT else str(app_dir)) + ", commit " + subprocess.run(
            ["git", "-C", str(app_dir), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "web_workers": f"{os.environ.get('WEB_WORKERS', 2)} workers x {os.environ.get('WEB_THREADS', 32)} threads",
        "browser": browser, "metrics": metrics, "ingest": ingested, "rss": rss, "boot": boot, "zip_mb": zip_mb,
        "load_median": statistics.median(loads), "load_max": max(loads),
    }
    text = report(args, result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
