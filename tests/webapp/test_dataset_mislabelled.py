"""Images marked as mislabelled: kept with their dataset version, and left out of the dataset's next
upload while they are still filed under the same class; moved to another class (corrected), kept."""

import pytest

from tests.webapp.dataset_builders import class_images, make_zip
from tests.webapp.dataset_fixtures import media, version_with_upload  # noqa: F401
from tests.webapp.factories import csrf_client
from webapp.datasets.services import dataset_version_ingest

pytestmark = pytest.mark.django_db


def test_a_marked_image_is_left_out_of_the_next_version_unless_it_moved_class(make_user, media):  # noqa: F811
    eng = make_user("eng", workspace="Plant A")
    images = class_images({"scratches": 4, "no_defect": 4})
    first = dataset_version_ingest(version_id=version_with_upload(
        user=eng, workspace_name="Plant A", data=make_zip(images), name="Steel").pk)
    by_name = {f["original"]: f["sha256"] for f in first.manifest["files"]}
    client = csrf_client(eng)
    for name in ("scratches/img_000.jpg", "scratches/img_001.jpg"):
        response = client.post(f"/datasets/versions/{first.pk}/images/{by_name[name]}/mislabelled/",
                               {"mislabelled": "1", "next": f"/datasets/versions/{first.pk}/"},
                               HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
        assert response.status_code == 302
    page = client.get(f"/datasets/versions/{first.pk}/").content.decode()
    assert "Marked as mislabelled" in page and "scratches/img_000.jpg" in page

    # The next upload: img_000 still under scratches (left out), img_001 moved to no_defect (kept).
    corrected = dict(images)
    corrected["no_defect/img_001_moved.jpg"] = corrected.pop("scratches/img_001.jpg")
    second = dataset_version_ingest(version_id=version_with_upload(
        user=eng, workspace_name="Plant A", data=make_zip(corrected), name="Steel").pk)
    kept = {f["original"] for f in second.manifest["files"]}
    assert "scratches/img_000.jpg" not in kept and "no_defect/img_001_moved.jpg" in kept
    assert second.class_counts == {"scratches": 2, "no_defect": 5}
    skipped = {s["file"]: s["reason"] for s in second.report["skipped"]}
    assert "marked as mislabelled" in skipped["scratches/img_000.jpg"]


def test_a_viewer_cannot_mark_and_an_unknown_image_is_not_found(make_user, media):  # noqa: F811
    eng = make_user("eng", workspace="Plant A")
    viewer = make_user("viewer", workspace="Plant A", role="viewer")
    version = dataset_version_ingest(version_id=version_with_upload(
        user=eng, workspace_name="Plant A", data=make_zip(class_images({"a": 3, "b": 3})), name="Steel").pk)
    sha = version.manifest["files"][0]["sha256"]
    looker = csrf_client(viewer)
    assert looker.post(f"/datasets/versions/{version.pk}/images/{sha}/mislabelled/", {"mislabelled": "1"},
                       HTTP_X_CSRFTOKEN=looker.cookies["csrftoken"].value).status_code == 403
    engineer = csrf_client(eng)
    assert engineer.post(f"/datasets/versions/{version.pk}/images/{'0' * 64}/mislabelled/", {"mislabelled": "1"},
                         HTTP_X_CSRFTOKEN=engineer.cookies["csrftoken"].value).status_code == 404
