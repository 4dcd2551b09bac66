"""Which queue a tuning job's message goes to. Every tuning worker consumes `tuning`; GPU workers also
consume the GPU queue (`TUNING_GPU_QUEUE`, `tuning-gpu`), so a job that asks for a GPU is only ever
taken by a GPU worker, while the others go to whichever worker, GPU or CPU, is free first."""

from django.conf import settings


def tuning_queue() -> str:
    return settings.CELERY_TASK_ROUTES["webapp.jobs.tasks.run_tuning_job"]["queue"]


def tuning_queues() -> list[str]:
    return [tuning_queue(), settings.TUNING_GPU_QUEUE]


def job_queue(*, needs_gpu: bool) -> str:
    return settings.TUNING_GPU_QUEUE if needs_gpu else tuning_queue()
