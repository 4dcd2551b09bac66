"""Command line of the demo backbone.

    python -m tools.demo_backbone build [--minutes 60] [--device auto] [--out weights/demo_vit.safetensors]
    python -m tools.demo_backbone evaluate [--data DIR ...] [--split all|test|choice] [--backbone demo-v1]
    python -m tools.demo_backbone demo-dataset --out DIR [--zip FILE] [--per-class 60]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

NEU_DEFAULT = Path(os.environ.get(
    "NEU_DET_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "neu-det"))


def _choice_monitor(neu_root: Path | None, work_dir: Path, image_size: int):
    """Zero-shot accuracy on held-out choice slices, logged at each checkpoint (never the test split).
    None when neither slice is on this machine."""
    import open_clip
    import torch
    from PIL import Image

    from tuning.demo_backbone import demo_data

    from . import zeroshot
    from .train import load_or_compute_text

    sets = {}
    if neu_root and neu_root.is_dir():
        paths, labels, classes = zeroshot.list_folder(neu_root, "choice")
        sets["neu_choice"] = (paths, labels, [zeroshot.class_name(c) for c in classes])
    try:
        unused = demo_data.unused_images(limit=30)
        names = list(unused)
        paths = [p for c in names for p in unused[c]]
        labels = [k for k, c in enumerate(names) for _ in unused[c]]
        sets["textile_choice"] = (paths, labels, [zeroshot.class_name(c) for c in names])
    except ImportError:
        pass
    if not sets:
        return None
    pre = open_clip.image_transform(image_size, is_train=False)
    cache = {}
    for k, (paths, labels, names) in sets.items():
        x = torch.stack([pre(Image.open(p).convert("RGB")) for p in paths])
        prompts = load_or_compute_text(work_dir, [zeroshot.TEMPLATE.format(n) for n in names])
        cache[k] = (x, torch.tensor(labels), prompts)

    @torch.no_grad()
    def monitor(tower):
        dev = tower.logit_scale.device
        out = {}
        for k, (x, y, prompts) in cache.items():
            img = torch.nn.functional.normalize(tower.visual(x.to(dev)).float(), dim=-1).cpu()
            txt = torch.nn.functional.normalize(tower.encode_text_pooled(prompts.to(dev)), dim=-1).cpu()
            out[k] = round(float(((img @ txt.t()).argmax(1) == y).float().mean()), 4)
        return out

    return monitor


def cmd_build(args):
    from tuning.demo_backbone.model import CARD_PATH, CHECKPOINT_PATH

    from .train import TrainSettings, train

    s = TrainSettings(seed=args.seed, corpus_size=args.corpus_size, minutes=args.minutes,
                      batch_size=args.batch_size, lr=args.lr, threads=args.threads, image_size=args.image_size,
                      patch_size=args.patch_size, width=args.width, layers=args.layers)
    out = Path(args.out) if args.out else CHECKPOINT_PATH
    card = Path(args.card) if args.card else (CARD_PATH if out == CHECKPOINT_PATH else out.with_name("card.json"))
    monitor = None if args.no_monitor else _choice_monitor(Path(args.neu) if args.neu else NEU_DEFAULT,
                                                             Path(args.work_dir), s.image_size)
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    train(s, args.work_dir, out_path=out, card_path=card, monitor=monitor, device=device,
          log=lambda m: print(m, file=sys.stderr, flush=True))


def cmd_evaluate(args):
    import torch

    from tuning.demo_backbone import demo_data
    from tuning.demo_backbone.model import create_demo_model

    from . import zeroshot

    torch.set_num_threads(args.threads)
    model, preprocess, tokenizer, sha = create_demo_model(checkpoint_path=args.checkpoint, version=args.backbone)
    targets = []
    for d in args.data or []:
        targets.append((Path(d).name, Path(d), None))
    if not args.data:
        if NEU_DEFAULT.is_dir():
            targets.append(("neu-det", NEU_DEFAULT, zeroshot.NEU_DESCRIPTIONS))
        demo_dir = Path(args.work_dir) / "demo-dataset"
        if not demo_dir.is_dir():
            demo_data.write_demo_dataset(demo_dir)
        targets.append(("demo-textile", demo_dir, zeroshot.DEMO_DESCRIPTIONS))
    results = {"checkpoint_sha256": sha, "split": args.split, "template": zeroshot.TEMPLATE, "results": {}}
    for name, root, desc in targets:
        r = zeroshot.zero_shot(model, preprocess, tokenizer, root, split=args.split,
                               descriptions=desc if args.descriptions else None)
        results["results"][name] = r
        print(f"{name:14s} {r['accuracy'] * 100:5.1f}%  (chance {r['chance'] * 100:.1f}%, {r['images']} images)  "
              + ", ".join(f"{k} {v * 100:.0f}%" for k, v in r["per_class"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def cmd_demo_dataset(args):
    from tuning.demo_backbone.demo_data import write_demo_dataset

    folder, zip_path = write_demo_dataset(args.out, per_class=args.per_class, seed=args.seed, zip_path=args.zip)
    print(f"wrote {folder} and {zip_path}")


def main(argv=None):
    from .train import TrainSettings

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = argparse.ArgumentParser(prog="python -m tools.demo_backbone")
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("build", help="generate the corpus and train the demo image tower (resumable)")
    d = TrainSettings()
    b.add_argument("--minutes", type=float, default=d.minutes, help="training time (corpus generation comes on top)")
    b.add_argument("--out", help="checkpoint path (default: the package's weights/demo_vit.safetensors)")
    b.add_argument("--card", help="card path (default: card.json beside the checkpoint)")
    b.add_argument("--work-dir", default=os.environ.get("DEMO_BACKBONE_WORK", "/tmp/demo_backbone_build"),
                   help="corpus, text-embedding cache and resumable training state")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--corpus-size", type=int, default=d.corpus_size)
    b.add_argument("--batch-size", type=int, default=d.batch_size)
    b.add_argument("--lr", type=float, default=d.lr)
    b.add_argument("--image-size", type=int, default=d.image_size)
    b.add_argument("--patch-size", type=int, default=d.patch_size)
    b.add_argument("--width", type=int, default=d.width)
    b.add_argument("--layers", type=int, default=d.layers)
    b.add_argument("--threads", type=int, default=2, help="CPU threads (also the corpus workers)")
    b.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu or cuda")
    b.add_argument("--neu", help="neu-det folder for the held-out choice-slice log (optional)")
    b.add_argument("--no-monitor", action="store_true", help="do not log choice-slice accuracy")
    b.set_defaults(func=cmd_build)

    e = sub.add_parser("evaluate", help="zero-shot accuracy of the demo backbone")
    e.add_argument("--data", nargs="*", help="class folders (default: neu-det and the demo dataset)")
    e.add_argument("--split", default="all", choices=["all", "test", "choice"],
                   help="choice = every 10th image per class (held out for choices), test = the rest")
    e.add_argument("--descriptions", action="store_true",
                   help="opt-in: use longer class descriptions instead of the plain folder names")
    e.add_argument("--backbone", default="demo", help="the demo version: demo (the newest) or demo-v1")
    e.add_argument("--checkpoint", help="another checkpoint of that version's architecture (default: its own)")
    e.add_argument("--work-dir", default="/tmp/demo_backbone_build")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--json", help="also write the results here")
    e.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("demo-dataset", help="write the demo dataset (image folder + zip)")
    d.add_argument("--out", required=True)
    d.add_argument("--zip", help="zip path (default: OUT.zip)")
    d.add_argument("--per-class", type=int, default=60)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo_dataset)

    args = p.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
