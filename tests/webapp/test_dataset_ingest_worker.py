"""End to end through the real broker and a real worker: upload -> ingesting -> ready, with
conversions; and the one-click demo dataset built and ingested by the worker."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.conftest import wait_for
from tests.webapp.dataset_builders import class_images, gray16_png, jpeg_bytes, make_zip, png_bytes
from webapp.accounts.models import Workspace
from webapp.datasets.models import DatasetVersion

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def browser_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("datasets:list"))
    return client


def wait_until_done(client: Client, version_id: int, timeout: float = 90) -> dict:
    url = reverse("datasets:version_status", args=[version_id])
    seen = []

    def done():
        body = client.get(url).json()
        seen.append(body["status"])
        return body if body["done"] else None

    body = wait_for(done, timeout=timeout, interval=0.2, message=f"dataset version {version_id} to finish")
    return {**body, "seen": seen}


def test_upload_is_ingested_by_the_worker_with_conversions(make_user, celery_worker):
    user = make_user("eng", workspace="Plant A")
    rgba = io.BytesIO()
    Image.new("RGBA", (20, 12), (0, 128, 0, 128)).save(rgba, format="PNG")
    entries = class_images({"crazing": 3, "rolled-in_scale": 3})
    entries.update({
        "crazing/gray.png": png_bytes(color=90, mode="L"),
        "crazing/alpha.png": rgba.getvalue(),
        "rolled-in_scale/deep.png": gray16_png(),
        "rolled-in_scale/print.jpg": jpeg_bytes(77, mode="CMYK"),
    })
    client = browser_client(user)
    response = client.post(reverse("datasets:upload"), {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "workspace": Workspace.objects.get(name="Plant A").pk, "name": "Steel",
        "file": SimpleUploadedFile("steel.zip", make_zip(entries), "application/zip"),
    })
    assert response.status_code == 302
    version = DatasetVersion.objects.get()
    body = wait_until_done(client, version.pk)
    assert body["status"] == "ready", body
    assert body["class_counts"] == {"crazing": 5, "rolled-in_scale": 5}

    version.refresh_from_db()
    assert version.progress == 1.0 and len(version.content_hash) == 64
    for entry in version.manifest["files"]:
        with default_storage.open(f"{version.root}/{entry['path']}", "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
        # 8-bit RGB JPEGs are kept as uploaded; the gray, alpha and 16-bit files became RGB PNGs
        assert (img.mode == "RGB"
                and entry["path"].endswith({"PNG": ".png", "JPEG": ".jpg"}[img.format])), entry["original"]
        assert np.asarray(img).dtype == np.uint8
    assert {"L", "RGBA", "CMYK"} <= set(version.report["converted"])
    page = client.get(reverse("datasets:version", args=[version.pk])).content.decode()
    assert "up to 3 shots" in page and "rolled-in_scale" in page


def test_hostile_upload_is_rejected_by_the_worker_with_its_message(make_user, celery_worker):
    user = make_user("eng", workspace="Plant A")
    entries = class_images({"a": 2, "b": 2})
    entries["../../../escape.png"] = png_bytes()
    client = browser_client(user)
    client.post(reverse("datasets:upload"), {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "workspace": Workspace.objects.get(name="Plant A").pk, "name": "Bad",
        "file": SimpleUploadedFile("bad.zip", make_zip(entries), "application/zip"),
    })
    body = wait_until_done(client, DatasetVersion.objects.get().pk)
    assert body["status"] == "failed" and "points outside the archive" in body["error"]


def test_demo_button_builds_and_ingests_the_demo_dataset(make_user, celery_worker):
    pytest.importorskip("conformal_clip_data")
    user = make_user("eng", workspace="Plant A")
    client = browser_client(user)
    response = client.post(reverse("datasets:demo"), {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "workspace": Workspace.objects.get(name="Plant A").pk,
    })
    assert response.status_code == 302
    body = wait_until_done(client, DatasetVersion.objects.get().pk, timeout=180)
    assert body["status"] == "ready", body
    assert body["class_counts"] == {"global_defect": 60, "local_defect": 60, "nominal": 60}
