"""Tip-Adapter: a training-free cache over the few-shot image features, added to the class logits.

Each training image is a key (its normalised feature) with its one-hot class as value; a test feature z
adds alpha * exp(-beta (1 - z . key)) @ values to the logits, so near neighbours among the shots vote.
Alone (method 'tip_adapter') it sits on the zero-shot prompts; with `tip_cache` on, on top of whatever
the method tuned (the prompts or a linear probe). Its two constants are chosen on the validation split
(method 'auto': by k-fold cross-validation over the training and validation images, `cache_by_folds`),
and the cache is kept only when it scores higher there than the logits without it. No query is spent:
the cache reads the cached features only.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from ..adapter import cache_logits
from .linear_probe import head_logits
from .stages import Stage

# A grid as wide as Tip-Adapter's own search (it tunes alpha and beta on validation too).
ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
BETAS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


# A cache's "keys" when its rows are the training then the validation images (method 'auto' refits the cache
# it chose by k-fold on every non-test image); without it, the training images only.
CACHE_OVER_TRAINING_AND_VALIDATION = "training+validation"


def _score(ev) -> tuple[float, float]:
    return ev.val_balanced_acc, -ev.val_loss


def best_cache(obj, T: torch.Tensor, base):
    """(chosen {alpha, beta} or None, its Evaluated): the cache on top of `base` (z -> logits; T: the text
    features kept for the adapter) that scores highest on validation, None when none beats `base` alone."""
    keys, values = obj.train_z, F.one_hot(obj.train_y, T.shape[0]).float()
    chosen, chosen_ev = None, obj.evaluate_features(T, logits_of=base)
    for alpha, beta in itertools.product(ALPHAS, BETAS):
        ev = obj.evaluate_features(T,
                                   logits_of=lambda z, a=alpha, b=beta: base(z) + cache_logits(z, keys, values, a, b))
        if _score(ev) > _score(chosen_ev):
            chosen, chosen_ev = {"alpha": alpha, "beta": beta}, ev
    return chosen, chosen_ev


def cache_by_folds(pool, base):
    """(chosen {alpha, beta} or None, out-of-fold logits): the constants whose cache, built from the other folds'
    images, scores highest over the pool's images (folds.py); None when none beats `base` alone there."""
    chosen, chosen_logits = None, base(pool.z)
    chosen_score = pool.score(chosen_logits)
    for alpha, beta in itertools.product(ALPHAS, BETAS):
        logits = pool.out_of_fold(lambda z, y, held, a=alpha, b=beta: base(held) + cache_logits(
            held, z, F.one_hot(y, pool.num_classes).float(), a, b))
        if pool.score(logits) > chosen_score:
            chosen, chosen_logits, chosen_score = {"alpha": alpha, "beta": beta}, logits, pool.score(logits)
    return chosen, chosen_logits


def with_cache(obj, base, cache: dict):
    """`base` (z -> logits) with the cache of constants `cache` added."""
    keys, values = obj.train_z, F.one_hot(obj.train_y, obj.learner.num_classes).float()
    return lambda z: base(z) + cache_logits(z, keys, values, cache["alpha"], cache["beta"])


def add_cache(run, T: torch.Tensor) -> None:
    """Fit the cache on top of run.best (text features T, or its linear head) and keep it in run.best
    when it beats the best without a cache on validation."""
    obj, best = run.obj, run.best
    if best.get("cache") is not None:  # resumed after the cache was fitted
        return
    device = obj.train_z.device
    T = T.to(device, torch.float32)
    head = best.get("head")
    base = head_logits(head, device) if head is not None else (lambda z: obj.scale * z @ T.T)
    chosen, chosen_ev = best_cache(obj, T, base)
    if chosen is None:
        return
    run.best.update(val_acc=chosen_ev.val_acc, val_loss=chosen_ev.val_loss, val_balanced_acc=chosen_ev.val_balanced_acc,
                    train_loss=chosen_ev.train_loss, cache=chosen)
    run.emit(Stage.CACHE, chosen_ev)
