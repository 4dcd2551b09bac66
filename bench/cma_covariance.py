"""The head's CMA-ES: full against diagonal (separable) covariance, in memory and seconds per candidate.

A linear head over K classes has K*K coordinates beside the shared context, so the full covariance
has (intrinsic_dim + K*K)^2 numbers: about 10^8 at K = 100, 10^12 at K = 1,000. This bench builds
the tuner's own CMA-ES (tuning.methods.cmaes.new_es) at d = intrinsic_dim + K*K and runs a few
ask/tell generations on a fixed quadratic, recording the peak memory the strategy allocates (Python's
tracemalloc: numpy's arrays included) and the seconds per candidate it adds to each query; the text
tower's forward, the same for both, is not part of it. A configuration whose covariance alone would
pass --max-gib is not built; its row says what it would need. Accuracy of the two models comes from
the protocol (bench/protocol.py, e.g. `--set method=cmaes --set adapt=sparse --set param_budget=0
--arm cma_covariance=diagonal`).

    python -m bench cma_covariance [--classes 10,100,1000] [--generations 3] [--max-gib 4]
"""
from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np

from .common import table, write


def covariance_gib(d: int) -> float:
    """pycma's full model keeps C, its eigenvectors B and a few d x d work arrays: about 3 of them."""
    return 3 * d * d * 8 / 2**30


def measure(d: int, covariance: str, generations: int, popsize: int) -> dict:
    import tuning
    from tuning.methods.cmaes import new_es
    cfg = tuning.TuneConfig.from_dict({"popsize": popsize, "cma_covariance": covariance})
    tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    es = new_es(d, cfg)
    target = np.linspace(-1, 1, d)
    for _ in range(generations):
        X = es.ask()
        es.tell(X, [float(((np.asarray(x) - target) ** 2).sum()) for x in X])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    candidates = generations * popsize
    return {"peak_mib": peak / 2**20, "wall_per_candidate": (time.perf_counter() - wall) / candidates,
            "cpu_per_candidate": (time.process_time() - cpu) / candidates}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", default="10,100,1000")
    ap.add_argument("--intrinsic-dim", type=int, default=32)
    ap.add_argument("--popsize", type=int, default=8)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--max-gib", type=float, default=4.0, help="do not build a full model needing more")
    ap.add_argument("--name", default="cpu")
    args = ap.parse_args(argv)
    measure(8, "full", 1, args.popsize)  # imports and first calls, kept out of the first row
    rows, t0, load = [], time.perf_counter(), os.getloadavg()
    for K in [int(k) for k in args.classes.split(",")]:
        d = args.intrinsic_dim + K * K
        for covariance in ("full", "diagonal"):
            if covariance == "full" and covariance_gib(d) > args.max_gib:
                rows.append([K, d, covariance, f"not built: needs about {covariance_gib(d):,.0f} GiB", "-", "-"])
                continue
            m = measure(d, covariance, args.generations, args.popsize)
            rows.append([K, d, covariance, f"{m['peak_mib']:.1f}", f"{1000 * m['wall_per_candidate']:.2f}",
                         f"{1000 * m['cpu_per_candidate']:.2f}"])
            print(rows[-1], flush=True)
    body = (f"CMA-ES from the tuner (tuning.methods.cmaes.new_es), d = {args.intrinsic_dim} + K*K, popsize "
            f"{args.popsize}, {args.generations} generations of ask/tell on a quadratic. Peak memory: tracemalloc "
            "during construction and the generations. Milliseconds per candidate: the strategy's own cost, to add "
            "to each query's forward. Load average (1/5/15 min) at the start "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.\n\n"
            + table(["K", "d", "covariance", "peak MiB", "ms per candidate (wall)", "ms per candidate (CPU)"], rows)
            + f"\n\nWall time {time.perf_counter() - t0:.0f} s.")
    return write(f"cma_covariance_{args.name}", "The head's CMA-ES: full against diagonal covariance", body)


if __name__ == "__main__":
    main()
