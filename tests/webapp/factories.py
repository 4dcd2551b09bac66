"""The builders of the web tests, in one place.

- Dataset versions: READY versions written straight into storage (`make_ready_version`).
- Jobs: `make_runnable_job`, a queued row with a tiny real config that a worker runs; `make_finished_job`,
  a row with the outcome a worker would have written (no worker runs); `bulk_finished_jobs`.
- Adapters: folders written with the real `tuning.save_adapter` (`write_adapter_dir`), versions of jobs.
- Clients: `csrf_client` (checks CSRF like the real site), `csrf_post`, `make_api_token`.

A READY version built here has the same shape the datasets app produces (normalised PNGs under
`<root>/<class>/<sha256>.png`, a manifest with hashes, class counts, a content hash), so the worker
materialises it with the datasets service exactly as it would an uploaded one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from pathlib import Path

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from webapp.accounts.models import Workspace
from webapp.datasets.ingest import content_hash_of
from webapp.datasets.models import Dataset, DatasetVersion
from webapp.jobs.models import Job

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

    # SharpZO unless a test says otherwise: the worker tests follow its two stages (auto has tests of its own).
    return {"method": "sharpzo", "backbone": TINY_BACKBONE, "budget": 300, "shots": 2, "seed": 0, **FAST_TUNING,
            **overrides}


def make_runnable_job(version: DatasetVersion, *, user=None, status: str = "queued", **config) -> Job:
    """A job row as `job_create` would write it, with a tiny real config a worker can run, without
    sending a message (the test decides where)."""
    import tuning

    cfg = tuning.TuneConfig.from_dict(tiny_config(**config))
    return Job.objects.create(
        workspace=version.dataset.workspace, dataset_version=version, created_by=user,
        name=f"test job {uuid.uuid4().hex[:4]}", model_line_name=version.dataset.name,
        backbone=cfg.backbone, method=cfg.method, shots=cfg.shots, seed=cfg.seed, budget=cfg.budget,
        config=cfg.to_dict(), status=status,
    )


TINY_EMBED_DIM = 32  # tests/tuning/tiny_models.TINY_CFG["embed_dim"]


def write_adapter_dir(directory: Path, *, class_names=("blue", "green", "red"), backbone_id: str = "tiny-test",
                      backbone_sha256: str = "tiny-causal-0", embed_dim: int = TINY_EMBED_DIM, seed: int = 0,
                      method: str = "sharpzo", **card_overrides) -> Path:
    """An adapter as `tuning.tune` builds it (random tensors: the tests check plumbing, not accuracy)."""
    import torch

    from tuning import Adapter, save_adapter
    from tuning.adapter import FORMAT_VERSION

    g = torch.Generator().manual_seed(seed)
    class_embeddings = torch.nn.functional.normalize(torch.randn(len(class_names), embed_dim, generator=g), dim=-1)
    card = {
        "format_version": FORMAT_VERSION,
        "backbone_id": backbone_id,
        "backbone_sha256": backbone_sha256,
        "class_names": list(class_names),
        "prompt_template": "[learned context: 'a photo of a'] {class}.",
        "ctx_init": "a photo of a",
        "projection": {"seed": seed, "shape": [4 * 64, 8]},
        "method": method,
        "config": {"method": method, "budget": 200, "seed": seed},
        "logit_scale": 100.0,
        "dataset_version": "f" * 64,
        "metrics": {"query_precision": "fp32"},
        **card_overrides,
    }
    adapter = Adapter(card, torch.randn(8, generator=g), torch.randn(4, 64, generator=g), class_embeddings)
    save_adapter(adapter, directory)
    return Path(directory)


def make_finished_job(workspace: Workspace | str, *, user=None, dataset_version=None,
                      status: str = Job.Status.COMPLETED,
             zero_shot: float | None = 0.61, tuned: float | None = 0.88, worker_seconds: float = 1440.0,
             finished_at: dt.datetime | None = None, **fields) -> Job:
    """A job with the outcome the worker would have written (no worker runs)."""
    if isinstance(workspace, str):
        workspace, _ = Workspace.objects.get_or_create(name=workspace)
    if dataset_version is None:
        dataset_version = make_ready_version(workspace, name=f"parts-{uuid.uuid4().hex[:6]}", per_class=4, user=user)
    finished = status in Job.FINISHED
    values = {
        "workspace": workspace, "dataset_version": dataset_version, "created_by": user,
        "backbone": "tiny-test", "method": "sharpzo", "shots": 2, "seed": 0, "budget": 2000,
        "config": {"method": "sharpzo", "budget": 2000, "shots": 2},
        "status": status, "queries_used": 1980 if finished else 0,
        "zero_shot_accuracy": zero_shot if finished else None, "tuned_accuracy": tuned if finished else None,
        "worker_seconds": worker_seconds if finished else 0.0, "peak_memory_bytes": 512 * 2**20,
        "finished_at": (finished_at or timezone.now()) if finished else None,
    }
    values.update(fields)
    return Job.objects.create(**values)


def make_version_for_job(job: Job, tmp_path: Path, **adapter_kwargs):
    from webapp.adapters.services import adapter_version_create_from_job

    classes = tuple(sorted(job.dataset_version.class_counts)) or ("blue", "green", "red")
    directory = write_adapter_dir(tmp_path / f"adapter-{job.pk}-{uuid.uuid4().hex[:6]}", class_names=classes,
                                  **adapter_kwargs)
    return adapter_version_create_from_job(job=job, adapter_dir=directory)


def with_stored_tensors(version, **changes):
    """The version's stored weights with some tensors changed, sha256 and size to match: a row stored
    before tensors were checked (versions are immutable, hence the queryset update)."""
    import hashlib

    from django.core.files.storage import default_storage
    from safetensors.torch import load, save

    from webapp.adapters.files import store_file
    from webapp.adapters.models import AdapterVersion

    with default_storage.open(version.weights_file, "rb") as handle:
        tensors = load(handle.read())
    data = save({**tensors, **changes}, metadata={"format_version": "1"})
    AdapterVersion.objects.filter(pk=version.pk).update(
        weights_file=store_file(version.weights_file, data), sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data))
    version.refresh_from_db()
    return version


def csrf_client(user):
    """A logged-in test client that enforces CSRF like a browser session, with its CSRF cookie set."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/status/")  # any page with a form sets the CSRF cookie
    return client


