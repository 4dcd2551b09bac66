"""The default job's tuner seconds against torch's thread count, on a quiet CPU and beside 1 and 3 busy
processes (each a Python loop that takes one core), alternating the variants in one run; medians, ratios to
the quiet single-thread time, and the load average of each run. What webapp/worker/threads.py chooses from.
numpy's BLAS (CMA-ES's eigendecomposition) runs with as many threads as torch ("same", what a worker does) or
with every core ("all", numpy's own default), alternated too when --blas names both.

    nice -n 10 .venv/bin/python -m bench threads [--repeats 2] [--threads 1,2] [--busy 0,1,3] [--blas same,all]
        [--set method=auto --set budget=2000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import table, write
from .quality import DEFAULT_DATA, with_overrides

DEFAULT_JOB = {"method": "cmaes", "adapt": "sparse", "param_budget": 0.0, "budget": 600, "shots": 16,
               "backbone": "demo"}


def _folder(root: Path, per_class: int) -> Path:
    """Links to `per_class` images of each class (never copies)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    for cls in sorted(p for p in root.iterdir() if p.is_dir()):
        (folder / cls.name).mkdir()
        for image in sorted(cls.iterdir())[:per_class]:
            (folder / cls.name / image.name).symlink_to(image)
    return folder


def _busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench threads")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--busy", default="0,1,3")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--blas", default="same", help="same, all, or both: same,all")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a job setting to change")
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    from tuning import load_backbone
    from tuning.config import TuneConfig
    from tuning.data import load_image_folder
    from tuning.tuner import tune

    torch.set_num_interop_threads(1)
    backbone = load_backbone("demo")
    job = with_overrides(DEFAULT_JOB, args.set)
    config = TuneConfig.from_dict(job)
    data = load_image_folder(_folder(Path(args.data), args.per_class), backbone=backbone, shots=config.shots,
                             seed=config.seed, cache_dir=tempfile.mkdtemp(prefix="bench-threads-features-"))
    threads, busy_counts = [int(t) for t in args.threads.split(",")], [int(b) for b in args.busy.split(",")]
    variants = [(n, blas) for n in threads for blas in args.blas.split(",")]
    seconds: dict[tuple, list[float]] = {}
    loads: dict[tuple, list[float]] = {}
    for _ in range(args.repeats):
        for busy in busy_counts:
            spinning = _busy(busy)
            time.sleep(1)
            try:
                for n, blas in variants:  # alternating: every variant sees the same moment of the machine
                    torch.set_num_threads(n)
                    with threadpool_limits(n if blas == "same" else os.cpu_count(), user_api="blas"):
                        result = tune(config, data, backbone=backbone)
                    seconds.setdefault((busy, n, blas), []).append(result.elapsed_s)
                    loads.setdefault((busy, n, blas), []).append(os.getloadavg()[0])
                    print(busy, n, blas, round(result.elapsed_s, 1), flush=True)
            finally:
                for process in spinning:
                    process.kill()
                    process.wait()
    quiet = statistics.median(seconds[(0, *variants[0])]) if (0, *variants[0]) in seconds else None
    rows = [[busy, n, blas, round(statistics.median(seconds[(busy, n, blas)]), 1),
             " ".join(f"{s:.1f}" for s in seconds[(busy, n, blas)]),
             f"{statistics.median(seconds[(busy, n, blas)]) / quiet:.2f}" if quiet else "–",
             f"{statistics.median(loads[(busy, n, blas)]):.1f}"]
            for busy in busy_counts for n, blas in variants]
    body = (f"Command: `nice -n 10 .venv/bin/python -m bench threads {' '.join(argv or [])}`. The job "
            f"({job}) on {args.per_class} NEU-DET images a class, features cached; tuner seconds; "
            f"{os.cpu_count()} cores, shared with other work (the load average says how busy), "
            f"{args.repeats} alternating rounds.\n\n"
            + table(["busy processes", "torch threads", "BLAS threads", "median s", "runs s",
                     f"x quiet {variants[0][0]} thread(s), BLAS {variants[0][1]}", "load average"], rows)
            + "\n")
    write("threads_cpu", "Tuner seconds against torch threads and busy processes (bench/threads.py)", body)
