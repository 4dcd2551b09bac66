"""Accuracy against queries and against worker-seconds, recorded while `bench quality` runs.

`recording` watches every evaluation the tuner makes and notes, beside the validation figures the tuner
itself sees, the test accuracy of the same class logits. The test numbers are for the report only:
the tuner never sees them, and the curves follow the adapter the run would return if stopped at that
point (best so far by balanced validation accuracy, ties: lower validation loss, as tuning/runner.py).
"""
from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass

import torch

from tuning.objective import Objective


@dataclass
class Point:
    queries: int
    seconds: float
    val_balanced: float
    val_loss: float
    val_acc: float
    test_acc: float


@contextlib.contextmanager
def recording(data, points: list[Point]):
    """While active, every Objective.evaluate_features call appends a Point to `points`."""
    original = Objective.evaluate_features
    test_z, test_y = data.test.features.float(), data.test.labels
    start = time.perf_counter()

    def evaluate_and_record(self, T, logits_of=None, **changed_image_features):
        # adapt='sparse' passes the train/val features of a changed image tower; the test point below
        # still uses the unchanged tower's cached test features (the final evaluation re-encodes them).
        ev = original(self, T, logits_of, **changed_image_features)
        with torch.no_grad():
            z = test_z.to(self.val_z.device)
            logits = logits_of(z) if logits_of is not None else z @ T.to(z.device, torch.float32).T
            test_acc = float((logits.argmax(1).cpu() == test_y).float().mean())
        points.append(Point(self.queries, time.perf_counter() - start, ev.val_balanced_acc, ev.val_loss,
                            ev.val_acc, test_acc))
        return ev

    Objective.evaluate_features = evaluate_and_record
    try:
        yield points
    finally:
        Objective.evaluate_features = original


def best_so_far(points: list[Point]) -> list[Point]:
    """For each point, the one the run would have returned had it stopped there."""
    out, best = [], None
    for p in points:
        if best is None or (p.val_balanced, -p.val_loss) > (best.val_balanced, -best.val_loss):
            best = p
        out.append(Point(p.queries, p.seconds, best.val_balanced, best.val_loss, best.val_acc, best.test_acc))
    return out


def value_at(curve: list[Point], x: float, axis: str, field: str) -> float | None:
    """The curve's `field` at the last point with `axis` <= x (a step function); None before the first."""
    last = None
    for p in curve:
        if getattr(p, axis) > x:
            break
        last = getattr(p, field)
    return last


def queries_to_reach(curve: list[Point], fraction: float = 0.9) -> int | None:
    """Queries after which the returned adapter's validation accuracy first reaches `fraction` of its final one."""
    if not curve:
        return None
    goal = fraction * curve[-1].val_acc
    return next(p.queries for p in curve if p.val_acc >= goal)


def mean_curve(curves: list[list[Point]], axis: str, field: str, grid: list[float]) -> list[float | None]:
    """Mean over seeds at each grid value (None where a seed had no point yet)."""
    out = []
    for x in grid:
        values = [value_at(c, x, axis, field) for c in curves]
        out.append(None if any(v is None for v in values) else statistics.mean(values))
    return out


def plot(curves_by_label: dict[str, list[list[Point]]], path, title: str) -> None:
    """Three panels: validation and test accuracy against queries, test accuracy against worker-seconds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    panels = [("queries", "val_acc", "validation accuracy"), ("queries", "test_acc", "test accuracy"),
              ("seconds", "test_acc", "test accuracy")]
    for ax, (axis, field, name) in zip(axes, panels):
        for label, curves in curves_by_label.items():
            end = max(getattr(c[-1], axis) for c in curves if c)
            grid = [end * i / 200 for i in range(201)] if end > 0 else [0.0]
            ys = mean_curve([c for c in curves if c], axis, field, grid)
            xs = [x for x, y in zip(grid, ys) if y is not None]
            ax.plot(xs, [100 * y for y in ys if y is not None], label=label,
                    marker="o" if len(set(xs)) <= 1 else None)
        ax.set_xlabel("queries" if axis == "queries" else "worker-seconds")
        ax.set_ylabel(f"{name} % (mean over seeds)")
        if axis == "seconds":
            ax.set_xscale("symlog", linthresh=1.0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
