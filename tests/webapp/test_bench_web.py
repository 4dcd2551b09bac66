"""bench/bench_web.py runs end to end on the real stack (small sizes): its report names every measure."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser


def _neighbour_redis_db(url: str) -> str:
    """The suite's own workers consume the default queue on the suite's Redis database and would take the
    benchmark's ingestion message: the benchmark's stack uses the database below it."""
    base, db = re.fullmatch(r"(.*/)(\d+)", url).groups()
    return f"{base}{(int(db) - 1) % 16}"


def test_bench_web_writes_its_report(tmp_path):
    out = tmp_path / "web.md"
    env = {**os.environ, "REDIS_URL": _neighbour_redis_db(os.environ["REDIS_URL"])}
    run = subprocess.run([sys.executable, "bench/bench_web.py", "--points", "3000", "--images", "30", "--rounds", "1",
                          "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    text = out.read_text()
    for measure in ["job page, first visit", "job form, first page", "\"Launch\" click", "metrics.json first load",
                    "40 clients at once", "ingestion of 30 images", "Resident memory", "load average"]:
        assert measure in text, measure
