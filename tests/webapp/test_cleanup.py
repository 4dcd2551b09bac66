"""The periodic clean-up: each kind of leftover goes, and nothing a queued, running
or importing row still uses is touched, nor anything outside media and var/."""

import os
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.datasets.models import DatasetVersion
from webapp.jobs.models import Job
from webapp.worker.cleanup import clean_dataset_files, clean_job_files, clean_upload_temp

pytestmark = pytest.mark.django_db


def stored(name: str) -> str:
    return default_storage.save(name, ContentFile(b"x"))


def aged(path: Path, seconds: float) -> Path:
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def test_temporary_files_of_killed_uploads_go_once_old_enough(settings, tmp_path):
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    killed = folder / "tmp-killed.upload.zip"
    killed.write_bytes(b"half a zip")
    aged(killed, settings.UPLOAD_TEMP_MAX_AGE_SECONDS + 60)
    receiving = folder / "tmp-receiving.upload.zip"
    receiving.write_bytes(b"still arriving")
    assert "tmp-killed.upload.zip" in clean_upload_temp()
    assert not killed.exists() and receiving.exists()
    receiving.unlink()

    # A temp folder outside media and var/ (a mistaken setting) is never emptied.
    outside = tmp_path / "someone-elses-file"
    outside.write_bytes(b"keep me")
    aged(outside, 10 * 24 * 3600)
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    assert clean_upload_temp() == [] and outside.exists()


def test_images_of_failed_and_deleted_versions_go_others_stay():
    ready = make_ready_version("Press line")
    failed = DatasetVersion.objects.create(dataset=ready.dataset, number=2, status=DatasetVersion.Status.FAILED)
    importing = DatasetVersion.objects.create(dataset=ready.dataset, number=3)
    files = {version: stored(f"datasets/{version.pk}/images/a/1.png") for version in (ready, failed, importing)}
    thumb = stored(f"datasets/{failed.pk}/thumbs/1.jpg")
    gone = stored("datasets/999999999/images/a/1.png")  # its version was deleted

    removed = clean_dataset_files()
    assert failed.pk in removed and 999999999 in removed
    assert not default_storage.exists(files[failed]) and not default_storage.exists(thumb)
    assert not default_storage.exists(gone) and not os.path.isdir(default_storage.path("datasets/999999999"))
    assert default_storage.exists(files[ready]) and default_storage.exists(files[importing])


def test_completed_jobs_leave_no_empty_folder():
    job = make_runnable_job(make_ready_version("Press line"), status=Job.Status.COMPLETED)
    os.makedirs(default_storage.path(f"jobs/{job.pk}"), exist_ok=True)
    assert job.pk in clean_job_files()
    assert not os.path.isdir(default_storage.path(f"jobs/{job.pk}"))


def test_checkpoints_of_failed_and_cancelled_jobs_go_those_of_queued_and_running_jobs_stay():
    version = make_ready_version("Press line")
    jobs = {status: make_runnable_job(version, status=status) for status in
            (Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.QUEUED, Job.Status.RUNNING)}
    files = {status: stored(f"jobs/{job.pk}/checkpoint-a1-000001.json") for status, job in jobs.items()}
    Job.objects.filter(pk=jobs[Job.Status.QUEUED].pk).update(checkpoint=files[Job.Status.QUEUED])  # requeued

    cleaned = clean_job_files()
    for status in (Job.Status.FAILED, Job.Status.CANCELLED):
        assert jobs[status].pk in cleaned and not default_storage.exists(files[status])
    for status in (Job.Status.QUEUED, Job.Status.RUNNING):
        assert jobs[status].pk not in cleaned and default_storage.exists(files[status])


def test_the_clean_up_runs_on_the_scheduler():
    from webapp import settings as product_settings

    entries = {entry["task"] for entry in product_settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"webapp.core.tasks.clean_up_leftovers", "webapp.datasets.tasks.recover_ingestions"} <= entries
    assert Path(product_settings.FILE_UPLOAD_TEMP_DIR).is_relative_to(product_settings.MEDIA_ROOT)


def _uploaded(user, content: bytes) -> DatasetVersion:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.accounts.models import Workspace
    from webapp.datasets.services import dataset_upload_create

    return dataset_upload_create(user=user, workspace=Workspace.objects.get(name="Press line"), name="parts",
                                 upload=SimpleUploadedFile("parts.zip", content))


def test_a_refused_upload_leaves_no_zip_behind(make_user, django_capture_on_commit_callbacks):
    from webapp.datasets.services import dataset_version_ingest

    with django_capture_on_commit_callbacks(execute=False):  # the worker's part runs below, in-process
        version = _uploaded(make_user("erin", workspace="Press line"), b"this is not a zip")
    name = version.upload.name
    assert default_storage.exists(name)
    version = dataset_version_ingest(version_id=version.pk)
    assert version.status == DatasetVersion.Status.FAILED and "not a zip" in version.error
    assert version.upload.name == "" and not default_storage.exists(name)


def test_zips_of_failed_versions_and_old_zips_no_version_names_go_others_stay(make_user, settings,
                                                                           django_capture_on_commit_callbacks):
    from webapp.worker.cleanup import clean_dataset_uploads

    erin = make_user("erin", workspace="Press line")
    with django_capture_on_commit_callbacks(execute=False):
        kept_from_before = _uploaded(erin, b"a zip a worker refused before refused zips were deleted")
        importing = _uploaded(erin, b"a zip being imported")
    DatasetVersion.objects.filter(pk=kept_from_before.pk).update(status=DatasetVersion.Status.FAILED)
    orphan_old = stored("uploads/2024/01/deleted-version.zip")
    aged(Path(default_storage.path(orphan_old)), settings.UPLOAD_TEMP_MAX_AGE_SECONDS + 60)
    orphan_fresh = stored("uploads/2024/01/row-not-committed-yet.zip")

    removed = clean_dataset_uploads()
    assert set(removed) == {kept_from_before.upload.name, orphan_old}
    assert not default_storage.exists(kept_from_before.upload.name) and not default_storage.exists(orphan_old)
    assert DatasetVersion.objects.get(pk=kept_from_before.pk).upload.name == ""
    assert default_storage.exists(importing.upload.name) and default_storage.exists(orphan_fresh)
    default_storage.delete(orphan_fresh)
