"""Reads for the manager reports: one job, a comparison of many, a workspace overview.

Costs are estimates: worker-seconds / 3600 * COST_PER_WORKER_HOUR (webapp/core/cost.py). Lists build their rows from one
annotated query (the adapter version of each job comes in as subqueries), so a page costs the same
number of queries with 10 jobs or with 300.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, F, FloatField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate

from webapp.accounts.access import get_for_user, visible, workspaces_for
from webapp.accounts.models import Workspace
from webapp.adapters.adapted import adapted_report
from webapp.adapters.models import AdapterVersion, ModelLine
from webapp.adapters.selectors import version_is_not_better
from webapp.core.cost import worker_cost
from webapp.core.evaluation_tables import evaluation_tables
from webapp.core.numbers import finite_or_none
from webapp.core.templatetags.formatting import percent
from webapp.integrations.tuning.quality import quality_rules
from webapp.jobs.leaderboard import leaderboard_view
from webapp.jobs.mistakes import mistakes_by_class
from webapp.jobs.models import Job
from webapp.jobs.quality import evaluation_quality, job_quality


def summary_sentence(job: Job) -> str:
    """The line a manager reads first, e.g. 'Tuning raised accuracy from 61% to 88% for about 0.40 EUR
    in worker time.'"""
    cost = f"about {worker_cost(job.worker_seconds):.2f} {settings.COST_CURRENCY} in worker time"
    if job.status == Job.Status.FAILED:
        return f"This job failed after {cost}: {job.error or 'no reason was recorded.'}"
    if not job.is_finished:
        return f"This job is {job.get_status_display().lower()}; the report is complete once it finishes."
    zero, tuned = finite_or_none(job.zero_shot_accuracy), finite_or_none(job.tuned_accuracy)
    if zero is None or tuned is None:
        return f"This job ended without a tuned adapter ({job.error or job.get_status_display()}), for {cost}."
    prefix = "Stopped early on request, tuning" if job.status == Job.Status.CANCELLED else "Tuning"
    quality = job_quality(job)
    direction = _accuracy_change(quality, zero, tuned)
    if direction == "rose":
        change = f"raised accuracy from {percent(zero, 0)} to {percent(tuned, 0)}"
    elif direction == "fell":
        change = f"lowered accuracy from {percent(zero, 0)} to {percent(tuned, 0)}"
    elif round(tuned, 2) == round(zero, 2):
        change = f"left accuracy at {percent(tuned, 0)}"
    else:
        images = f"{quality.tuned['images']} test images" if quality and quality.tuned else "the test images"
        return (f"{prefix} changed accuracy from {percent(zero, 0)} to {percent(tuned, 0)} for {cost}; on {images} "
                f"that is within the 95% intervals, so not a clear change.")
    return f"{prefix} {change} for {cost}."


def _accuracy_change(quality, zero: float, tuned: float) -> str:
    """'rose', 'fell' or 'unclear' from the test split's 95% intervals; jobs stored without confusion
    matrices fall back to the rounded values."""
    if quality is None or not (quality.zero_shot and quality.tuned):
        return "rose" if round(tuned, 2) > round(zero, 2) else "fell" if round(tuned, 2) < round(zero, 2) else "unclear"
    before, after = quality.zero_shot, quality.tuned
    return quality_rules().change_direction(before["accuracy"], before["accuracy_interval"],
                                            after["accuracy"], after["accuracy_interval"])


# ------------------------------------------------------------------------------------------ one job


def job_report_get(*, user, pk: int) -> tuple[Job, bool]:
    return get_for_user(
        Job.objects.select_related("workspace", "dataset_version__dataset", "created_by"), user, pk=pk)


def job_report_context(job: Job) -> dict:
    version = (job.adapter_versions.filter(source="job").select_related("model_line").order_by("-number").first())
    counts = job.dataset_version.class_counts or {}
    return {
        "job": job,
        "summary": summary_sentence(job),
        "cost": worker_cost(job.worker_seconds),
        "currency": settings.COST_CURRENCY,
        "rate": settings.COST_PER_WORKER_HOUR,
        "gain": _gain(finite_or_none(job.zero_shot_accuracy), finite_or_none(job.tuned_accuracy)),
        "classes": [{"name": name, "count": count} for name, count in counts.items()],
        "total_images": sum(counts.values()),
        "adapter": version,
        "tables": evaluation_tables(job.evaluation),
        "quality": job_quality(job),
        "mistakes": mistakes_by_class(job.evaluation, job.dataset_version),
        "adapted": adapted_report(version.metrics) if version else None,
        "leaderboard": leaderboard_view(job),
    }


# --------------------------------------------------------------------------------------- comparison

