"""The periodic clean-up (on the scheduler, like the reapers): files that nothing will ever read again.

- temporary files of uploads whose request was killed (Django removes them after a normal request);
- the images of dataset versions that failed (a killed import leaves some) or no longer exist;
- the uploaded zips of dataset versions that failed (refused, or given up), and zips no version names
  (a deleted version's, or one whose request died before its row was written) once old enough;
- checkpoints of finished jobs (failed, cancelled: the finishing write already stopped naming
  them) and of deleted jobs, and the empty folders jobs leave.

It never touches a file a running job or import may still use (a queued, running or importing row
keeps its folder whole), and it deletes only through the storage (whose names cannot leave media)
and inside an upload-temp folder that lies under media or var/.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

from webapp.core.storage_tree import remove_empty_folders, storage_delete_tree

log = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    upload_temp_files: list[str] = field(default_factory=list)
    dataset_versions: list[int] = field(default_factory=list)
    dataset_uploads: list[str] = field(default_factory=list)
    job_folders: list[int] = field(default_factory=list)


def clean_up_leftovers(*, now: float | None = None) -> CleanupReport:
    report = CleanupReport(upload_temp_files=clean_upload_temp(now=now), dataset_versions=clean_dataset_files(),
                           dataset_uploads=clean_dataset_uploads(now=now), job_folders=clean_job_files())
    if any(vars(report).values()):
        log.info("clean-up: %s", report)
    return report


def _within(path: Path, roots) -> bool:
    return any(path == root or root in path.parents for root in roots)


def clean_upload_temp(*, now: float | None = None) -> list[str]:
    """Temporary upload files older than UPLOAD_TEMP_MAX_AGE_SECONDS. A file still being received is
    written to all the time, so its modification time stays fresh."""
    if not settings.FILE_UPLOAD_TEMP_DIR:
        return []
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR).resolve()
    roots = [Path(settings.MEDIA_ROOT).resolve(), Path(settings.VAR_DIR).resolve()]
    if folder in roots or not _within(folder, roots):
        log.warning("FILE_UPLOAD_TEMP_DIR %s is not a folder of its own under media or var/; not cleaned", folder)
        return []
    cutoff = (now or time.time()) - settings.UPLOAD_TEMP_MAX_AGE_SECONDS
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:  # gone meanwhile (the request finished), or not ours to delete
            continue
    return removed


def _numbered_folders(prefix: str) -> list[int]:
    try:
        folders = default_storage.listdir(prefix)[0]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(name) for name in folders if name.isdigit())


def clean_dataset_files() -> list[int]:
    """Folders `datasets/<id>/` of versions that failed or were deleted (a ready version owns its
    images; an importing one is still writing them)."""
    from webapp.datasets.models import DatasetVersion
    from webapp.datasets.recovery import version_files_prefix

    ids = _numbered_folders("datasets")
    kept = set(DatasetVersion.objects.filter(pk__in=ids).exclude(status=DatasetVersion.Status.FAILED)
               .values_list("pk", flat=True))
    removed = [version_id for version_id in ids if version_id not in kept]
    for version_id in removed:
        storage_delete_tree(version_files_prefix(version_id))
    return removed


UPLOADS = "uploads"  # DatasetVersion.upload's folder: uploads/<year>/<month>/<name>.zip


def clean_dataset_uploads(*, now: float | None = None) -> list[str]:
    """Zips of failed versions (their import deleted them unless the storage was away), then zips no
    version names, once older than UPLOAD_TEMP_MAX_AGE_SECONDS: a zip is stored a moment before its
    row is committed, and a fresh one may be that."""
    from datetime import datetime, timezone

    from webapp.datasets.models import DatasetVersion
    from webapp.datasets.services import dataset_version_upload_delete

    failed = DatasetVersion.objects.filter(status=DatasetVersion.Status.FAILED).exclude(upload="")
    removed = list(failed.values_list("upload", flat=True))
    for version_id in failed.values_list("pk", flat=True):
        dataset_version_upload_delete(version_id=version_id)
    named = set(DatasetVersion.objects.exclude(upload="").values_list("upload", flat=True))
    cutoff = datetime.fromtimestamp((now or time.time()) - settings.UPLOAD_TEMP_MAX_AGE_SECONDS, tz=timezone.utc)
    for name in _files_under(UPLOADS):
        try:
            if name not in named and default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                removed.append(name)
        except OSError:  # gone meanwhile, or the storage away: next time
            continue
    return removed


def _files_under(prefix: str) -> list[str]:
    try:
        folders, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [f"{prefix}/{f}" for f in files] + [n for folder in folders for n in _files_under(f"{prefix}/{folder}")]


def clean_job_files() -> list[int]:
    """Checkpoints of finished or deleted jobs, then the folders left empty. A queued job may hold a
    checkpoint to resume from and a running one is writing them: both are left alone."""
    from webapp.jobs.models import Job
    from webapp.worker.checkpoints import checkpoint_delete, checkpoint_prefix

    ids = _numbered_folders("jobs")
    active = set(Job.objects.filter(pk__in=ids).exclude(status__in=Job.FINISHED).values_list("pk", flat=True))
    cleaned = [job_id for job_id in ids if job_id not in active]
    for job_id in cleaned:
        checkpoint_delete(job_id)
        remove_empty_folders(checkpoint_prefix(job_id).rsplit("/", 1)[0])
    return cleaned
