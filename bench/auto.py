"""Method 'auto' against every method in its menu, per dataset, at the first-run budget.

    python -m bench auto --sets neu-det,xsdd,bsd_pitting,textile --seeds 0,1,2,3,4 [--budget 2000]
                         [--methods auto,linear_probe,tip_adapter,zeroshot,cmaes,sharpzo]

Per set and seed: each method tuned on the training split, chosen on validation (auto's choice rule included),
then scored once on the test split, which nothing here chooses with. Balanced test accuracy (mean per-class
recall) with mean ± sd over seeds and the 95% t-interval of the mean; the paired difference against the linear
probe (same seed = same split) with its 95% t-interval; queries, wall and worker CPU seconds per run.
cmaes and sharpzo tune the prompt and a linear head from zero-shot (the form's default before auto).
Each set's file is rewritten after every seed, so a run cut short leaves a labelled partial table.
"""
from __future__ import annotations

import shlex
import statistics
import sys
from collections import Counter
from pathlib import Path

import tuning

from .common import table, timed, write
from .quality import CPU_SETTINGS, DEFAULT_DATA, demo_dataset_folder, run_arguments, with_overrides

SHARED = DEFAULT_DATA.parent  # ../shared/datasets beside the checkout
METHODS = {
    "auto": {"method": "auto"},
    "linear_probe": {"method": "linear_probe"},
    "tip_adapter": {"method": "tip_adapter"},
    "zeroshot": {"method": "zeroshot"},
    "cmaes": {"method": "cmaes", "adapt": "sparse", "param_budget": 0.0},
    "sharpzo": {"method": "sharpzo", "adapt": "sparse", "param_budget": 0.0},
}
REFERENCE = "linear_probe"


def set_folder(name: str, cache_dir: str) -> Path:
    return demo_dataset_folder(cache_dir) if name == "textile" else SHARED / name


def measure(bb, data, settings: dict) -> dict:
    cfg = tuning.TuneConfig.from_dict({**settings, "backbone": bb.id, "device": str(bb.device)})
    with timed() as timing:
        r = tuning.tune(cfg, data, backbone=bb)
    wall, cpu = timing.wall_s, timing.cpu_s
    test = tuning.evaluate(bb, data.test, adapter=r.adapter, class_names=data.class_names)
    out = {"val": r.best_val_balanced_acc, "test": test.balanced_accuracy, "queries": r.queries_used,
           "wall": wall, "cpu": cpu, "chosen": r.leaderboard.chosen if cfg.method == "auto" and r.leaderboard else None}
    print(f"{cfg.method:>14} seed {cfg.seed}: val {out['val']:.3f} test {out['test']:.3f} ({out['queries']} q, "
          f"{wall:.0f} s wall, {cpu:.0f} s CPU){' chose ' + out['chosen'] if out['chosen'] else ''}", file=sys.stderr)
    return out


def _t_interval(xs: list[float]) -> str:
    if len(xs) < 2:
        return "-"
    from scipy.stats import t
    m, half = statistics.mean(xs), t.ppf(0.975, len(xs) - 1) * statistics.stdev(xs) / len(xs) ** 0.5
    return f"{100 * (m - half):+.1f} to {100 * (m + half):+.1f}"


def _mean_sd(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * statistics.mean(xs):.1f} ± {100 * sd:.1f}"


def rows(runs: dict, methods: list[str], seeds: list[int]) -> list[list]:
    out = []
    for m in methods:
        done = [s for s in seeds if (m, s) in runs]
        if not done:
            continue
        rs = [runs[(m, s)] for s in done]
        tests = [r["test"] for r in rs]
        paired = [runs[(m, s)]["test"] - runs[(REFERENCE, s)]["test"] for s in done if (REFERENCE, s) in runs]
        diff = "-" if m == REFERENCE or not paired else f"{100 * statistics.mean(paired):+.1f} ({_t_interval(paired)})"
        out.append([m, len(rs), _mean_sd([r["val"] for r in rs]), _mean_sd(tests), _t_interval(tests).replace("+", ""),
                    diff, f"{statistics.mean(r['queries'] for r in rs):.0f}",
                    f"{statistics.mean(r['wall'] for r in rs):.0f}",
                    f"{statistics.mean(r['cpu'] for r in rs):.0f}"])
    return out


HEAD = ["method", "seeds", "val balanced % (mean ± sd)", "test balanced % (mean ± sd)", "test 95% interval",
        f"paired test diff vs {REFERENCE} (points, 95% interval)", "queries", "wall s", "worker CPU s"]


def against_best_single(runs: dict, methods: list[str], seeds: list[int]) -> str:
    """Auto minus the single method with the highest mean test balanced accuracy, paired by seed (a report of
    the test split after the fact; nothing is chosen with it)."""
    singles = [m for m in methods if m != "auto" and any((m, s) in runs for s in seeds)]
    done = [s for s in seeds if ("auto", s) in runs and all((m, s) in runs for m in singles)]
    if not singles or not done:
        return ""
    best = max(singles, key=lambda m: statistics.mean(runs[(m, s)]["test"] for s in done))
    paired = [runs[("auto", s)]["test"] - runs[(best, s)]["test"] for s in done]
    return (f"\n\nBest single method on the test split, mean over seeds {done}: {best}. Auto minus {best}, paired by "
            f"seed: {100 * statistics.mean(paired):+.1f} points (95% interval {_t_interval(paired)}).")


def report(name: str, bb, runs: dict, methods: list[str], seeds: list[int], settings: dict, command: str,
           complete: bool, suffix: str = "") -> None:
    done = sorted({s for (_, s) in runs})
    picks = Counter(runs[("auto", s)]["chosen"] for s in done if ("auto", s) in runs)
    status = "complete" if complete else f"PARTIAL: seeds {done} of {seeds} finished when this file was written"
    body = (f"Command: `{command}`\n\nStatus: {status}.\n\n"
            f"Backbone `{bb.id}`, set `{name}`, device {bb.device}, settings {settings}. The test split is scored "
            "once per run and chooses nothing; auto chose on validation only.\n\n"
            + table(HEAD, rows(runs, methods, seeds)) + against_best_single(runs, methods, seeds)
            + f"\n\nAuto's choice per seed (candidate keys; 'x@y' = search x warm-started from y): {dict(picks)}.")
    write(f"auto_{name}{suffix}", f"Method auto against its menu: {name}", body)


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--sets", default="neu-det,xsdd,bsd_pitting,textile")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--name", default="", help="suffix of the result file names (auto_<set><name>.md)")
    args = ap.parse_args(argv)
    command = "python -m bench auto " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[2:]))
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    settings = with_overrides({**CPU_SETTINGS, "budget": args.budget, "shots": args.shots}, args.set)
    bb = tuning.load_backbone(args.backbone, device=args.device)
    for name in args.sets.split(","):
        folder, runs = set_folder(name, args.cache_dir), {}
        for seed in seeds:
            data = tuning.load_image_folder(folder, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
            for m in methods:
                runs[(m, seed)] = measure(bb, data, {**settings, **METHODS[m], "seed": seed})
            report(name, bb, runs, methods, seeds, settings, command, complete=seed == seeds[-1], suffix=args.name)


if __name__ == "__main__":
    main()
