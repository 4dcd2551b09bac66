"""The test images a tuned adapter got wrong, kept with the job so that the report can show them.

A worker writes them at the end of a job: which image (by the sha256 its dataset version stores it
under), its true and predicted class and how sure the adapter was. The thumbnails are made there
too, once, while the images are on the worker's disk: a web request never decodes a full image.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)

MISTAKES_PER_CLASS = 24  # the most confident ones: a manager looks at a page of them, not at hundreds


def mistakes_of(evaluation, split, class_names: list[str]) -> list[dict]:
    """tuning.Evaluation on `split` -> [{"sha256", "true", "predicted", "confidence"}], class by class
    in class order, the most confident mistakes first. A materialised dataset version names each image
    file `<sha256>.jpg` or `<sha256>.png` (datasets.services.dataset_version_materialize)."""
    wrong = [
        {"sha256": Path(path).stem, "true": class_names[int(label)], "predicted": class_names[int(predicted)],
         "confidence": round(float(confidence), 4)}
        for path, label, predicted, confidence in zip(split.paths, split.labels.tolist(), evaluation.predictions,
                                                      evaluation.confidences)
        if int(label) != int(predicted)
    ]
    by_class = {name: [] for name in class_names}
    for mistake in sorted(wrong, key=lambda m: -m["confidence"]):
        if len(by_class[mistake["true"]]) < MISTAKES_PER_CLASS:
            by_class[mistake["true"]].append(mistake)
    return [m for name in class_names for m in by_class[name]]


def mistake_thumbnails_save(*, dataset_version_id: int, image_paths: list[str], mistakes: list[dict]) -> None:
    """Store a thumbnail of each mistake where the dataset version keeps its thumbnails, unless one is
    there already (ingestion made a few). Best effort: a job is not failed for a missing picture."""
    from webapp.datasets.images import thumbnail_jpeg
    from webapp.datasets.services import version_thumbnail_name

    wanted = {m["sha256"] for m in mistakes}
    for path in image_paths:
        sha = Path(path).stem
        if sha not in wanted:
            continue
        wanted.discard(sha)
        name = version_thumbnail_name(dataset_version_id, sha)
        try:
            if default_storage.exists(name):
                continue
            from PIL import Image

            with Image.open(path) as img:
                jpeg = thumbnail_jpeg(img.convert("RGB"))
            default_storage.save(name, ContentFile(jpeg))
        except Exception:  # noqa: BLE001 - the gallery then shows the caption without the picture
            log.exception("could not store the thumbnail of %s", path)


def mistakes_by_class(evaluation: dict | None, dataset_version=None) -> list[dict]:
    """For the report: [{"name", "images", "wrong", "mistakes"}] for each class with a recorded mistake.
    With the job's dataset version, each mistake also has its file name in the uploaded zip ("file"),
    so it can be found there, and whether an engineer marked it as mislabelled ("marked")."""
    if not evaluation:
        return []
    tuned = evaluation.get("tuned") or {}
    mistakes = tuned.get("mistakes") or []
    if dataset_version is not None:
        names = {f["sha256"]: f.get("original") or f["path"] for f in (dataset_version.manifest or {}).get("files", [])}
        marked = set(dataset_version.mislabelled.values_list("sha256", flat=True))
        mistakes = [{**m, "file": names.get(m["sha256"], ""), "marked": m["sha256"] in marked} for m in mistakes]
    names = list(evaluation.get("class_names") or [])
    confusion = tuned.get("confusion") or []
    groups = []
    for i, name in enumerate(names):
        shown = [m for m in mistakes if m.get("true") == name]
        if not shown:
            continue
        row = confusion[i] if i < len(confusion) else []
        groups.append({"name": name, "images": sum(row), "wrong": sum(row) - (row[i] if i < len(row) else 0),
                       "mistakes": shown})
    return groups


def recorded_mistake(evaluation: dict | None, sha256: str) -> bool:
    """Whether the job recorded this image as a mistake: the only images its report may show."""
    mistakes = ((evaluation or {}).get("tuned") or {}).get("mistakes") or []
    return any(m.get("sha256") == sha256 for m in mistakes)
