"""A finished evaluation as tables and chart data: a job's (Job.evaluation, written by the worker) and an
uploaded adapter version's (its metrics' "evaluation") have the same shape, so one function serves the
report and the adapter pages alike."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.core.numbers import finite_or_none


@dataclass
class EvaluationTables:
    class_names: list[str]
    per_class: list[dict]  # {"name", "zero_shot", "tuned", "images"}
    confusion: dict[str, list[dict]]  # "zero_shot"/"tuned" -> [{"name", "cells"}]
    chart: dict  # what report_charts.js draws

    @property
    def has_confusion(self) -> bool:
        return any(self.confusion.values())


def evaluation_tables(evaluation: dict | None) -> EvaluationTables | None:
    """Job.evaluation (written by the worker) or an uploaded version's evaluation, as tables and
    chart data: {"class_names", "zero_shot"/"tuned": {"accuracy", "per_class_accuracy", "confusion"}}."""
    if not evaluation:
        return None
    parts = {key: evaluation.get(key) or {} for key in ("zero_shot", "tuned")}
    names = list(evaluation.get("class_names") or parts["tuned"].get("per_class_accuracy") or
                 parts["zero_shot"].get("per_class_accuracy") or [])
    if not names:
        return None
    confusion = {key: part.get("confusion") or [] for key, part in parts.items()}
    reference = confusion["tuned"] or confusion["zero_shot"]
    per_class = []
    for i, name in enumerate(names):
        per_class.append({
            "name": name,
            "zero_shot": finite_or_none((parts["zero_shot"].get("per_class_accuracy") or {}).get(name)),
            "tuned": finite_or_none((parts["tuned"].get("per_class_accuracy") or {}).get(name)),
            "images": sum(reference[i]) if i < len(reference) else None,
        })
    rows = {key: [{"name": names[i], "cells": row} for i, row in enumerate(matrix) if i < len(names)]
            for key, matrix in confusion.items()}
    chart = {"class_names": names,
             "zero_shot": [row["zero_shot"] for row in per_class], "tuned": [row["tuned"] for row in per_class],
             "confusion_zero_shot": confusion["zero_shot"], "confusion_tuned": confusion["tuned"]}
    return EvaluationTables(names, per_class, rows, chart)
