"""Small builders for the jobs tests: READY dataset versions written straight into storage, and jobs.

A READY version built here has the same shape the datasets app produces (normalised PNGs under
`<root>/<class>/<sha256>.png`, a manifest with hashes, class counts, a content hash), so the worker
materialises it with the datasets service exactly as it would an uploaded one.
"""

from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from webapp.accounts.models import Workspace
from webapp.datasets.ingest import content_hash_of
from webapp.datasets.models import Dataset, DatasetVersion

CLASS_COLOURS = {"red": 0, "green": 1, "blue": 2, "grey": None}


def class_image_png(class_index: int, i: int, size: int = 32) -> bytes:
    """A distinct image per (class, i): a colour per class plus a band that moves with i."""
    rng = np.random.default_rng([class_index, i])
    pixels = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    pixels[..., class_index % 3] += 150
    pixels[i % size : i % size + 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def make_ready_version(
    workspace: Workspace | str,
    *,
    name: str | None = None,
    classes: tuple[str, ...] = ("red", "green", "blue"),
    per_class: int | dict[str, int] = 8,
    user=None,
) -> DatasetVersion:
    if isinstance(workspace, str):
        workspace, _ = Workspace.objects.get_or_create(name=workspace)
    dataset = Dataset.objects.create(workspace=workspace, name=name or f"parts-{uuid.uuid4().hex[:6]}", created_by=user)
    version = DatasetVersion.objects.create(dataset=dataset, number=1, upload="uploads/test/none.zip", created_by=user)
    root = f"test-datasets/{version.pk}-{uuid.uuid4().hex[:6]}/images"
    counts = per_class if isinstance(per_class, dict) else {c: per_class for c in classes}
    files = []
    for k, label in enumerate(classes):
        for i in range(counts[label]):
            png = class_image_png(k, i)
            sha = hashlib.sha256(png).hexdigest()
            path = f"{label}/{sha}.png"
            default_storage.save(f"{root}/{path}", ContentFile(png))
            files.append({"path": path, "label": label, "sha256": sha, "original": f"{label}/{i}.png"})
    manifest = {"classes": sorted(classes), "files": files}
    version.root = root
    version.manifest = manifest
    version.class_counts = {label: counts[label] for label in sorted(classes)}
    version.content_hash = content_hash_of(manifest)
    version.status = DatasetVersion.Status.READY
    version.progress = 1.0
    version.save()
    return version


# Settings that make a real run take seconds on the tiny test backbone: a small search space
# (a CGE sweep costs 2 x intrinsic_dim queries), a small population, few stage-1 generations, and
# frequent evaluations so that the curves get points.
FAST_TUNING = {"intrinsic_dim": 8, "popsize": 4, "stage1_generations": 4, "patience": 0, "eval_every": 4,
               "mask_every": 20, "checkpoint_every": 10, "text_batch_size": 64}


def tiny_config(**overrides) -> dict:
    from tests.webapp.tiny_backbone import TINY_BACKBONE

    return {"backbone": TINY_BACKBONE, "budget": 300, "shots": 2, "seed": 0, **FAST_TUNING, **overrides}


def make_job(version: DatasetVersion, *, user=None, status: str = "queued", **config) -> "Job":
    """A job row as `job_create` would write it, without sending a message (the test decides where)."""
    import tuning

    from webapp.jobs.models import Job

    cfg = tuning.TuneConfig.from_dict(tiny_config(**config))
    return Job.objects.create(
        workspace=version.dataset.workspace, dataset_version=version, created_by=user,
        name=f"test job {uuid.uuid4().hex[:4]}", model_line_name=version.dataset.name,
        backbone=cfg.backbone, method=cfg.method, shots=cfg.shots, seed=cfg.seed, budget=cfg.budget,
        config=cfg.to_dict(), status=status,
    )


def csrf_client(user):
    """A logged-in test client that checks CSRF tokens like the real site does."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def post_with_csrf(client, url: str, data: dict | None = None):
    client.get("/jobs/")  # any page sets the CSRF cookie (the logout form), as in a browser
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
