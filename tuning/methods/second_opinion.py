"""A single-method job's leaderboard: the adapter it tuned beside the cheap candidates, on the same validation
images, so its page can say when a cheaper candidate did as well or better (choice.cheaper_alternative).
The cheap candidates cost seconds and no query; the job still returns the adapter of the method it was given.
"""
from __future__ import annotations

import torch

from .candidates import cheap_candidates, entry_of
from .choice import cheaper_alternative
from .leaderboard import Leaderboard
from .linear_probe import head_logits
from .tip_adapter import with_cache


def logits_of_best(run, T: torch.Tensor):
    """z -> logits of run.best: its linear head or class embeddings T, and its cache."""
    obj, best = run.obj, run.best
    device = obj.val_z.device
    head = best.get("head")
    base = head_logits(head, device) if head is not None else (lambda z: obj.scale * z @ T.to(device).T)
    return with_cache(obj, base, best["cache"]) if best.get("cache") else base


def validation_features(run) -> torch.Tensor:
    """The validation images' features as the adapter sees them: through the tuned image tower where the
    run changed it (adapt='sparse' with an image delta)."""
    obj = run.obj
    if getattr(obj, "towers", None) is None:
        return obj.val_z
    with torch.no_grad():
        return obj.image_features(torch.tensor(run.best["w"], dtype=torch.float32), 1)


def single_method_board(run, T: torch.Tensor) -> Leaderboard:
    obj = run.obj
    starts = cheap_candidates(obj, run.cfg)
    mine = entry_of(obj, run.cfg.method, run.cfg.method, logits_of_best(run, T), val_z=validation_features(run),
                    queries=obj.queries, seconds=run.elapsed_s)
    entries = [s.entry for s in starts] + [mine]
    labels, K = obj.val_y.cpu().tolist(), obj.learner.num_classes
    return Leaderboard(entries, mine.key, len(labels), reason=f"The job ran {mine.label}, the method it was given.",
                       note=cheaper_alternative(entries, mine.key, labels, K))
