"""The two deployments as they face clients, started by a test against the test database: bin/serve's
web tier (bin/serve-web: nginx in front of gunicorn on a unix socket) and the compose topology (the
compose proxy's nginx configuration on loopback in front of gunicorn on a TCP port, as the `web`
service runs it), and clients that open connections and stall."""

import contextlib
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, _database_url, wait_for
from tests.webapp.gunicorn_process import free_port, get_seconds, gunicorn


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        pytest.skip("nginx is not installed (bin/test installs Debian's nginx)")
    return found


def _test_env(**extra) -> dict:
    from django.db import connection

    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(connection.settings_dict), **extra}


def _serving(proc: subprocess.Popen, url: str, log: Path) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"exited early:\n{log.read_text(errors='replace')[-3000:]}")
    return get_seconds(url) < 30


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


@contextlib.contextmanager
def serve_web(work: Path, **env_extra):
    """bin/serve's web tier, exactly as bin/serve starts it. Yields the port nginx listens on."""
    nginx_binary()
    port = free_port()
    log = work / "serve-web.log"
    env = _test_env(PORT=str(port), HOST="127.0.0.1", WEB_RUN_DIR=str(work / "run"), **env_extra)
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(ROOT / "bin" / "serve-web")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _serving(proc, f"http://127.0.0.1:{port}/healthz", log), timeout=60, message="bin/serve-web")
        yield port
    finally:
        _stop(proc)


@contextlib.contextmanager
def nginx_in_front(upstream: str, work: Path):
    """The compose proxy (deploy/nginx.conf) on a loopback port, passing requests to `upstream`."""
    port = free_port()
    prefix = work / "nginx"  # empty, as /etc/nginx holds only the configuration in the compose image
    prefix.mkdir(parents=True, exist_ok=True)
    conf = subprocess.run([str(ROOT / "bin" / "proxy-conf"), f"127.0.0.1:{port}", upstream], capture_output=True,
                          text=True, check=True).stdout
    (prefix / "nginx.conf").write_text(conf)
    log = work / "nginx.log"
    user = " user root;" if os.getuid() == 0 else ""
    with open(log, "wb") as out:
        proc = subprocess.Popen([nginx_binary(), "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", "stderr",
                                 "-g", f"daemon off;{user}"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: _serving(proc, f"http://127.0.0.1:{port}/healthz", log), timeout=30, message="nginx")
        yield port
    finally:
        _stop(proc)


@contextlib.contextmanager
def compose_web(work: Path, **env_extra):
    """The compose `proxy` in front of the compose `web` (3 workers, told of the one proxy hop)."""
    with gunicorn(work / "gunicorn.log", WEB_WORKERS="3", TRUSTED_PROXY_HOPS="1", **env_extra) as (web_port, _):
        with nginx_in_front(f"127.0.0.1:{web_port}", work) as port:
            yield port


@contextlib.contextmanager
def slow_clients(port: int, count: int):
    """`count` connections: half send nothing, half send part of a header and then nothing. Yields the
    sockets, so that a caller may trickle more bytes into them."""
    held = []
    try:
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and never the rest
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()
