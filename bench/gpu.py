"""GPU: what one run on a GPU machine must tell us, in one command (at most 8 minutes on an H100).

    python -m bench gpu            # on a GPU; writes bench/results/gpu.md
    python -m bench gpu --smoke    # the same code paths on a CPU, small sizes, in under two minutes

1. The device, its fast number format, and the precision of the tuner's queries.
2. Throughput on ViT-B-16's text tower (real architecture, random weights) at K = 10, 100, 1000:
   queries per second for a stage-2 step (2q queries in one call; q = 1, 8, 32 at K = 10, so the share of
   peak shows as the prompts per forward grow) and for a CMA-ES generation (S + 2 queries), with the text
   tower in fp32 (the tuner's default) and in the device's fast format, and the share of the device's
   peak FLOP rate for that format that the step achieves (useful FLOPs counted by torch on the eager
   forward). Each row twice, timed in interleaved repeats: `eager` (cuda_graphs='off': every kernel
   launched from Python) and `graphed` (cuda_graphs='auto': chunks padded to a few sizes and replayed as
   CUDA graphs, tuning/backbones/graphed.py; on a CPU `padded`: the same padding, run eagerly).
   Goal: at least 30% of the fp32 peak at K = 10.
3. A job end to end: `tuning.tune` with the default settings on random features of the random backbone
   (K = 10), 20,000 queries with cuda_graphs='auto' (goal: at most 60 s on one H100), then 2,000 queries
   with 'auto' and with 'off'. In --smoke: one job at the default method's fewest queries (K = 2).
4. Peak memory of a forward-only step vs inference vs a CoOp backprop step (bench.memory's measure).
5. Finite-difference agreement with fp32 on this device (bench.fd_agreement).
6. The quality table of `bench quality` at its GPU settings (20,000 queries) on NEU-DET, for as many
   methods and seeds as fit in the time left.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import tuning
from tuning.backbones.graphed import StaticShapeForward
from tuning.backbones.precision import precision_label
from tuning.backbones.prompts import PromptLearner
from tuning.config import minimum_budget
from tuning.methods import estimators
from tuning.objective import Objective

from . import fd_agreement, memory, quality
from .common import class_names, interleaved_medians, random_backbone, table, write
from .speed import _data as random_features

# Dense peak rates in TFLOP/s from the vendor's data sheets: (bf16/fp16 tensor cores, fp32 without TF32).
PEAK_TFLOPS = {"H200": (989.0, 67.0), "H100 PCIe": (756.0, 51.0), "H100 NVL": (835.0, 60.0),
               "H100": (989.0, 67.0), "A100": (312.0, 19.5), "L40S": (362.0, 91.6), "L4": (121.0, 30.3)}
METHOD_ORDER = ["zeroshot", "linear_probe", "tip_adapter", "sharpzo", "zosgd", "cmaes", "sharpzo+tip", "coop"]
SMOKE_QUALITY = dict(budget=60, intrinsic_dim=8, popsize=4, stage1_generations=3, patience=0, mask_every=10,
                     eval_every=5)


def peak_tflops(device: torch.device) -> tuple[float, float] | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peaks in PEAK_TFLOPS.items():  # the longer names first: "H100 PCIe" before "H100"
        if all(part in name for part in key.split()):
            return peaks
    return None


def counted_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def static_learner(bb, names, **kw) -> PromptLearner:
    """A learner whose plain queries take the static-shape path: recorded CUDA graphs on a GPU; on the CPU,
    where nothing is captured, the same padded chunks run eagerly (so --smoke runs that code too)."""
    learner = PromptLearner(bb, names, cuda_graphs="auto", **kw)
    if learner.static_forward is None:
        learner.static_forward = StaticShapeForward(learner.tower.encode, bb.device, learner.chunk_rows, capture=False)
    return learner


def stage2_step(obj, w, q: int):
    """One ZO-SGD step's 2q points, in one call."""
    return lambda: estimators.rge(obj.losses, w, 1e-3, q, torch.Generator().manual_seed(1))


def cmaes_generation(obj, w, X, eps):
    """The candidates, the mean's evaluation and the sharpness point."""
    return lambda: (obj.losses(X), obj.evaluate(w), obj.losses(w + eps))


def loss_difference(objectives: dict, X: torch.Tensor) -> float:
    """Largest relative difference between the losses of the same points through the eager forward and the
    static-shape one (0 on a CPU, where the padded path is exact)."""
    eager, static = (obj.losses(X) for obj in objectives.values())
    return float(((static - eager).abs() / eager.abs()).max())


