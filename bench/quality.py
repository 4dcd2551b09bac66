"""Quality: test accuracy on a real few-shot dataset (default: NEU-DET steel defects; `--data demo`: the
textile demo set) at equal query budgets, 3 seeds: zero-shot, CMA-ES only, ZO-SGD only, SharpZO, SharpZO
with a Tip-Adapter cache on top, CoOp with the full context (backprop reference) and restricted to the
tuner's subspace (ablation), the linear probe and Tip-Adapter (both read cached features only).
Optional ablation (--ablation): both stage-2 mask rules x both stage-2 start points, the choice made on
the validation split (the test column is reported, never used to choose).

Skips cleanly when the dataset folder is absent. Works with any registered backbone (--backbone).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import tuning

from . import common, curves
from .common import table, write

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "neu-det"  # ../shared beside the checkout

# Small-budget settings for a CPU run (~20 minutes on 2 cores with the demo backbone); every method
# gets the same budget. Override any of them with --set key=value.
CPU_SETTINGS = dict(budget=1000, intrinsic_dim=32, popsize=8, stage1_generations=12, patience=4,
                    mask_every=100, eval_every=10)
GPU_SETTINGS = dict(budget=20000, intrinsic_dim=128, popsize=20, stage1_generations=50, patience=10,
                    mask_every=200, eval_every=25)


def parse_value(text: str):
    """A command-line setting value: JSON where it parses (numbers, true, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def with_overrides(base: dict, items: list[str]) -> dict:
    """`base` with each KEY=VALUE of `items` (from --set) applied."""
    settings = dict(base)
    for item in items:
        key, value = item.split("=", 1)
        settings[key] = parse_value(value)
    return settings


def run_arguments() -> argparse.ArgumentParser:
    """The options every run over a dataset takes (quality and sweep)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cache-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tuning-bench-cache"))
    return ap


# Each row of the table: a label and the settings that differ from the run's.
VARIANTS = {
    "zeroshot": {"method": "zeroshot"},
    "cmaes": {"method": "cmaes"},
    "zosgd": {"method": "zosgd"},
    "sharpzo": {"method": "sharpzo"},
    "sharpzo+tip": {"method": "sharpzo", "tip_cache": True},
    "coop": {"method": "coop", "coop_param": "context"},
    "coop-projected": {"method": "coop", "coop_param": "projected"},
    "linear_probe": {"method": "linear_probe"},
    "tip_adapter": {"method": "tip_adapter"},
}


def demo_dataset_folder(cache_dir) -> Path:
    """The textile demo set (the one the web app's "Load the demo dataset" builds), written once."""
    from tuning.demo_backbone.demo_data import write_demo_dataset
    folder = Path(cache_dir) / "demo-dataset"
    if not folder.is_dir():
        write_demo_dataset(folder)
    return folder


def prepared_run(ap, argv, what: str):
    """(args, backbone, settings: the CPU or GPU defaults with --set applied, seeds) for a run over a
    dataset with the options of `ap` (run_arguments() and more), or None when the data is absent."""
    args = ap.parse_args(argv)
    if args.data == "demo":
        args.data = str(demo_dataset_folder(args.cache_dir))
    if not Path(args.data).is_dir():
        print(f"{what} skipped: dataset folder {args.data} is absent.")
        return None
    bb = tuning.load_backbone(args.backbone, device=args.device)
    settings = with_overrides(GPU_SETTINGS if bb.device.type == "cuda" else CPU_SETTINGS, args.set)
    return args, bb, settings, [int(s) for s in args.seeds.split(",")]


def settings_record(settings: dict) -> str:
    """The run's settings for a result file: the overrides, then every tuner setting as it was, so a
    later change of defaults cannot change what the file says was measured."""
    full = tuning.TuneConfig.from_dict(settings).to_dict()
    for per_run in ("method", "backbone", "seed", "shots", "device"):
        full.pop(per_run)
    return f"Settings: {json.dumps(settings)}. Full tuner configuration: `{json.dumps(full)}`."


def _fmt(xs):
    if not xs:
        return "-"
    m = statistics.mean(xs)
    s = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * m:.1f} ± {100 * s:.1f}"


def _interval(xs) -> str:
    """95% interval of the mean over seeds (Student's t; seeds are few)."""
    if len(xs) < 2:
        return "-"
    from scipy.stats import t
    m, half = statistics.mean(xs), t.ppf(0.975, len(xs) - 1) * statistics.stdev(xs) / len(xs) ** 0.5
    return f"{100 * (m - half):.1f} to {100 * (m + half):.1f}"


def measure(bb, data, settings: dict, *, label: str, seed: int, shots: int) -> dict:
    """One tuning run with `settings`: validation and test accuracy, queries, wall and CPU seconds of the
    run and the load average it started at."""
    cfg = tuning.TuneConfig.from_dict({**settings, "backbone": bb.id, "seed": seed, "shots": shots,
                                       "device": str(bb.device)})
    with curves.recording(data, []) as points, common.timed() as timing:
        r = tuning.tune(cfg, data, backbone=bb)
    test = tuning.evaluate(bb, data.test, adapter=r.adapter, class_names=data.class_names).accuracy
    print(f"{label:>28} seed {seed}: val {r.best_val_acc:.3f} test {test:.3f} ({r.queries_used} q, "
          f"{timing.wall_s:.0f} s wall, {timing.cpu_s:.0f} s CPU, load {timing.load:.1f})", file=sys.stderr)
    return {"val": r.best_val_acc, "test": test, "queries": r.queries_used, "wall_s": timing.wall_s,
            "cpu_s": timing.cpu_s, "load": timing.load, "curve": curves.best_so_far(points)}


SUMMARY_HEAD = ["method", "seeds", "val acc % (mean ± sd)", "test acc % (mean ± sd)", "test 95% interval",
                "queries", "wall s", "CPU s", "load average"]


def _load_range(loads: list[float]) -> str:
    """The 1-minute load averages the runs of a row started at: one figure, or the lowest to the highest."""
    low, high = min(loads), max(loads)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f} to {high:.1f}"


