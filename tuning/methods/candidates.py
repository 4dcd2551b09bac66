"""The cheap candidates (zero-shot, linear probe, Tip-Adapter) as places a search can start from, and the
leaderboard entry of any solution given as a logits function.

They read the cached image features only: no query beyond the zero-shot evaluation every run makes, and
seconds of worker time, so method 'auto' recomputes them on a resume instead of storing them. Each is
chosen on validation like its own method (the probe's L2 strength, the cache's two constants).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from ..quality import class_tallies, mean_recall, tallies_interval
from .leaderboard import Entry
from .linear_probe import best_probe, head_logits
from .names import Method
from .tip_adapter import best_cache, with_cache


@dataclass
class Start:
    """A cheap candidate: its entry, its logits function (z -> (N, K)) and what it adds to run.best
    when it is the chosen solution (a linear head, a cache)."""
    entry: Entry
    logits_of: Callable[[torch.Tensor], torch.Tensor]
    extras: dict


def entry_of(obj, key: str, method: str, logits_of, *, warm_start: str | None = None, queries: int,
             seconds: float, val_z: torch.Tensor | None = None) -> Entry:
    """The leaderboard entry of a solution: its predictions and figures on the validation images (their
    cached features unless `val_z` says how the solution sees them)."""
    with torch.no_grad():
        predictions = logits_of(obj.val_z if val_z is None else val_z).argmax(1).cpu().tolist()
    labels = obj.val_y.cpu().tolist()
    tallies = class_tallies(labels, predictions, obj.learner.num_classes)
    interval = tallies_interval(tallies)
    return Entry(key=key, method=method, warm_start=warm_start, val_balanced_acc=mean_recall(tallies) or 0.0,
                 val_balanced_acc_interval=list(interval) if interval else None,
                 val_acc=sum(p == y for p, y in zip(predictions, labels)) / len(labels), queries=queries,
                 seconds=round(seconds, 3), val_predictions=predictions)


def cheap_candidates(obj, cfg) -> list[Start]:
    """Zero-shot, the linear probe and Tip-Adapter, cheapest first (the order the choice rule meets them).
    Each rests on the one zero-shot query."""
    device = obj.train_z.device
    t0 = time.perf_counter()
    T0 = obj.learner.zero_shot_features().to(device, torch.float32)
    zero_shot = lambda z: obj.scale * z @ T0.T  # noqa: E731
    starts = [Start(entry_of(obj, Method.ZEROSHOT.value, Method.ZEROSHOT.value, zero_shot, queries=1,
                             seconds=time.perf_counter() - t0), zero_shot, {})]
    t0 = time.perf_counter()
    head = best_probe(obj, cfg.probe_steps)[1]
    probe = head_logits(head, device)
    starts.append(Start(entry_of(obj, Method.LINEAR_PROBE.value, Method.LINEAR_PROBE.value, probe, queries=1,
                                 seconds=time.perf_counter() - t0), probe, {"head": head}))
    t0 = time.perf_counter()
    cache, _ = best_cache(obj, T0, zero_shot)
    if cache is not None:  # without one, Tip-Adapter is the zero-shot model itself
        tip = with_cache(obj, zero_shot, cache)
        starts.append(Start(entry_of(obj, Method.TIP_ADAPTER.value, Method.TIP_ADAPTER.value, tip, queries=1,
                                     seconds=time.perf_counter() - t0), tip, {"cache": cache}))
    return starts
