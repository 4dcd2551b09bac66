"""Sweep: choose a setting on the VALIDATION split only. Runs one method over the values of one
setting, or over named variants (sets of settings), for 3 seeds with the quality benchmark's CPU
settings, and reports mean validation accuracy and final training loss per row. The test split is
never evaluated here, so nothing is tuned on it.

    python -m bench sweep --method zosgd --grid lr=0.1,0.3,1,3,10,30
    python -m bench sweep --method sharpzo --grid sparsity=0,0.5 --set mask_every=1000
    python -m bench sweep --name first-run --variant method=zosgd \
        --variant method=sharpzo stage1_grad=population mask_scores=history
    python -m bench sweep --method zosgd --grid q=1,4,16 --seconds 60 --set budget=1000000

With --seconds every run stops after that many worker-seconds and returns its best so far, so rows
compare at equal time (what a user pays for) instead of equal queries; the table then gives the
queries each row managed in that time. On a CPU the seconds are this process's CPU time, so other work
on a busy machine does not shorten a row; on a GPU (asynchronous, CPU time says little) they are wall time.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import tuning

from .common import table, write
from .quality import parse_value, prepared_run, run_arguments, settings_record, with_overrides


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--method", default="sharpzo")
    ap.add_argument("--grid", metavar="KEY=V1,V2,...", help="one row per value of one setting")
    ap.add_argument("--variant", action="append", nargs="+", metavar="KEY=VALUE",
                    help="one row with these settings (repeat for more rows)")
    ap.add_argument("--seconds", type=float, help="stop each run after this many worker-seconds (equal time)")
    ap.add_argument("--name", help="result file: bench/results/sweep_<name>.md (default: <method>_<key> "
                                   "for --grid, 'variants' for --variant)")
    prepared = prepared_run(ap, argv, "sweep")
    if prepared is None:
        return None
    args, bb, settings, seeds = prepared
    if bool(args.grid) == bool(args.variant):
        ap.error("give either --grid or one or more --variant")
    if args.grid:
        key, values = args.grid.split("=", 1)
        rows_over = [{key: parse_value(v)} for v in values.split(",")]
        labels, name = values.split(","), args.name or f"{args.method}_{key}"
    else:
        rows_over = [with_overrides({}, items) for items in args.variant]
        labels, name, key = [" ".join(items) for items in args.variant], args.name or "variants", "variant"
    datas = {s: tuning.load_image_folder(args.data, backbone=bb, shots=args.shots, seed=s, cache_dir=args.cache_dir)
             for s in seeds}
    t_start, rows = time.perf_counter(), []
    for label, over in zip(labels, rows_over):
        vals, losses, queries = [], [], []
        for seed in seeds:
            cfg = tuning.TuneConfig.from_dict({**settings, "method": args.method, **over, "backbone": bb.id,
                                               "seed": seed, "shots": args.shots, "device": str(bb.device)})
            result = tuning.tune(cfg, datas[seed], backbone=bb, should_stop=_time_limit(args.seconds, bb.device))
            vals.append(result.best_val_acc)
            queries.append(result.queries_used)
            losses.append(next(m["train_loss"] for m in reversed(result.history) if m["train_loss"] is not None))
        rows.append([label, f"{100 * statistics.mean(vals):.1f}", " / ".join(f"{100 * v:.1f}" for v in vals),
                     f"{statistics.mean(losses):.3f}", f"{statistics.mean(queries):.0f}"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    body = (f"Method `{args.method}` unless a row says otherwise, backbone `{bb.id}`, data "
            f"`{Path(args.data).name}`, {args.shots} shots, seeds {seeds}. {settings_record(settings)} "
            "Rows change only what they name. Validation split only; the test split is not evaluated."
            + (f" Equal time: every run stopped after {args.seconds:g} worker-seconds"
               f" ({'wall' if str(bb.device).startswith('cuda') else 'CPU'} time)." if args.seconds is not None else "")
            + "\n\n"
            + table([key, "val acc % (mean)", "val acc % per seed", "final train loss (mean)", "queries (mean)"],
                             rows)
            + f"\n\nWall time {time.perf_counter() - t_start:.0f} s.")
    return write(f"sweep_{name}", f"Validation sweep: {name}", body)


def _time_limit(seconds: float | None, device):
    """A should_stop for tuning.tune that says stop once `seconds` have passed (None: never)."""
    if seconds is None:
        return None
    clock = time.perf_counter if str(device).startswith("cuda") else time.process_time
    deadline = clock() + seconds
    return lambda: clock() > deadline


if __name__ == "__main__":
    main()
