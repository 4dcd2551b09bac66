"""Method 'auto' against every method in its menu, per dataset, at the first-run budget.

    python -m bench auto --sets neu-det,xsdd,bsd_pitting,textile --seeds 0,1,2,3,4 [--budget 2000]
                         [--methods auto,auto_validation,linear_probe,tip_adapter,zeroshot,cmaes,sharpzo]
                         [--summary auto_kfold_cpu]

Per set and seed: each method tuned on the training split, chosen on validation (auto's choice rule included),
then scored once on the test split, which nothing here chooses with. Balanced test accuracy (mean per-class
recall) with mean ± sd over seeds and the 95% t-interval of the mean; the paired difference against the linear
probe (same seed = same split) with its 95% t-interval; queries, wall and worker CPU seconds per run.
cmaes and sharpzo tune the prompt and a linear head from zero-shot (the form's default before auto).
`auto_validation` is auto as it was before k-fold selection (auto_folds=0: its quick candidates compared on the
validation images, no refit). Each set's file is rewritten after every seed, so a run cut short leaves a labelled
partial table; `--summary NAME` also writes one table over every set (NAME.md), with the paired differences and
their verdicts.
"""
from __future__ import annotations

import shlex
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import tuning

from .common import load_line, table, timed, write
from .protocol import describe
from .quality import CPU_SETTINGS, DEFAULT_DATA, demo_dataset_folder, run_arguments, with_overrides

SHARED = DEFAULT_DATA.parent  # ../shared/datasets beside the checkout
METHODS = {
    "auto": {"method": "auto"},
    "auto_validation": {"method": "auto", "auto_folds": 0},
    "linear_probe": {"method": "linear_probe"},
    "tip_adapter": {"method": "tip_adapter"},
    "zeroshot": {"method": "zeroshot"},
    "cmaes": {"method": "cmaes", "adapt": "sparse", "param_budget": 0.0},
    "sharpzo": {"method": "sharpzo", "adapt": "sparse", "param_budget": 0.0},
}
REFERENCE = "linear_probe"


def set_folder(name: str, cache_dir: str) -> Path:
    return demo_dataset_folder(cache_dir) if name == "textile" else SHARED / name


def measure(bb, data, settings: dict, label: str) -> dict:
    cfg = tuning.TuneConfig.from_dict({**settings, "backbone": bb.id, "device": str(bb.device)})
    with timed() as timing:
        r = tuning.tune(cfg, data, backbone=bb)
    wall, cpu = timing.wall_s, timing.cpu_s
    test = tuning.evaluate(bb, data.test, adapter=r.adapter, class_names=data.class_names)
    board = r.leaderboard if cfg.method == "auto" else None
    out = {"val": r.best_val_balanced_acc, "test": test.balanced_accuracy, "queries": r.queries_used,
           "wall": wall, "cpu": cpu, "chosen": board.chosen if board else None,
           "images": (board.fold_images or board.validation_images) if board else None}
    print(f"{label:>15} seed {cfg.seed}: val {out['val']:.3f} test {out['test']:.3f} ({out['queries']} q, "
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
    singles = [m for m in methods if not m.startswith("auto") and any((m, s) in runs for s in seeds)]
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
    picks = {m: dict(Counter(runs[(m, s)]["chosen"] for s in done if (m, s) in runs)) for m in methods
             if m.startswith("auto")}
    status = "complete" if complete else f"PARTIAL: seeds {done} of {seeds} finished when this file was written"
    body = (f"Command: `{command}`\n\nStatus: {status}.\n\n"
            f"Backbone `{bb.id}`, set `{name}`, device {bb.device}, settings {settings}. The test split is scored "
            "once per run and chooses nothing; auto chose on validation only.\n\n"
            + table(HEAD, rows(runs, methods, seeds)) + against_best_single(runs, methods, seeds)
            + f"\n\nAuto's choices over the seeds (candidate keys; 'x@y' = search x warm-started from y): {picks}.")
    write(f"auto_{name}{suffix}", f"Method auto against its menu: {name}", body)


def paired_cell(runs: dict, arm: str, base: str, seeds: list[int]) -> str:
    """arm - base in test balanced accuracy, paired by seed: '+1.2 (-0.3 to +2.7), verdict'."""
    done = [s for s in seeds if (arm, s) in runs and (base, s) in runs]
    if not done:
        return "-"
    text, word = describe([runs[(base, s)]["test"] for s in done], [runs[(arm, s)]["test"] for s in done])
    return f"{text}, {word}"


def summary(name: str, by_set: dict, methods: list[str], seeds: list[int], command: str, started: dict) -> None:
    """One row per set: every method's test balanced accuracy and the paired differences that answer the question
    (auto against the probe, auto before k-fold against the probe, auto after against before)."""
    autos = [m for m in methods if m.startswith("auto")]
    pairs = [(a, REFERENCE) for a in autos] + ([("auto", "auto_validation")] if len(autos) == 2 else [])
    head = ["set", "seeds"] + [f"{m} test %" for m in methods] + [f"{a} − {b} (points, 95%), verdict" for a, b in pairs]
    rows = []
    for set_name, runs in by_set.items():
        done = sorted({s for (_, s) in runs})
        cells = [_mean_sd([runs[(m, s)]["test"] for s in done if (m, s) in runs]) if any((m, s) in runs for s in done)
                 else "-" for m in methods]
        rows.append([set_name, len(done), *cells, *(paired_cell(runs, a, b, done) for a, b in pairs)])
    images = {set_name: sorted({r["images"] for (m, _), r in runs.items() if m == "auto" and r["images"]})
              for set_name, runs in by_set.items()}
    body = (f"Command: `{command}`\n\nLoad average (1/5/15 min): {started['load']} at the start, {load_line()} at "
            f"the end; {time.perf_counter() - started['wall']:.0f} s wall, {time.process_time() - started['cpu']:.0f} "
            "s CPU (this process).\n\nBalanced test accuracy, mean ± sd over the seeds; the differences are paired "
            "by seed (same split) with a 95% Student-t interval: 'no measurable effect' where it crosses zero. The "
            "test split chose nothing.\n\n" + table(head, rows)
            + "\n\nImages auto's quick-candidate decision rested on, per set (all training + validation images): "
            f"{images}.")
    write(name, "Method auto: k-fold selection of the quick candidates and refit, against auto before and the probe",
          body)


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--sets", default="neu-det,xsdd,bsd_pitting,textile")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--name", default="", help="suffix of the result file names (auto_<set><name>.md)")
    ap.add_argument("--summary", default="", help="also write one table over every set to bench/results/<SUMMARY>.md")
    args = ap.parse_args(argv)
    started = {"load": load_line(), "wall": time.perf_counter(), "cpu": time.process_time()}
    command = "python -m bench auto " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[2:]))
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    settings = with_overrides({**CPU_SETTINGS, "budget": args.budget, "shots": args.shots}, args.set)
    bb = tuning.load_backbone(args.backbone, device=args.device)
    by_set: dict[str, dict] = {}
    for name in args.sets.split(","):
        folder, runs = set_folder(name, args.cache_dir), by_set.setdefault(name, {})
        for seed in seeds:
            data = tuning.load_image_folder(folder, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
            for m in methods:
                runs[(m, seed)] = measure(bb, data, {**settings, **METHODS[m], "seed": seed}, m)
            report(name, bb, runs, methods, seeds, settings, command, complete=seed == seeds[-1], suffix=args.name)
            if args.summary:
                summary(args.summary, by_set, methods, seeds, command, started)


if __name__ == "__main__":
    main()
