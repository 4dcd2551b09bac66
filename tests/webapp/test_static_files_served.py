"""Static files as bin/serve serves them: collected under hashed names, sent gzip-compressed to a
browser that accepts it and cached for a year; pages link the hashed names; the Plotly bundle has
the trace types our charts draw and none from a CDN."""

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.webapp.gunicorn_process import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

TRACES_WE_DRAW = ("scatter", "bar", "heatmap")  # static/js/job_plots.js and report_charts.js


def _get(url: str, **headers):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture
def collected_server(tmp_path):
    env = {"STATIC_COLLECTED": "1", "STATIC_ROOT": str(tmp_path / "static")}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env}, timeout=300)
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    with gunicorn(tmp_path / "gunicorn.log", **env) as (port, _):
        yield f"http://127.0.0.1:{port}", manifest


def test_plotly_is_sent_compressed_and_cached_for_a_year_under_its_hashed_name(collected_server):
    base, manifest = collected_server
    hashed = manifest["vendor/plotly/plotly.min.js"]
    assert hashed != "vendor/plotly/plotly.min.js"
    status, headers, body = _get(f"{base}/static/{hashed}", **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    cache = headers["Cache-Control"]
    assert "immutable" in cache and int(re.search(r"max-age=(\d+)", cache).group(1)) >= 365 * 24 * 3600

    status, headers, plain = _get(f"{base}/static/{hashed}")
    assert headers.get("Content-Encoding") is None and len(body) < len(plain) / 2
    for trace in TRACES_WE_DRAW:
        assert f'moduleType:"trace",name:"{trace}"'.encode() in plain, f"the Plotly bundle lacks {trace} traces"


def test_pages_link_the_hashed_names(collected_server):
    base, manifest = collected_server
    _, _, page = _get(f"{base}/login/")
    assert f'/static/{manifest["css/app.css"]}'.encode() in page
    assert b"cdn" not in page.lower()
