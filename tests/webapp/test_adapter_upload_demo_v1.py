"""An adapter made on the first demo backbone (its card says "demo" with v1's sha256;
tests/demo_backbone/v1_adapter, written by the code from before v2) is uploaded next to job adapters
tuned on today's "demo" (v2), stored as "demo-v1" and evaluated on it, scoring what it scored then.
One whose demo weights this installation lacks is refused with the message naming them."""

import io
import json
import textwrap
import zipfile
from html import unescape
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.webapp.factories import (
    class_image_png,
    csrf_client,
    csrf_post,
    make_finished_job,
    make_ready_version,
    make_version_for_job,
)
from tuning.demo_backbone import recorded_sha256
from tuning.demo_backbone.versions import V1, V2
from webapp.adapters.evaluation import adapter_version_evaluate
from webapp.adapters.models import AdapterVersion

pytestmark = pytest.mark.django_db

V1_ADAPTER = Path(__file__).resolve().parents[1] / "demo_backbone" / "v1_adapter"
CLASSES = ("red", "green", "blue")  # make_ready_version's images are the ones the v1 adapter was checked on


@pytest.fixture
def site(make_user, tmp_path):
    """Press line: a job adapter tuned on today's demo (v2) in model line "scratches", and a dataset."""
    erin = make_user("erin", workspace="Press line")
    dataset = make_ready_version("Press line", name="scratches images", classes=CLASSES, per_class=6)
    job = make_finished_job("Press line", model_line_name="scratches", dataset_version=dataset, backbone="demo")
    make_version_for_job(job, tmp_path, backbone_id="demo", backbone_sha256=recorded_sha256(V2), embed_dim=256)
    return {"dataset": dataset, "client": csrf_client(erin)}


def _upload(site, **card_changes):
    card = {**json.loads((V1_ADAPTER / "adapter.json").read_text()), **card_changes}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("site-b/adapter.json", json.dumps(card))
        zf.write(V1_ADAPTER / "adapter.safetensors", "site-b/adapter.safetensors")
    archive = SimpleUploadedFile("site-b.zip", buffer.getvalue(), content_type="application/zip")
    return csrf_post(site["client"], "/adapters/upload/", {
        "workspace": site["dataset"].dataset.workspace_id, "model_line": "scratches",
        "dataset_version": site["dataset"].pk, "note": "made on demo v1", "archive": archive})


def _accuracy_then() -> float:
    """The v1 adapter's accuracy on these images, from the predictions the code before v2 made."""
    recorded = json.loads((V1_ADAPTER / "predictions.json").read_text())
    names = json.loads((V1_ADAPTER / "adapter.json").read_text())["class_names"]
    right = [names[max(range(len(p)), key=p.__getitem__)] == image.split("/")[0]
             for image, p in recorded["probabilities"].items()]
    return sum(right) / len(right)


def _evaluated(version) -> AdapterVersion:
    adapter_version_evaluate(version_id=version.pk)
    version.refresh_from_db()
    assert version.evaluation_status == "done", version.evaluation_error
    return version


def test_a_v1_adapter_is_stored_as_demo_v1_and_scores_on_it_what_it_scored_then(site):
    response = _upload(site)
    assert response.status_code == 302, unescape(response.content.decode())
    version = AdapterVersion.objects.get(source="upload")
    # Accepted beside the v2 job adapter of the same model line: "demo-v1" is compared with "demo-v1" only.
    assert (version.backbone, version.backbone_sha256) == ("demo-v1", recorded_sha256(V1))
    assert _evaluated(version).metrics["tuned_accuracy"] == pytest.approx(_accuracy_then())


def test_the_download_of_a_v1_adapter_says_demo_v1_and_its_python_lines_run(site, tmp_path, monkeypatch, capsys):
    _upload(site)
    version = AdapterVersion.objects.get(source="upload")
    archive = zipfile.ZipFile(io.BytesIO(site["client"].get(f"/adapters/versions/{version.pk}/archive/").getvalue()))
    archive.extractall(tmp_path)
    readme = next(tmp_path.rglob("README.txt")).read_text()
    assert "Backbone:        demo-v1" in readme
    # "4. Or from Python", as the person at the line PC would paste it, on an image of the dataset
    lines = readme.split("4. Or from Python:\n")[1].split("\n\n")[0]
    image = tmp_path / "red.png"
    image.write_bytes(class_image_png(0, 0))
    monkeypatch.chdir(next(tmp_path.rglob("README.txt")).parent.parent)
    exec(textwrap.dedent(lines).replace("/path/to/image.png", str(image)), {})
    assert capsys.readouterr().out.startswith("red ")  # on demo-v1; on v2 check_compatible would refuse


def test_a_row_stored_before_the_rename_still_evaluates_on_demo_v1(site):
    """A version row written before the migration (or by any path that kept the card's "demo")."""
    _upload(site)
    version = AdapterVersion.objects.get(source="upload")
    AdapterVersion.objects.filter(pk=version.pk).update(backbone="demo")
    assert _evaluated(version).metrics["tuned_accuracy"] == pytest.approx(_accuracy_then())


def test_a_demo_adapter_whose_weights_are_not_installed_is_refused_naming_them(site):
    response = _upload(site, backbone_sha256="ab" * 32)
    assert response.status_code == 400
    page = unescape(response.content.decode())
    assert "This adapter was made with demo backbone weights sha256 abababababab..., which this installation does " \
           "not have; it has demo (v2, sha256" in page
    assert f"demo-v1 (v1, sha256 {recorded_sha256(V1)[:12]}...)" in page
    assert not AdapterVersion.objects.filter(source="upload").exists()


def test_a_v2_adapter_is_still_held_to_the_v2_weights_of_the_model_line(site):
    """The "same id, same weights" check still holds for today's demo: a v2 card is compared with v2."""
    response = _upload(site, backbone_sha256=recorded_sha256(V2))
    assert response.status_code == 302  # same weights as the job adapter: accepted, as "demo"
    assert AdapterVersion.objects.get(source="upload").backbone == "demo"
