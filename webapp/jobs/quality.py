"""The web side's one door to the tuner's quality rules (tuning/quality.py): balanced accuracy,
95% intervals, "better than zero-shot", class drops and the recommendation. Nothing here re-derives
a rule; it only reads what a job stored (confusion matrices, the validation verdict) and asks
`tuning.quality`."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.integrations.tuning.quality import quality_rules


def validation_verdict(result) -> dict:
    """What a finished run says about itself on validation, as JSON for Job.evaluation."""
    q = quality_rules()
    zero = getattr(result, "zero_shot_val_balanced_acc", None)
    tuned = getattr(result, "best_val_balanced_acc", None)
    better = q.beats_zero_shot(tuned, zero)
    return {"zero_shot_balanced_accuracy": zero, "tuned_balanced_accuracy": tuned, "better_than_zero_shot": better,
            "sentence": "" if better else q.not_better_sentence(zero, tuned)}


@dataclass
class JobQuality:
    zero_shot: dict | None  # tuning.Quality.to_dict() on the test split
    tuned: dict | None
    validation: dict  # validation_verdict(), {} for jobs finished before it was stored
    recommendation: dict | None  # tuning.Recommendation.to_dict()

    @property
    def better(self) -> bool | None:
        return self.validation.get("better_than_zero_shot")

    @property
    def not_better(self) -> bool:
        return self.better is False

    @property
    def first_lines(self) -> list[str]:
        """The report's first lines: every class whose recall dropped, then the recommendation."""
        lines = []
        if self.not_better:
            lines.append(self.validation.get("sentence") or "Tuning did not beat the zero-shot model on validation.")
        drops = (self.recommendation or {}).get("drops") or []
        if drops:
            lines.append("Recall dropped for " + "; ".join(
                f"{d['name']} ({100 * d['zero_shot']:.0f}% → {100 * d['tuned']:.0f}%)" for d in drops) + ".")
        if self.recommendation:
            lines.append(self.recommendation["sentence"])
        return lines

    def as_payload(self) -> dict:
        return {"zero_shot_test": self.zero_shot, "tuned_test": self.tuned, "validation": self.validation,
                "better_than_zero_shot": self.better, "recommendation": self.recommendation,
                "first_lines": self.first_lines}


def evaluation_quality(evaluation: dict | None) -> JobQuality | None:
    """From Job.evaluation (or an uploaded version's evaluation): {"class_names", "zero_shot", "tuned",
    "validation"} with confusion matrices."""
    if not evaluation:
        return None
    q = quality_rules()
    names = list(evaluation.get("class_names") or [])
    parts = {}
    for key in ("zero_shot", "tuned"):
        confusion = (evaluation.get(key) or {}).get("confusion") or []
        parts[key] = confusion if confusion and sum(map(sum, confusion)) else None
    if parts["zero_shot"] is None and parts["tuned"] is None:
        return None
    validation = dict(evaluation.get("validation") or {})
    recommendation = None
    if parts["zero_shot"] and parts["tuned"] and names:
        recommendation = q.recommend(zero_shot_confusion=parts["zero_shot"], tuned_confusion=parts["tuned"],
                                     class_names=names,
                                     better_on_validation=validation.get("better_than_zero_shot", True)).to_dict()
    return JobQuality(
        zero_shot=q.quality_of(parts["zero_shot"], names or None).to_dict() if parts["zero_shot"] else None,
        tuned=q.quality_of(parts["tuned"], names or None).to_dict() if parts["tuned"] else None,
        validation=validation, recommendation=recommendation)


def job_quality(job) -> JobQuality | None:
    return evaluation_quality(job.evaluation) if job.is_finished else None
