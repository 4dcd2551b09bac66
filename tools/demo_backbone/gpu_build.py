"""Build the demo backbone on the offline GPU machine (bin/gpu-build-demo).

That machine has torch but no package registry, no MiniLM weights, and takes a working tree of at
most 64 MiB. A training step never runs the locked MiniLM (train.LitTower), so the bundle carries
its *output* instead of its 91 MB of weights: the pooled embedding of every caption of the recipe's
corpus, computed here. The corpus images are regenerated there (they are a pure function of seed and
index, and 16 cores make them in seconds); only their caption list must match, which the cache key
(a hash of every caption) checks.

    python -m tools.demo_backbone.gpu_build prepare DIR [--corpus-size N --image-size ...]   # here
    python -m tools.demo_backbone.gpu_build restore DIR SITE WORK_DIR                      # there
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from bench.gpu_bundle import download_wheels, write_stand_in

from .train import TrainSettings, load_or_compute_text, load_or_generate_corpus, text_cache_path

WHEELS = ("open_clip_torch", "ftfy", "wcwidth")


def prepare(dest: Path, s: TrainSettings, work_dir: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    download_wheels(dest / "wheels", WHEELS)
    corp = load_or_generate_corpus(work_dir, s, log=lambda m: print(m, file=sys.stderr))
    load_or_compute_text(work_dir, corp.caption_texts, log=lambda m: print(m, file=sys.stderr))
    cache = dest / "text"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir()
    shutil.copy(text_cache_path(work_dir, corp.caption_texts), cache)
    (dest / "settings.txt").write_text(
        " ".join(f"--{k.replace('_', '-')} {v}" for k, v in asdict(s).items()
                 if k in ("seed", "corpus_size", "image_size", "patch_size", "width", "layers")) + "\n")


def restore(bundle: Path, site: Path, work_dir: Path) -> None:
    """The MiniLM stand-in (its path only: nothing reads the weights) and the caption cache."""
    write_stand_in(site)
    work_dir.mkdir(parents=True, exist_ok=True)
    for f in (bundle / "text").iterdir():
        shutil.copy(f, work_dir / f.name)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.demo_backbone.gpu_build")
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dest", type=Path)
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/demo_backbone_build"))
    d = TrainSettings()
    for name in ("seed", "corpus_size", "image_size", "patch_size", "width", "layers"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    r = sub.add_parser("restore")
    r.add_argument("bundle", type=Path)
    r.add_argument("site", type=Path)
    r.add_argument("work_dir", type=Path)
    args = ap.parse_args(argv)
    if args.verb == "prepare":
        s = TrainSettings(seed=args.seed, corpus_size=args.corpus_size, image_size=args.image_size,
                          patch_size=args.patch_size, width=args.width, layers=args.layers, threads=2)
        prepare(args.dest, s, args.work_dir)
    else:
        restore(args.bundle, args.site, args.work_dir)


if __name__ == "__main__":
    main()
