"""Thin tasks on the `default` queue: they carry a version id and call the services. Each delivery
first claims the version (so a repeated or resent message does nothing while another attempt
imports it) and beats while it works, so the reaper can tell a killed worker from a slow one."""

from celery import shared_task
from django.conf import settings

from webapp.datasets import services
from webapp.datasets.recovery import IngestPulse, ingestion_claim, ingestions_recover


def _claimed(version_id: int, work) -> str:
    fence = ingestion_claim(version_id)
    if fence is None:
        return "not claimed (another attempt holds it, or it is done)"
    with IngestPulse(fence):
        version = work(version_id=version_id, fence=fence)
    return "lost to another attempt" if fence.lost else version.status


@shared_task(name="webapp.datasets.tasks.ingest_dataset_version", acks_late=True)
def ingest_dataset_version(version_id: int) -> str:
    return _claimed(version_id, services.dataset_version_ingest)


@shared_task(name="webapp.datasets.tasks.build_demo_dataset", acks_late=True)
def build_demo_dataset(version_id: int) -> str:
    return _claimed(version_id, lambda **kw: services.dataset_demo_build(work_dir=settings.WORKER_CACHE_DIR, **kw))


@shared_task(name="webapp.datasets.tasks.recover_ingestions")
def recover_ingestions() -> dict:
    report = ingestions_recover()
    return {"requeued": report.requeued, "failed": report.failed, "resent": report.resent}
