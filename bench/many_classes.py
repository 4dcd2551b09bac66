"""Many classes: peak memory and seconds per query per class at K = 10, 100 and 1,000 for the default method
and each of auto's candidates, and the accuracy of the size rule (cma_covariance='auto', head_form='auto')
against the full models (both 'full', as before the rule) at K = 6 and K = 20.

Data: real images with synthetic labels. Every image of ../shared/datasets (NEU-DET, X-SDD, BSData: 3,319
images) is encoded once by the backbone; the pooled images are then split recursively at their features'
leading principal direction into K classes of (almost) equal size, so each class is a set of real images lying
together in feature space (learnable; 3 or 4 images a class at K = 1,000, whatever their real defect). The
relabelled set is written as a folder of links, so the product's loader and split rule read it and the
feature cache serves it.

Costs: one fresh process per row; peak = its resident set size high-water mark (Linux VmHWM: imports, backbone,
data and the operation), against the inference row on the same data (the test images classified zero-shot).
Seconds per query per class = the operation's seconds / the queries it spent / K, wall and CPU (this process's
threads); inference counts its one forward of the K prompts as one query. The method rows run with tiny
budgets (a few generations) so that K = 1,000 fits in minutes on a CPU: the per-query figures hold the
fixed costs of a run too (the probe's fits, the discriminant directions), as a short job would.

Accuracy: the search auto runs over the prompt and head (method cmaes, adapt='sparse', param_budget 0; without
auto's warm start and choice rule, which would hide the head's form behind the probe), paired by seed through
bench/protocol.py: K = 6 is NEU-DET's own labels, K = 20 the relabelled union.

    python -m bench many_classes [--classes 10,100,1000] [--accuracy-seeds 0,1,2] [--budget 16] [--popsize 4]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .common import peak_rss, run_fresh, table, write
from .protocol import SHARED_DATASETS, load_line, report, test_accuracy, tune_arm, verdict_summary

REAL_SETS = ("neu-det", "xsdd", "bsd_pitting")
INFERENCE = "inference (zero-shot, test images)"
JOINT = {"adapt": "sparse", "param_budget": 0.0}  # auto's searches: the prompt and the linear head, no image delta
ROWS = {  # label -> settings over the bench's; the default first, then auto's candidates cheapest first
    "default (auto)": {},
    "zero-shot": {"method": "zeroshot"},
    "linear probe": {"method": "linear_probe"},
    "Tip-Adapter": {"method": "tip_adapter"},
    "SharpZO (prompt + head)": {"method": "sharpzo", **JOINT},
    "CMA-ES (prompt + head)": {"method": "cmaes", **JOINT},
    "CMA-ES, K x K head and full covariance (before)": {"method": "cmaes", **JOINT, "head_form": "full",
                                                        "cma_covariance": "full"},
}
FULL = {"head_form": "full", "cma_covariance": "full"}
RULE = {"head_form": "auto", "cma_covariance": "auto"}


def relabel(features, K: int) -> list[int]:
    """K classes of (almost) equal size: the images split recursively at their features' leading principal
    direction, each part taking its share of the classes (a k-d tree on the features, K leaves)."""
    import torch
    out = [0] * len(features)

    def split(members: torch.Tensor, first: int, k: int) -> None:
        if k == 1:
            for i in members.tolist():
                out[i] = first
            return
        x = features[members].double()
        direction = torch.linalg.svd(x - x.mean(0), full_matrices=False).Vh[0]
        order = members[torch.argsort(x @ direction)]
        cut = round(len(members) * (k // 2) / k)
        split(order[:cut], first, k // 2)
        split(order[cut:], first + k // 2, k - k // 2)

    split(torch.arange(len(features)), 0, K)
    return out


def real_images(bb, cache_dir: str):
    """(features (N, D), paths) of every image of the real sets present, encoded once (cached)."""
    import torch

    import tuning
    feats, paths = [], []
    for name in REAL_SETS:
        if (SHARED_DATASETS / name).is_dir():
            data = tuning.load_image_folder(SHARED_DATASETS / name, backbone=bb, shots=1, cache_dir=cache_dir)
            for split in (data.train, data.val, data.test):
                feats.append(split.features)
                paths += split.paths
    return torch.cat(feats), paths


def relabelled_folder(bb, K: int, cache_dir: str) -> Path:
    """A folder of links to the real images, one sub-folder per synthetic class ('part 0001', ...)."""
    root = Path(cache_dir) / "many_classes" / f"K{K}"
    if root.is_dir():
        return root
    feats, paths = real_images(bb, cache_dir)
    new = relabel(feats, K)
    tmp = root.with_suffix(".tmp")
    for i, (path, k) in enumerate(zip(paths, new)):
        folder = tmp / f"part {k:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}{Path(path).suffix}").symlink_to(Path(path).resolve())
    tmp.rename(root)
    return root


def measure_one(label: str, K: int, args) -> dict:
    """One row in this (fresh) process."""
    import torch

    import tuning
    from tuning.errors import ConfigError

    torch.set_num_threads(args.threads)
    bb = tuning.load_backbone(args.backbone, device="cpu")
    data = tuning.load_image_folder(relabelled_folder(bb, K, args.cache_dir), backbone=bb, shots=args.shots,
                                    cache_dir=args.cache_dir)
    out: dict = {"label": label, "K": K, "loaded_bytes": peak_rss()}
    wall, cpu = time.perf_counter(), time.process_time()
    if label == INFERENCE:
        tuning.evaluate(bb, data.test, class_names=data.class_names)
        out["queries"] = 1  # the K prompts, once
    else:
        cfg = tuning.TuneConfig.from_dict({**bench_settings(args), **ROWS[label], "backbone": bb.id, "device": "cpu",
                                           "shots": args.shots})
        try:
            if cfg.method in ("auto", "sharpzo", "cmaes"):
                out["model"] = search_model(cfg, K)
            out["queries"] = tuning.tune(cfg, data, backbone=bb).queries_used
        except ConfigError as exc:
            out["refused"] = str(exc)
    out.update(wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu, whole_bytes=peak_rss())
    return out


def search_model(cfg, K: int) -> str:
    """The size of a search over K classes and its covariance model (ConfigError where 'full' cannot fit)."""
    from tuning.config import tuned_dim
    from tuning.methods.search_size import covariance_model
    d = tuned_dim(cfg, K)
    return f"d = {d:,} ({d - cfg.intrinsic_dim:,} head), {covariance_model(cfg.cma_covariance, d)} covariance"


def bench_settings(args) -> dict:
    """The product's defaults, with a budget a CPU can spend at K = 1,000 in minutes."""
    return {"budget": args.budget, "popsize": args.popsize, "probe_steps": args.probe_steps,
            "stage1_budget_fraction": 1.0}  # SharpZO's first generation fits in a tiny budget


