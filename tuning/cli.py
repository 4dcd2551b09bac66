"""Command line: `python -m tuning tune ...` and `python -m tuning predict ...`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import METHODS, TuneConfig
from .errors import TuningError


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}.")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw  # a bare word is a string
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tuning", description="Forward-only CLIP prompt tuning.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tune", help="Tune an adapter on a folder with one sub-folder of images per class.")
    t.add_argument("--data", required=True, help="Folder with one sub-folder per class.")
    t.add_argument("--backbone", default=None, help="Backbone id (default: the demo backbone).")
    t.add_argument("--budget", type=int, default=None, help="Query budget.")
    t.add_argument("--out", required=True, help="Folder to write the adapter to.")
    t.add_argument("--method", choices=METHODS, default=None)
    t.add_argument("--shots", type=int, default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--device", default=None)
    t.add_argument("--config", default=None, help="JSON file with TuneConfig settings.")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="Override one TuneConfig setting.")
    t.add_argument("--cache-dir", default=None, help="Image-feature cache folder.")
    t.add_argument("--checkpoint", default=None, help="Checkpoint file (resumes when it exists).")
    t.add_argument("--no-progress", action="store_true")
    r = sub.add_parser("predict", help="Classify a folder of images with an adapter.")
    r.add_argument("--adapter", required=True)
    r.add_argument("--images", required=True)
    r.add_argument("--backbone", default=None, help="Backbone id (default: the one in the adapter card).")
    r.add_argument("--device", default="auto")
    r.add_argument("--json", action="store_true", help="Print JSON lines instead of a table.")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _tune(args) if args.command == "tune" else _predict(args)
    except (TuningError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _tune(args) -> int:
    from tqdm import tqdm
    from . import evaluate, load_backbone, load_image_folder, save_adapter, tune
    from .checkpoint import FileCheckpoint
    settings = json.loads(Path(args.config).read_text()) if args.config else {}
    for key in ("backbone", "budget", "method", "shots", "seed", "device"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings.update(_parse_set(args.set))
    cfg = TuneConfig.from_dict(settings)
    backbone = load_backbone(cfg.backbone, device=cfg.device)
    data = load_image_folder(args.data, backbone=backbone, shots=cfg.shots, seed=cfg.seed, cache_dir=args.cache_dir)
    bar = tqdm(total=cfg.budget, unit="q", disable=args.no_progress, desc=cfg.method)

    def on_metrics(m):
        bar.update(m["queries"] - bar.n)
        bar.set_postfix(stage=m["stage"], loss=f"{m['train_loss']:.3f}",
                        val=f"{m['val_acc']:.3f}" if m["val_acc"] is not None else "-")

    ckpt = FileCheckpoint(args.checkpoint) if args.checkpoint else None
    result = tune(cfg, data, on_metrics=on_metrics, checkpoint=ckpt)
    bar.close()
    out = save_adapter(result.adapter, args.out)
    zs = evaluate(backbone, data.test, class_names=data.class_names)
    tuned = evaluate(backbone, data.test, adapter=result.adapter, class_names=data.class_names)
    summary = {"method": cfg.method, "backbone": backbone.id, "classes": len(data.class_names),
               "test_images": len(data.test), "zero_shot_test_acc": zs.accuracy, "tuned_test_acc": tuned.accuracy,
               "best_val_acc": result.best_val_acc, "queries": result.queries_used, "budget": cfg.budget,
               "seconds": round(result.elapsed_s, 2), "peak_memory_mb": round(result.peak_memory_bytes / 2**20, 1),
               "stopped": result.stopped, "adapter": str(out)}
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nzero-shot test accuracy {zs.accuracy:.4f} -> tuned {tuned.accuracy:.4f} "
          f"({cfg.method}, {result.queries_used}/{cfg.budget} queries, {result.elapsed_s:.1f} s, "
          f"peak memory {summary['peak_memory_mb']} MB)")
    print(json.dumps(summary, indent=2))
    return 0


def _predict(args) -> int:
    from . import check_compatible, load_adapter, load_backbone, predict
    from .data import IMAGE_EXTENSIONS
    adapter = load_adapter(args.adapter)
    backbone = load_backbone(args.backbone or adapter.card["backbone_id"], device=args.device)
    check_compatible(adapter, backbone)
    root = Path(args.images)
    files = [root] if root.is_file() else sorted(f for f in root.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"No images found in {root}.")
    for f, p in zip(files, predict(adapter, backbone, files)):
        if args.json:
            print(json.dumps({"image": str(f), "label": p.label, "index": p.index,
                              "confidence": p.probabilities[p.index]}))
        else:
            print(f"{f}\t{p.label}\t{p.probabilities[p.index]:.4f}")
    return 0
