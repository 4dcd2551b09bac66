"""`python -m bench estimates` end to end, small: a fresh worker measures itself, runs jobs of two methods that
spend no query, and the table of estimates against real wall time is written with its goal counts."""

import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.tuning.images import make_folder


def test_the_estimates_bench_runs_in_one_command(tmp_path):
    data = make_folder(tmp_path / "data", per_class=4, size=64)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "estimates", "--methods", "linear_probe,tip_adapter", "--budgets", "50",
         "--sizes", "2x4", "--shots", "2", "--rounds", "2", "--queue", "", "--data", str(data), "--name", "check"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**env, "BENCH_RESULTS_DIR": str(tmp_path / "results"), "TMPDIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-3000:]
    text = (tmp_path / "results" / "check.md").read_text()
    for part in ("| 1 | linear_probe | 50 | 2x4 |", "| 2 | tip_adapter | 50 | 2x4 |", "round 2: estimate / real",
                 "within ±15% or 1 s:", "The worker's figures at the end"):
        assert part in text, part