def throughput(bb, Ks, *, d: int, popsize: int, repeats: int, chunk_rows: int, directions) -> str:
    cuda = bb.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else None
    peaks = peak_tflops(bb.device)
    precisions = ("fp32", "autocast") if bb.autocast_dtype is not None else ("fp32",)
    static_label = "graphed" if cuda else "padded"
    rows, states, differences = [], set(), []
    for K in Ks:
        names, data = class_names(K), random_features(bb, K)
        learners = {"eager": PromptLearner(bb, names, intrinsic_dim=d, chunk_rows=chunk_rows, cuda_graphs="off"),
                    static_label: static_learner(bb, names, intrinsic_dim=d, chunk_rows=chunk_rows)}
        objectives = {label: Objective(learner, data, budget=10**12) for label, learner in learners.items()}
        g = torch.Generator().manual_seed(0)
        w = 0.1 * torch.randn(d, generator=g, dtype=torch.float64)
        X = w + 0.4 * torch.randn(popsize, d, generator=g, dtype=torch.float64)
        eps = 0.1 * torch.randn(d, generator=g, dtype=torch.float64)
        # (operation, q, queries, {forward: the operation through that forward's objective})
        operations = [("stage-2 step", q, 2 * q, {f: stage2_step(obj, w, q) for f, obj in objectives.items()})
                      for q in (directions if K == Ks[0] else (1,))]
        operations.append(("CMA-ES generation", None, popsize + 2,
                           {f: cmaes_generation(obj, w, X, eps) for f, obj in objectives.items()}))
        for precision in precisions:
            for learner in learners.values():
                learner.precision = precision
            label = precision_label(precision, bb)
            peak = peaks[0 if label in ("bf16", "fp16") else 1] if peaks else None
            for name, q, queries, fns in operations:
                for fn in fns.values():  # warm-up: lazy set-up, and the graphs' capture
                    fn()
                seconds = interleaved_medians(fns, repeats, sync)
                flops = counted_flops(fns["eager"])  # a graph's replay is invisible to torch's counter: same work
                for runner in fns:
                    tflops = flops / seconds[runner] / 1e12
                    rows.append([K, name, label, runner, q or "-", queries * K, f"{queries / seconds[runner]:,.0f}",
                                 f"{seconds[runner] * 1e3:.2f}", f"{tflops:.2f}",
                                 f"{100 * tflops / peak:.1f}%" if peak else "-",
                                 f"{seconds['eager'] / seconds[runner]:.2f}"])
            differences.append(f"K = {K} {label}: {loss_difference(objectives, X):.1e}")
        states.add(learners[static_label].static_forward.state)
    return (f"Text tower of `{bb.id}`, d = {d}, S = {popsize}, prompts cut to {learners['eager'].length} tokens, "
            f"chunks of {chunk_rows} prompts, median of {repeats} interleaved repeats. Forward `eager`: every kernel "
            f"launched from Python (cuda_graphs='off'); `{static_label}`: chunks padded to a few sizes"
            f"{', each recorded once as a CUDA graph and replayed' if cuda else ', run eagerly (no capture on a CPU)'} "
            f"(cuda_graphs='auto'; here: {'; '.join(sorted(states))}). q: directions of a ZO-SGD step (2q queries "
            "in one call). FLOPs counted by torch on the eager forward: the useful work, padding rows not counted. "
            f"Peak rate used: {f'{peaks[0]:g} TFLOP/s bf16, {peaks[1]:g} fp32' if peaks else 'unknown here'}. "
            "Goal: at least 30% of the fp32 peak at K = 10. Largest relative difference between the CMA-ES "
            f"candidates' losses through `{static_label}` and through `eager`: {', '.join(differences)}.\n\n"
            + table(["K", "operation", "text tower in", "forward", "q", "prompts", "queries/s", "ms", "TFLOP/s",
                     "of peak", "x eager"], rows))


def job_table(bb, runs, *, classes: int) -> str:
    """Jobs with the web form's defaults on random features of the random backbone, through the tuner's own
    entry point (what a worker runs once its backbone is loaded and the images' features are cached); runs:
    (budget, cuda_graphs) pairs."""
    data = random_features(bb, classes)
    rows = []
    for queries, graphs in runs:
        cfg = tuning.TuneConfig.from_dict({"backbone": bb.id, "device": str(bb.device), "budget": queries,
                                           "cuda_graphs": graphs})
        started = time.perf_counter()
        r = tuning.tune(cfg, data, backbone=bb)
        wall = time.perf_counter() - started
        rows.append([f"{queries:,}", cfg.method, graphs, f"{r.queries_used:,}", f"{wall:.1f}",
                     f"{r.queries_used / wall:,.0f}"])
        print(f"job: {queries} queries, cuda_graphs {graphs}: {wall:.1f} s", flush=True)
    return (f"`{bb.id}`, {classes} classes of random image features (16 shots), every setting at its default "
            f"(method `{cfg.method}`, precision fp32) but the budget and `cuda_graphs`; wall seconds of "
            "`tuning.tune` from the loaded backbone to the adapter, one run each. Goal: 20,000 queries in at most "
            "60 s on one H100.\n\n"
            + table(["budget", "method", "cuda_graphs", "queries used", "wall s", "queries/s"], rows))


