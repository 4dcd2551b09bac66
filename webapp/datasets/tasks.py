"""Thin tasks on the `default` queue: they carry a version id and call the services."""

from celery import shared_task
from django.conf import settings

from webapp.datasets import services


@shared_task(name="webapp.datasets.tasks.ingest_dataset_version")
def ingest_dataset_version(version_id: int) -> str:
    version = services.dataset_version_ingest(version_id=version_id)
    return version.status if version else "missing"


@shared_task(name="webapp.datasets.tasks.build_demo_dataset")
def build_demo_dataset(version_id: int) -> str:
    version = services.dataset_demo_build(version_id=version_id, work_dir=settings.WORKER_CACHE_DIR)
    return version.status if version else "missing"