def cost_tables(results: dict, classes: list[int]) -> str:
    first, last = classes[0], classes[-1]
    mem_rows, time_rows = [], []
    for label in [INFERENCE, *ROWS]:
        got = [results.get((label, K)) for K in classes]
        mem, per = [label], [label]
        for K, r in zip(classes, got):
            inference = (results.get((INFERENCE, K)) or {}).get("whole_bytes")
            if r is None:
                mem += ["failed", "-"]
                per += ["failed"]
            elif "refused" in r:
                mem += [f"{r['whole_bytes'] / 2**20:.0f}", "refused"]
                per += ["refused"]
            else:
                mem += [f"{r['whole_bytes'] / 2**20:.0f}", f"{r['whole_bytes'] / inference:.2f}" if inference else "-"]
                per += [f"{1000 * r['wall_s'] / r['queries'] / K:.2f} / {1000 * r['cpu_s'] / r['queries'] / K:.2f}"]
        mem.append("; ".join(f"K={K}: {r['model']}" for K, r in zip(classes, got) if r and "model" in r) or "-")
        per.append("; ".join(str(r.get("queries", "-")) if r else "-" for r in got))
        a, b = got[0], got[-1]
        if a and b and "refused" not in a and "refused" not in b:
            per += [f"{(b['wall_s'] / b['queries'] / last) / (a['wall_s'] / a['queries'] / first):.2f}",
                    f"{(b['cpu_s'] / b['queries'] / last) / (a['cpu_s'] / a['queries'] / first):.2f}"]
        else:
            per += ["-", "-"]
        mem_rows.append(mem)
        time_rows.append(per)
    mem_head = ["row"] + [h for K in classes for h in (f"K={K} peak MiB", f"K={K} / inference")] + ["search"]
    time_head = (["row"] + [f"K={K} ms wall / CPU" for K in classes] + ["queries"]
                 + [f"K={last} / K={first} (wall)", f"K={last} / K={first} (CPU)"])
    refusals = sorted({r["refused"] for r in results.values() if r and "refused" in r})
    return ("Peak memory (whole process) and its ratio to inference at the same K:\n\n" + table(mem_head, mem_rows)
            + "\n\nMilliseconds per query per class (wall / CPU), and the ratio of the largest K to the smallest:\n\n"
            + table(time_head, time_rows)
            + ("\n\nRefused (before any query): " + " ".join(refusals) if refusals else ""))


