"""A tuning worker takes its share of the cores for torch and for numpy's BLAS alike (webapp/worker/threads.py):
CMA-ES's eigendecomposition runs in numpy, and with every core it fought the other processes on the machine."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SHOW = """
import django, json
django.setup()
import torch
from threadpoolctl import threadpool_info
from webapp.worker.threads import threads_set
chosen = threads_set()
blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
print(json.dumps({"chosen": chosen, "torch": torch.get_num_threads(), "interop": torch.get_num_interop_threads(),
                  "blas": blas}))
"""


def _threads_in_a_fresh_process(**env) -> dict:
    run = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_worker_gives_torch_and_blas_the_same_share_of_the_cores():
    got = _threads_in_a_fresh_process(TUNING_THREADS="1")
    assert got["chosen"] == 1 and got["torch"] == 1 and got["interop"] == 1
    assert got["blas"] and set(got["blas"]) == {1}, got


def test_the_share_follows_the_processes_the_deployment_starts_on_the_machine():
    cores = len(os.sched_getaffinity(0))
    got = _threads_in_a_fresh_process(TUNING_THREADS="0", WORKER_PROCESSES_ON_MACHINE=str(cores + 1))
    assert got["chosen"] == 1 and got["torch"] == 1 and set(got["blas"]) == {1}, got
    got = _threads_in_a_fresh_process(TUNING_THREADS="0", WORKER_PROCESSES_ON_MACHINE="1")
    assert got["chosen"] == cores and got["torch"] == cores and set(got["blas"]) == {cores}, got
