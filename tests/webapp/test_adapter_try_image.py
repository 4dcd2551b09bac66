"""Try images on an adapter version. The request stores what was sent within the
dataset upload's limits; the default-queue work (run here in-process, through Redis in the browser
test) classifies with `tuning.predict`, gives every bad file its own plain reason, keeps thumbnails
only its sender can see and drops the upload."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.webapp.factories import class_image_png, csrf_client, csrf_post, make_finished_job, make_version_for_job
from webapp.adapters.models import AdapterTrial
from webapp.adapters.trials import TRY_MAX_IMAGES, adapter_trial_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(make_user, tmp_path):
    alice = make_user("alice", workspace="Press line")
    return make_version_for_job(make_finished_job("Press line", user=alice), tmp_path)


def _jpeg(k: int) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(class_image_png(k, 0, size=48))).save(out, format="JPEG")
    return out.getvalue()


def _send(user, version, *files):
    return csrf_post(csrf_client(user), f"/adapters/versions/{version.pk}/try/", {"images": list(files)})


def test_images_are_classified_with_the_tuners_prediction_and_bad_files_get_plain_reasons(version, tmp_path,
                                                                                          django_capture_on_commit_callbacks):
    import tuning
    from tests.webapp.factories import write_adapter_dir

    alice = version.created_by or version.job.created_by
    good = [SimpleUploadedFile(f"part-{k}.jpg", _jpeg(k)) for k in range(2)]
    with django_capture_on_commit_callbacks(execute=False) as queued:  # the worker's part runs below, in-process
        response = _send(alice, version, *good, SimpleUploadedFile("notes.txt", b"hello"),
                         SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\n cut short"))
    assert response.status_code == 302 and response["Location"].endswith(f"/adapters/versions/{version.pk}/#try")
    assert len(queued) == 1
    trial = AdapterTrial.objects.get()
    uploads = [image["upload"] for image in trial.images]
    assert trial.status == "queued" and all(default_storage.exists(name) for name in uploads)

    trial = adapter_trial_run(trial_id=trial.pk)
    assert trial.status == "done", trial.error
    assert [image.get("error") for image in trial.images] == [
        None, None, "notes.txt: not an image file.",
        "broken.png: the file could not be read as an image (it is damaged or not really an image)."]
    adapter = tuning.load_adapter(write_adapter_dir(tmp_path / "same", class_names=tuple(version.class_names)))
    expected = tuning.predict(adapter, tuning.load_backbone("tiny-test"),
                              [Image.open(io.BytesIO(_jpeg(k))).convert("RGB") for k in range(2)])
    assert [(i["label"], i["confidence"]) for i in trial.images[:2]] == [
        (p.label, round(p.probabilities[p.index], 4)) for p in expected]
    assert not any(default_storage.exists(name) for name in uploads)  # the upload is dropped once classified

    page = csrf_client(alice).get(f"/adapters/versions/{version.pk}/").content.decode()
    assert f"<strong>{expected[0].label}</strong>" in page and "notes.txt: not an image file." in page


def test_too_many_images_say_the_limit(version, client):
    alice = version.job.created_by
    client.force_login(alice)
    files = [SimpleUploadedFile(f"p{i}.jpg", _jpeg(0)) for i in range(TRY_MAX_IMAGES + 1)]
    page = client.post(f"/adapters/versions/{version.pk}/try/", {"images": files}, follow=True).content.decode()
    assert f"try at most {TRY_MAX_IMAGES} at a time" in page
    assert "Choose one or more images to try." in client.post(f"/adapters/versions/{version.pk}/try/", {},
                                                             follow=True).content.decode()
    assert not AdapterTrial.objects.exists()


def test_a_request_over_the_upload_limit_is_refused_before_it_is_stored(version, client, settings):
    settings.DATASET_MAX_UPLOAD_BYTES = 1000
    client.force_login(version.job.created_by)
    page = client.post(f"/adapters/versions/{version.pk}/try/",
                       {"images": [SimpleUploadedFile("big.jpg", b"x" * 5000)]}, follow=True).content.decode()
    assert "larger than the limit" in page and not AdapterTrial.objects.exists()


def test_readers_cannot_try_and_other_workspaces_see_nothing(version, make_user, client):
    maria = make_user("maria", workspace="Press line", role="manager")
    bob = make_user("bob", workspace="Other plant")
    image = SimpleUploadedFile("p.jpg", _jpeg(0))
    assert _send(maria, version, image).status_code == 403
    assert _send(bob, version, SimpleUploadedFile("p.jpg", _jpeg(0))).status_code == 404
    assert not AdapterTrial.objects.exists()


def test_a_tried_images_thumbnail_is_shown_only_to_its_sender(version, make_user, client,
                                                              django_capture_on_commit_callbacks):
    alice = version.job.created_by
    colleague = make_user("carl", workspace="Press line")
    with django_capture_on_commit_callbacks(execute=False):
        _send(alice, version, SimpleUploadedFile("p.jpg", _jpeg(1)))
    trial = adapter_trial_run(trial_id=AdapterTrial.objects.get().pk)
    url = f"/adapters/trials/{trial.pk}/images/0.jpg"
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert client.get(f"/adapters/trials/{trial.pk}/images/1.jpg").status_code == 404
    client.force_login(colleague)
    assert client.get(url).status_code == 404


def test_a_stored_adapter_with_nan_tensors_ends_the_trial_in_words(version, django_capture_on_commit_callbacks):
    """A version stored before its tensors were checked (NaN class embeddings): trying an image ends with a
    reason in words instead of waiting for a worker for ever."""
    import torch

    from tests.webapp.factories import with_stored_tensors

    with_stored_tensors(version, class_embeddings=torch.full((3, 32), float("nan")))
    alice = version.job.created_by
    with django_capture_on_commit_callbacks(execute=False):
        _send(alice, version, SimpleUploadedFile("part.jpg", _jpeg(0)))
    trial = adapter_trial_run(trial_id=AdapterTrial.objects.get().pk)
    trial.refresh_from_db()
    assert trial.status == "failed" and "not finite" in trial.error, trial.error


def test_a_request_with_too_many_pixels_together_is_refused_in_words(version, settings):
    settings.TRY_MAX_REQUEST_PIXELS = 5_000_000
    big = io.BytesIO()
    Image.new("RGB", (2000, 1000), (200, 30, 30)).save(big, format="JPEG")
    page = csrf_post(csrf_client(version.job.created_by), f"/adapters/versions/{version.pk}/try/",
                     {"images": [SimpleUploadedFile(f"photo-{k}.jpg", big.getvalue()) for k in range(3)]},
                     follow=True).content.decode()
    assert "These images have 6 megapixels together; try at most 5 megapixels at a time" in page
    assert not AdapterTrial.objects.exists()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_large_photos_are_decoded_at_the_size_the_model_needs(version, django_capture_on_commit_callbacks, fmt):
    """A 3000 x 2000 photo is decoded with its shorter side between 512 and 1024 pixels (JPEG: straight from
    the file, at a fraction of its size), upright, and classified."""
    from webapp.datasets.images import decode_reduced

    photo = Image.new("RGB", (3000, 2000), (30, 160, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: turned 90 degrees, as phones write it
    out = io.BytesIO()
    photo.save(out, format=fmt, exif=exif.tobytes())
    decoded, thumbnail = decode_reduced(out.getvalue(), max_pixels=40_000_000, name_looks_like_image=True,
                                        shorter_side=512)
    assert decoded.mode == "RGB" and decoded.size[0] < decoded.size[1]  # upright: portrait
    assert 512 <= min(decoded.size) < 1024 and Image.open(io.BytesIO(thumbnail)).size[1] == 128

    with django_capture_on_commit_callbacks(execute=False):
        _send(version.job.created_by, version, SimpleUploadedFile(f"photo.{fmt.lower()}", out.getvalue()))
    trial = adapter_trial_run(trial_id=AdapterTrial.objects.get().pk)
    assert trial.status == "done" and trial.images[0]["label"] in version.class_names, trial.images