def accuracy_section(args) -> str:
    """Full models against the rule, paired by seed (bench/protocol.py), at K = 6 (NEU-DET) and K = 20. At K = 6
    the rule resolves to the full models, so its first seed only checks that the two runs are the same."""
    import tuning
    bb = tuning.load_backbone(args.backbone, device="cpu")
    seeds = [int(s) for s in args.accuracy_seeds.split(",")]
    # probe_steps: only the job's leaderboard fits the probe; the CMA-ES adapter does not depend on it
    settings = {"method": "cmaes", **JOINT, "budget": args.accuracy_budget, "popsize": 8,
                "probe_steps": args.probe_steps}
    labels = ["rule (auto, auto) (base)", "full (K x K head, full covariance)"]
    arms = dict(zip(labels, (RULE, FULL)))
    sets = {"K=6 (NEU-DET)": (6, SHARED_DATASETS / "neu-det", seeds[:1]),
            "K=20 (relabelled)": (20, relabelled_folder(bb, 20, args.cache_dir), seeds)}
    runs: dict = {}
    for name, (_, folder, set_seeds) in sets.items():
        for seed in set_seeds:
            data = tuning.load_image_folder(folder, backbone=bb, shots=args.accuracy_shots, seed=seed,
                                            cache_dir=args.cache_dir)
            for label, over in arms.items():
                runs[(name, label, seed)] = tune_arm(bb, data, {**settings, **over}, seed=seed,
                                                     shots=args.accuracy_shots)
            for label in labels:  # the test split, read after both were chosen on validation
                runs[(name, label, seed)].test = test_accuracy(bb, data, runs[(name, label, seed)])
                runs[(name, label, seed)].adapter = None
            print(f"accuracy {name} seed {seed} done", file=sys.stderr, flush=True)
    body, verdicts = report(runs, labels, list(sets), seeds, with_test=True)
    same = [name for name, (_, _, set_seeds) in sets.items()
            if all((runs[(name, labels[0], s)].val, runs[(name, labels[0], s)].test)
                   == (runs[(name, labels[1], s)].val, runs[(name, labels[1], s)].test) for s in set_seeds)]

    def resolved(K: int, over: dict) -> str:
        return search_model(tuning.TuneConfig.from_dict({**settings, **over}), K)
    models = "; ".join(f"K = {K}: rule {resolved(K, RULE)}, full {resolved(K, FULL)}" for K, _, _ in sets.values())
    return (f"Settings: {json.dumps(settings)} over the defaults, {args.accuracy_shots} shots. Base: the rule; arm: "
            f"both models full. {models}. Balanced accuracy, paired differences by seed with a 95% Student-t "
            "interval; adapters chosen on validation, the test split read after.\n\n" + body + "\n\n"
            + verdict_summary(verdicts, with_test=True)
            + (f"\n\nIdentical on every seed (same validation and test figures): {', '.join(same)}." if same else ""))


def _arguments(argv):
    ap = argparse.ArgumentParser(prog="python -m bench many_classes")
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--classes", default="10,100,1000")
    ap.add_argument("--shots", type=int, default=1, help="training images per class in the cost rows")
    ap.add_argument("--budget", type=int, default=12)
    ap.add_argument("--popsize", type=int, default=4)
    ap.add_argument("--probe-steps", type=int, default=100, help="Adam steps per probe fit (product: 500)")
    ap.add_argument("--accuracy-seeds", default="0,1,2", help="'' skips the accuracy part")
    ap.add_argument("--accuracy-budget", type=int, default=120)
    ap.add_argument("--accuracy-shots", type=int, default=16)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--name", default="cpu")
    ap.add_argument("--cache-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tuning-bench-cache"))
    ap.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _arguments(argv)
    if args.one:
        print("RESULT " + json.dumps(measure_one(args.one[0], int(args.one[1]), args)))
        return None
    present = [s for s in REAL_SETS if (SHARED_DATASETS / s).is_dir()]
    if not present:
        print(f"many_classes skipped: none of {', '.join(REAL_SETS)} under {SHARED_DATASETS}")
        return None
    t0, load_start = time.perf_counter(), load_line()
    classes = [int(k) for k in args.classes.split(",")]
    import tuning
    bb = tuning.load_backbone(args.backbone, device="cpu")
    for K in classes:  # encodes every image once, before any timed row
        relabelled_folder(bb, K, args.cache_dir)
    results = {}
    for K in classes:
        for label in [INFERENCE, *ROWS]:
            r = results[(label, K)] = run_fresh("bench.many_classes", [*argv, "--one", label, str(K)],
                                                f"{label} K={K}")
            if r:
                print(f"K={K:5d} {label}: {r['whole_bytes'] / 2**20:.0f} MiB, {r['wall_s']:.1f} s wall",
                      file=sys.stderr, flush=True)
    accuracy = accuracy_section(args) if args.accuracy_seeds else "Not run (--accuracy-seeds '')."
    body = (f"Backbone `{args.backbone}` (the product's default), CPU, {args.threads} threads, sets "
            f"{', '.join(present)} relabelled into K classes (see bench/many_classes.py), {args.shots} shot(s) a "
            f"class in the cost rows. Method rows: the product's defaults with {json.dumps(bench_settings(args))} "
            f"(probe_steps: the product's 500 would make the probe 5x longer at every K). Load average (1/5/15 min) "
            f"{load_start} at the start, {load_line()} at the end; wall {time.perf_counter() - t0:.0f} s.\n\n"
            + cost_tables(results, classes)
            + "\n\nGoals: peak at most 1.2x inference; per query per class at the largest K at most 1.5x the "
            "smallest's.\n\n## Accuracy: the rule against the full models\n\n" + accuracy)
    return write(f"many_classes_{args.name}", "Many classes: memory, seconds per query per class, accuracy", body)


if __name__ == "__main__":
    main()
