"""Reads for model lines and adapter versions, always restricted to the user's workspaces."""

from __future__ import annotations

from django.db.models import Count, Max, Prefetch, QuerySet

from webapp.accounts.access import get_for_user, visible
from webapp.adapters.models import AdapterEvent, AdapterVersion, ModelLine


def model_line_list(*, user) -> QuerySet[ModelLine]:
    return (
        visible(ModelLine.objects.all(), user)
        .select_related("workspace", "production_version")
        .annotate(version_count=Count("versions"), latest_number=Max("versions__number"))
        # one query for every line's versions, read by model_line_recommended
        .prefetch_related(Prefetch("versions", to_attr="versions_by_number", queryset=AdapterVersion.objects.only(
            "pk", "model_line_id", "number", "metrics", "dataset_hash").order_by("number")))
        .order_by("workspace__name", "name")
    )


def model_line_get(*, user, pk: int, write: bool = False) -> tuple[ModelLine, bool]:
    """(line, can_write); see accounts.access.get_for_user."""
    return get_for_user(ModelLine.objects.select_related("workspace", "production_version"), user, write=write, pk=pk)


def model_line_versions(*, model_line: ModelLine) -> QuerySet[AdapterVersion]:
    return model_line.versions.select_related("job", "created_by", "evaluation_dataset_version__dataset").order_by(
        "-number"
    )


def model_line_events(*, model_line: ModelLine, downloads: bool, limit: int = 200) -> QuerySet[AdapterEvent]:
    """Changes (created, set as production, ...) or downloads, apart: any reader can download, so
    downloads in the same list could push a change out of sight."""
    events = model_line.events.select_related("actor", "version").order_by("-at", "-id")
    if downloads:
        return events.filter(action=AdapterEvent.Action.DOWNLOADED)[:limit]
    return events.exclude(action=AdapterEvent.Action.DOWNLOADED)[:limit]


def adapter_version_get(*, user, pk: int, write: bool = False) -> tuple[AdapterVersion, bool]:
    """The one lookup of a version by id, as (version, can_write): 404 outside the user's workspaces,
    403 on writes by readers."""
    return get_for_user(
        AdapterVersion.objects.select_related(
            "model_line", "model_line__workspace", "job", "created_by", "evaluation_dataset_version__dataset"
        ),
        user,
        write=write,
        workspace_path="model_line__workspace",
        pk=pk,
    )


def version_gelu_build_note(version: AdapterVersion) -> str | None:
    """For an adapter tuned on a GELU build of weights trained with QuickGELU (before cards recorded how
    their backbone was built): the words that suggest tuning it again. Only such a backbone id makes the
    page read the stored card."""
    import io
    import json

    from webapp.adapters.files import CARD_NAME, StoredFileDamaged, copy_verified
    from webapp.integrations.tuning import gelu_build_note, tuned_on_a_gelu_build

    if not tuned_on_a_gelu_build({"backbone_id": version.backbone}):
        return None
    buffer = io.BytesIO()
    try:
        copy_verified(version, CARD_NAME, buffer)
        card = json.loads(buffer.getvalue())
    except (StoredFileDamaged, OSError, ValueError):
        return None  # the download says what is wrong with the file
    return gelu_build_note(card) if isinstance(card, dict) else None


def version_is_not_better(version: AdapterVersion) -> bool:
    return (version.metrics or {}).get("better_than_zero_shot") is False


def version_download_verdict(version: AdapterVersion) -> str:
    """Said beside the Download button, which then looks secondary, for a version not to deploy."""
    if version_is_not_better(version):
        return "Not better than the untuned (zero-shot) model: keep it for the record, not for the line."
    if version.job is not None and version.job.status == "cancelled":  # Job.Status.CANCELLED (jobs sits above adapters)
        return "From a job stopped early on request: the best adapter found before the stop."
    return ""


def model_line_recommended(*, model_line: ModelLine, versions=None) -> AdapterVersion | None:
    """The version offered as the line's latest and its default download: the newest version that
    beat zero-shot on validation and is not worse (validation balanced accuracy) than an earlier
    version tuned on the same data. None when no version qualifies. `versions`: the line's versions
    in number order when already read (a list page), else they are queried."""
    best_on_data: dict[str, float] = {}
    chosen = None
    for version in model_line.versions.order_by("number") if versions is None else versions:
        metrics = version.metrics or {}
        if version_is_not_better(version):
            continue
        score = metrics.get("val_balanced_accuracy")
        data = version.dataset_hash  # empty for an adapter tuned elsewhere: its data is not one of ours
        earlier = best_on_data.get(data) if data else None
        if score is not None and earlier is not None and score < earlier:
            continue
        if score is not None and data:
            best_on_data[data] = max(score, earlier if earlier is not None else score)
        chosen = version
    return chosen
