"""The cheap candidates (zero-shot, linear probe, Tip-Adapter) as places a search can start from, and the
leaderboard entry of any solution given as a logits function.

They read the cached image features only: no query beyond the zero-shot evaluation every run makes, and
seconds of worker time, so method 'auto' recomputes them on a resume instead of storing them (the folds are
seeded: the same every time). Each is chosen on validation like its own method (the probe's L2 strength, the
cache's two constants), or in method 'auto' by k-fold cross-validation over the training and validation images
(folds.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch

from ..quality import class_tallies, mean_recall, tallies_interval
from .folds import Pool
from .leaderboard import Entry
from .linear_probe import best_probe, fitted_head, head_logits, probe_by_folds
from .names import Method
from .tip_adapter import CACHE_OVER_TRAINING_AND_VALIDATION, best_cache, cache_by_folds, with_cache


@dataclass
class Start:
    """A cheap candidate: its entry, its logits function (z -> (N, K)) and what it adds to run.best
    when it is the chosen solution (a linear head, a cache). `refit`: the same candidate with the same setting
    fitted on the training and validation images (method 'auto' with folds), what the adapter keeps when it wins."""
    entry: Entry
    logits_of: Callable[[torch.Tensor], torch.Tensor]
    extras: dict
    refit: Callable[[], dict] | None = None


def _balanced(labels, predictions, num_classes: int) -> tuple[float, list[float] | None]:
    """Balanced accuracy and its 95% interval, from per-class tallies (no K x K matrix)."""
    tallies = class_tallies(labels, predictions, num_classes)
    interval = tallies_interval(tallies)
    return mean_recall(tallies) or 0.0, list(interval) if interval else None


def entry_of(obj, key: str, method: str, logits_of, *, warm_start: str | None = None, queries: int,
             seconds: float, val_z: torch.Tensor | None = None) -> Entry:
    """The leaderboard entry of a solution: its predictions and figures on the validation images (their
    cached features unless `val_z` says how the solution sees them)."""
    with torch.no_grad():
        predictions = logits_of(obj.val_z if val_z is None else val_z).argmax(1).cpu().tolist()
    labels = obj.val_y.cpu().tolist()
    bacc, interval = _balanced(labels, predictions, obj.learner.num_classes)
    return Entry(key=key, method=method, warm_start=warm_start, val_balanced_acc=bacc,
                 val_balanced_acc_interval=interval,
                 val_acc=sum(p == y for p, y in zip(predictions, labels)) / len(labels), queries=queries,
                 seconds=round(seconds, 3), val_predictions=predictions)


def _cross_validated(entry: Entry, pool: Pool, logits: torch.Tensor) -> Entry:
    """`entry` with the figures of its out-of-fold logits over the pool's images."""
    entry.cv_predictions = logits.argmax(1).cpu().tolist()
    entry.cv_balanced_acc, entry.cv_balanced_acc_interval = _balanced(pool.labels, entry.cv_predictions,
                                                                      pool.num_classes)
    return entry


def cheap_candidates(obj, cfg, pool: Pool | None = None) -> list[Start]:
    """Zero-shot, the linear probe and Tip-Adapter, cheapest first (the order the choice rule meets them).
    Each rests on the one zero-shot query. Each is fitted on the training images; its setting is chosen on
    validation like its own method, or with `pool` (method 'auto') by k-fold cross-validation over the pool,
    whose out-of-fold figures its entry then carries, and it can be refitted on the whole pool."""
    device, K = obj.train_z.device, obj.learner.num_classes
    t0 = time.perf_counter()
    T0 = obj.learner.zero_shot_features().to(device, torch.float32)
    zero_shot = lambda z: obj.scale * z @ T0.T  # noqa: E731
    starts = [Start(entry_of(obj, Method.ZEROSHOT.value, Method.ZEROSHOT.value, zero_shot, queries=1,
                             seconds=time.perf_counter() - t0), zero_shot, {})]
    if pool is not None:
        _cross_validated(starts[0].entry, pool, zero_shot(pool.z))

    def add(method: Method, logits_of, extras: dict, out_of_fold, refit: Callable[[Pool], dict]) -> None:
        start = Start(entry_of(obj, method.value, method.value, logits_of, queries=1,
                               seconds=time.perf_counter() - t0), logits_of, extras)
        if pool is not None:
            _cross_validated(start.entry, pool, out_of_fold)
            start.refit = partial(refit, pool)
        starts.append(start)

    t0 = time.perf_counter()
    if pool is None:
        head, out_of_fold = best_probe(obj, cfg.probe_steps)[1], None
    else:
        l2, out_of_fold = probe_by_folds(pool, cfg.probe_steps)
        head = fitted_head(obj.train_z, obj.train_y, K, l2=l2, steps=cfg.probe_steps)
    add(Method.LINEAR_PROBE, head_logits(head, device), {"head": head}, out_of_fold,
        lambda p: {"head": fitted_head(p.z, p.y, K, l2=head["l2"], steps=cfg.probe_steps)})
    t0 = time.perf_counter()
    cache, out_of_fold = best_cache(obj, T0, zero_shot) if pool is None else cache_by_folds(pool, zero_shot)
    if cache is not None:  # without one, Tip-Adapter is the zero-shot model itself
        add(Method.TIP_ADAPTER, with_cache(obj, zero_shot, cache), {"cache": cache}, out_of_fold,
            lambda p: {"cache": {**cache, "keys": CACHE_OVER_TRAINING_AND_VALIDATION}})
    return starts