def csrf_post(client, url: str, data: dict | None = None, **extra):
    if "csrftoken" not in client.cookies:
        client.get("/status/")  # any page with a form sets the CSRF cookie, as in a browser
    token = client.cookies["csrftoken"].value
    # The token first, as a browser sends a form's hidden input: it must arrive before a refused file.
    return client.post(url, {"csrfmiddlewaretoken": token, **(data or {})}, **extra)


def make_api_token(user) -> str:
    from webapp.accounts.services import api_token_create

    _, key = api_token_create(user=user, name="line PC")
    return key


EVALUATION = {
    "class_names": ["blue", "green", "red"],
    "zero_shot": {"accuracy": 0.61, "per_class_accuracy": {"blue": 0.9, "green": 0.5, "red": 0.43},
                  "confusion": [[9, 1, 0], [4, 5, 1], [3, 1, 3]]},
    "tuned": {"accuracy": 0.88, "per_class_accuracy": {"blue": 1.0, "green": 0.8, "red": 0.86},
              "confusion": [[10, 0, 0], [1, 8, 1], [0, 1, 6]]},
}


def bulk_finished_jobs(workspace: Workspace, count: int, *, dataset_version=None,
                       with_versions: bool = True) -> list[Job]:
    """Many finished jobs (and their adapter versions) in a few queries, for the list-speed tests."""
    from webapp.adapters.models import AdapterVersion, ModelLine

    dataset_version = dataset_version or make_ready_version(workspace, per_class=3)
    now = timezone.now()
    jobs = Job.objects.bulk_create([
        Job(workspace=workspace, dataset_version=dataset_version, backbone="tiny-test",
            method=("sharpzo", "cmaes", "zosgd")[i % 3], shots=1, budget=1000 + i, status=Job.Status.COMPLETED,
            queries_used=1000 + i, zero_shot_accuracy=0.5, tuned_accuracy=0.5 + (i % 50) / 100,
            worker_seconds=60.0 + i, finished_at=now - dt.timedelta(minutes=i), name=f"bulk job {i}")
        for i in range(count)
    ])
    if with_versions:
        line, _ = ModelLine.objects.get_or_create(workspace=workspace, name="bulk line")
        AdapterVersion.objects.bulk_create([
            AdapterVersion(model_line=line, number=i + 1, job=job, weights_file="x", card_file="y", sha256="0" * 64,
                           size_bytes=100, backbone="tiny-test", method=job.method,
                           metrics={"tuned_accuracy": job.tuned_accuracy})
            for i, job in enumerate(jobs)
        ])
    return jobs
