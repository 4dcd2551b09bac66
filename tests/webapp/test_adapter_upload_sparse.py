"""An uploaded sparse adapter shows "What the adapter changed" on its version page, as a job's
report does: the tuned parts and their weight counts, from the card's `sparse` section, or from the
file's own tensors where a card lacks it. The adapter is a real one, tuned by `tuning.tune` on the demo
backbone, and goes through the upload view and the evaluation like any other."""

import io
import json
import zipfile
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.webapp.factories import class_image_png, csrf_client, csrf_post, make_ready_version
from webapp.adapters.adapted import tensor_shapes
from webapp.adapters.evaluation import adapter_version_evaluate
from webapp.adapters.models import AdapterVersion

CLASSES = ("red", "green", "blue")  # make_ready_version's classes and colours


@pytest.fixture(scope="module")
def sparse_adapter(tmp_path_factory):
    """adapter.safetensors and adapter.json of a sparse adapter (prompt, head and a delta on the image
    model) tuned with a small budget on the demo backbone, over images like make_ready_version's."""
    import tuning

    root = tmp_path_factory.mktemp("sparse-images")
    for k, label in enumerate(CLASSES):
        (root / label).mkdir()
        for i in range(6):
            (root / label / f"{i}.png").write_bytes(class_image_png(k, i))
    data = tuning.load_image_folder(root, backbone="demo", shots=2, seed=0)
    config = {"backbone": "demo", "method": "cmaes", "adapt": "sparse", "param_budget": 0.001, "budget": 40,
              "shots": 2, "seed": 0, "intrinsic_dim": 8, "popsize": 4, "stage1_generations": 2, "patience": 0,
              "eval_every": 10, "mask_every": 20, "checkpoint_every": 10, "sparse_blocks": 1, "vision_dim": 8,
              "sensitivity_probes": 1}
    directory = tuning.save_adapter(tuning.tune(config, data).adapter, tmp_path_factory.mktemp("sparse") / "adapter")
    return {name: (directory / name).read_bytes() for name in ("adapter.safetensors", "adapter.json")}


@pytest.fixture
def site(make_user):
    erin = make_user("erin", workspace="Press line")
    dataset = make_ready_version("Press line", name="scratches images", classes=CLASSES, per_class=6)
    return {"dataset": dataset, "client": csrf_client(erin)}


def _upload(site, files: dict[str, bytes]):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"site-b/{name}", data)
    archive = SimpleUploadedFile("site-b.zip", buffer.getvalue(), content_type="application/zip")
    response = csrf_post(site["client"], "/adapters/upload/", {
        "workspace": site["dataset"].dataset.workspace_id, "model_line": "scratches",
        "dataset_version": site["dataset"].pk, "note": "tuned at site B", "archive": archive})
    assert response.status_code == 302, response.context["form"].errors
    return AdapterVersion.objects.get(source="upload")


def _section(page: str) -> tuple[str, str]:
    """(summary, table) of the "What the adapter changed" section, as text."""
    start = page.index('id="adapted-summary"')
    summary = unescape(page[start:page.index("</p>", start)])
    table = page[page.index('id="adapted-groups"'):page.index("</table>", page.index('id="adapted-groups"'))]
    return " ".join(summary.split()), table


@pytest.mark.django_db
def test_an_uploaded_sparse_adapter_shows_what_it_changed_before_and_after_its_evaluation(site, sparse_adapter):
    card = json.loads(sparse_adapter["adapter.json"])
    vision, dims = card["sparse"]["vision"], card["sparse"]["dims"]
    assert card["format_version"] == 2 and vision["parameters_changed"] > 0  # a real sparse adapter file

    version = _upload(site, sparse_adapter)
    page = site["client"].get(f"/adapters/versions/{version.pk}/").content.decode()
    summary, table = _section(page)
    assert "What the adapter changed" in page
    assert (f"{vision['parameters_changed']:,} of the image model's {vision['image_parameters']:,} weights"
            in summary)
    assert f"the prompt ({dims['prompt']:,} tuned numbers)" in summary and f"({dims['head']:,} numbers)" in summary
    changed = [g for g in vision["groups"] if g["changed"]]
    assert table.count("<tr>") == 1 + len(changed)
    for group in changed:
        assert f"<td>{group['parameters']:,}</td><td>{group['changed']:,}</td>" in table

    adapter_version_evaluate(version_id=version.pk)  # the evaluation adds its numbers beside the summary
    version.refresh_from_db()
    assert version.evaluation_status == "done", version.evaluation_error
    assert version.metrics["images"] == 18
    assert version.metrics["adapted"]["parameters_changed"] == vision["parameters_changed"]
    page = site["client"].get(f"/adapters/versions/{version.pk}/").content.decode()
    assert "On all 18 images" in page and _section(page)[0] == summary


@pytest.mark.django_db
def test_without_the_cards_sparse_section_the_counts_come_from_the_files_tensors(site, sparse_adapter):
    card = json.loads(sparse_adapter["adapter.json"])
    del card["sparse"]  # edited by hand, or written by another tool: the tensors still say what changed
    shapes = tensor_shapes(sparse_adapter["adapter.safetensors"])
    changed = {name.split("/")[1]: shape[0] for name, shape in shapes.items() if name.endswith("/indices")}
    assert changed and "head_delta" in shapes

    version = _upload(site, {**sparse_adapter, "adapter.json": json.dumps(card).encode()})
    summary, table = _section(site["client"].get(f"/adapters/versions/{version.pk}/").content.decode())
    assert f"{sum(changed.values()):,} weights of the image model" in summary
    assert "counted from the adapter file" in summary
    assert f"the prompt ({shapes['w'][0]:,} tuned numbers)" in summary
    for parameter, count in changed.items():
        assert f"<td>{parameter}</td><td>–</td><td>{count:,}</td>" in table


def test_bytes_that_are_not_a_safetensors_file_have_no_tensors():
    assert tensor_shapes(b"") == {} and tensor_shapes(b"\x05\x00\x00\x00\x00\x00\x00\x00nope!") == {}