@dataclass
class Row:
    """One line of the comparison table, the CSV and the scatter: a job, or a model line's version."""

    label: str
    url: str
    job_id: int | None
    workspace: str
    dataset: str
    model_line: str
    version: int | None
    method: str
    backbone: str
    budget: int | None
    queries: int | None
    zero_shot: float | None
    tuned: float | None
    worker_seconds: float | None
    finished_at: datetime | None
    status: str
    zero_shot_balanced: float | None = None
    tuned_balanced: float | None = None
    tuned_balanced_interval: tuple | None = None
    test_images: int | None = None
    better: bool | None = None

    @property
    def gain(self) -> float | None:
        return None if self.tuned is None or self.zero_shot is None else self.tuned - self.zero_shot

    @property
    def cost(self) -> float | None:
        return worker_cost(self.worker_seconds)

    def point(self) -> dict:
        return {"label": self.label, "method": self.method, "cost": self.cost, "tuned": self.tuned,
                "zero_shot": self.zero_shot, "url": self.url}


COMPARABLE = (Job.Status.COMPLETED, Job.Status.CANCELLED)


def comparison_jobs(*, user, workspace_id: int | None = None, job_ids: list[int] | None = None,
                    method: str = "") -> QuerySet[Job]:
    """Finished jobs with a result (or exactly the selected ones), each with its adapter version."""
    versions = AdapterVersion.objects.filter(job=OuterRef("pk"), source="job").order_by("-number")
    qs = visible(Job.objects.all(), user)
    if job_ids:
        qs = qs.filter(pk__in=job_ids)
    else:
        qs = qs.filter(status__in=COMPARABLE)
    if workspace_id:
        qs = qs.filter(workspace_id=workspace_id)
    if method:
        qs = qs.filter(method=method)
    return (
        qs.select_related("workspace", "dataset_version__dataset")
        .annotate(adapter_number=Subquery(versions.values("number")[:1]),
                  adapter_line=Subquery(versions.values("model_line__name")[:1]))
        .order_by(F("finished_at").desc(nulls_last=True), "-pk")
    )


def _gain(zero_shot: float | None, tuned: float | None) -> float | None:
    return None if zero_shot is None or tuned is None else tuned - zero_shot


def row_from_job(job: Job) -> Row:
    """A report row; the adapter's line and number come from report_jobs()'s annotations when present."""
    from django.urls import reverse

    return Row(
        label=str(job), url=reverse("reports:job", args=[job.pk]), job_id=job.pk, workspace=job.workspace.name,
        dataset=str(job.dataset_version), model_line=getattr(job, "adapter_line", None) or job.model_line_name,
        version=getattr(job, "adapter_number", None), method=job.method, backbone=job.backbone, budget=job.budget,
        queries=job.queries_used, zero_shot=finite_or_none(job.zero_shot_accuracy),
        tuned=finite_or_none(job.tuned_accuracy),
        worker_seconds=job.worker_seconds, finished_at=job.finished_at, status=job.get_status_display(),
        **_balanced_fields(job.evaluation),
    )


def _balanced_fields(evaluation: dict | None) -> dict:
    quality = evaluation_quality(evaluation)
    if quality is None:
        return {}
    zero, tuned = quality.zero_shot or {}, quality.tuned or {}
    return {"zero_shot_balanced": zero.get("balanced_accuracy"), "tuned_balanced": tuned.get("balanced_accuracy"),
            "tuned_balanced_interval": tuned.get("balanced_accuracy_interval"),
            "test_images": tuned.get("images") or zero.get("images"), "better": quality.better}


def comparison_line_versions(*, line: ModelLine) -> QuerySet[AdapterVersion]:
    return line.versions.select_related("job__dataset_version__dataset",
                                        "evaluation_dataset_version__dataset").order_by(
        "-number")


def row_from_version(version: AdapterVersion, line: ModelLine) -> Row:
    from django.urls import reverse

    job, metrics = version.job, version.metrics or {}
    if job is not None:  # the job row holds the final figures (worker time includes the evaluation)
        zero, tuned, seconds = job.zero_shot_accuracy, job.tuned_accuracy, job.worker_seconds
    else:
        zero, tuned, seconds = metrics.get("zero_shot_accuracy"), metrics.get("tuned_accuracy"), None
    return Row(
        label=f"v{version.number}" + (f" (job {job.pk})" if job else " (uploaded)"),
        url=reverse("adapters:version", args=[version.pk]), job_id=job.pk if job else None,
        workspace=line.workspace.name,
        dataset=str(job.dataset_version if job else version.evaluation_dataset_version or ""),
        model_line=line.name, version=version.number, method=version.method, backbone=version.backbone,
        budget=job.budget if job else None, queries=job.queries_used if job else None,
        zero_shot=finite_or_none(zero), tuned=finite_or_none(tuned), worker_seconds=seconds,
        finished_at=job.finished_at if job else version.created_at,
        status=job.get_status_display() if job else version.get_evaluation_status_display(),
        **_balanced_fields(job.evaluation if job else metrics.get("evaluation")),
    )


