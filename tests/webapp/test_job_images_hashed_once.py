"""Ingestion hashes every image once: a job's worker hands the manifest's hashes to the tuner's loader,
which then reads no image to hash it again (only to encode it)."""

import pytest

import tests.webapp.tiny_backbone  # noqa: F401  (registers the tiny backbone)
import tuning
import tuning.data
from tests.webapp.factories import make_ready_version, make_runnable_job
from webapp.datasets.services import dataset_version_image_hashes, dataset_version_materialize
from webapp.worker.execution import _job_inputs
from webapp.worker.fence import Fence

pytestmark = pytest.mark.django_db


def test_the_manifest_hashes_name_every_materialized_image(make_user, tmp_path):
    version = make_ready_version("Press line", per_class=3)
    folder = dataset_version_materialize(version=version, cache_dir=tmp_path / "datasets")
    hashes = dataset_version_image_hashes(version)
    on_disk = {p.relative_to(folder).as_posix(): tuning.data._sha256(p) for p in folder.rglob("*.png")}
    assert hashes == on_disk


def test_a_job_loads_its_images_without_hashing_them_again(make_user, tmp_path, settings, monkeypatch):
    settings.WORKER_CACHE_DIR = str(tmp_path / "cache")
    job = make_runnable_job(make_ready_version("Press line", per_class=4))
    hashed = []
    monkeypatch.setattr(tuning.data, "_sha256", lambda path: hashed.append(path) or "x")
    fence = Fence(job_id=job.pk, attempt=job.attempts)  # the attempt that would hold the job
    _, data, zero_shot = _job_inputs(job, tuning.TuneConfig.from_record(job.config), fence)
    assert hashed == []
    assert len(data.train) + len(data.val) + len(data.test) == 12 and zero_shot["confusion"]
