"""The demo dataset: simulated textile images from the PyPI package `conformal-clip-data` (MIT).

The package ships 250x250 JPEGs in three folders: nominal (1000), local (500: one small defect)
and global (500: a defect over the whole surface). We copy a modest, seeded, class-balanced subset
into an image folder (one sub-folder per class, the layout the web upload expects) and a zip of it.
The images the subset does not use stay available as a held-out slice (`unused_images`), which
is what model choices may be checked on; the demo dataset itself is never used for choices.
"""
from __future__ import annotations

import random
import shutil
import zipfile
from pathlib import Path

CLASSES = {"nominal": "nominal", "local_defect": "local", "global_defect": "global"}
DEFAULT_PER_CLASS = 60
DEFAULT_SEED = 0
LICENSE_NOTE = (
    "Images: simulated textile images from the PyPI package conformal-clip-data (MIT licence).\n"
    "Classes: nominal (no defect), local_defect (one small defect), global_defect (defect over the whole surface).\n"
)


def source_root() -> Path:
    import conformal_clip_data

    return Path(conformal_clip_data.textile_simulated_root())


def _all_images(folder: str) -> list[Path]:
    return sorted((source_root() / folder).glob("*.jpg"))


def demo_selection(per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED) -> dict[str, list[Path]]:
    """{class: [source paths]}: a seeded sample of per_class images of each class."""
    out = {}
    for cls, folder in CLASSES.items():
        files = _all_images(folder)
        if len(files) < per_class:
            raise ValueError(f"conformal-clip-data has only {len(files)} {folder} images, asked for {per_class}")
        out[cls] = sorted(random.Random(f"{seed}-{cls}").sample(files, per_class))
    return out


def unused_images(per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED, limit: int | None = None):
    """{class: [paths]} of package images NOT in the demo dataset (a held-out slice for choices)."""
    chosen = demo_selection(per_class, seed)
    out = {}
    for cls, folder in CLASSES.items():
        rest = [p for p in _all_images(folder) if p not in set(chosen[cls])]
        out[cls] = rest[::max(1, len(rest) // limit)][:limit] if limit else rest
    return out


def write_demo_dataset(out_dir, per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED,
                       zip_path=None) -> tuple[Path, Path]:
    """Write the image folder (out_dir/<class>/*.jpg) and a zip of it. Returns (folder, zip)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        for cls in CLASSES:
            shutil.rmtree(out_dir / cls, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    for cls, files in demo_selection(per_class, seed).items():
        (out_dir / cls).mkdir()
        for f in files:
            shutil.copyfile(f, out_dir / cls / f.name)
    (out_dir / "SOURCE.txt").write_text(LICENSE_NOTE)
    zip_path = Path(zip_path) if zip_path else out_dir.with_suffix(".zip")
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:  # JPEGs do not compress further
        for cls in CLASSES:
            for f in sorted((out_dir / cls).iterdir()):
                z.write(f, f"{cls}/{f.name}")
    tmp.replace(zip_path)
    return out_dir, zip_path
