"""The web server as bin/serve runs it (gunicorn with webapp/gunicorn_conf.py), started by a test on a
free port against the test database."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.conftest import ROOT, _database_url, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_seconds(url: str) -> float:
    """Seconds until the URL answers (any HTTP status is an answer), at most 30."""
    start = time.monotonic()
    try:
        urllib.request.urlopen(url, timeout=30).read()
    except urllib.error.HTTPError:
        pass
    except OSError:
        return 30.0
    return time.monotonic() - start


@contextlib.contextmanager
def gunicorn(log_path, **env_extra):
    """Yields (port, healthz url) once the server answers; stops it afterwards."""
    from django.db import connection

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PORT": str(port), "HOST": "127.0.0.1",
           "DATABASE_URL": _database_url(connection.settings_dict), **env_extra}
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:webapp.gunicorn_conf", "webapp.wsgi"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_for(lambda: get_seconds(url) < 30 and proc.poll() is None, timeout=60, message="gunicorn")
        yield port, url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()
