"""Try an image: an engineer sends a few images from an adapter version's page and sees what the
version predicts for each, and how sure it is.

The request only stores the files as sent (within the dataset upload's limits) and queues the trial
on the default queue; the worker checks each image as dataset ingestion does (the same plain-words
problems), classifies the good ones with `tuning.predict` (the tuner's own prediction path), keeps a
thumbnail of each and deletes the upload.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from webapp.accounts.access import require_write
from webapp.adapters.models import AdapterTrial, AdapterVersion
from webapp.integrations.tuning import TuningError
from webapp.integrations.tuning import adapters as tuner

log = logging.getLogger(__name__)

TRY_MAX_IMAGES = 10  # a quick look, not a batch job: a dataset upload evaluates many images
RECENT_TRIALS = 5  # shown on the version page, the newest first
# Images are decoded with at least this many pixels on their shorter side: more than any CLIP input
# (224 or 336), so the prediction is the same, and a fraction of a 40-megapixel photo's memory.
DECODE_SIDE = 512


def trial_upload_limit() -> int:
    """Bytes one request may carry: every image at the dataset upload's per-file limit, within its total."""
    return min(settings.DATASET_MAX_UPLOAD_BYTES, TRY_MAX_IMAGES * settings.DATASET_MAX_FILE_BYTES)


def _storage_prefix(trial: AdapterTrial) -> str:
    return f"adapter-trials/{trial.version_id}/{trial.pk}"


@transaction.atomic
def adapter_trial_create(*, user, version: AdapterVersion, uploads: list) -> AdapterTrial:
    """Store the images as sent and queue their classification; ValidationError in plain words."""
    from webapp.adapters.tasks import try_adapter_images
    from webapp.datasets.errors import human_bytes

    require_write(user, version.model_line.workspace)
    if not uploads:
        raise ValidationError("Choose one or more images to try.")
    if len(uploads) > TRY_MAX_IMAGES:
        raise ValidationError(f"You sent {len(uploads)} images; try at most {TRY_MAX_IMAGES} at a time "
                              "(to measure accuracy on many, upload them as a dataset).")
    for upload in uploads:
        if upload.size > settings.DATASET_MAX_FILE_BYTES:
            raise ValidationError(f"{upload.name} is {human_bytes(upload.size)}, more than the limit of "
                                  f"{human_bytes(settings.DATASET_MAX_FILE_BYTES)} for one image.")
    pixels = sum(_declared_pixels(upload) for upload in uploads)
    if pixels > settings.TRY_MAX_REQUEST_PIXELS:
        raise ValidationError(f"These images have {pixels / 1e6:,.0f} megapixels together; try at most "
                              f"{settings.TRY_MAX_REQUEST_PIXELS / 1e6:,.0f} megapixels at a time (fewer images, "
                              "or smaller ones: the model looks at a few hundred pixels anyway).")
    trial = AdapterTrial.objects.create(version=version, created_by=user)
    images = []
    for upload in uploads:
        name = default_storage.save(f"{_storage_prefix(trial)}/upload-{uuid.uuid4().hex}", upload)
        images.append({"name": Path(upload.name or "image").name[:200], "upload": name})
    trial.images = images
    trial.save(update_fields=["images"])
    transaction.on_commit(lambda: try_adapter_images.delay(trial.pk))
    return trial


def _declared_pixels(upload) -> int:
    """Width x height from the image's header (nothing decoded); 0 for a file that is not one, which the
    worker then reports in words."""
    from PIL import Image

    try:
        with Image.open(upload) as img:
            return img.size[0] * img.size[1]
    except Exception:  # noqa: BLE001 - not an image, or a damaged header: the worker says which
        return 0
    finally:
        upload.seek(0)


def adapter_trials_recent(*, version: AdapterVersion, user) -> list[AdapterTrial]:
    return list(version.trials.filter(created_by=user)[:RECENT_TRIALS])


