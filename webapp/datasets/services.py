"""Writes for datasets: create a version from an upload, ingest it (in the worker), copy a ready
version to a worker's local cache for the tuner."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from webapp.accounts.access import require_write
from webapp.accounts.models import Workspace
from webapp.datasets.errors import UploadRejected
from webapp.datasets.ingest import Limits, ingest_archive
from webapp.datasets.models import Dataset, DatasetVersion, MislabelledImage
from webapp.datasets.recovery import IngestFence, ingestion_send_after_commit

log = logging.getLogger(__name__)

DEMO_DATASET_NAME = "Demo: textile defects"
PROGRESS_WRITE_INTERVAL_S = 0.5  # progress rows are for a human watching a bar: twice a second is plenty


def version_root(version_id: int) -> str:
    return f"datasets/{version_id}/images"


def version_thumbnail_name(version_id: int, sha256: str) -> str:
    # Outside `root`, so the tuner, which reads one sub-folder per class under root, never sees them.
    return f"datasets/{version_id}/thumbs/{sha256}.jpg"


def _clean_dataset_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the dataset a name, for example 'Press line 3 scratches'."})
    if len(name) > 120:
        raise ValidationError({"name": "The dataset name may have at most 120 characters."})
    return name


@transaction.atomic
def _dataset_version_new(*, user, workspace: Workspace, name: str) -> DatasetVersion:
    """A new version number under the named dataset (created on first upload); numbers never repeat."""
    require_write(user, workspace)
    name = _clean_dataset_name(name)
    dataset = Dataset.objects.filter(workspace=workspace, name=name).first()
    if dataset is None:
        dataset = Dataset(workspace=workspace, name=name, created_by=user)
        dataset.full_clean()
        dataset.save()
    # Lock the dataset row so two uploads at once cannot both take the same next number.
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    number = (dataset.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = DatasetVersion(dataset=dataset, number=number, created_by=user, status=DatasetVersion.Status.INGESTING)
    version.full_clean(exclude=["upload"])  # the file follows right below (or from the worker, for the demo)
    version.save()
    return version


@transaction.atomic
def dataset_upload_create(*, user, workspace: Workspace, name: str, upload: File) -> DatasetVersion:
    """Store the uploaded zip and queue its ingestion; returns at once with an INGESTING version."""
    version = _dataset_version_new(user=user, workspace=workspace, name=name)
    stem = slugify(version.dataset.name)[:60] or "dataset"
    version.upload.save(f"{stem}-v{version.number}-{uuid.uuid4().hex[:8]}.zip", upload, save=False)
    version.full_clean()
    version.save(update_fields=["upload"])
    ingestion_send_after_commit(version.pk)  # with the broker away, the reaper sends it once it is back
    return version


@transaction.atomic
def dataset_demo_create(*, user, workspace: Workspace) -> DatasetVersion:
    """One click: a worker writes the demo zip (from conformal-clip-data) and ingests it like an upload."""
    version = _dataset_version_new(user=user, workspace=workspace, name=DEMO_DATASET_NAME)
    ingestion_send_after_commit(version.pk)
    return version


def _rows(version_id: int, fence: IngestFence | None):
    """The version's row while this attempt may still write to it (any INGESTING row without a fence:
    the tests call the import in process)."""
    if fence is not None:
        return fence.rows()
    return DatasetVersion.objects.filter(pk=version_id, status=DatasetVersion.Status.INGESTING)


def _set_failed(version_id: int, message: str, *, skipped: list[dict] | None = None,
                fence: IngestFence | None = None) -> None:
    _rows(version_id, fence).update(
        status=DatasetVersion.Status.FAILED,
        error=message,
        report={"errors": [message], "warnings": [], "skipped": skipped or [], "skipped_total": len(skipped or [])},
    )


def dataset_demo_build(*, version_id: int, work_dir: Path, fence: IngestFence | None = None) -> DatasetVersion | None:
    """Worker side of the demo button: write the demo zip into storage, then ingest it."""
    version = DatasetVersion.objects.filter(pk=version_id).first()
    if version is None or version.status != DatasetVersion.Status.INGESTING:
        return version
    if not version.upload:
        build_dir = Path(work_dir) / f"demo-build-{uuid.uuid4().hex[:8]}"
        try:
            from webapp.integrations.tuning.adapters import write_demo_dataset

            _, zip_path = write_demo_dataset(build_dir / "images", zip_path=build_dir / "demo.zip")
            with open(zip_path, "rb") as handle:
                version.upload.save(f"demo-textile-v{version.number}.zip", File(handle), save=False)
        except ImportError:
            log.exception("demo dataset package missing")
            _set_failed(version_id, "The demo images are not installed on the worker (Python package "
                                    "conformal-clip-data). Ask your administrator to install requirements.txt.",
                        fence=fence)
            return DatasetVersion.objects.get(pk=version_id)
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)
        _rows(version_id, fence).update(upload=version.upload.name)
    return dataset_version_ingest(version_id=version_id, fence=fence)


def dataset_version_ingest(*, version_id: int, fence: IngestFence | None = None) -> DatasetVersion | None:
    """Check and import an uploaded zip. Safe to run twice (tasks are acknowledged late): only an
    INGESTING version is worked on (by the attempt that holds `fence`), and images are stored under
    content-addressed names."""
    version = DatasetVersion.objects.select_related("dataset").filter(pk=version_id).first()
    if version is None or version.status != DatasetVersion.Status.INGESTING:
        return version  # deleted meanwhile, or a repeated delivery of a finished task
    root = version_root(version.pk)
    written: list[str] = []

    def save(path: str, data: bytes) -> None:
        name = f"{root}/{path}"
        if not default_storage.exists(name):
            written.append(default_storage.save(name, ContentFile(data)))

    last_write = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last_write[0] >= PROGRESS_WRITE_INTERVAL_S:
            last_write[0] = now
            _rows(version_id, fence).update(progress=round(min(fraction, 0.99), 4))

    try:
        with default_storage.open(str(version.upload.name), "rb") as upload:
            # A Django File proxies the file methods zipfile uses (read, seek, tell).
            result = ingest_archive(cast(BinaryIO, upload), limits=Limits.from_settings(), save=save, progress=progress,
                                    leave_out=_marked_mislabelled_before(version))
        for sha, jpeg in result.thumbnails.items():
            thumb = version_thumbnail_name(version.pk, sha)
            if not default_storage.exists(thumb):
                written.append(default_storage.save(thumb, ContentFile(jpeg)))
    except UploadRejected as rejected:
        _delete_quietly(written)
        _set_failed(version_id, rejected.message, skipped=rejected.skipped, fence=fence)
        dataset_version_upload_delete(version_id=version_id)
        return DatasetVersion.objects.get(pk=version_id)
    except Exception:
        log.exception("ingestion of dataset version %s failed", version_id)
        _delete_quietly(written)
        _set_failed(version_id, "Something went wrong on our side while importing this upload. Try again; "
                                "if it keeps failing, tell your administrator (details are in the worker log).",
                    fence=fence)
        dataset_version_upload_delete(version_id=version_id)
        return DatasetVersion.objects.get(pk=version_id)

    with transaction.atomic():
        version = _rows(version_id, fence).select_for_update().first()
        if version is None:  # finished meanwhile, or this attempt was given up for dead
            return DatasetVersion.objects.get(pk=version_id)
        version.root = root
        version.manifest = result.manifest
        version.class_counts = result.class_counts
        version.report = result.report
        version.content_hash = result.content_hash
        version.progress = 1.0
        version.status = DatasetVersion.Status.READY
        version.full_clean()
        version.save()
    return version


def dataset_version_upload_delete(*, version_id: int) -> bool:
    """A failed version's zip is of no further use (the engineer uploads a fixed one as a new version):
    the row stops naming it first, then the file goes. Only a FAILED version; True when one was removed.
    Storage away now: the periodic clean-up (webapp/worker/cleanup.py) comes back for it."""
    failed = DatasetVersion.objects.filter(pk=version_id, status=DatasetVersion.Status.FAILED).exclude(upload="")
    name = failed.values_list("upload", flat=True).first()
    if name is None:
        return False
    failed.update(upload="")
    try:
        default_storage.delete(name)
    except OSError:
        log.warning("could not delete the zip %s of failed dataset version %s", name, version_id)
    return True


def _marked_mislabelled_before(version: DatasetVersion) -> frozenset[tuple[str, str]]:
    return frozenset(MislabelledImage.objects.filter(
        dataset_version__dataset_id=version.dataset_id, dataset_version__number__lt=version.number,
    ).values_list("label", "sha256"))


@transaction.atomic
def dataset_image_mark_mislabelled(*, user, version: DatasetVersion, sha256: str, mislabelled: bool) -> None:
    """Mark (or unmark) one image of a version as mislabelled; the caller checked the user may write.
    Only an image of the version's manifest can be marked."""
    entry = next((f for f in (version.manifest or {}).get("files", []) if f["sha256"] == sha256), None)
    if entry is None:
        raise ValidationError("This image is not part of the dataset version.")
    if not mislabelled:
        MislabelledImage.objects.filter(dataset_version=version, sha256=sha256).delete()
        return
    MislabelledImage.objects.get_or_create(dataset_version=version, sha256=sha256, defaults={
        "label": entry["label"], "original": entry.get("original", ""), "marked_by": user})


