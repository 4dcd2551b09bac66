"""Sweep: choose a setting on the VALIDATION split only. Runs one method over the values of one
setting (3 seeds, the quality benchmark's CPU settings) and reports mean validation accuracy and
final training loss per value. The test split is never evaluated here, so nothing is tuned on it.

    python -m bench sweep --method zosgd --grid lr=0.1,0.3,1,3,10,30
    python -m bench sweep --method sharpzo --grid sparsity=0,0.5 --set mask_every=1000
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import tuning

from .common import table, write
from .quality import backbone_and_settings, parse_value, run_arguments


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--method", required=True)
    ap.add_argument("--grid", required=True, metavar="KEY=V1,V2,...")
    args = ap.parse_args(argv)
    loaded = backbone_and_settings(args, "sweep")
    if loaded is None:
        return None
    bb, settings = loaded
    key, values = args.grid.split("=", 1)
    values = [parse_value(v) for v in values.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    datas = {s: tuning.load_image_folder(args.data, backbone=bb, shots=args.shots, seed=s, cache_dir=args.cache_dir)
             for s in seeds}
    t_start, rows = time.perf_counter(), []
    for value in values:
        vals, losses = [], []
        for seed in seeds:
            cfg = tuning.TuneConfig.from_dict({**settings, key: value, "method": args.method, "backbone": bb.id,
                                               "seed": seed, "shots": args.shots, "device": str(bb.device)})
            result = tuning.tune(cfg, datas[seed], backbone=bb)
            vals.append(result.best_val_acc)
            losses.append(next(m["train_loss"] for m in reversed(result.history) if m["train_loss"] is not None))
        rows.append([value, f"{100 * statistics.mean(vals):.1f}", " / ".join(f"{100 * v:.1f}" for v in vals),
                     f"{statistics.mean(losses):.3f}"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    body = (f"Method `{args.method}`, backbone `{bb.id}`, data `{Path(args.data).name}`, {args.shots} shots, "
            f"seeds {seeds}. Settings: {json.dumps(settings)}. Validation split only; the test split is not "
            f"evaluated.\n\n"
            + table([key, "val acc % (mean)", "val acc % per seed", "final train loss (mean)"], rows)
            + f"\n\nWall time {time.perf_counter() - t_start:.0f} s.")
    return write(f"sweep_{args.method}_{key}", f"Validation sweep: {args.method}, {key}", body)


if __name__ == "__main__":
    main()
