"""The split rule: how a class's images divide into training, validation and test at `shots` shots.

Pure Python (no torch), so the web app can tell an engineer what a dataset gives before any job runs.
"""
from __future__ import annotations

HELD_OUT_PER_CLASS = 2  # every class keeps one validation and one test image on top of its training shots


def min_images_per_class(shots: int) -> int:
    return shots + HELD_OUT_PER_CLASS


def split_sizes(images: int, shots: int) -> tuple[int, int, int]:
    """(train, validation, test) images a class with `images` images gives at `shots` shots:
    stratified, so every class keeps at least one validation and one test image. (0, 0, 0) when the
    class has too few images."""
    if shots < 1 or images < min_images_per_class(shots):
        return 0, 0, 0
    n_val = max(1, min(shots, (images - shots) // 2))
    return shots, n_val, images - shots - n_val
