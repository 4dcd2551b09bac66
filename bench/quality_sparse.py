"""Quality of adapt='sparse': prompt-only SharpZO against sparse adapters on both towers
(SharpZO, ZO-SGD, CMA-ES) at the same query budget, with a linear probe on the frozen image features
as the reference to reach (not zeroth-order: it fits a logistic regression), and optional ablations.

    python -m bench quality_sparse --seeds 0,1,2 [--set key=value ...] [--ablation]

Settings are chosen on validation only; the test column is reported, never used to choose.
"""
from __future__ import annotations

import time
from pathlib import Path

import tuning

from .common import table, write
from .quality import SUMMARY_HEAD, measure, prepared_run, run_arguments, settings_record, summary_rows

ROWS = {
    "prompt sharpzo": {"method": "sharpzo", "adapt": "prompt"},
    **{f"sparse {m}": {"method": m, "adapt": "sparse"} for m in ("sharpzo", "zosgd", "cmaes")},
    # the same joint vector without the image-side delta: shared context + linear head only
    **{f"prompt+head {m}": {"method": m, "adapt": "sparse", "param_budget": 0.0}
       for m in ("sharpzo", "zosgd", "cmaes")},
}
PROBE = "linear probe (method linear_probe; the reference)"
ABLATION = {  # on sparse zosgd (the method is a --set away)
    "random groups": {"allocation": "random"},
    "structured": {"sparse_structure": "structured"},
    "param_budget 0.1%": {"param_budget": 0.001},
    "param_budget 2%": {"param_budget": 0.02},
}


def main(argv=None):
    ap = run_arguments()
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--ablation-method", default="zosgd")
    ap.add_argument("--name", default="", help="suffix of the result file name")
    prepared = prepared_run(ap, argv, "sparse quality benchmark")
    if prepared is None:
        return None
    args, bb, settings, seeds = prepared
    rows = [r for r in args.rows.split(",") if r]
    ablation = {f"{args.ablation_method} {k}": {"method": args.ablation_method, "adapt": "sparse", **v}
                for k, v in ABLATION.items()} if args.ablation else {}
    t_start, runs = time.perf_counter(), {}
    for seed in seeds:
        data = tuning.load_image_folder(args.data, backbone=bb, shots=args.shots, seed=seed, cache_dir=args.cache_dir)
        runs[(PROBE, seed)] = measure(bb, data, {**settings, "method": "linear_probe"}, label=PROBE, seed=seed,
                                      shots=args.shots)
        for label, over in [(r, ROWS[r]) for r in rows] + list(ablation.items()):
            runs[(label, seed)] = measure(bb, data, {**settings, **over}, label=label, seed=seed, shots=args.shots)
    body = (f"Backbone `{bb.id}`, data `{Path(args.data).name}`, {args.shots} shots, seeds {seeds}, device "
            f"{bb.device}. Equal budget: {settings['budget']} queries for every forward-only row (sensitivity probes "
            f"included). {settings_record(settings)}\n\n"
            + table(SUMMARY_HEAD, summary_rows(runs, [PROBE] + rows, seeds)))
    if ablation:
        body += "\n\nAblation (adapt=sparse; compare on validation):\n\n" + table(
            SUMMARY_HEAD,
            summary_rows(runs, [f"sparse {args.ablation_method}"] * (f"sparse {args.ablation_method}" in rows)
                                       + list(ablation), seeds))
    body += f"\n\nTotal wall time {time.perf_counter() - t_start:.0f} s."
    return write(f"quality_sparse_{Path(args.data).name}{args.name}", "Quality: sparse adapters on both towers", body)


if __name__ == "__main__":
    main()
