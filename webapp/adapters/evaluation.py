"""Evaluate an uploaded adapter on one of our dataset versions (runs in a worker, default queue).

An adapter tuned at another site has seen none of our images, so it is scored on every image of
the dataset version, next to the zero-shot prompts of the same backbone for comparison.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.conf import settings

from webapp.adapters import files
from webapp.adapters.models import AdapterVersion
from webapp.adapters.services import adapter_version_claim_evaluation, adapter_version_save_evaluation
from webapp.integrations.backbones import installed_backbone
from webapp.integrations.tuning import TuningError, backbone_for_card
from webapp.integrations.tuning import adapters as tuner

log = logging.getLogger(__name__)

Status = AdapterVersion.Evaluation


def align_classes(adapter_classes: list[str], dataset_classes: list[str], split):
    """Relabel the split in the adapter's class order; refuse when the class sets differ."""
    import torch

    missing = sorted(set(dataset_classes) - set(adapter_classes))
    extra = sorted(set(adapter_classes) - set(dataset_classes))
    if missing or extra:
        raise ValueError(class_mismatch_message(adapter_classes, dataset_classes))
    position = {name: i for i, name in enumerate(adapter_classes)}
    mapping = torch.tensor([position[name] for name in dataset_classes], dtype=torch.long)
    split.labels = mapping[split.labels]
    return split


def class_mismatch_message(adapter_classes, dataset_classes) -> str:
    missing = sorted(set(dataset_classes) - set(adapter_classes))
    extra = sorted(set(adapter_classes) - set(dataset_classes))
    parts = []
    if missing:
        parts.append(f"the dataset has classes the adapter does not know: {', '.join(missing)}")
    if extra:
        parts.append(f"the adapter has classes the dataset lacks: {', '.join(extra)}")
    return ("The adapter's classes do not match the dataset's: " + "; ".join(parts) +
            ". Evaluate it on a dataset with exactly the classes it was tuned for.")


def load_version(version: AdapterVersion, work_dir: Path):
    """(tuning.Adapter, backbone) of a stored version, on a worker; what evaluations and trials run on."""
    adapter = tuner.load_adapter(files.write_to_directory(version, work_dir / "adapter"))
    # A demo adapter runs on the demo version its sha256 names (tuning.BackboneError in words when none has it).
    wanted = backbone_for_card(version.backbone, version.backbone_sha256)
    # Checked again here: a version stored before uploads were checked may name any path or tag.
    if installed_backbone(version.backbone, version.backbone_sha256) != wanted:
        raise ValueError("This adapter's backbone is not installed here; ask your administrator to install it.")
    backbone = tuner.load_backbone(wanted)
    tuner.check_compatible(adapter, backbone)
    tuner.check_backbone_fit(adapter, backbone)
    return adapter, backbone


def _evaluate(version: AdapterVersion, work_dir: Path) -> dict:
    from webapp.datasets.services import dataset_version_image_hashes, dataset_version_materialize

    adapter, backbone = load_version(version, work_dir)
    dataset_version = version.evaluation_dataset_version
    cache = Path(settings.WORKER_CACHE_DIR)
    image_root = dataset_version_materialize(version=dataset_version, cache_dir=cache / "datasets")
    data = tuner.load_image_folder(image_root, backbone=backbone, shots=1, seed=0, cache_dir=cache / "features",
                                    hashes=dataset_version_image_hashes(dataset_version))
    split = align_classes(adapter.class_names, data.class_names, tuner.all_images(data))
    tuned = tuner.evaluate(backbone, split, adapter=adapter, class_names=adapter.class_names)
    zero_shot = tuner.evaluate(backbone, split, class_names=adapter.class_names)
    return {
        "tuned_accuracy": tuned.accuracy,
        "zero_shot_accuracy": zero_shot.accuracy,
        "images": len(split),
        "dataset_version_id": dataset_version.pk,
        "dataset_hash": dataset_version.content_hash,
        # The same shape as Job.evaluation, so that one report component draws both.
        "evaluation": {"class_names": adapter.class_names, "tuned": tuned.to_record(),
                       "zero_shot": zero_shot.to_record()},
    }


def adapter_version_evaluate(*, version_id: int) -> AdapterVersion | None:
    """Claim the evaluation (also when a lost worker left it running: it is safe to redo), run it,
    and record the result or an error in plain words."""
    if not adapter_version_claim_evaluation(version_id=version_id):
        return None
    version = (AdapterVersion.objects.select_related("model_line", "evaluation_dataset_version__dataset")
               .get(pk=version_id))
    if version.evaluation_dataset_version is None:
        return adapter_version_save_evaluation(
            version=version, status=Status.FAILED,
            error="The dataset version chosen for this evaluation was deleted. Upload the adapter again.")
    try:
        with tempfile.TemporaryDirectory(prefix="adapter-eval-") as tmp:
            metrics = _evaluate(version, Path(tmp))
    except (TuningError, ValueError, files.StoredFileDamaged) as exc:
        return adapter_version_save_evaluation(version=version, status=Status.FAILED, error=str(exc))
    except Exception:
        log.exception("evaluation of adapter version %s failed", version_id)
        return adapter_version_save_evaluation(
            version=version, status=Status.FAILED,
            error="The evaluation failed on our side. Try again; if it keeps failing, tell your administrator "
                  "(details are in the worker log).")
    return adapter_version_save_evaluation(version=version, status=Status.DONE, metrics=metrics)
