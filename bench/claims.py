"""SharpZO's specific claims, measured at the estimator level on a real few-shot set (NEU-DET by default).

1. Flattening lowers stage-2 variance: the spread of many stage-2 gradient estimates (RGE, q = 1, the
   stage's own mu) drawn at the same point, at the zero-shot start (w = 0), at the end of a
   sharpness-aware CMA-ES stage 1, and at the end of a plain CMA-ES stage 1 with the same queries (so
   that "flatter" is told apart from "elsewhere").
2. KerZOO: the error of each draw's directional derivative against a reference gradient (a CGE sweep at
   mu = 1e-3), for plain RGE and kernel-weighted RGE (r ~ U[-1, 1]; r shrunk to U[-1/2, 1/2]; weights
   clipped), at step sizes from the default up to where the mu^2 bias of plain RGE shows.

Only training losses are used (no validation or test split is read).
`python -m bench claims [--data PATH] [--draws N]`; writes bench/results/claims_<backbone>_<data>.md and .png.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

import tuning
from tuning.backbones.prompts import PromptLearner
from tuning.methods import estimators
from tuning.methods.cmaes import run_stage1
from tuning.objective import Objective
from tuning.runner import Run

from . import common
from .common import table, write
from .quality import prepared_run, run_arguments

MUS = (1e-3, 1e-2, 1e-1, 3e-1)
KERNELS = {  # label -> rge keyword arguments
    "plain RGE": {},
    "kernel, r ~ U[-1, 1]": {"kernel_weighted": True},
    "kernel, r ~ U[-1/2, 1/2]": {"kernel_weighted": True, "kernel_range": 0.5},
    "kernel, r ~ U[-1, 1], weight clipped at 4": {"kernel_weighted": True, "kernel_clip": 4.0},
}


def draws(obj: Objective, w: torch.Tensor, mu: float, n: int, seed: int,
          **kw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n single-direction estimates at w through the tuner's own rge: (estimate g_i, its direction u_i)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        state = gen.get_state()
        g, _ = estimators.rge(obj.losses, w, mu, 1, gen, **kw)
        u = torch.randn(1, w.numel(), generator=torch.Generator().set_state(state), dtype=torch.float64)[0]
        out.append((g, u))
    return out


def spread(gs: list[torch.Tensor], ref: torch.Tensor) -> dict:
    G = torch.stack(gs)
    mean = G.mean(0)
    total_var = float(((G - mean) ** 2).sum(1).mean())
    return {"var": total_var, "grad_sq": float(ref.norm() ** 2), "relative": total_var / float(ref.norm() ** 2)}


def directional_error(pairs, ref: torch.Tensor) -> float:
    """E[(s_i - u_i . ref)^2] / E[(u_i . ref)^2], where s_i is the draw's scalar along u_i."""
    err, size = [], []
    for g, u in pairs:
        exact = float(u @ ref)
        s = float(g @ u) / float(u @ u)  # g = s u
        err.append((s - exact) ** 2)
        size.append(exact ** 2)
    return statistics.mean(err) / statistics.mean(size)


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--draws", type=int, default=100)
    prepared = prepared_run(ap, argv, "claims benchmark")
    if prepared is None:
        return None
    args, bb, settings, (seed, *_) = prepared  # one seed: the first given
    cfg = tuning.TuneConfig.from_dict({**settings, "backbone": bb.id, "seed": seed, "shots": args.shots,
                                       "device": str(bb.device)})
    data = tuning.load_image_folder(args.data, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
    learner = PromptLearner(bb, data.class_names, ctx_init=cfg.ctx_init, intrinsic_dim=cfg.intrinsic_dim,
                            proj_seed=cfg.seed, proj_scale=cfg.proj_scale, chunk_rows=cfg.text_batch_size)
    t0 = time.perf_counter()
    cap = int(cfg.stage1_budget_fraction * cfg.budget)

    def stage1_end(sharpness_aware: bool) -> torch.Tensor:
        run = Run(cfg, Objective(learner, data, budget=10**9))
        return run_stage1(run, sharpness_aware=sharpness_aware, query_cap=cap, max_generations=cfg.stage1_generations,
                          patience=cfg.patience)

    obj = Objective(learner, data, budget=10**9)
    points = {"zero-shot start (w = 0)": torch.zeros(cfg.intrinsic_dim, dtype=torch.float64),
              "after sharpness-aware CMA-ES": stage1_end(True), "after plain CMA-ES (same queries)": stage1_end(False)}
    refs = {name: estimators.cge(obj.losses, w, 1e-3)[0] for name, w in points.items()}

    var_rows = []
    for name, w in points.items():
        s = spread([g for g, _ in draws(obj, w, cfg.mu, args.draws, seed)], refs[name])
        loss = float(obj.losses(w[None])[0])
        var_rows.append([name, f"{loss:.4f}", f"{s['grad_sq']:.4g}", f"{s['var']:.4g}", f"{s['relative']:.1f}"])
        print(f"variance at {name}: {s}", file=sys.stderr)

    w_ker = points["after sharpness-aware CMA-ES"]
    ker_rows, errors = [], {label: [] for label in KERNELS}
    for mu in MUS:
        row = [f"{mu:g}"]
        for label, kw in KERNELS.items():
            e = directional_error(draws(obj, w_ker, mu, args.draws, seed + 1, **kw),
                                  refs["after sharpness-aware CMA-ES"])
            errors[label].append(e)
            row.append(f"{e:.3g}")
        ker_rows.append(row)
        print(f"kerzoo mu {mu}: {row}", file=sys.stderr)

    name = f"claims_{bb.id.replace('/', '_').replace('@', '_').replace(':', '_')}_{Path(args.data).name}"
    _plot(var_rows, errors, common.RESULTS / f"{name}.png")
    body = (f"Backbone `{bb.id}`, data `{Path(args.data).name}`, {args.shots} shots, seed {seed}, d = "
            f"{cfg.intrinsic_dim}, {args.draws} draws per cell, stage 1 capped at {cap} queries "
            f"({cfg.stage1_generations} generations, patience {cfg.patience}). Training loss only. Reference gradient: "
            "CGE sweep at mu = 1e-3.\n\n## Flattening and the variance of stage-2 estimates\n\n"
            f"RGE, q = 1, mu = {cfg.mu:g}. Variance: E||g_i - mean g||^2 over the draws; relative: divided by "
            "||grad||^2 (for Gaussian directions about d + 1 when the loss is smooth at the scale of mu).\n\n"
            + table(["point", "training loss", "squared gradient norm (CGE)", "variance",
                     "relative variance"], var_rows)
            + "\n\n## KerZOO: error of each draw along its direction\n\n"
            "E[(s_i - u_i . grad)^2] / E[(u_i . grad)^2] at the sharpness-aware stage-1 end point; s_i is the draw's "
            "derivative estimate along its direction u_i (plain RGE: the two-point difference; kernel: weighted by "
            "K(r)). Lower is better; plain RGE's error is its mu^2 bias alone, the kernel's adds the spread of its "
            "weights.\n\n" + table(["mu"] + list(KERNELS), ker_rows)
            + f"\n\nCurves in `{name}.png`. Wall time {time.perf_counter() - t0:.0f} s.")
    return write(name, "SharpZO's claims at the estimator level", body)


def _plot(var_rows, errors, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    a.bar([r[0].replace(" (", "\n(") for r in var_rows], [float(r[3]) for r in var_rows])
    a.set_ylabel("variance of stage-2 estimates")
    a.set_title("Stage-2 RGE variance at three points")
    a.tick_params(axis="x", labelsize=7)
    for label, es in errors.items():
        b.plot(MUS, es, marker="o", label=label)
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("mu")
    b.set_ylabel("relative directional error")
    b.set_title("KerZOO vs plain RGE")
    b.legend(fontsize=7)
    fig.tight_layout()
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