def memory_table(arch: str, device: str, Ks) -> str:
    rows = []
    for K in Ks:
        got = {mode: memory.measure_one(mode, K, arch, device) for mode in memory.MODES}
        inference = got["inference"]["whole_bytes"]
        rows.append([K] + [f"{got[m]['whole_bytes'] / 2**20:.1f}" for m in memory.MODES]
                    + [f"{got[m]['whole_bytes'] / inference:.2f}" for m in ("forward-only", "coop")])
    source = "torch.cuda.max_memory_allocated" if device != "cpu" else "resident set size"
    return (f"`random-{arch}` (weights, cached features and the operation's buffers; {source}; tuner "
            "precision fp32).\n\n" + table(["K", "inference MiB", "forward-only step MiB", "CoOp step MiB",
                                            "forward-only / inference", "CoOp / inference"], rows))


def quality_table(args, settings: dict, seeds, deadline: float) -> str:
    """Methods in order of interest, seed after seed, while the time left covers the slowest run so far."""
    try:
        bb = tuning.load_backbone(args.quality_backbone, device=args.device)
    except (tuning.BackboneError, ImportError, OSError) as exc:
        return f"Skipped: the backbone `{args.quality_backbone}` could not be loaded here ({exc})."
    if not Path(args.data).is_dir():
        return f"Skipped: the dataset folder {args.data} is absent."
    runs, slowest, skipped = {}, 0.0, []
    for seed in seeds:
        data = tuning.load_image_folder(args.data, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
        for method in METHOD_ORDER:
            if time.monotonic() + slowest > deadline:
                skipped.append(f"{method} seed {seed}")
                continue
            t = time.monotonic()
            runs[(method, seed)] = quality.measure(bb, data, {**settings, **quality.VARIANTS[method]}, label=method,
                                                   seed=seed, shots=args.shots)
            slowest = max(slowest, time.monotonic() - t)
    note = f" Left out for time: {', '.join(skipped)}." if skipped else ""
    return (f"Backbone `{bb.id}`, data `{Path(args.data).name}`, {args.shots} shots, device {bb.device}, "
            f"{settings['budget']} queries per run.{note} {quality.settings_record(settings)}\n\n"
            + table(quality.SUMMARY_HEAD, quality.summary_rows(runs, METHOD_ORDER, seeds)))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="small sizes: the same code paths in under two minutes")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--arch", default="ViT-B-16")
    ap.add_argument("--minutes", type=float, default=7.5, help="the whole run stops adding quality runs by then")
    ap.add_argument("--quality-backbone", default="demo")
    ap.add_argument("--data", default=str(quality.DEFAULT_DATA))
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--cache-dir", default="/tmp/tuning-bench-cache")
    args = ap.parse_args(argv)
    deadline = time.monotonic() + 60 * args.minutes
    bb = random_backbone(args.arch, args.device)
    cuda = bb.device.type == "cuda"
    if args.smoke:
        Ks, repeats, memory_Ks, formats, directions = (10,), 2, (10,), ["bf16"], 8
        settings, seeds, step_directions = SMOKE_QUALITY, [0], (1, 2)
        # the default method's fewest queries; one run, as on a CPU both settings take the same eager path
        jobs, job_classes = [(minimum_budget(tuning.TuneConfig(), num_classes=2), "auto")], 2
    else:
        Ks, repeats, memory_Ks, directions = (10, 100, 1000), 10, (10, 100, 1000), 32
        step_directions, job_classes = (1, 8, 32), 10
        jobs = [(20_000, "auto"), (2_000, "auto"), (2_000, "off")]  # the goal, then graphs against none
        formats = ["bf16", "fp16", "tf32"] if cuda else ["bf16", "fp16"]
        settings = quality.GPU_SETTINGS if cuda else quality.CPU_SETTINGS
        seeds = [int(s) for s in args.seeds.split(",")]
    device_line = (f"Device: {torch.cuda.get_device_name(bb.device) if cuda else 'CPU'}; fast format of the "
                   f"device: {precision_label('autocast', bb)}; the tuner's queries run in "
                   f"{precision_label(tuning.TuneConfig().precision, bb)} (setting `precision`).")
    sections = [
        ("Throughput", throughput(bb, Ks, d=128 if not args.smoke else 8, popsize=20 if not args.smoke else 4,
                                  repeats=repeats, chunk_rows=4096 if cuda else 256, directions=step_directions)),
        ("A job end to end", job_table(bb, jobs, classes=job_classes)),
        ("Peak memory", memory_table(args.arch, str(bb.device), memory_Ks)),
        ("Finite-difference agreement with fp32", fd_agreement.agreement_table(bb, formats, directions=directions)),
    ]
    for title, text in sections:
        print(f"## {title}\n\n{text}\n", flush=True)
    sections.append(("Quality at equal query budgets", quality_table(args, settings, seeds, deadline)))
    body = device_line + "\n\n" + "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
    name = "gpu" if cuda and not args.smoke else f"gpu_smoke_{bb.device.type}"
    return write(name, "GPU check: throughput, memory, finite-difference agreement and quality", body)


if __name__ == "__main__":
    main()
