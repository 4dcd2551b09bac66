"""The Celery app. Messages carry ids only; the database row is the source of truth."""

import os

from celery import Celery
from celery.signals import celeryd_init, worker_process_init, worker_ready, worker_shutdown, worker_shutting_down

from webapp.core.broker import transport_options_for

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

def gpu_queue_problem(queues: list[str]) -> str | None:
    """Only a GPU worker may take jobs that asked for a GPU: said at start, not with a job on a CPU."""
    from django.conf import settings

    if settings.TUNING_GPU_QUEUE in queues and settings.WORKER_KIND != "gpu":
        return (
            f"This worker consumes the GPU queue '{settings.TUNING_GPU_QUEUE}' but is not a GPU worker "
            f"(WORKER_KIND={settings.WORKER_KIND!r}). Set WORKER_KIND=gpu on a machine with a GPU, or leave "
            f"'{settings.TUNING_GPU_QUEUE}' out of its -Q list.")
    return None


def _queue_names(value) -> list[str]:
    if not value:
        return [app.conf.task_default_queue]
    names = value.split(",") if isinstance(value, str) else [n for item in value for n in str(item).split(",")]
    return [name.strip() for name in names if name.strip()]


@celeryd_init.connect
def _choose_transport_options(sender=None, conf=None, options=None, **kwargs):
    queues = _queue_names((options or {}).get("queues"))
    problem = gpu_queue_problem(queues)
    if problem:
        raise SystemExit(problem)  # a receiver's Exception would only be logged, and the worker start
    conf.broker_transport_options = transport_options_for(queues)
    _this_worker.update(hostname=str(sender), queues=queues)  # the pool processes forked next inherit it


_this_worker: dict = {}


def _is_tuning_worker(queues: list[str]) -> bool:
    from django.conf import settings

    tuning = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.TUNING_GPU_QUEUE}
    return bool(tuning & set(queues))


@worker_process_init.connect
def _prepare_tuning_process(**kwargs):
    """A tuning worker's pool process sets torch's threads to its share of the machine, then loads its
    backbone and measures itself beside the job loop (webapp/worker/threads.py, self_measure.py)."""
    if not _is_tuning_worker(_this_worker.get("queues", [])):
        return
    from webapp.worker.self_measure import self_measure_start
    from webapp.worker.threads import threads_set

    threads_set()
    self_measure_start(hostname=_this_worker["hostname"])


@worker_ready.connect
def _start_checkin(sender=None, **kwargs):
    from webapp.worker.checkin import checkin_start

    checkin_start(hostname=sender.hostname, queues=sorted(sender.app.amqp.queues.consume_from))


@worker_shutdown.connect
def _stop_checkin(sender=None, **kwargs):
    from webapp.worker.checkin import checkin_stop

    checkin_stop(hostname=getattr(sender, "hostname", str(sender)))


@worker_shutting_down.connect
def _hand_back_running_jobs(sender=None, sig=None, how=None, **kwargs):
    from webapp.worker.handback import forward_to_pool

    forward_to_pool(how)
