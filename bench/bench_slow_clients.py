"""Slow clients against both deployments: normal requests while 1,000 connections stall.

Starts, on a private SQLite database (Redis must answer at REDIS_URL), bin/serve's web tier
(bin/serve-web: nginx in front of gunicorn on a unix socket) and then the compose topology
(deploy/nginx.conf on loopback in front of gunicorn on a TCP port with the `web` service's 3 workers).
Against each it keeps --slow connections open for --seconds: half send nothing, half trickle a header
one byte a second; a connection the proxy drops (its header timeout) is opened again at once, so the
count stays at --slow. Meanwhile one client sends normal requests (/healthz and /login/, a new
connection each), first without the slow connections, then with them.

    .venv/bin/python -m bench slow-clients [--slow 1000] [--seconds 30]

Writes bench/results/slow_clients.md (or --out). Loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer_seconds(url: str) -> float:
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
    return time.monotonic() - start


def wait_serving(url: str, procs: list[subprocess.Popen], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a server exited; see {log}")
        with contextlib.suppress(OSError):
            answer_seconds(url)
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer; see {log}")


@contextlib.contextmanager
def processes(*commands: tuple[list[str], dict], log: Path):
    procs = []
    with open(log, "wb") as out:
        for command, env in commands:
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True))
    try:
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
        for proc in procs:
            proc.wait(timeout=60)


def serve_web(env: dict, work: Path):
    port = free_port()
    run = processes(([str(ROOT / "bin" / "serve-web")], {**env, "PORT": str(port), "HOST": "127.0.0.1",
                                                          "WEB_RUN_DIR": str(work / "serve-web")}),
                    log=work / "serve-web.log")
    return port, run


def compose(env: dict, work: Path):
    port, web_port = free_port(), free_port()
    prefix = work / "compose-proxy"
    prefix.mkdir(parents=True)
    conf = subprocess.run([str(ROOT / "bin" / "proxy-conf"), f"127.0.0.1:{port}", f"127.0.0.1:{web_port}"],
                          capture_output=True, text=True, check=True).stdout
    (prefix / "nginx.conf").write_text(conf)
    nginx = [os.environ.get("NGINX", "/usr/sbin/nginx"), "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"),
             "-e", "stderr", "-g", "daemon off;" + (" user root;" if os.getuid() == 0 else "")]
    web = [sys.executable, "-m", "gunicorn", "-c", "python:webapp.gunicorn_conf", "webapp.wsgi"]
    run = processes((web, {**env, "PORT": str(web_port), "HOST": "127.0.0.1", "WEB_WORKERS": "3",
                           "TRUSTED_PROXY_HOPS": "1"}), (nginx, env), log=work / "compose.log")
    return port, run


class SlowCrowd(threading.Thread):
    """Keeps `count` stalled connections open: even ones send nothing, odd ones a header byte a second."""

    def __init__(self, port: int, count: int):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.selector = selectors.DefaultSelector()
        self.trickling: dict[socket.socket, int] = {}
        self.reopened = 0
        self.fewest_open = count
        self.stopped = threading.Event()

    def _open(self, index: int) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, index)
        if index % 2:
            sock.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.trickling[sock] = index

    def _drop(self, key) -> None:
        self.selector.unregister(key.fileobj)
        self.trickling.pop(key.fileobj, None)
        key.fileobj.close()

    def run(self) -> None:
        for index in range(self.count):
            self._open(index)
        while not self.stopped.is_set():
            for sock in list(self.trickling):
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            # Readable means the server answered (408) or closed: open another in its place.
            for key, _ in self.selector.select(timeout=1.0):
                index = key.data
                self._drop(key)
                self.reopened += 1
                self._open(index)
            self.fewest_open = min(self.fewest_open, len(self.selector.get_map()))

    def close(self) -> None:
        self.stopped.set()
        self.join()
        for key in list(self.selector.get_map().values()):
            self._drop(key)


def measure(port: int, seconds: float) -> list[float]:
    urls = [f"http://127.0.0.1:{port}/healthz", f"http://127.0.0.1:{port}/login/"]
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        times.append(answer_seconds(urls[len(times) % 2]))
        time.sleep(0.1)
    return times


def row(deployment: str, slow: int, times: list[float], crowd: SlowCrowd | None) -> str:
    worst = max(times)
    held = f"{crowd.fewest_open:,} (reopened {crowd.reopened:,})" if crowd else "0"
    return (f"| {deployment} | {held} | {len(times)} | {statistics.median(times) * 1000:.0f} | {worst * 1000:.0f} | "
            f"{'yes' if worst <= GOAL_S else 'NO'} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "slow_clients.md")
    args = parser.parse_args(argv)
    rows, loads = [], []
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "WEBAPP_VAR_DIR": str(work / "var"),
               "MEDIA_ROOT": str(work / "media"), "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
               "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        for name, start in (("bin/serve (bin/serve-web)", serve_web),
                            ("compose (deploy/nginx.conf + gunicorn)", compose)):
            port, run = start(env, work)
            with run as procs:
                wait_serving(f"http://127.0.0.1:{port}/healthz", procs, work)
                rows.append(row(name, 0, measure(port, args.seconds / 3), None))
                crowd = SlowCrowd(port, args.slow)
                crowd.start()
                time.sleep(2)  # all opened and taken in by the server
                try:
                    rows.append(row(name, args.slow, measure(port, args.seconds), crowd))
                finally:
                    crowd.close()
                loads.append(os.getloadavg()[0])
    text = "\n".join([
        "# Slow clients: normal requests while connections stall",
        "",
        f"`{' '.join(['python -m bench slow-clients', *(argv if argv is not None else sys.argv[1:])])}`, "
        f"{args.seconds:g} s with the stalled connections open (half idle, half trickling a header byte a second),"
        f" requests to /healthz and /login/ alternately, a new connection each, one at a time. "
        f"{os.cpu_count()} CPU cores shared with other work (load average {', '.join(f'{load:.1f}' for load in loads)}"
        f" at the end of each run). Goal: every normal request within {GOAL_S:g} s.",
        "",
        "| deployment | stalled connections open (fewest seen) | requests | median ms | worst ms | within goal |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
