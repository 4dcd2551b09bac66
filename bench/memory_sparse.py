"""Memory of an adapt='sparse' job against inference with the same backbone (the goal: the whole
process's peak at most 1.2x inference's; the adapter file at most 1% of the backbone's size).

    python -m bench memory --adapt sparse [--backbone demo] [--data DIR|demo] [--shots 16] [--generations 2]
                                          [--set key=value ...]

Each row runs in a fresh process and reports the process's peak resident set size (Linux VmHWM, never
reset: imports, backbone, data and the operation; what a worker machine must have) and, for the jobs,
the peak before tuning started (after the backbone and the data were loaded), so the tuner's own share
shows. All rows load the data the same way: every image of the folder encoded once (load_image_folder).
- inference: the test images classified zero-shot (what deployment does with the same backbone);
- jobs: CMA-ES with adapt='sparse' at the job form's defaults (budget 2,000, so the sensitivity probes are
  those of a first run), with an image delta at param_budget 0.5 % and without one (param_budget 0, the
  form's default). A job stops after `--generations` CMA-ES generations: what it holds (cached activations,
  the projection, a generation's candidates, the d x d covariance) is all allocated by then, and later
  generations reuse it. The adapter is saved and its file measured against the backbone's parameters.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .common import peak_rss, run_fresh, table, write

JOBS = {  # label -> settings over the job form's defaults
    "sparse job, image delta 0.5 %": {"param_budget": 0.005},
    "sparse job, param_budget 0 (form default)": {"param_budget": 0.0},
}
FORM = {"method": "cmaes", "adapt": "sparse", "budget": 2000}  # webapp/jobs/forms.py's first run
INFERENCE = "inference (zero-shot, test images)"


def _arguments(argv):
    ap = argparse.ArgumentParser(prog="python -m bench memory --adapt sparse")
    ap.add_argument("--adapt", default="sparse")
    ap.add_argument("--backbone", default="demo")
    ap.add_argument("--data", default=None, help="an image folder, or 'demo' (default: NEU-DET)")
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--generations", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--cache-dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "tuning-bench-cache"))
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def measure_one(label: str, args) -> dict:
    """One row, in this (fresh) process."""
    import torch

    import tuning

    from .quality import with_overrides

    torch.set_num_threads(args.threads)
    bb = tuning.load_backbone(args.backbone, device="cpu")
    data = tuning.load_image_folder(args.data, backbone=bb, shots=args.shots)
    loaded = peak_rss()
    out = {"label": label, "loaded_bytes": loaded,
           "backbone_bytes": sum(p.numel() * p.element_size() for p in bb.model.parameters()),
           "image_tower_bytes": sum(p.numel() * p.element_size() for p in bb.model.visual.parameters())}
    if label == INFERENCE:
        tuning.evaluate(bb, data.test, class_names=data.class_names)
    else:
        settings = with_overrides({**FORM, **JOBS[label]}, args.set)
        cfg = tuning.TuneConfig.from_dict({**settings, "backbone": bb.id, "device": "cpu", "shots": args.shots})
        generations = []
        result = tuning.tune(cfg, data, backbone=bb,
                             on_metrics=lambda m: generations.append(1) if m["stage"] == "cmaes" else None,
                             should_stop=lambda: len(generations) >= args.generations)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "adapter"
            tuning.save_adapter(result.adapter, folder)
            out["adapter_bytes"] = sum(f.stat().st_size for f in folder.iterdir() if f.suffix == ".safetensors")
        vision = result.adapter.card.get("sparse", {}).get("vision", {})
        out.update(queries=result.queries_used, parameters_changed=vision.get("parameters_changed", 0),
                   first_tuned_block=vision.get("first_tuned_block"),
                   projection_bytes=vision.get("projection_bytes", 0))
    out["whole_bytes"] = peak_rss()
    return out


def _run_fresh(label: str, argv: list[str]) -> dict | None:
    return run_fresh("bench.memory", [*argv, "--one", label], label)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _arguments(argv)
    if args.data in (None, "demo"):
        from .quality import DEFAULT_DATA, demo_dataset_folder
        args.data = str(demo_dataset_folder(args.cache_dir) if args.data == "demo" else DEFAULT_DATA)
    if args.one:
        print("RESULT " + json.dumps(measure_one(args.one, args)))
        return None
    passed = _without_option(argv, "--data") + ["--data", args.data]
    rows, results = [], {}
    for label in [INFERENCE, *JOBS]:
        r = results[label] = _run_fresh(label, passed)
        if r:
            print(f"{label:>42}: whole {r['whole_bytes'] / 2**20:7.1f} MiB", file=sys.stderr)
    inference = (results.get(INFERENCE) or {}).get("whole_bytes")
    for label, r in results.items():
        if r is None:
            rows.append([label, "failed"] + ["-"] * 6)
            continue
        ratio = f"{r['whole_bytes'] / inference:.3f}" if inference else "-"
        adapter = r.get("adapter_bytes")
        rows.append([label, f"{r['whole_bytes'] / 2**20:.1f}", f"{r['loaded_bytes'] / 2**20:.1f}", ratio,
                     f"{adapter / 1024:.1f}" if adapter else "-",
                     f"{100 * adapter / r['backbone_bytes']:.3f}" if adapter else "-",
                     f"{r.get('parameters_changed', 0):,}" if adapter else "-", r.get("queries", "-")])
    any_r = next((r for r in results.values() if r), {})
    body = (f"Backbone `{args.backbone}` ({any_r.get('backbone_bytes', 0) / 2**20:.1f} MiB of parameters, image tower "
            f"{any_r.get('image_tower_bytes', 0) / 2**20:.1f} MiB), data `{Path(args.data).name}`, {args.shots} shots, "
            f"CPU, {args.threads} threads, a fresh process per row. Jobs: {json.dumps(FORM)} with the row's "
            f"param_budget{' and ' + ', '.join(args.set) if args.set else ''}, stopped after {args.generations} CMA-ES "
            "generations.\n\n"
            + table(["row", "whole peak MiB", "peak once backbone and data were loaded MiB", "whole peak / inference",
                     "adapter file KiB", "adapter / backbone %", "backbone parameters changed", "queries"], rows)
            + "\n\nGoals: whole peak / inference at most 1.2; adapter file at most 1 % of the backbone.")
    return write("memory_sparse_cpu", "Memory: a sparse-adapter job vs inference", body)


def _without_option(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        if a.startswith(name + "="):
            continue
        out.append(a)
    return out
