"""Few-shot data: a folder with one sub-folder per class -> stratified train/val/test splits with
image features encoded once by the frozen image tower (DeepZero's feature reuse).

Per class (shuffled by the seed): `shots` images for training, then min(shots, half the rest)
(at least 1) for validation, and everything else for the test split. Features are cached on disk
keyed by backbone (id + checkpoint hash) and image sha256, so a second job on the same data and
backbone encodes nothing.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import atomic_write_bytes
from .errors import DataError
from .splits import min_images_per_class, split_sizes

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass
class Split:
    features: torch.Tensor  # (N, D) float32, L2-normalised
    labels: torch.Tensor  # (N,) int64
    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FewShotData:
    class_names: list[str]
    train: Split
    val: Split
    test: Split
    backbone_id: str | None = None
    dataset_hash: str | None = None
    shots: int | None = None
    seed: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why) of damaged images left out


def list_image_folder(root: str | Path) -> tuple[list[str], list[list[Path]]]:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"The data folder {root} does not exist or is not a folder.")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{root} must contain one sub-folder per class, at least two; found {len(classes)}.")
    files = [sorted(f for f in c.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                    and not f.name.startswith(".")) for c in classes]
    return [c.name for c in classes], files


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_image_folder(root, *, backbone, shots: int = 16, seed: int = 0, cache_dir=None,
                      skip_damaged: bool = False, hashes: Mapping[str, str] | None = None,
                      on_progress: Callable[[int, int], Any] | None = None) -> FewShotData:
    """on_progress(done, total): called as images are encoded (those found in the cache are not counted).
    skip_damaged: leave out images that cannot be read and list them in `.skipped` (as the web
    upload does) instead of raising DataError. hashes: the images' sha256 hex digests by their path
    under `root` ('<class>/<file>', as an ingest manifest already has them), so the loader does not
    read every image again to hash it; an image missing from it is hashed here."""
    if shots < 1:
        raise DataError("shots must be at least 1.")
    if isinstance(backbone, str):
        from .backbones.loader import load_backbone
        backbone = load_backbone(backbone)
    names, files = list_image_folder(root)
    skipped: list[tuple[str, str]] = []
    if skip_damaged:
        kept = []
        for fs in files:
            kept.append([f for f in fs if _readable(f, skipped)])
        files = kept
    need = min_images_per_class(shots)
    for name, fs in zip(names, files):
        if len(fs) < need:
            raise DataError(f"Class '{name}' has {len(fs)} images but {shots} shots need at least {need} "
                            f"({shots} for training, 1 for validation, 1 for testing). Add images or lower the shots.")
    parts: dict[str, tuple[list[Path], list[int]]] = {"train": ([], []), "val": ([], []), "test": ([], [])}
    for label, fs in enumerate(files):
        order = np.random.default_rng([seed, label]).permutation(len(fs))
        _, n_val, _ = split_sizes(len(fs), shots)
        cuts = {"train": order[:shots], "val": order[shots:shots + n_val], "test": order[shots + n_val:]}
        for split, idx in cuts.items():
            parts[split][0].extend(fs[i] for i in idx)
            parts[split][1].extend([label] * len(idx))
    all_paths = [p for split in parts.values() for p in split[0]]
    shas = _image_hashes(Path(root), all_paths, hashes or {})
    feats = encode_images(backbone, all_paths, shas, cache_dir, on_progress=on_progress)
    splits = {}
    for split, (paths, labels) in parts.items():
        splits[split] = Split(torch.stack([feats[shas[p]] for p in paths]), torch.tensor(labels, dtype=torch.long),
                              [str(p) for p in paths])
    digest = hashlib.sha256("\n".join(f"{names[label]}/{shas[p]}" for split in parts.values()
                                      for p, label in zip(*split)).encode()).hexdigest()
    return FewShotData(names, splits["train"], splits["val"], splits["test"], backbone_id=backbone.id,
                       dataset_hash=digest, shots=shots, seed=seed, skipped=skipped)


def _image_hashes(root: Path, paths: list[Path], known: Mapping[str, str]) -> dict[Path, str]:
    """path -> sha256: from `known` (keyed by the path under root) where it has one, else read and hashed."""
    shas = {}
    for p in paths:
        sha = known.get(p.relative_to(root).as_posix())
        shas[p] = sha if sha else _sha256(p)
    return shas


def _readable(path: Path, skipped: list) -> bool:
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the file is damaged
        skipped.append((str(path), f"cannot be read as an image ({type(exc).__name__})"))
        return False


def _load_image(path: Path):
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except Exception as exc:
        raise DataError(f"Cannot read image {path}: {exc}") from exc


def _autocast(backbone):
    dtype = backbone.autocast_dtype
    return contextlib.nullcontext() if dtype is None else torch.autocast(backbone.device.type, dtype=dtype)


def encode_pil(backbone, images, batch_size: int = 64) -> torch.Tensor:
    """PIL images -> (N, D) normalised float32 features on the CPU."""
    out = []
    for s in range(0, len(images), batch_size):
        x = torch.stack([backbone.preprocess(im) for im in images[s:s + batch_size]]).to(backbone.device)
        with torch.inference_mode(), _autocast(backbone):
            out.append(F.normalize(backbone.model.encode_image(x).float(), dim=-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, backbone.embed_dim)


def _cache_file(backbone, cache_dir) -> Path:
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", backbone.id)[:60]
    return Path(cache_dir) / f"{key}-{(backbone.checkpoint_sha256 or 'nohash')[:16]}" / "features.safetensors"


# Features of recent cache files, kept in memory by a worker between jobs (a warm worker reads no file).
MEMORY_CACHE_FILES = 4
_in_memory: OrderedDict[Path, dict[str, torch.Tensor]] = OrderedDict()
PROGRESS_EVERY = 32  # images between progress calls


def encode_images(backbone, paths: list[Path], shas: dict, cache_dir=None, batch_size: int = 64,
                  on_progress: Callable[[int, int], Any] | None = None) -> dict:
    """sha256 -> feature, encoding only images missing from the cache (in memory, then on disk)."""
    from safetensors.torch import load_file, save
    cache: dict[str, torch.Tensor] = {}
    file = _cache_file(backbone, cache_dir) if cache_dir else None
    if file is not None and file in _in_memory:
        cache = _in_memory[file]
        _in_memory.move_to_end(file)
    elif file is not None and file.exists():
        try:
            cache = load_file(str(file))
        except Exception:
            cache = {}  # a damaged cache is only a cache: re-encode
    todo = sorted({shas[p]: p for p in paths if shas[p] not in cache}.items())
    step = min(batch_size, PROGRESS_EVERY)
    for s in range(0, len(todo), step):
        chunk = todo[s:s + step]
        feats = encode_pil(backbone, [_load_image(p) for _, p in chunk], batch_size)
        cache.update({sha: f.clone() for (sha, _), f in zip(chunk, feats)})
        if on_progress is not None:
            on_progress(s + len(chunk), len(todo))
    if file is not None and todo:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(file, save({k: v.contiguous() for k, v in cache.items()}))
    if file is not None:
        _in_memory[file] = cache
        while len(_in_memory) > MEMORY_CACHE_FILES:
            _in_memory.popitem(last=False)
    return cache
