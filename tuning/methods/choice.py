"""The choice rule: which candidate a run returns, with the validation noise in mind.

Candidates come in order of cost, cheapest first (zero-shot, linear probe, Tip-Adapter, then the searches).
Method 'auto' compares the quick ones on their out-of-fold predictions over every training and validation image
(k-fold cross-validation, folds.py), and the searches against the warm start on the validation images.
The cheapest is the first choice; each costlier candidate replaces the current choice only when it is better
by more than the noise of the validation images: its balanced accuracy is higher and the 95% interval of
the paired difference (a bootstrap over the same validation images, each class resampled from its own
images) lies above zero. With 16 validation images a class, one or two images more is within that noise,
so a search that found a lucky point does not beat the probe it started from. Because a replacement is
always higher on validation, the returned candidate is never below any earlier choice, the warm start of
method 'auto' included. Light on purpose (numpy only).
"""
from __future__ import annotations

import numpy as np

from .leaderboard import Challenge, Entry

BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0  # the same predictions always give the same decision
LEVEL = 0.95


def paired_difference(labels, preds_a, preds_b, num_classes: int, *, samples: int = BOOTSTRAP_SAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """(observed, low, high): balanced accuracy of a minus b on the same images, with the 95% interval of a
    stratified paired bootstrap (each resample draws each class's images from that class, the same draw for
    a and b). Classes without images are left out, as balanced accuracy leaves them out."""
    y = np.asarray(labels)
    right_a, right_b = np.asarray(preds_a) == y, np.asarray(preds_b) == y
    rng = np.random.default_rng(seed)
    observed, resampled, classes = 0.0, np.zeros(samples), 0
    for k in range(num_classes):
        members = np.flatnonzero(y == k)
        if not len(members):
            continue
        classes += 1
        diff = right_a[members].astype(float) - right_b[members].astype(float)
        observed += diff.mean()
        resampled += diff[rng.integers(0, len(members), size=(samples, len(members)))].mean(axis=1)
    if not classes:
        return 0.0, 0.0, 0.0
    resampled /= classes
    tail = (1 - LEVEL) / 2
    return float(observed / classes), float(np.quantile(resampled, tail)), float(np.quantile(resampled, 1 - tail))


def beats(challenger: Entry, incumbent: Entry, labels, num_classes: int, folds: int | None = None) -> Challenge:
    """Whether the costlier `challenger` is better than `incumbent` by more than the noise: on the validation
    images, or with `folds` on their out-of-fold predictions over every training and validation image (`labels`
    then the pool's)."""
    cross_validated = folds is not None
    observed, low, high = paired_difference(labels, challenger.predictions(cross_validated),
                                            incumbent.predictions(cross_validated), num_classes)
    return Challenge(challenger=challenger.key, incumbent=incumbent.key, difference=float(observed),
                     interval=[low, high], images=len(labels), won=bool(observed > 0 and low > 0), folds=folds)


def choose(entries: list[Entry], labels, num_classes: int, folds: int | None = None) -> tuple[str, list[Challenge]]:
    """The chosen key and the challenges that decided it; `entries` cheapest first."""
    chosen, challenges = entries[0], []
    for challenger in entries[1:]:
        challenge = beats(challenger, chosen, labels, num_classes, folds)
        challenges.append(challenge)
        if challenge.won:
            chosen = challenger
    return chosen.key, challenges


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _images(c: Challenge) -> str:
    if c.folds is None:
        return f"{c.images} validation images"
    return (f"{c.images} training and validation images, each predicted by a fit that had not seen it "
            f"({c.folds}-fold cross-validation)")


def reason(entries: list[Entry], chosen: str, challenges: list[Challenge]) -> str:
    """One sentence on why `chosen` won, naming the images the decision rested on."""
    by_key = {e.key: e for e in entries}
    won = [c for c in challenges if c.won and c.challenger == chosen]
    # The strongest runner-up by point estimate: what a reader would ask about ("why not that one?").
    others = [c for c in challenges if not c.won and c.incumbent == chosen]
    runner_up = max(others, key=lambda c: c.difference, default=None)
    name = by_key[chosen].label
    if won:
        c = won[-1]
        text = (f"{name} won: {_points(c.difference)} points of balanced accuracy over {by_key[c.incumbent].label} "
                f"on the same {_images(c)} (95% paired interval {_points(c.interval[0])} to "
                f"{_points(c.interval[1])}), more than the noise")
    else:
        text = f"{name} won as the cheapest candidate that nothing beat by more than the noise"
    if runner_up is not None and runner_up.difference > 0:
        text += (f"; {by_key[runner_up.challenger].label} scored {_points(runner_up.difference)} points on the "
                 f"{_images(runner_up)}, within the noise (interval {_points(runner_up.interval[0])} to "
                 f"{_points(runner_up.interval[1])}), so the cheaper {name} stays")
    return text + "."


def cheaper_alternative(entries: list[Entry], picked: str, labels, num_classes: int) -> str | None:
    """For a job that ran one method: a sentence naming a cheaper candidate that did as well or better on
    validation (the picked method does not beat it by more than the noise), or None."""
    mine = next(e for e in entries if e.key == picked)
    cheaper = [e for e in entries if e.key != picked and e.queries < mine.queries]
    if not cheaper:
        return None
    best = max(cheaper, key=lambda e: e.val_balanced_acc)
    challenge = beats(mine, best, labels, num_classes)
    if challenge.won:
        return None
    how = "better" if best.val_balanced_acc > mine.val_balanced_acc else "as well, within the noise"
    return (f"{best.label} did {how} on the same {challenge.images} validation images "
            f"({100 * best.val_balanced_acc:.1f}% balanced accuracy against {100 * mine.val_balanced_acc:.1f}% for "
            f"{mine.label}) with {best.queries:,} quer{'y' if best.queries == 1 else 'ies'} and "
            f"{best.seconds:.0f} s; method 'auto' would have tried it first.")
