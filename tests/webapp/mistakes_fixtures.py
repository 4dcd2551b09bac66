"""A finished job whose evaluation records mistakes on real images of its dataset version, with the
thumbnails written by the worker's own function (no worker runs)."""

from __future__ import annotations

import copy

from django.core.files.storage import default_storage

from tests.webapp.factories import EVALUATION, make_finished_job
from webapp.jobs.mistakes import mistake_thumbnails_save


def job_with_mistakes(workspace: str, *, user=None, **fields):
    """Job over a 3 x 4 image dataset (blue, green, red): blue image 0 taken for red (97% sure), blue
    image 1 for green (55%), red image 0 for green (80%). Returns (job, {sha: (true, predicted)})."""
    job = make_finished_job(workspace, user=user, **fields)
    version = job.dataset_version
    files = {label: [f for f in version.manifest["files"] if f["label"] == label] for label in ("blue", "green", "red")}
    picked = [(files["blue"][1], "green", 0.55), (files["blue"][0], "red", 0.97), (files["red"][0], "green", 0.8)]
    mistakes = [{"sha256": f["sha256"], "true": f["label"], "predicted": predicted, "confidence": confidence}
                for f, predicted, confidence in sorted(picked, key=lambda p: (p[0]["label"], -p[2]))]
    evaluation = copy.deepcopy(EVALUATION)
    evaluation["tuned"]["confusion"] = [[2, 1, 1], [0, 4, 0], [0, 1, 3]]
    evaluation["tuned"]["mistakes"] = mistakes
    job.evaluation = evaluation
    job.save(update_fields=["evaluation"])
    local_paths = [default_storage.path(f"{version.root}/{f['path']}") for f in version.manifest["files"]]
    mistake_thumbnails_save(dataset_version_id=version.pk, image_paths=local_paths, mistakes=mistakes)
    return job, {m["sha256"]: (m["true"], m["predicted"]) for m in mistakes}
