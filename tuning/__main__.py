"""Command line: `python -m tuning tune ...`, `python -m tuning predict ...` and `python -m tuning backbones
[--check ID --data FOLDER]` (the wheel's `tuning` command runs the same `main`)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import METHODS, TuneConfig, queries_to_spend
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
    t = sub.add_parser("tune", help="Tune an adapter on a folder with one sub-folder of images per class.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = TuneConfig()
    t.add_argument("--data", required=True, help="Folder with one sub-folder of images per class.")
    t.add_argument("--backbone", default=None,
                   help=f"Backbone id (default: {defaults.backbone}, the demo backbone).")
    t.add_argument("--budget", type=int, default=None,
                   help=f"Query budget: forward evaluations of the loss (default: {defaults.budget}; "
                        "2000 is a quick first run).")
    t.add_argument("--out", required=True, help="Folder to write the adapter to.")
    t.add_argument("--method", choices=METHODS, default=None, help=f"Tuning method (default: {defaults.method}).")
    t.add_argument("--shots", type=int, default=None, help=f"Training images per class (default: {defaults.shots}).")
    t.add_argument("--seed", type=int, default=None,
                   help=f"Random seed of the split and the tuner (default: {defaults.seed}).")
    t.add_argument("--device", default=None, help=f"cpu, cuda or auto (default: {defaults.device}).")
    t.add_argument("--config", default=None, help="JSON file with TuneConfig settings (default: none).")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="Override one TuneConfig setting; repeat for several (default: none).")
    t.add_argument("--cache-dir", default=None, help="Image-feature cache folder (default: no cache).")
    t.add_argument("--checkpoint", default=None, help="Checkpoint file, resumed when it exists (default: none).")
    t.add_argument("--no-progress", action="store_true",
                   help="Print no progress bars (neither the tuning bar nor the backbone loading's).")
    r = sub.add_parser("predict", help="Classify a folder of images with an adapter.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("--adapter", required=True, help="Folder with adapter.safetensors and adapter.json.")
    r.add_argument("--images", required=True, help="An image, or a folder searched for images.")
    r.add_argument("--backbone", default=None, help="Backbone id (default: the one in the adapter card).")
    r.add_argument("--device", default="auto", help="cpu, cuda or auto.")
    r.add_argument("--json", action="store_true", help="Print JSON lines instead of a table.")
    b = sub.add_parser("backbones", help="List the registered backbones, or check that one loads as trained.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("--check", metavar="ID", default=None,
                   help="Load this backbone id and print how it was built (weights sha256 and size, QuickGELU, "
                        "preprocessing).")
    b.add_argument("--data", default=None,
                   help="With --check: a folder with one sub-folder of images per class; prints zero-shot accuracy.")
    b.add_argument("--device", default="auto", help="cpu, cuda or auto.")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"tune": _tune, "predict": _predict, "backbones": _backbones}[args.command](args)
    except (TuningError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _tune(args) -> int:
    from tqdm import tqdm

    from . import evaluate, load_backbone, load_image_folder, save_adapter, tune
    from .checkpoint import FileCheckpoint
    from .data import list_image_folder
    from .quality import not_better_sentence
    settings = json.loads(Path(args.config).read_text()) if args.config else {}
    for key in ("backbone", "budget", "method", "shots", "seed", "device"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings.update(_parse_set(args.set))
    cfg = TuneConfig.from_dict(settings)
    list_image_folder(args.data)  # a wrong --data is reported before the backbone loads (seconds)
    if args.no_progress:
        _quiet_downloads()
    backbone = load_backbone(cfg.backbone, device=cfg.device)
    data = load_image_folder(args.data, backbone=backbone, shots=cfg.shots, seed=cfg.seed, cache_dir=args.cache_dir,
                             skip_damaged=True)
    if data.skipped:
        print(f"Left out {len(data.skipped)} damaged image{'s' if len(data.skipped) != 1 else ''}:", file=sys.stderr)
        for path, reason in data.skipped:
            print(f"  {path}: {reason}", file=sys.stderr)
    # zero-shot spends one query: a bar counting to the budget would stand at 0% and then end
    total = queries_to_spend(cfg.method, cfg.budget)
    bar = tqdm(total=total, unit="q", disable=args.no_progress, desc=cfg.method)

    def on_metrics(m):
        bar.update(m["queries"] - bar.n)
        bar.set_postfix(stage=m["stage"], loss=f"{m['train_loss']:.3f}",
                        val=f"{m['val_acc']:.3f}" if m["val_acc"] is not None else "-")

    ckpt = FileCheckpoint(args.checkpoint) if args.checkpoint else None
    result = tune(cfg, data, on_metrics=on_metrics, checkpoint=ckpt)
    bar.close()
    out = save_adapter(result.adapter, args.out)
    zs = evaluate(backbone, data.test, class_names=data.class_names).quality(data.class_names)
    tuned = evaluate(backbone, data.test, adapter=result.adapter,
                     class_names=data.class_names).quality(data.class_names)
    summary = {"method": cfg.method, "backbone": backbone.id, "classes": len(data.class_names),
               "test_images": len(data.test), "zero_shot_test_acc": zs.accuracy, "tuned_test_acc": tuned.accuracy,
               "zero_shot_test": zs.to_dict(), "tuned_test": tuned.to_dict(),
               "best_val_acc": result.best_val_acc, "best_val_balanced_acc": result.best_val_balanced_acc,
               "zero_shot_val_balanced_acc": result.zero_shot_val_balanced_acc,
               "better_than_zero_shot": result.beats_zero_shot, "queries": result.queries_used, "budget": cfg.budget,
               "seconds": round(result.elapsed_s, 2), "peak_memory_mb": round(result.peak_memory_bytes / 2**20, 1),
               "stopped": result.stopped, "skipped_images": [path for path, _ in data.skipped], "adapter": str(out),
               "leaderboard": result.leaderboard.to_dict() if result.leaderboard is not None else None}
    (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2))
    print()
    for line in summary_lines(zs, tuned):
        print(line)
    print(f"({cfg.method}, {result.queries_used}/{cfg.budget} queries, {result.elapsed_s:.1f} s, "
          f"peak memory {summary['peak_memory_mb']} MB)")
    if result.leaderboard is not None:
        _print_leaderboard(result.leaderboard)
    if not result.beats_zero_shot and cfg.method != "zeroshot":
        print(not_better_sentence(result.zero_shot_val_balanced_acc, result.best_val_balanced_acc)
              + " The adapter written is the zero-shot one.")
    print(json.dumps(summary, indent=2))
    return 0


def _print_leaderboard(board) -> None:
    """Each candidate's validation balanced accuracy (and cross-validated one), queries and seconds, then why the
    adapter won."""
    print(f"\nCandidates on the same {board.validation_images} validation images"
          + (f" (quick ones also cross-validated, {board.folds} folds over {board.fold_images} training and "
             "validation images)" if board.folds else "") + ":")
    for e in board.entries:
        mark = " <- chosen" if e.key == board.chosen else ""
        folded = f"  cross-validated {_with_interval(e.cv_balanced_acc, e.cv_balanced_acc_interval)}" \
            if e.cv_balanced_acc is not None else ""
        print(f"  {e.label:<32} {_with_interval(e.val_balanced_acc, e.val_balanced_acc_interval)}  "
              f"{e.queries:>6} q  {e.seconds:7.1f} s{folded}{mark}")
    print(board.reason)
    if board.note:
        print(board.note)


CHANGE_WORDS = {"rose": "rose", "fell": "fell", "unclear": "no clear change (within the 95% intervals)",
                "unknown": "not measured"}


def summary_lines(zero_shot, tuned) -> list[str]:
    """The test result as the web pages give it: balanced accuracy first (on an imbalanced set plain
    accuracy mostly measures the largest class), then each class's recall, then plain accuracy."""
    from .quality import change_direction
    direction = change_direction(zero_shot.balanced_accuracy, zero_shot.balanced_accuracy_interval,
                                 tuned.balanced_accuracy, tuned.balanced_accuracy_interval)
    recalls = []
    for name, after in tuned.per_class_recall.items():
        before = zero_shot.per_class_recall.get(name)
        if before is None or after is None:
            continue
        word = "fell" if after < before else "rose" if after > before else "same"
        recalls.append(f"{name} {before:.2f} -> {after:.2f} ({word})")
    return [
        f"Balanced accuracy (every class counts the same) on {tuned.images} test images: zero-shot "
        f"{_with_interval(zero_shot.balanced_accuracy, zero_shot.balanced_accuracy_interval)} -> tuned "
        f"{_with_interval(tuned.balanced_accuracy, tuned.balanced_accuracy_interval)}: {CHANGE_WORDS[direction]}.",
        "Recall per class, zero-shot -> tuned: " + ("; ".join(recalls) or "-") + ".",
        f"Plain accuracy (every image counts the same, so mostly the largest classes): zero-shot "
        f"{_with_interval(zero_shot.accuracy, zero_shot.accuracy_interval)} -> tuned "
        f"{_with_interval(tuned.accuracy, tuned.accuracy_interval)}.",
    ]


