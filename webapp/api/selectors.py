"""Reads behind the JSON API, as plain dicts. Every lookup goes through the same workspace checks as
the pages (the app selectors and webapp.accounts.access)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.urls import reverse

from webapp.accounts.access import visible
from webapp.adapters.models import AdapterVersion, ModelLine
from webapp.datasets.models import Dataset, DatasetVersion
from webapp.datasets.selectors import dataset_version_status_text
from webapp.jobs.models import Job
from webapp.jobs.quality import job_quality
from webapp.jobs.selectors import job_live_payload


def _time(value):
    return value.isoformat() if value else None


def backbones() -> list[dict]:
    """What a job may name as its backbone: the registered ones (the demo backbone first), then the real CLIP
    backbones live workers can run, with their weights' sha256 and size (None until downloaded)."""
    from webapp.integrations.backbones import backbone_infos, default_backbone
    from webapp.jobs.health import real_backbones

    default = default_backbone()
    registered = [{"id": info.id, "label": info.label, "source": "registered", "is_demo": info.is_demo,
                   "default": info.id == default} for info in backbone_infos()]
    registered.sort(key=lambda b: not b["default"])
    real = [{"id": e["id"], "label": e["id"], "source": e["source"], "is_demo": False, "default": False,
             "sha256": e.get("sha256"), "size_bytes": e.get("size_bytes"), "workers": e["workers"]}
            for e in real_backbones()]
    return registered + real


def datasets(*, user) -> QuerySet[Dataset]:
    return (visible(Dataset.objects.all(), user).select_related("workspace")
            .prefetch_related(Prefetch("versions", queryset=DatasetVersion.objects.order_by("-number")))
            .order_by("name", "pk"))


def dataset_payload(dataset: Dataset) -> dict:
    return {
        "id": dataset.pk, "name": dataset.name,
        "workspace": {"id": dataset.workspace_id, "name": dataset.workspace.name},
        "created_at": _time(dataset.created_at),
        "versions": [dataset_version_payload(v) for v in dataset.versions.all()],
    }


def dataset_version_payload(version: DatasetVersion) -> dict:
    counts = version.class_counts or {}
    return {
        "id": version.pk, "number": version.number, "status": version.status, "classes": counts,
        "images": sum(counts.values()), "content_hash": version.content_hash or None,
        "error": version.error or None, "created_at": _time(version.created_at),
        "status_text": dataset_version_status_text(version),
    }


def jobs(*, user) -> QuerySet[Job]:
    return (visible(Job.objects.all(), user).select_related("workspace", "dataset_version__dataset")
            .order_by("-queued_at", "-pk"))


def job_summary(job: Job) -> dict:
    return {
        "id": job.pk, "name": str(job), "workspace": {"id": job.workspace_id, "name": job.workspace.name},
        "dataset_version": job.dataset_version_id, "status": job.status, "method": job.method,
        "backbone": job.backbone, "budget": job.budget, "shots": job.shots, "seed": job.seed, "gpu": job.needs_gpu,
        "model_line": job.model_line_name, "queries_used": job.queries_used,
        "zero_shot_accuracy": job.zero_shot_accuracy, "tuned_accuracy": job.tuned_accuracy,
        **_balanced(job),
        "queued_at": _time(job.queued_at), "started_at": _time(job.started_at), "finished_at": _time(job.finished_at),
        "url": reverse("api:job", args=[job.pk]),
    }


def _balanced(job: Job) -> dict:
    quality = job_quality(job)
    zero, tuned = (quality.zero_shot, quality.tuned) if quality else (None, None)
    return {
        "zero_shot_balanced_accuracy": (zero or {}).get("balanced_accuracy"),
        "tuned_balanced_accuracy": (tuned or {}).get("balanced_accuracy"),
        "tuned_balanced_accuracy_interval": (tuned or {}).get("balanced_accuracy_interval"),
        "tuned_accuracy_interval": (tuned or {}).get("accuracy_interval"),
        "test_images": (tuned or zero or {}).get("images"),
        "better_than_zero_shot": quality.better if quality else None,
    }


def job_payload(job: Job, *, after: int) -> dict:
    """State, progress, results and the metric points with seq > after (column by column)."""
    live = job_live_payload(job, after=after)
    # "error" is reserved for failed API requests; a job's own failure reason is called "reason" here.
    live["reason"] = live.pop("error") or None
    version_id = (live.get("results") or {}).get("adapter_version_id")
    return {
        **job_summary(job), **live,
        "report_url": reverse("reports:job", args=[job.pk]),
        "adapter_archive_url": reverse("api:adapter_archive", args=[version_id]) if version_id else None,
        "leaderboard": job.leaderboard or None,  # the candidates weighed on validation (tuning's Leaderboard.to_dict())
    }


def model_lines(*, user) -> QuerySet[ModelLine]:
    return (visible(ModelLine.objects.all(), user).select_related("workspace")
            .prefetch_related(Prefetch("versions", queryset=AdapterVersion.objects.order_by("-number")))
            .order_by("name", "pk"))


def model_line_payload(line: ModelLine) -> dict:
    return {
        "id": line.pk, "name": line.name, "workspace": {"id": line.workspace_id, "name": line.workspace.name},
        "production_version": line.production_version_id,
        "production_archive_url": (reverse("api:production_archive", args=[line.pk]) if line.production_version_id
                                   else None),
        "versions": [adapter_version_payload(v, line=line) for v in line.versions.all()],
    }


def adapter_version_payload(version: AdapterVersion, *, line: ModelLine) -> dict:
    return {
        "id": version.pk, "model_line": {"id": line.pk, "name": line.name}, "number": version.number,
        "source": version.source, "job": version.job_id, "is_production": line.production_version_id == version.pk,
        "sha256": version.sha256, "card_sha256": version.card_sha256, "size_bytes": version.size_bytes,
        "backbone": version.backbone, "backbone_sha256": version.backbone_sha256 or None, "method": version.method,
        "class_names": version.class_names, "dataset_hash": version.dataset_hash or None, "config": version.config,
        "metrics": version.metrics, "evaluation_status": version.evaluation_status or None,
        "evaluation_error": version.evaluation_error or None, "created_at": _time(version.created_at),
        "archive_url": reverse("api:adapter_archive", args=[version.pk]),
        "files": {name: reverse("api:adapter_file", args=[version.pk, name])
                  for name in ("adapter.safetensors", "adapter.json")},
        "tuning_wheel_url": reverse("api:tuning_wheel"),  # the package that applies it (its README says how)
    }
