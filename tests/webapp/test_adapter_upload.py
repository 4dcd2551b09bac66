"""Uploading an adapter tuned at another site: validated with clear errors (never unpickled), stored as
the next version of a model line, and evaluated on one of our dataset versions."""

import io
import pickle
import zipfile
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.webapp.factories import (
    csrf_client,
    csrf_post,
    make_finished_job,
    make_ready_version,
    make_version_for_job,
    write_adapter_dir,
)
from webapp.adapters.evaluation import adapter_version_evaluate
from webapp.adapters.models import AdapterEvent, AdapterVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(make_user, tmp_path):
    """Press line: an engineer, a job adapter on the tiny backbone (v1), and a dataset to evaluate on."""
    erin = make_user("erin", workspace="Press line")
    dataset = make_ready_version("Press line", name="scratches images", classes=("red", "green", "blue"), per_class=6)
    v1 = make_version_for_job(make_finished_job("Press line", model_line_name="scratches",
                                                dataset_version=dataset), tmp_path)
    return {"erin": erin, "dataset": dataset, "v1": v1, "client": csrf_client(erin)}


def _zip(directory, *, extra: dict | None = None) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in directory.iterdir():
            zf.write(path, f"site-b-v4/{path.name}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return SimpleUploadedFile("site-b-v4.zip", buffer.getvalue(), content_type="application/zip")


def _upload(site, **files):
    data = {"workspace": site["dataset"].dataset.workspace_id, "model_line": "scratches",
            "dataset_version": site["dataset"].pk, "note": "tuned at site B", **files}
    return csrf_post(site["client"], "/adapters/upload/", data)


def test_archive_from_another_site_becomes_the_next_version_and_its_evaluation_is_queued(
        site, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _upload(site,
                           archive=_zip(write_adapter_dir(tmp_path / "b", seed=7),
                                        extra={"site-b-v4/README.txt": "hi"}))
    version = AdapterVersion.objects.get(source="upload")
    assert response.status_code == 302 and response["Location"] == f"/adapters/versions/{version.pk}/"
    assert (version.model_line, version.number) == (site["v1"].model_line, 2)
    assert version.evaluation_status == "queued" and version.evaluation_dataset_version == site["dataset"]
    assert version.created_by == site["erin"] and version.note == "tuned at site B" and version.job is None
    # dataset_hash names one of our dataset versions; the card's digest of site B's data is not one
    assert version.dataset_hash == "" and site["v1"].dataset_hash == site["dataset"].content_hash
    assert len(callbacks) == 1  # the evaluation task is sent once the upload is committed
    assert AdapterEvent.objects.filter(action="uploaded", version=version, actor=site["erin"]).exists()


def test_evaluation_scores_every_image_against_zero_shot_and_the_page_shows_it(site, tmp_path):
    _upload(site,
            weights=SimpleUploadedFile("adapter.safetensors",
                                       (write_adapter_dir(tmp_path / "b") / "adapter.safetensors").read_bytes()),
            card=SimpleUploadedFile("adapter.json", (tmp_path / "b" / "adapter.json").read_bytes()))
    version = AdapterVersion.objects.get(source="upload")
    adapter_version_evaluate(version_id=version.pk)

    version.refresh_from_db()
    assert version.evaluation_status == "done", version.evaluation_error
    assert version.metrics["images"] == 18 and 0.0 <= version.metrics["tuned_accuracy"] <= 1.0
    confusion = version.metrics["evaluation"]["tuned"]["confusion"]
    assert [sum(row) for row in confusion] == [6, 6, 6]  # every image, in the adapter's class order
    page = site["client"].get(f"/adapters/versions/{version.pk}/").content.decode()
    assert "On all 18 images" in page and f"{100 * version.metrics['tuned_accuracy']:.1f}%" in page
    assert AdapterEvent.objects.filter(action="evaluated", version=version).exists()


def test_evaluation_failure_is_shown_in_plain_words(site, tmp_path):
    """Same backbone id and weights hash, but embeddings of another size: the worker's check says so."""
    _upload(site, archive=_zip(write_adapter_dir(tmp_path / "b", embed_dim=16)))
    version = AdapterVersion.objects.get(source="upload")
    adapter_version_evaluate(version_id=version.pk)
    version.refresh_from_db()
    assert version.evaluation_status == "failed"
    assert "size 16" in version.evaluation_error and "size 32" in version.evaluation_error
    page = site["client"].get(f"/adapters/versions/{version.pk}/").content.decode()
    assert version.evaluation_error in unescape(page)


@pytest.mark.parametrize("card_overrides, expected", [
    ({"format_version": 99}, "format version 99"),
    ({"class_names": ["blue", "green", "rust"]}, "the dataset has classes the adapter does not know: red"),
    ({"backbone_id": "someones-private-clip"},
     "tuned on backbone 'someones-private-clip', which this installation does not have"),
    ({"backbone_sha256": "0" * 64}, "with other weights"),
])
def test_invalid_adapters_are_refused_with_a_clear_message_and_nothing_is_stored(site, tmp_path,
                                                                                 card_overrides, expected):
    response = _upload(site, archive=_zip(write_adapter_dir(tmp_path / "bad", **card_overrides)))
    assert response.status_code == 400
    assert expected in unescape(response.content.decode())
    assert not AdapterVersion.objects.filter(source="upload").exists()


def test_a_pickle_posing_as_adapter_weights_is_refused_without_being_run(site, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    adapter = write_adapter_dir(tmp_path / "evil")
    (adapter / "adapter.safetensors").write_bytes(pickle.dumps(Exploit()))
    response = _upload(site, archive=_zip(adapter))
    assert response.status_code == 400 and "damaged" in response.content.decode()
    assert not marker.exists()
    assert not AdapterVersion.objects.filter(source="upload").exists()


def test_wrong_files_get_plain_answers(site, tmp_path, settings):
    not_zip = _upload(site, archive=SimpleUploadedFile("adapter.zip", b"just text"))
    assert not_zip.status_code == 400 and "not a zip archive" in not_zip.content.decode()
    nothing = _upload(site)
    assert nothing.status_code == 400 and "or both adapter.safetensors and adapter.json" in nothing.content.decode()
    settings.ADAPTER_MAX_UPLOAD_BYTES = 1000
    too_big = _upload(site, archive=_zip(write_adapter_dir(tmp_path / "big")))
    assert too_big.status_code == 400 and "larger than the limit" in too_big.content.decode()
    assert not AdapterVersion.objects.filter(source="upload").exists()


def test_viewers_get_403_and_other_workspaces_404(site, make_user, tmp_path):
    viewer = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    assert viewer.get("/adapters/upload/").status_code == 403
    data = {"workspace": site["dataset"].dataset.workspace_id, "model_line": "scratches",
            "dataset_version": site["dataset"].pk, "archive": _zip(write_adapter_dir(tmp_path / "a"))}
    assert csrf_post(viewer, "/adapters/upload/", data).status_code == 403
    mallory = csrf_client(make_user("mallory", workspace="Other site"))
    data["archive"] = _zip(tmp_path / "a")
    assert csrf_post(mallory, "/adapters/upload/", data).status_code == 404
    assert not AdapterVersion.objects.filter(source="upload").exists()


@pytest.mark.parametrize("backbone_id", ["ViT-B-32@/etc/shadow", "ViT-L-14@/etc/hostname", "ViT-B-32:openai",
                                         "ViT-bigG-14:laion2b_s39b_b160k", "/etc/passwd"])
def test_a_card_cannot_choose_a_file_or_download_for_the_worker(site, tmp_path, backbone_id):
    """Only backbones this installation has: a card's path or download tag is refused at once, and the
    answer names neither the path nor anything read from it."""
    response = _upload(site, archive=_zip(write_adapter_dir(tmp_path / "bad", backbone_id=backbone_id,
                                                            backbone_sha256="")))
    import re

    assert response.status_code == 400
    refusal = unescape(re.search(r'id="upload-errors">(.*?)</div>', response.content.decode(), re.S).group(1))
    shown = backbone_id.split("@")[0] if "/" not in backbone_id.split("@")[0] else None
    assert refusal.startswith(f"This adapter was tuned on {f'backbone {shown!r}' if shown else 'a backbone'}, "
                              "which this installation does not have. Ask your administrator")
    assert "/etc/" not in refusal  # neither the path nor anything read from it
    assert not AdapterVersion.objects.filter(source="upload").exists()


def test_a_local_checkpoint_the_administrator_listed_is_matched_by_its_hash(site, tmp_path, settings):
    import hashlib

    checkpoint = tmp_path / "ours" / "ViT-B-16.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights of our local checkpoint")
    settings.TUNING_LOCAL_CHECKPOINTS = [f"ViT-B-16@{checkpoint}"]
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    response = _upload(site, archive=_zip(write_adapter_dir(tmp_path / "b", backbone_id="ViT-B-16@/their/clip/b16.pt",
                                                            backbone_sha256=sha)))
    assert response.status_code == 302
    assert AdapterVersion.objects.get(source="upload").backbone == f"ViT-B-16@{checkpoint}"  # our path, not theirs
    other = write_adapter_dir(tmp_path / "c", backbone_id="ViT-B-16@/their/clip/b16.pt", backbone_sha256="1" * 64)
    assert _upload(site, archive=_zip(other)).status_code == 400


def test_the_worker_never_loads_a_path_a_stored_card_names(site, tmp_path):
    """A version stored before uploads were checked: the evaluation refuses in words, touching no file."""
    version = make_version_for_job(make_finished_job("Press line", dataset_version=site["dataset"]), tmp_path,
                                   backbone_id="ViT-L-14@/etc/hostname", backbone_sha256="")
    version.evaluation_status, version.evaluation_dataset_version = "queued", site["dataset"]
    version.save(update_fields=["evaluation_status", "evaluation_dataset_version"])
    adapter_version_evaluate(version_id=version.pk)
    version.refresh_from_db()
    assert version.evaluation_status == "failed" and "not installed here" in version.evaluation_error
    assert "/etc/" not in version.evaluation_error


@pytest.mark.parametrize("overrides",
                         [{"method": "m" * 33}, {"class_names": [1, 2, 3]}, {"backbone_id": ["tiny-test"]}])
def test_a_card_with_fields_we_cannot_store_gets_a_plain_400(site, tmp_path, overrides):
    response = _upload(site, archive=_zip(write_adapter_dir(tmp_path / "bad", **overrides)))
    assert response.status_code == 400 and "adapter.json" in unescape(response.content.decode())
    assert not AdapterVersion.objects.filter(source="upload").exists()


def _with_tensors(directory, **changes):
    """The adapter's tensors changed as a crafted or hand-edited file would be."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(directory / "adapter.safetensors"))
    tensors.update(changes)
    save_file(tensors, str(directory / "adapter.safetensors"), metadata={"format_version": "3"})
    return directory


def _sparse_card(directory):
    import json

    card = json.loads((directory / "adapter.json").read_text())
    (directory / "adapter.json").write_text(json.dumps({**card, "adapt": "sparse", "format_version": 3}))
    return directory


def _text_delta(indices, values):
    import torch

    return {"vision_delta/text.class_context/indices": torch.tensor(indices, dtype=torch.long),
            "vision_delta/text.class_context/values": torch.tensor(values), "head_delta": torch.zeros(3, 32)}


@pytest.mark.parametrize("case, expected", [
    ("nan class embeddings", "class_embeddings holds values that are not finite"),
    ("wrong P shape", "does not fit the card's projection"),
    ("negative text index", "names positions outside the tensor it changes"),
    ("text index out of range", "names positions outside the tensor it changes"),
    ("nan text values", "holds values that are not finite"),
])
def test_malformed_tensors_are_refused_at_upload_in_words(site, tmp_path, case, expected):
    import torch

    directory = write_adapter_dir(tmp_path / "bad")
    changes = {
        "nan class embeddings": lambda: _with_tensors(directory, class_embeddings=torch.full((3, 32), float("nan"))),
        "wrong P shape": lambda: _with_tensors(directory, P=torch.zeros(5, 64)),
        "negative text index": lambda: _with_tensors(_sparse_card(directory), **_text_delta([0, -1], [0.1, 0.1])),
        "text index out of range": lambda: _with_tensors(_sparse_card(directory), **_text_delta([3 * 4 * 64], [0.1])),
        "nan text values": lambda: _with_tensors(_sparse_card(directory), **_text_delta([0, 1], [0.1, float("nan")])),
    }
    response = _upload(site, archive=_zip(changes[case]()))
    assert response.status_code == 400 and expected in unescape(response.content.decode())
    assert not AdapterVersion.objects.filter(source="upload").exists()


def test_a_stored_version_with_nan_tensors_gets_no_made_up_evaluation(site, tmp_path):
    """A version stored before tensors were checked: its evaluation fails in words instead of scoring NaN."""
    import torch

    from tests.webapp.factories import with_stored_tensors

    version = with_stored_tensors(site["v1"], class_embeddings=torch.full((3, 32), float("nan")))
    AdapterVersion.objects.filter(pk=version.pk).update(evaluation_status="queued",
                                                        evaluation_dataset_version=site["dataset"])
    adapter_version_evaluate(version_id=version.pk)
    version.refresh_from_db()
    assert version.evaluation_status == "failed" and "not finite" in version.evaluation_error
    assert "images" not in version.metrics  # no evaluation was recorded


def test_a_crafted_header_is_refused_at_once_and_no_refusal_names_a_server_path(site, tmp_path):
    """A safetensors header of 200,000 entries is refused from its declared length, and no refusal shows
    where the upload was unpacked on the server."""
    import re
    import tempfile

    directory = write_adapter_dir(tmp_path / "crafted")
    entries = ",".join(f'"t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(200_000))
    header = ("{" + entries + "}").encode()
    (directory / "adapter.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    crafted = _upload(site, archive=_zip(directory))
    cut_short = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'  # no data after the header
    (directory / "adapter.safetensors").write_bytes(len(cut_short).to_bytes(8, "little") + cut_short)
    damaged = _upload(site, archive=_zip(directory))
    bad_card = _upload(site, weights=SimpleUploadedFile("adapter.safetensors", b"12345678"),
                       card=SimpleUploadedFile("adapter.json", b"{not json"))
    assert "declares a table of contents of" in unescape(crafted.content.decode())
    for response in (crafted, damaged, bad_card):
        refusal = unescape(re.search(r'id="upload-errors">(.*?)</div>', response.content.decode(), re.S).group(1))
        assert response.status_code == 400 and refusal.strip(), refusal
        assert tempfile.gettempdir() not in refusal and "adapter-upload-" not in refusal, refusal
    assert not AdapterVersion.objects.filter(source="upload").exists()