def _with_interval(value, interval) -> str:
    if value is None:
        return "-"
    ci = f" (95% {interval[0]:.4f}-{interval[1]:.4f})" if interval else ""
    return f"{value:.4f}{ci}"


def _quiet_downloads() -> None:
    """--no-progress also silences the bars of the libraries that load a backbone (transformers prints
    "Loading weights", huggingface_hub its downloads). Both read the variable when first imported;
    a transformers imported earlier is told directly."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()


def _predict(args) -> int:
    from . import backbone_for_card, check_compatible, load_adapter, load_backbone, predict
    from .data import IMAGE_EXTENSIONS
    adapter = load_adapter(args.adapter)
    card = adapter.card
    backbone = load_backbone(args.backbone or backbone_for_card(card["backbone_id"], card.get("backbone_sha256")),
                             device=args.device)
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


def _backbones(args) -> int:
    from . import list_backbones, load_backbone
    if args.check is None:
        if args.data:
            raise ValueError("--data needs --check ID: the backbone to measure.")
        for info in list_backbones():
            print(f"{info.id}\t{info.label}{' (demo backbone)' if info.is_demo else ''}")
        return 0
    backbone = load_backbone(args.check, device=args.device)
    spec = backbone.spec.to_card() if backbone.spec is not None else {"sha256": backbone.checkpoint_sha256}
    print(f"backbone {backbone.id}: loaded on {backbone.device}, embedding size {backbone.embed_dim}")
    for key, value in spec.items():
        print(f"  {key}: {value}")
    if args.data:
        _print_zero_shot(backbone, args.data)
    return 0


def _print_zero_shot(backbone, folder) -> int:
    """Zero-shot accuracy on every image of the folder ('a photo of a <class>.'): a quick sign that the
    weights are the ones meant (random or wrongly built weights stay near chance)."""
    import torch

    from .data import Split, _load_image, encode_pil, list_image_folder
    from .evaluation import evaluate
    names, files = list_image_folder(folder)
    paths = [f for group in files for f in group]
    labels = torch.tensor([k for k, group in enumerate(files) for _ in group])
    # 64 images in memory at a time
    features = torch.cat([encode_pil(backbone, [_load_image(p) for p in paths[s:s + 64]])
                          for s in range(0, len(paths), 64)])
    split = Split(features, labels, [str(p) for p in paths])
    quality = evaluate(backbone, split, class_names=names).quality(names)
    print(f"zero-shot accuracy {quality.accuracy:.4f}, balanced {quality.balanced_accuracy:.4f} on {len(paths)} "
          f"images of {len(names)} classes (chance {1 / len(names):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
