"""Stratified k-fold cross-validation over the non-test images (training + validation), for choosing among
method 'auto''s quick candidates.

With 16 validation images a class, a choice on the validation split alone rests on few images, and a fit on the
training split alone never learns from them. The quick candidates train in seconds, so 'auto' fits each of them
k times, each time on all but one fold, and scores every training and validation image with the fit that did not
see it: the comparison then rests on every labelled non-test image. The test split is never part of a pool
(the pool is built from the objective's training and validation features only).

Folds are dealt per class from a shuffle seeded by the run's seed, so the same run always gets the same folds,
and k is at most the smallest class's image count, so every class is in every fold.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..quality import balanced_accuracy_of


def fold_count(labels: list[int], most: int) -> int:
    """k: at most `most`, at most the smallest class's image count (every class in every fold), at least 2
    (every class keeps a training and a validation image, so it has two)."""
    counts = [labels.count(k) for k in set(labels)]
    return max(2, min(most, *counts))


def stratified_folds(labels: list[int], k: int, seed: int) -> list[int]:
    """The fold (0..k-1) of each image: each class's images in a seeded shuffle, dealt round-robin, each class
    starting where the previous one stopped so that the folds stay level in size."""
    rng = random.Random(seed)
    fold, turn = [0] * len(labels), 0
    for c in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == c]
        rng.shuffle(members)
        for i in members:
            fold[i], turn = turn % k, turn + 1
    return fold


@dataclass
class Pool:
    """The training and validation images of a run, with their folds."""
    z: torch.Tensor  # (N, D) image features
    y: torch.Tensor  # (N,) labels
    fold: torch.Tensor  # (N,) fold of each image
    k: int
    num_classes: int

    @property
    def labels(self) -> list[int]:
        return self.y.tolist()

    def out_of_fold(self, fit_predict: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
                    width: int | None = None) -> torch.Tensor:
        """(N, K) logits of every image from a fit on the other folds: fit_predict(z, y, held_out_z); `width`
        columns instead of K when a fit_predict returns several fits' logits side by side."""
        logits = torch.empty(len(self.y), width or self.num_classes, device=self.z.device)
        for f in range(self.k):
            held = self.fold == f
            logits[held] = fit_predict(self.z[~held], self.y[~held], self.z[held]).to(logits.device)
        return logits

    def score(self, logits: torch.Tensor) -> tuple[float, float]:
        """(balanced accuracy, -loss) of out-of-fold logits: higher is better, the loss breaks ties."""
        bacc = balanced_accuracy_of(self.labels, logits.argmax(1).tolist(), self.num_classes) or 0.0
        return bacc, -float(F.cross_entropy(logits, self.y))


def pool_of(obj, most_folds: int, seed: int) -> Pool:
    """The objective's training and validation images (never its test images: it holds none), in folds."""
    z, y = torch.cat([obj.train_z, obj.val_z]), torch.cat([obj.train_y, obj.val_y])
    labels = y.tolist()
    k = fold_count(labels, most_folds)
    fold = torch.tensor(stratified_folds(labels, k, seed), device=z.device)
    return Pool(z, y, fold, k, obj.learner.num_classes)
