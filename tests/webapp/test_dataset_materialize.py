"""The worker-side contract: a READY version copied from storage into a local class-folder tree."""

import hashlib

import pytest

from tests.webapp.dataset_builders import class_images, make_zip, png_bytes
from tests.webapp.dataset_fixtures import media, version_with_upload  # noqa: F401
from webapp.datasets.models import DatasetVersion
from webapp.datasets.services import dataset_version_ingest, dataset_version_materialize

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_version(make_user, media):  # noqa: F811
    user = make_user("eng", workspace="Plant A")
    version = version_with_upload(user=user, workspace_name="Plant A",
                                  data=make_zip({**class_images({"rolled-in_scale": 3, "crazing": 4}),
                                                 "crazing/gray.png": png_bytes(color=90, mode="L")}))
    return dataset_version_ingest(version_id=version.pk)


def test_materialize_writes_one_folder_per_class_with_verified_images(ready_version, tmp_path):
    cache = tmp_path / "worker-cache"
    folder = dataset_version_materialize(version=ready_version, cache_dir=cache)
    assert folder == cache / ready_version.content_hash
    assert sorted(p.name for p in folder.iterdir()) == ["crazing", "rolled-in_scale"]
    for entry in ready_version.manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    # uploaded RGB JPEGs are stored as they came; the grayscale PNG became an RGB PNG
    assert len(list(folder.rglob("*.jpg"))) == 7 and len(list(folder.rglob("*.png"))) == 1
    assert [p.name for p in cache.iterdir()] == [ready_version.content_hash]  # no temp folder left behind


def test_materialize_reuses_a_complete_folder(ready_version, tmp_path, settings):
    cache = tmp_path / "worker-cache"
    folder = dataset_version_materialize(version=ready_version, cache_dir=cache)
    marker = folder / "crazing" / "kept.txt"
    marker.write_text("proves the folder was not rebuilt")
    settings.MEDIA_ROOT = str(tmp_path / "empty-media")  # storage gone: a rebuild would fail
    assert dataset_version_materialize(version=ready_version, cache_dir=cache) == folder
    assert marker.exists()


def test_materialize_refuses_a_version_that_is_not_ready(ready_version, tmp_path):
    ready_version.status = DatasetVersion.Status.FAILED
    with pytest.raises(ValueError, match="not ready"):
        dataset_version_materialize(version=ready_version, cache_dir=tmp_path / "c")


def test_materialize_detects_a_tampered_stored_image_and_leaves_no_partial_folder(ready_version, tmp_path, media):  # noqa: F811
    entry = ready_version.manifest["files"][0]
    (media / ready_version.root / entry["path"]).write_bytes(b"not the original image")
    cache = tmp_path / "worker-cache"
    with pytest.raises(OSError, match="does not match its hash"):
        dataset_version_materialize(version=ready_version, cache_dir=cache)
    assert list(cache.iterdir()) == []