def model_line_for_report(*, user, pk: int) -> tuple[ModelLine, bool]:
    return get_for_user(ModelLine.objects.select_related("workspace"), user, pk=pk)


CSV_HEADER = ["job", "name", "workspace", "dataset", "model line", "version", "method", "backbone", "budget",
              "queries used", "zero-shot accuracy", "tuned accuracy", "gain", "worker seconds", "cost", "currency",
              "finished at", "status", "zero-shot balanced accuracy", "tuned balanced accuracy",
              "tuned balanced accuracy 95% low", "tuned balanced accuracy 95% high", "test images",
              "better than zero-shot on validation"]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value):
    """Spreadsheets run a cell that starts with one of FORMULA_STARTS as a formula (=HYPERLINK(...) when
    a manager opens the file), and names are typed by users: such text is written with a leading '."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_row(row: Row) -> list:
    def num(value, digits=4):
        return "" if value is None else round(value, digits)

    cells = [row.job_id or "", row.label, row.workspace, row.dataset, row.model_line, row.version or "", row.method,
             row.backbone, row.budget or "", row.queries if row.queries is not None else "", num(row.zero_shot),
             num(row.tuned), num(row.gain), num(row.worker_seconds, 1), num(row.cost), settings.COST_CURRENCY,
             row.finished_at.isoformat() if row.finished_at else "", row.status,
             num(row.zero_shot_balanced), num(row.tuned_balanced),
             num(row.tuned_balanced_interval[0]) if row.tuned_balanced_interval else "",
             num(row.tuned_balanced_interval[1]) if row.tuned_balanced_interval else "",
             row.test_images if row.test_images is not None else "",
             "" if row.better is None else ("yes" if row.better else "no")]
    return [csv_text(cell) for cell in cells]


# ----------------------------------------------------------------------------------------- overview

def overview_workspaces(*, user) -> QuerySet[Workspace]:
    return workspaces_for(user).order_by("name")


def workspace_overview(*, workspace: Workspace) -> dict:
    jobs = Job.objects.filter(workspace=workspace)
    states = dict(jobs.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    by_state = [{"status": label, "key": key, "count": states.get(key, 0)} for key, label in Job.Status.choices]
    spend = list(
        jobs.filter(finished_at__isnull=False).annotate(day=TruncDate("finished_at")).values("day")
        .annotate(seconds=Sum("worker_seconds"), n=Count("pk")).order_by("day")
    )
    spend_rows = [{"day": r["day"], "jobs": r["n"], "seconds": r["seconds"] or 0.0,
                   "cost": worker_cost(r["seconds"] or 0.0)}
                  for r in spend]
    return {
        "by_state": by_state,
        "total_jobs": sum(states.values()),
        "spend": spend_rows,
        "total_seconds": sum(r["seconds"] for r in spend_rows),
        "total_cost": sum(r["cost"] for r in spend_rows),
        "best_per_line": best_accuracy_per_line(workspace=workspace),
        "chart": {
            "states": {"labels": [s["status"] for s in by_state], "counts": [s["count"] for s in by_state]},
            "spend": {"days": [r["day"].isoformat() for r in spend_rows],
                      "cost": [round(r["cost"], 4) for r in spend_rows],
                      "currency": settings.COST_CURRENCY},
        },
    }


def best_accuracy_per_line(*, workspace: Workspace) -> list[dict]:
    """For each model line: its best version by tuned accuracy, and the one in production."""
    versions = (
        AdapterVersion.objects.filter(model_line__workspace=workspace)
        .annotate(acc=Cast(KT("metrics__tuned_accuracy"), FloatField()))
        .values("pk", "number", "acc", "model_line_id")
    )
    best: dict[int, Mapping[str, Any]] = {}
    for v in versions:
        if v["acc"] is not None and (v["model_line_id"] not in best or v["acc"] > best[v["model_line_id"]]["acc"]):
            best[v["model_line_id"]] = v
    # A line whose best version is no better than the untuned model says so beside the number.
    not_better = {v.pk for v in AdapterVersion.objects.filter(pk__in=[b["pk"] for b in best.values()])
                  if version_is_not_better(v)}
    lines = ModelLine.objects.filter(workspace=workspace).select_related("production_version").annotate(
        n=Count("versions")).order_by("name")
    return [{"line": line, "versions": line.n, "best": best.get(line.pk),
             "best_not_better": line.pk in best and best[line.pk]["pk"] in not_better,
             "production": line.production_version} for line in lines]
