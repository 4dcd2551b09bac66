"""Dataset pages and endpoints: engineers upload, viewers read, other workspaces see nothing (404)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.webapp.dataset_builders import good_zip
from tests.webapp.dataset_fixtures import files_outside_media, media, version_with_upload  # noqa: F401
from webapp.accounts.models import Membership, Workspace
from webapp.datasets.models import DatasetVersion
from webapp.datasets.services import dataset_version_ingest

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def post(client: Client, url: str, data: dict):
    """POST like a browser: fetch a page for the CSRF cookie, send the token first in the form
    (as our templates place it, ahead of the file)."""
    client.get(reverse("datasets:list"))
    return client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value, **data})


@pytest.fixture
def people(make_user, media):  # noqa: F811
    return {
        "eng": make_user("eng", workspace="Plant A"),
        "viewer": make_user("viewer", workspace="Plant A", role="viewer"),
        "other": make_user("other", workspace="Plant B"),
    }


@pytest.fixture
def ready(people):
    version = version_with_upload(user=people["eng"], workspace_name="Plant A", data=good_zip(), name="Steel")
    return dataset_version_ingest(version_id=version.pk)


def upload_data(name="Steel", data=None, workspace="Plant A"):
    return {"workspace": Workspace.objects.get(name=workspace).pk, "name": name,
            "file": SimpleUploadedFile("steel.zip", data if data is not None else good_zip(), "application/zip")}


def test_pages_need_login(ready):
    anon = Client()
    for url in [reverse("datasets:list"), reverse("datasets:version", args=[ready.pk]),
                reverse("datasets:version_status", args=[ready.pk])]:
        response = anon.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_engineer_upload_returns_at_once_and_queues_ingestion(people, django_capture_on_commit_callbacks, tmp_path):
    client = login(people["eng"])
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, reverse("datasets:upload"), upload_data())
    version = DatasetVersion.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("datasets:version", args=[version.pk])
    assert version.status == DatasetVersion.Status.INGESTING and version.number == 1
    assert len(callbacks) == 1  # the ingestion task, sent only once the row is committed
    assert version.upload.name.startswith("uploads/") and version.upload.size > 0
    assert files_outside_media(tmp_path) == []
    page = client.get(response["Location"])
    assert b"progress-bar" in page.content and b"status.json" in page.content


def test_uploading_again_under_the_same_name_adds_a_version(people, django_capture_on_commit_callbacks):
    client = login(people["eng"])
    with django_capture_on_commit_callbacks():
        post(client, reverse("datasets:upload"), upload_data())
        post(client, reverse("datasets:upload"), upload_data())
    assert sorted(DatasetVersion.objects.values_list("dataset__name", "number")) == [("Steel", 1), ("Steel", 2)]


def test_upload_without_csrf_token_is_refused(people):
    client = login(people["eng"])
    response = client.post(reverse("datasets:upload"), upload_data())
    assert response.status_code == 403
    assert not DatasetVersion.objects.exists()


def test_viewer_cannot_upload(people):
    response = post(login(people["viewer"]), reverse("datasets:upload"), upload_data())
    assert response.status_code == 403
    assert not DatasetVersion.objects.exists()


def test_other_workspace_user_cannot_upload_into_it(people):
    response = post(login(people["other"]), reverse("datasets:upload"), upload_data(workspace="Plant A"))
    assert response.status_code == 404
    assert not DatasetVersion.objects.exists()


def test_not_a_zip_is_answered_on_the_form(people):
    response = post(login(people["eng"]), reverse("datasets:upload"), upload_data(data=b"GIF89a not a zip"))
    assert response.status_code == 400
    assert b"This file is not a zip archive" in response.content
    assert not DatasetVersion.objects.exists()


@pytest.mark.parametrize("per_class", [20, 150], ids=["counted-while-streaming", "announced-length"])
def test_oversized_upload_is_stopped_while_streaming(people, settings, tmp_path, media, per_class):  # noqa: F811
    settings.DATASET_MAX_UPLOAD_BYTES = 2000
    data = good_zip({"a": per_class, "b": per_class})
    response = post(login(people["eng"]), reverse("datasets:upload"), upload_data(data=data))
    assert response.status_code == 400
    assert b"larger than the upload limit of 2.0 KB" in response.content
    assert not DatasetVersion.objects.exists()
    assert not list(media.rglob("*.zip"))


def test_workspace_choices_are_only_those_where_the_user_is_engineer(people):
    Membership.objects.create(user=people["eng"], workspace=Workspace.objects.get(name="Plant B"), role="viewer")
    Membership.objects.create(user=people["eng"], workspace=Workspace.objects.create(name="Plant C"), role="engineer")
    page = login(people["eng"]).get(reverse("datasets:list")).content.decode()
    assert "Plant A</option>" in page and "Plant C</option>" in page
    assert "Plant B</option>" not in page


def test_version_page_shows_counts_shots_thumbnails_and_report(people, ready):
    client = login(people["viewer"])  # readers see everything of their workspace
    page = client.get(reverse("datasets:version", args=[ready.pk])).content.decode()
    assert "up to 2 shots" in page  # 4 images per class: 2 training + 1 validation + 1 test
    assert "scratches" in page and "no_defect" in page
    sha = ready.report["thumbnails"]["scratches"][0]
    thumb = client.get(reverse("datasets:thumbnail", args=[ready.pk, sha]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"
    status = client.get(reverse("datasets:version_status", args=[ready.pk])).json()
    assert status["status"] == "ready" and status["done"] and status["class_counts"] == {"no_defect": 4, "scratches": 4}


def test_thumbnail_only_serves_generated_names(people, ready):
    client = login(people["eng"])
    not_listed = "0" * 64
    assert client.get(reverse("datasets:thumbnail", args=[ready.pk, not_listed])).status_code == 404
    assert client.get(f"/datasets/versions/{ready.pk}/thumbs/..%2F..%2Fsecret.jpg").status_code == 404


def test_other_workspace_gets_404_everywhere(people, ready):
    client = login(people["other"])
    sha = ready.report["thumbnails"]["scratches"][0]
    for url in [reverse("datasets:version", args=[ready.pk]), reverse("datasets:version_status", args=[ready.pk]),
                reverse("datasets:thumbnail", args=[ready.pk, sha]),
                reverse("datasets:detail", args=[ready.dataset_id])]:
        assert client.get(url).status_code == 404, url
    assert b"Steel" not in client.get(reverse("datasets:list")).content


def test_dataset_detail_redirects_to_latest_version(people, ready):
    response = login(people["eng"]).get(reverse("datasets:detail", args=[ready.dataset_id]))
    assert response.status_code == 302 and response["Location"] == reverse("datasets:version", args=[ready.pk])


def test_rejected_version_page_shows_the_reason(people):
    version = version_with_upload(user=people["eng"], workspace_name="Plant A", data=good_zip({"only": 4}))
    dataset_version_ingest(version_id=version.pk)
    page = login(people["eng"]).get(reverse("datasets:version", args=[version.pk])).content.decode()
    assert "This upload was rejected" in page and "at least 2 classes" in page


def test_demo_button_creates_an_ingesting_version_and_queues_the_build(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(login(people["eng"]), reverse("datasets:demo"),
                        {"workspace": Workspace.objects.get(name="Plant A").pk})
    version = DatasetVersion.objects.get()
    assert response.status_code == 302 and version.dataset.name == "Demo: textile defects"
    assert version.status == DatasetVersion.Status.INGESTING and len(callbacks) == 1


def test_demo_button_refuses_viewer_and_other_workspace(people):
    ws = Workspace.objects.get(name="Plant A").pk
    assert post(login(people["viewer"]), reverse("datasets:demo"), {"workspace": ws}).status_code == 403
    assert post(login(people["other"]), reverse("datasets:demo"), {"workspace": ws}).status_code == 404
    assert not DatasetVersion.objects.exists()
