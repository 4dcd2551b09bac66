"""Dataset ingestion recovers like a tuning job, tried with real worker processes:
a worker killed (SIGKILL) in the middle of an import, the broker down during an upload, and a
version whose workers keep dying, which fails with a plain reason and leaves no images behind.

The tasks go to a queue of these tests' own, served only by the workers they start, so the shared
test worker never takes an import from them."""

from datetime import timedelta

import numpy as np
import pytest
import redis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.conftest import wait_for
from tests.webapp.dataset_builders import make_zip, png_bytes
from tests.webapp.factories import csrf_client, csrf_post, make_api_token, make_ready_version
from webapp.accounts.models import Workspace
from webapp.core.broker import SHORT_TASK_UNACKED_KEYS, _row_id, transport_options_for
from webapp.datasets.models import DatasetVersion
from webapp.datasets.recovery import INGEST_TASK, ingestions_recover
from webapp.datasets.tasks import ingest_dataset_version

QUEUE = "ingest-recovery-test"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_queue(monkeypatch, settings):
    monkeypatch.setattr(ingest_dataset_version, "delay",
                        lambda version_id: ingest_dataset_version.apply_async(args=[version_id], queue=QUEUE))
    yield QUEUE
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


def slow_zip(per_class: int) -> bytes:
    """Images large enough (2048 x 2048) that converting them takes a while, yet tiny as PNGs."""
    ramp = np.linspace(0, 255, 2048)
    entries = {}
    for label, base in (("scratches", 40), ("no_defect", 160)):
        for i in range(per_class):
            pixels = np.stack([ramp[None, :].repeat(2048, 0), ramp[:, None].repeat(2048, 1),
                               np.full((2048, 2048), base + i)], -1).astype(np.uint8)
            entries[f"{label}/{i}.png"] = png_bytes_of(pixels)
    return make_zip(entries)


def png_bytes_of(pixels) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def upload(user, data: bytes, name: str = "Steel"):
    client = csrf_client(user)
    response = csrf_post(client, "/datasets/upload/", {
        "workspace": Workspace.objects.get(name="Press line").pk, "name": name,
        "file": SimpleUploadedFile("steel.zip", data, "application/zip")})
    return client, response


def test_a_worker_killed_mid_import_is_replaced_and_the_import_completes(alice, start_worker, own_queue, settings):
    first = start_worker(queues=QUEUE)
    _, response = upload(alice, slow_zip(per_class=60))
    assert response.status_code == 302
    version = DatasetVersion.objects.get()
    wait_for(lambda: DatasetVersion.objects.get(pk=version.pk).progress > 0, timeout=120,
             interval=0.05, message="the import to start")
    first.kill()  # SIGKILL to the whole process group, like a power cut
    version.refresh_from_db()
    assert version.status == DatasetVersion.Status.INGESTING and version.progress < 1 and version.attempts == 1
    # Its delivery waits in the short-task key set, which comes back within minutes, not a day.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert any(_row_id(raw, {INGEST_TASK}) == version.pk
               for raw in broker.hvals(SHORT_TASK_UNACKED_KEYS["unacked_key"]))

    # Once its heartbeat is older than the stale limit the reaper sends the import again.
    report = wait_for(lambda: (r := ingestions_recover(queue=QUEUE)).requeued and r, timeout=60,
                      message="the reaper to notice the silent import")
    assert report.requeued == [version.pk] and report.failed == []
    start_worker(queues=QUEUE)
    wait_for(lambda: DatasetVersion.objects.get(pk=version.pk).status != DatasetVersion.Status.INGESTING,
             timeout=300, message="the second attempt to finish")
    version.refresh_from_db()
    assert version.status == DatasetVersion.Status.READY, version.error
    assert version.attempts == 2 and version.class_counts == {"no_defect": 60, "scratches": 60}


def test_an_upload_while_the_broker_is_down_is_saved_and_imported_when_it_is_back(alice, start_worker, own_queue,
                                                                                  broker_down, monkeypatch, settings):
    client, response = upload(alice, make_zip({f"{c}/{i}.png": png_bytes(color=(i, 9 * k, 50), size=(16, 16))
                                               for k, c in enumerate(["a", "b"]) for i in range(4)}))
    assert response.status_code == 302  # not a 500
    version = DatasetVersion.objects.get()
    assert version.status == DatasetVersion.Status.INGESTING and version.sent_at is None
    status = client.get(f"/datasets/versions/{version.pk}/status.json").json()
    assert "could not be reached" in status["status_text"] and status["waiting"]

    monkeypatch.undo()  # the broker is back; the tasks still go to this test's queue
    monkeypatch.setattr(ingest_dataset_version, "delay",
                        lambda version_id: ingest_dataset_version.apply_async(args=[version_id], queue=QUEUE))
    DatasetVersion.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.JOB_RESEND_AFTER_SECONDS + 1))
    start_worker(queues=QUEUE)
    assert ingestions_recover(queue=QUEUE).resent == [version.pk]
    wait_for(lambda: DatasetVersion.objects.get(pk=version.pk).status == DatasetVersion.Status.READY,
             timeout=120, message="the import sent after the outage")


def test_an_import_whose_workers_keep_dying_fails_plainly_and_leaves_no_images(alice, settings):
    dataset = make_ready_version("Press line", user=alice).dataset
    version = DatasetVersion.objects.create(dataset=dataset, number=2, upload="uploads/test/none.zip")
    orphan = default_storage.save(f"datasets/{version.pk}/images/a/orphan.png", ContentFile(png_bytes()))
    DatasetVersion.objects.filter(pk=version.pk).update(  # its last attempt's worker died
        attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=timezone.now() - timedelta(hours=1))

    assert ingestions_recover().failed == [version.pk]
    version.refresh_from_db()
    assert version.status == DatasetVersion.Status.FAILED and "stopped responding 3 times" in version.error
    assert not default_storage.exists(orphan)
    client = csrf_client(alice)
    assert "stopped responding 3 times" in client.get(f"/datasets/versions/{version.pk}/").content.decode()
    api = Client().get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}").json()
    assert "stopped responding 3 times" in api["results"][0]["versions"][0]["error"]  # newest version first


def test_a_worker_without_the_tuning_queue_uses_a_short_visibility_timeout(settings):
    short = transport_options_for(["default"])
    assert short["visibility_timeout"] == settings.SHORT_TASK_VISIBILITY_TIMEOUT < 3600
    assert short["unacked_key"] == SHORT_TASK_UNACKED_KEYS["unacked_key"]
    for queues in (["tuning"], ["tuning", "default"]):  # a running tuning job is never handed out early
        assert transport_options_for(queues) == settings.CELERY_BROKER_TRANSPORT_OPTIONS
