"""How many shots a version supports (training shots + 1 validation + 1 test image per class)."""

import pytest

from webapp.datasets.models import Dataset, DatasetVersion
from webapp.datasets.selectors import (
    dataset_version_check_shots,
    dataset_version_max_shots,
    dataset_version_shots_per_class,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(make_user):
    from webapp.accounts.models import Workspace

    user = make_user("eng", workspace="Plant A")
    dataset = Dataset.objects.create(workspace=Workspace.objects.get(name="Plant A"), name="Steel", created_by=user)
    return DatasetVersion.objects.create(dataset=dataset, number=1, status=DatasetVersion.Status.READY,
                                         upload="x.zip", class_counts={"crazing": 10, "pits": 6, "scale": 30})


def test_shots_per_class_keep_one_validation_and_one_test_image(version):
    assert dataset_version_shots_per_class(version) == {"crazing": 8, "pits": 4, "scale": 28}
    assert dataset_version_max_shots(version) == 4


def test_enough_images_gives_none(version):
    assert dataset_version_check_shots(version, 4) is None
    assert dataset_version_check_shots(version, 1) is None


def test_too_few_images_names_the_short_classes_and_the_way_out(version):
    message = dataset_version_check_shots(version, 8)
    assert "8 shots need 10 images in every class" in message
    assert "'pits' has 6" in message and "crazing" not in message
    assert "choose at most 4 shots" in message


def test_not_ready_and_zero_shots_are_refused(version):
    assert "at least 1 shot" in dataset_version_check_shots(version, 0)
    version.status = DatasetVersion.Status.INGESTING
    assert "not ready" in dataset_version_check_shots(version, 1)
