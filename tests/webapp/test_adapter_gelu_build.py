"""An adapter tuned on an OpenAI model before the loader applied the tag's settings was tuned on a GELU build
of QuickGELU weights: its version page says so and suggests tuning it again. Adapters whose card records
how the backbone was built, and other backbones, say nothing."""

import warnings

import pytest

from tests.webapp.factories import csrf_client, make_finished_job, make_ready_version, make_version_for_job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("backbone_id, loading, warned", [
    ("ViT-B-32:openai", None, True),
    ("ViT-B-32:openai", {"quick_gelu": True, "weights_format": "safetensors"}, False),
    ("ViT-B-16:laion2b_s34b_b88k", None, False),
    ("tiny-test", None, False),
])
def test_the_version_page_suggests_tuning_a_gelu_build_again(alice, tmp_path, backbone_id, loading, warned):
    dataset = make_ready_version("Press line", name="scratches", user=alice, per_class=4)
    job = make_finished_job("Press line", dataset_version=dataset, backbone=backbone_id)
    extra = {"backbone_loading": loading} if loading else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tuning.load_adapter's own warning, checked in tests/tuning
        version = make_version_for_job(job, tmp_path, backbone_id=backbone_id, **extra)
    page = csrf_client(alice).get(f"/adapters/versions/{version.pk}/").content.decode()
    assert ('id="gelu-build"' in page) == warned
    if warned:
        assert "built with GELU" in page and "Tune it again on this backbone." in page
