"""How good a result is, and whether it should be used: the rules the web app and the command line
show, computed here once.

- Balanced accuracy = mean recall over the classes that have images. On an imbalanced test split
  plain accuracy mostly measures the big class; balanced accuracy weighs every class the same.
- Every number comes with a 95% interval: Wilson for accuracy (a proportion), and for balanced accuracy
  a seeded draw of each class's recall from its Jeffreys distribution, Beta(correct + 1/2, wrong + 1/2)
  (a Wilson-type interval per class, averaged over the classes), so the same confusion matrix always gives
  the same interval. Redrawing a class's correct count as Binomial(n, recall) instead cannot vary at a
  recall of 0 or 1, and gave a model that predicts one class for every image a zero-width interval.
- A change is "clear" only when its own 95% interval, combined from the two numbers' intervals
  (Newcombe's method for proportions, MOVER in general), leaves out zero; otherwise the words say the
  change is within the noise (`change_direction`).
- "Better than zero-shot" is decided on validation, never on the test split.
- `recommend` turns test results into one sentence a manager can act on.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_SAMPLES = 2000
# A class whose recall fell by more than this (on the test split) is named in the report.
RECALL_DROP_TOLERANCE = 0.0
# Fewer test images than this in a class make its recall too uncertain to judge the class.
FEW_TEST_IMAGES = 10


def per_class_recall(confusion: list[list[int]]) -> list[float | None]:
    """confusion[true][predicted] -> recall per class (None for a class without images)."""
    return [correct / n if n else None for n, correct in _tallies(confusion)]


def _tallies(confusion: list[list[int]]) -> list[tuple[int, int]]:
    """(images, correct) of each class, from confusion[true][predicted]."""
    return [(sum(row), row[k]) for k, row in enumerate(confusion)]


def class_tallies(labels, predictions, num_classes: int) -> list[tuple[int, int]]:
    """(images, correct) of each class from label and prediction sequences: what balanced accuracy and its
    interval need, without a K x K confusion matrix (a million entries at 1,000 classes)."""
    images, correct = [0] * num_classes, [0] * num_classes
    for y, p in zip(labels, predictions):
        images[int(y)] += 1
        correct[int(y)] += int(y) == int(p)
    return list(zip(images, correct))


def mean_recall(tallies: list[tuple[int, int]]) -> float | None:
    """Balanced accuracy from (images, correct) per class: mean recall over the classes with images."""
    recalls = [correct / n for n, correct in tallies if n]
    return sum(recalls) / len(recalls) if recalls else None


def balanced_accuracy(confusion: list[list[int]]) -> float | None:
    """Mean per-class recall over the classes that have images; None when no class has any."""
    return mean_recall(_tallies(confusion))


def balanced_accuracy_of(labels, predictions, num_classes: int) -> float | None:
    """Balanced accuracy from label and prediction sequences (ints in [0, num_classes))."""
    return mean_recall(class_tallies(labels, predictions, num_classes))


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (95% by default); None without trials."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def balanced_accuracy_interval(confusion: list[list[int]], *, samples: int = BOOTSTRAP_SAMPLES,
                               seed: int = 0) -> tuple[float, float] | None:
    """95% interval of the balanced accuracy: each class's recall drawn from Beta(correct + 1/2,
    wrong + 1/2), the mean over classes taken, its 2.5% and 97.5% quantiles returned. Deterministic
    for a given seed, and never of zero width for a class with images."""
    return tallies_interval(_tallies(confusion), samples=samples, seed=seed)


def tallies_interval(tallies: list[tuple[int, int]], *, samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = 0) -> tuple[float, float] | None:
    """`balanced_accuracy_interval` from (images, correct) per class (`class_tallies`)."""
    counts = [t for t in tallies if t[0]]
    if not counts:
        return None
    n = np.array([c[0] for c in counts], dtype=float)
    correct = np.array([c[1] for c in counts], dtype=float)
    draws = np.random.default_rng(seed).beta(correct + 0.5, n - correct + 0.5, size=(samples, len(n)))
    means = draws.mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def change_direction(before: float | None, before_interval, after: float | None, after_interval) -> str:
    """'rose' or 'fell' when the 95% interval of the change leaves out zero, 'unclear' when it does not
    (a point or two on a few dozen images is noise), 'unknown' without numbers. The interval of the
    change is combined from the two intervals (Newcombe / MOVER); it treats the two as independent,
    which on the same test images errs on the side of "unclear". Without intervals the values decide."""
    if before is None or after is None:
        return "unknown"
    if not (before_interval and after_interval):
        return "rose" if after > before else "fell" if after < before else "unclear"
    change = after - before
    lower = change - math.hypot(after - after_interval[0], before_interval[1] - before)
    upper = change + math.hypot(after_interval[1] - after, before - before_interval[0])
    return "rose" if lower > 0 else "fell" if upper < 0 else "unclear"


@dataclass
class Quality:
    """Accuracy and balanced accuracy of one evaluation, each with a 95% interval."""
    accuracy: float | None
    accuracy_interval: tuple[float, float] | None
    balanced_accuracy: float | None
    balanced_accuracy_interval: tuple[float, float] | None
    images: int
    per_class_recall: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("accuracy_interval", "balanced_accuracy_interval"):
            d[key] = list(d[key]) if d[key] is not None else None
        return d


def quality_of(confusion: list[list[int]], class_names: list[str] | None = None) -> Quality:
    """Quality from a confusion matrix (rows: true class, columns: predicted class)."""
    names = list(class_names) if class_names else [str(k) for k in range(len(confusion))]
    n = sum(sum(row) for row in confusion)
    correct = sum(row[k] for k, row in enumerate(confusion))
    return Quality(
        accuracy=correct / n if n else None,
        accuracy_interval=wilson_interval(correct, n),
        balanced_accuracy=balanced_accuracy(confusion),
        balanced_accuracy_interval=balanced_accuracy_interval(confusion),
        images=n,
        per_class_recall=dict(zip(names, per_class_recall(confusion))),
    )


# ------------------------------------------------------------------------- better than zero-shot?

def beats_zero_shot(tuned_val_balanced: float | None, zero_shot_val_balanced: float | None) -> bool:
    """The tuned adapter is better only when its validation balanced accuracy is strictly higher than
    the untuned model's. (The tuner keeps zero-shot as its first candidate, so "not better" means it
    returned the zero-shot prompts or an adapter no better than them.)"""
    if tuned_val_balanced is None or zero_shot_val_balanced is None:
        return False
    return tuned_val_balanced > zero_shot_val_balanced + 1e-12


def not_better_sentence(zero_shot_val_balanced: float | None, tuned_val_balanced: float | None) -> str:
    """The plain words a job, the CLI and a version page show when tuning did not beat zero-shot."""
    def pct(x):
        return "–" if x is None else f"{100 * x:.1f}%"
    return (f"Tuning did not beat the untuned (zero-shot) model on the validation images "
            f"(balanced accuracy {pct(tuned_val_balanced)} vs {pct(zero_shot_val_balanced)} zero-shot): "
            f"this adapter is not better than using no adapter at all.")


# ------------------------------------------------------------------------- class drops, recommendation

@dataclass
class ClassDrop:
    name: str
    zero_shot: float
    tuned: float
    test_images: int

    def sentence(self) -> str:
        return (f"{self.name}: recall fell from {100 * self.zero_shot:.0f}% to {100 * self.tuned:.0f}% "
                f"({self.test_images} test image{'s' if self.test_images != 1 else ''})")


def recall_drops(zero_shot_confusion: list[list[int]], tuned_confusion: list[list[int]],
                 class_names: list[str]) -> list[ClassDrop]:
    """Every class whose test recall is lower after tuning than zero-shot, largest drop first."""
    before, after = per_class_recall(zero_shot_confusion), per_class_recall(tuned_confusion)
    drops = []
    for k, name in enumerate(class_names):
        was, now = (before[k] if k < len(before) else None), (after[k] if k < len(after) else None)
        if was is not None and now is not None and now < was - RECALL_DROP_TOLERANCE - 1e-12:
            drops.append(ClassDrop(name, was, now, sum(tuned_confusion[k])))
    return sorted(drops, key=lambda d: d.tuned - d.zero_shot)


@dataclass
class Recommendation:
    action: str  # "deploy" | "more_images" | "do_not_deploy"
    sentence: str  # one line a manager can act on, with the reason
    drops: list[ClassDrop] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"action": self.action, "sentence": self.sentence, "drops": [asdict(d) for d in self.drops]}


def recommend(*, zero_shot_confusion: list[list[int]], tuned_confusion: list[list[int]], class_names: list[str],
              better_on_validation: bool) -> Recommendation:
    """deploy / try more images for class X / do not deploy, from the test split, once validation
    has decided whether the adapter is better than zero-shot at all."""
    drops = recall_drops(zero_shot_confusion, tuned_confusion, class_names)
    zs, tu = balanced_accuracy(zero_shot_confusion), balanced_accuracy(tuned_confusion)

    def pct(x):
        return "–" if x is None else f"{100 * x:.0f}%"

    if not better_on_validation:
        return Recommendation("do_not_deploy", "Do not deploy: tuning did not beat the untuned model on the "
                              "validation images; keep using the zero-shot model or the current version.", drops)
    if zs is None or tu is None or tu <= zs:
        return Recommendation("do_not_deploy", f"Do not deploy: on the held-out test images balanced accuracy went "
                              f"from {pct(zs)} zero-shot to {pct(tu)} tuned, no better.", drops)
    if drops:
        names = ", ".join(d.name for d in drops)
        return Recommendation("more_images", f"Try more images for {names} before deploying: balanced accuracy rose "
                              f"from {pct(zs)} to {pct(tu)}, but recall fell for "
                              f"{'this class' if len(drops) == 1 else 'these classes'}.",
                              drops)
    return Recommendation("deploy", f"Deploy: balanced accuracy rose from {pct(zs)} to {pct(tu)} on the held-out "
                          f"test images and no class got worse.", drops)