def adapter_trial_thumbnail(*, user, pk: int, index: int) -> str:
    """Storage name of one tried image's thumbnail: only the user's own trials, in their workspaces."""
    from django.http import Http404

    from webapp.accounts.access import get_for_user

    trial, _ = get_for_user(AdapterTrial.objects.filter(created_by=user), user,
                         workspace_path="version__model_line__workspace", pk=pk)
    if not 0 <= index < len(trial.images) or not trial.images[index].get("thumbnail"):
        raise Http404("Not found.")
    return trial.images[index]["thumbnail"]


# ------------------------------------------------------------------------------------------ worker

def adapter_trial_run(*, trial_id: int) -> AdapterTrial | None:
    """Classify a queued trial's images (default queue). Each bad image gets its own reason; a trial
    fails as a whole only when the adapter cannot be run here."""
    from webapp.adapters import files
    from webapp.adapters.evaluation import load_version

    trial = AdapterTrial.objects.select_related("version").filter(pk=trial_id,
                                                                  status=AdapterTrial.Status.QUEUED).first()
    if trial is None:
        return None
    images = trial.images
    try:
        images = [_checked(trial, image) for image in trial.images]
        good = [image for image in images if "error" not in image]
        if good:
            with tempfile.TemporaryDirectory(prefix="adapter-trial-") as tmp:
                adapter, backbone = load_version(trial.version, Path(tmp))
                for image, prediction in zip(good, tuner.predict(adapter, backbone, [i.pop("pil") for i in good])):
                    image["label"] = prediction.label
                    image["confidence"] = round(prediction.probabilities[prediction.index], 4)
        trial.status = AdapterTrial.Status.DONE
    except (TuningError, ValueError, files.StoredFileDamaged) as exc:
        trial.status, trial.error = AdapterTrial.Status.FAILED, str(exc)
    except Exception:
        log.exception("trial %s of adapter version %s failed", trial.pk, trial.version_id)
        trial.status = AdapterTrial.Status.FAILED
        trial.error = ("Trying the images failed on our side. Try again; if it keeps failing, tell your "
                       "administrator (details are in the worker log).")
    for image in images:
        image.pop("pil", None)
        if image.get("upload"):
            with contextlib.suppress(OSError):  # the clean-up removes what storage kept now
                default_storage.delete(image.pop("upload"))
    trial.images = images
    try:
        trial.save(update_fields=["status", "images", "error"])
    except Exception:  # noqa: BLE001 - a trial whose answer cannot be stored must not stay "waiting for a worker"
        log.exception("trial %s of adapter version %s: its result could not be stored", trial.pk, trial.version_id)
        AdapterTrial.objects.filter(pk=trial.pk).update(status=AdapterTrial.Status.FAILED, error=(
            "The result of trying the images could not be stored. Try again; if it keeps failing, tell your "
            "administrator (details are in the worker log)."))
    return trial


def _checked(trial: AdapterTrial, image: dict) -> dict:
    """The image checked as the dataset upload checks it and decoded at the size the model needs
    (decode_reduced), with its thumbnail stored; or its problem."""
    from webapp.datasets.images import IMAGE_SUFFIXES, ImageProblem, decode_reduced

    try:
        with default_storage.open(image["upload"], "rb") as handle:
            data = handle.read(settings.DATASET_MAX_FILE_BYTES + 1)
        pil, thumbnail = decode_reduced(data, max_pixels=settings.DATASET_MAX_IMAGE_PIXELS, shorter_side=DECODE_SIDE,
                                        name_looks_like_image=Path(image["name"]).suffix.lower() in IMAGE_SUFFIXES)
    except ImageProblem as exc:
        return {**image, "error": f"{image['name']}: {exc}."}
    name = f"{_storage_prefix(trial)}/{hashlib.sha256(data).hexdigest()}.jpg"
    name = default_storage.save(name, ContentFile(thumbnail))
    return {**image, "thumbnail": name, "pil": pil}
