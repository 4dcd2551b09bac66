"""The leaderboard: every candidate a run weighed, on the same validation images (method 'auto''s quick
candidates also on every training and validation image, by k-fold cross-validation), and why one was chosen.

A typed record (dataclasses, JSON-safe through `to_dict` / `from_dict`): `tune` returns it in TuneResult,
writes it into the adapter card, and the web stores it with the job. Method 'auto' fills it with the cheap
candidates and the warm-started searches; a single-method job with its own adapter beside the cheap
candidates, so its page can say when one of those did as well. Light on purpose (no torch).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .names import Method


@dataclass
class Entry:
    """One candidate: validation figures, what it cost, and its predictions on the validation images
    (kept in checkpoints for the paired comparison, left out of what pages show)."""
    key: str  # 'linear_probe', or 'cmaes@linear_probe' for CMA-ES warm-started from the linear probe
    method: str
    warm_start: str | None
    val_balanced_acc: float
    val_balanced_acc_interval: list[float] | None
    val_acc: float
    queries: int
    seconds: float
    val_predictions: list[int] = field(default_factory=list, repr=False)
    # Method 'auto''s quick candidates: balanced accuracy over every training and validation image, each
    # predicted by the fit on the other folds (k-fold cross-validation, folds.py); None for the others.
    cv_balanced_acc: float | None = None
    cv_balanced_acc_interval: list[float] | None = None
    cv_predictions: list[int] = field(default_factory=list, repr=False)

    def predictions(self, cross_validated: bool) -> list[int]:
        return self.cv_predictions if cross_validated else self.val_predictions

    @property
    def label(self) -> str:
        name = _label(self.method)
        return name if not self.warm_start else f"{name} from {_label(self.warm_start)}"

    def to_dict(self, *, with_predictions: bool = False) -> dict:
        d = asdict(self)
        if not with_predictions:
            d.pop("val_predictions")
            d.pop("cv_predictions")
        d["label"] = self.label
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Entry":
        d = {k: v for k, v in d.items() if k != "label"}
        return cls(**d)


@dataclass
class Challenge:
    """One step of the choice rule: a costlier candidate against the current choice, paired on the same images."""
    challenger: str
    incumbent: str
    difference: float  # challenger minus incumbent, validation balanced accuracy
    interval: list[float]  # 95% paired bootstrap interval of the difference
    images: int  # images the comparison rested on: the validation images, or with `folds` every non-test image
    won: bool
    folds: int | None = None  # k-fold cross-validation over the training and validation images; None: validation


@dataclass
class Leaderboard:
    entries: list[Entry]
    chosen: str  # the key of the candidate whose adapter the run returns
    validation_images: int
    challenges: list[Challenge] = field(default_factory=list)
    reason: str = ""  # one sentence: why the chosen candidate was chosen
    warm_start: str | None = None  # method 'auto': the cheap candidate the searches started from
    note: str | None = None  # a single-method job: a cheaper candidate did as well or better on validation
    folds: int | None = None  # method 'auto': the quick candidates were compared by k-fold over ...
    fold_images: int | None = None  # ... these training and validation images (None: on validation)

    def entry(self, key: str) -> Entry:
        return next(e for e in self.entries if e.key == key)

    def to_dict(self, *, with_predictions: bool = False) -> dict:
        return {"entries": [e.to_dict(with_predictions=with_predictions) for e in self.entries],
                "chosen": self.chosen, "validation_images": self.validation_images,
                "challenges": [asdict(c) for c in self.challenges], "reason": self.reason,
                "warm_start": self.warm_start, "note": self.note, "folds": self.folds,
                "fold_images": self.fold_images}

    @classmethod
    def from_dict(cls, d: dict) -> "Leaderboard":
        return cls(entries=[Entry.from_dict(e) for e in d["entries"]], chosen=d["chosen"],
                   validation_images=d["validation_images"],
                   challenges=[Challenge(**c) for c in d.get("challenges", [])], reason=d.get("reason", ""),
                   warm_start=d.get("warm_start"), note=d.get("note"), folds=d.get("folds"),
                   fold_images=d.get("fold_images"))


def _label(method: str) -> str:
    try:
        return Method(method).label
    except ValueError:
        return method
