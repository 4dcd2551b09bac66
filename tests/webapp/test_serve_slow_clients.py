"""Slow clients cannot starve the site: with 1,000 connections open that send nothing or half a header,
normal requests are still answered, on bin/serve's web tier (bin/serve-web) and on the compose
topology (deploy/nginx.conf in front of gunicorn). Latency figures: bench/bench_slow_clients.py."""

import time
import urllib.request

import pytest

from tests.conftest import Patience
from tests.webapp.proxy_process import compose_web, serve_web, slow_clients

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = 1000


def _answers_while_held(port: int) -> list[float]:
    seconds = []
    with slow_clients(port, SLOW):
        time.sleep(1)  # the server has taken them all in and waits for the rest of each request
        for path in ("/healthz", "/login/", "/healthz", "/login/", "/healthz"):
            # Bounded only against a hang: a starved server answers none of these while the sockets are
            # held (gunicorn alone: 140 s with 70 of them).
            patience = Patience(10)
            start = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
                assert response.status == 200
            seconds.append(time.monotonic() - start)
            assert not patience.exhausted(), (path, seconds)
    return seconds


def test_bin_serve_answers_while_1000_slow_connections_are_open(tmp_path):
    with serve_web(tmp_path) as port:
        _answers_while_held(port)


def test_the_compose_proxy_answers_while_1000_slow_connections_are_open(tmp_path):
    with compose_web(tmp_path) as port:
        _answers_while_held(port)
