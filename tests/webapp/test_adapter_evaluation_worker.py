"""An uploaded adapter is evaluated by a real Celery worker on the default queue, through Redis."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import wait_for
from tests.webapp.factories import csrf_client, csrf_post, make_ready_version, write_adapter_dir
from webapp.adapters.models import AdapterVersion

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_upload_is_evaluated_by_the_worker_and_the_result_is_stored(make_user, celery_worker, tmp_path):
    erin = make_user("erin", workspace="Press line")
    dataset = make_ready_version("Press line", name="scratches images", per_class=5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in write_adapter_dir(tmp_path / "b").iterdir():
            zf.write(path, path.name)
    response = csrf_post(csrf_client(erin), "/adapters/upload/", {
        "workspace": dataset.dataset.workspace_id, "model_line": "scratches", "dataset_version": dataset.pk,
        "archive": SimpleUploadedFile("b.zip", buffer.getvalue())})
    assert response.status_code == 302

    version = wait_for(lambda: AdapterVersion.objects.filter(source="upload",
                                                             evaluation_status__in=["done", "failed"]).first(),
                       timeout=90, message="the worker's evaluation")
    assert version.evaluation_status == "done", version.evaluation_error
    assert version.metrics["images"] == 15 and version.metrics["dataset_hash"] == dataset.content_hash
