"""bench/bench_slow_clients.py runs end to end (small sizes): both deployments, a row each without and
with the stalled connections, every request answered."""

import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.webapp.proxy_process import nginx_binary


def test_the_slow_clients_bench_measures_both_deployments(tmp_path):
    nginx_binary()  # skips without nginx
    out = tmp_path / "slow_clients.md"
    subprocess.run([sys.executable, "-m", "bench", "slow-clients", "--slow", "40", "--seconds", "3", "--out", str(out)],
                   cwd=ROOT, env={**os.environ, "NGINX": nginx_binary()}, check=True, timeout=600,
                   capture_output=True)
    rows = [line for line in out.read_text().splitlines() if line.startswith("| bin/serve")
            or line.startswith("| compose")]
    assert len(rows) == 4 and sum("| 40 (" in row for row in rows) == 2
