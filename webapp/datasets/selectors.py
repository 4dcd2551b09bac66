"""Reads for datasets, always restricted to the user's workspaces."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Max, Prefetch, QuerySet
from django.utils import timezone

from webapp.accounts.access import get_for_user, visible
from webapp.core.numbers import human_duration
from webapp.datasets.models import Dataset, DatasetVersion
from webapp.integrations.tuning import HELD_OUT_PER_CLASS, min_images_per_class


def dataset_list(*, user) -> QuerySet[Dataset]:
    return (
        visible(Dataset.objects.all(), user)
        .select_related("workspace")
        .annotate(version_count=Count("versions"), latest_number=Max("versions__number"))
        .prefetch_related(Prefetch("versions", queryset=DatasetVersion.objects.order_by("-number")))
        .order_by("-created_at")
    )


def dataset_get(*, user, pk: int) -> tuple[Dataset, bool]:
    """(dataset, can_write); see accounts.access.get_for_user."""
    return get_for_user(Dataset.objects.select_related("workspace"), user, pk=pk)


def dataset_version_get(*, user, pk: int, write: bool = False) -> tuple[DatasetVersion, bool]:
    """The one lookup of a version by id, as (version, can_write): 404 outside the user's workspaces,
    403 on writes by readers."""
    return get_for_user(
        DatasetVersion.objects.select_related("dataset", "dataset__workspace"),
        user,
        write=write,
        workspace_path="dataset__workspace",
        pk=pk,
    )


def dataset_versions_ready(*, user, workspace=None) -> QuerySet[DatasetVersion]:
    """READY versions the user may see (for job forms), newest first."""
    qs = visible(DatasetVersion.objects.filter(status=DatasetVersion.Status.READY), user,
                 workspace_path="dataset__workspace").select_related("dataset", "dataset__workspace")
    if workspace is not None:
        qs = qs.filter(dataset__workspace=workspace)
    return qs.order_by("dataset__name", "-number")


def dataset_version_shots_per_class(version: DatasetVersion) -> dict[str, int]:
    """The most shots each class can give: its images less one validation and one test image."""
    return {label: max(0, count - HELD_OUT_PER_CLASS) for label, count in (version.class_counts or {}).items()}


def dataset_version_max_shots(version: DatasetVersion) -> int:
    per_class = dataset_version_shots_per_class(version)
    return min(per_class.values()) if per_class else 0


def dataset_version_check_shots(version: DatasetVersion, shots: int) -> str | None:
    """None when every class has `shots` training images plus 1 validation and 1 test image;
    otherwise a sentence for the engineer saying which classes are short and what to do."""
    if version.status != DatasetVersion.Status.READY:
        return f"Dataset {version} is not ready (it is {version.get_status_display().lower()}); choose a ready version."
    if shots < 1:
        return "Choose at least 1 shot (training image) per class."
    need = min_images_per_class(shots)
    short = {label: n for label, n in sorted(version.class_counts.items()) if n < need}
    if not short:
        return None
    listed = ", ".join(f"{label!r} has {n}" for label, n in list(short.items())[:5])
    more = f" (and {len(short) - 5} more classes)" if len(short) > 5 else ""
    best = dataset_version_max_shots(version)
    advice = f"choose at most {best} shots, or add images" if best >= 1 else "add images to these classes"
    return (
        f"{shots} shots need {need} images in every class ({shots} for training, 1 for validation, 1 for "
        f"testing), but {listed}{more}. In {version}, {advice}."
    )


def dataset_version_status(version: DatasetVersion) -> dict:
    """The small payload the dataset page polls while a version is being imported."""
    waiting = version.status == DatasetVersion.Status.INGESTING and version.heartbeat_at is None
    return {
        "id": version.pk,
        "status": version.status,
        "status_display": version.get_status_display(),
        "progress": round(version.progress, 3),
        "done": version.status != DatasetVersion.Status.INGESTING,
        "waiting": waiting,
        "worker_quiet_seconds": ingestion_quiet_seconds(version),
        "status_text": dataset_version_status_text(version),
        "error": version.error,
        "class_counts": version.class_counts,
    }


# The importing worker beats every JOB_HEARTBEAT_SECONDS: this many missed beats are worth a word, long
# before the scheduler gives up on the worker (JOB_STALE_AFTER_SECONDS, then its next pass).
QUIET_AFTER_BEATS = 3


def ingestion_quiet_seconds(version: DatasetVersion, now=None) -> float | None:
    """Seconds since the importing worker last beat, once it has missed a few beats; else None."""
    if version.status != DatasetVersion.Status.INGESTING or version.heartbeat_at is None:
        return None
    since = ((now or timezone.now()) - version.heartbeat_at).total_seconds()
    return round(since) if since > QUIET_AFTER_BEATS * settings.JOB_HEARTBEAT_SECONDS else None


def dataset_version_status_text(version: DatasetVersion) -> str:
    """Where the import stands, in words."""
    quiet = ingestion_quiet_seconds(version)
    if version.status == DatasetVersion.Status.READY:
        return "Ready."
    if version.status == DatasetVersion.Status.FAILED:
        return f"Rejected: {version.error}"
    if quiet is not None:
        return (f"The worker importing this upload has not reported for {human_duration(quiet)}. If it has "
                "stopped, the import starts again on the next free worker within about a minute.")
    if version.heartbeat_at is not None:
        return "Checking and converting the images…"
    if version.attempts:
        return "The worker importing this upload stopped; the import starts again on the next free worker."
    if version.sent_at is None:
        return ("The upload is saved. The task queue could not be reached, so the import starts as soon as it "
                "is back (within a few minutes).")
    return "The upload is saved and waits for a free worker to import it."