def _delete_quietly(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s after a rejected upload", name)


def _materialized_name(entry: dict) -> str:
    """Where a manifest entry lies in a materialized folder: '<class>/<sha256>.jpg' (or .png)."""
    return f"{entry['label']}/{PurePosixPath(entry['path']).name}"


def dataset_version_image_hashes(version: DatasetVersion) -> dict[str, str]:
    """Each image's sha256 by its path in the folder dataset_version_materialize writes: ingestion hashed
    them and materializing checked every copy against them, so the tuner need not read them again."""
    return {_materialized_name(entry): entry["sha256"] for entry in version.manifest["files"]}


def dataset_version_materialize(*, version: DatasetVersion, cache_dir: Path) -> Path:
    """Copy a READY version's images from storage to `cache_dir/<content_hash>/<class>/<sha>.<jpg|png>`
    and return that folder. Complete folders are reused; a half-copied one is never visible,
    because the copy is made in a temporary folder and renamed into place."""
    if version.status != DatasetVersion.Status.READY or not version.content_hash:
        raise ValueError(f"dataset version {version.pk} is not ready (status {version.status})")
    cache_dir = Path(cache_dir)
    target = cache_dir / version.content_hash
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version.content_hash[:12]}-", dir=cache_dir))
    try:
        for label in version.manifest["classes"]:
            (tmp / label).mkdir()
        for entry in version.manifest["files"]:
            destination = tmp / _materialized_name(entry)
            digest = hashlib.sha256()
            with default_storage.open(f"{version.root}/{entry['path']}", "rb") as src, open(destination, "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    digest.update(block)
                    dst.write(block)
            if digest.hexdigest() != entry["sha256"]:
                raise OSError(f"stored image {entry['path']} of dataset version {version.pk} does not match its hash")
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # another worker finished the same copy first: theirs is as good
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