def summary_rows(runs: dict, labels, seeds) -> list[list]:
    """One row per label over the seeds it ran: runs maps (label, seed) to `measure`'s dict."""
    rows = []
    for label in labels:
        rs = [runs[(label, s)] for s in seeds if (label, s) in runs]
        if rs:
            rows.append([label, len(rs), _fmt([r["val"] for r in rs]), _fmt([r["test"] for r in rs]),
                         _interval([r["test"] for r in rs]), f"{statistics.mean(r['queries'] for r in rs):.0f}",
                         f"{statistics.mean(r['wall_s'] for r in rs):.1f}",
                         f"{statistics.mean(r['cpu_s'] for r in rs):.1f}", _load_range([r["load"] for r in rs])])
    return rows


def curves_section(runs: dict, labels, seeds, name: str, title: str) -> str:
    """The queries-to-accuracy table and the PNG beside the result file."""
    by_label = {lb: [runs[(lb, s)]["curve"] for s in seeds if (lb, s) in runs] for lb in labels}
    rows = []
    for label, cs in by_label.items():
        reach = [curves.queries_to_reach(c) for c in cs if c]
        if reach:
            rows.append([label, f"{statistics.mean(reach):.0f}",
                         f"{100 * statistics.mean(c[-1].val_acc for c in cs):.1f}",
                         f"{100 * statistics.mean(c[-1].test_acc for c in cs):.1f}",
                         f"{statistics.mean(c[-1].seconds for c in cs):.1f}"])
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    curves.plot(by_label, common.RESULTS / f"{name}.png", f"Best-so-far accuracy, {title}")
    return ("Queries to accuracy (the adapter a run returns if stopped there: best so far on validation; the "
            "test column is reported, never used to choose). Queries needed to reach 90% of the method's final "
            f"validation accuracy, mean over seeds; curves in `{name}.png`.\n\n"
            + table(["method", "queries to 90% of final val", "final val %", "final test %", "worker-seconds"], rows))


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--methods", default=",".join(VARIANTS), help=f"Rows, from: {', '.join(VARIANTS)}.")
    ap.add_argument("--ablation", action="store_true", help="Also the stage-2 mask rule / start point ablation.")
    prepared = prepared_run(ap, argv, "quality benchmark")
    if prepared is None:
        return None
    args, bb, settings, seeds = prepared
    methods = args.methods.split(",")
    t_start = time.perf_counter()
    runs = {}  # (label, seed) -> dict

    def run(label, seed, data, **over):
        runs[(label, seed)] = measure(bb, data, {**settings, **over}, label=label, seed=seed, shots=args.shots)

    defaults = tuning.TuneConfig.from_dict(settings)
    for seed in seeds:
        data = tuning.load_image_folder(args.data, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
        for m in methods:
            run(m, seed, data, **VARIANTS[m])
        if args.ablation:
            for rule in ("salient", "lowest"):
                for start in ("mean", "recent_average"):
                    label = f"sharpzo {rule}/{start}"
                    same_as_default = (rule, start) == (defaults.mask_rule, defaults.stage2_start)
                    if same_as_default and ("sharpzo", seed) in runs:
                        runs[(label, seed)] = runs[("sharpzo", seed)]
                    else:
                        run(label, seed, data, method="sharpzo", mask_rule=rule, stage2_start=start)

    def rows_for(labels):
        return summary_rows(runs, labels, seeds)

    body = (f"Backbone `{bb.id}` ({bb.label}), data `{Path(args.data).name}`, {args.shots} shots, seeds {seeds}, "
            f"device {bb.device}. Equal budget for every method: {settings['budget']} queries (CoOp: one "
            f"forward+backward = one query; the linear probe and Tip-Adapter read cached image features and "
            f"spend only the zero-shot query). Seconds per run, mean over seeds: wall, and CPU of this process "
            f"(all its threads); the load average is the 1-minute one each run started at (the machine may be "
            f"shared). {settings_record(settings)}\n\n"
            + table(SUMMARY_HEAD, rows_for(methods)))
    if args.ablation:
        labels = [f"sharpzo {r}/{s}" for r in ("salient", "lowest") for s in ("mean", "recent_average")]
        best = max(labels, key=lambda lb: statistics.mean(runs[(lb, s)]["val"] for s in seeds))
        rows = rows_for(labels)
        for row in rows:
            if row[0] == best:
                row[0] += " (chosen on val)"
        body += "\n\nAblation (SharpZO stage 2: mask rule / start point; chosen by mean validation accuracy):\n\n"
        body += table(SUMMARY_HEAD, rows)
    safe_backbone = bb.id.replace('/', '_').replace('@', '_').replace(':', '_')
    name = f"quality_{safe_backbone}_{Path(args.data).name}"
    body += "\n\n" + curves_section(runs, methods, seeds, name, f"{bb.id} on {Path(args.data).name}")
    body += f"\n\nTotal wall time {time.perf_counter() - t_start:.0f} s."
    return write(name,
                 "Quality: equal-budget comparison on a real few-shot dataset", body)


if __name__ == "__main__":
    main()
