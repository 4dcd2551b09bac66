"""The worker runtime lives in webapp/worker/, but its Celery tasks keep the names they were first sent
under: messages already queued, the beat schedule and the web side (which sends them by name, never
importing the worker's modules) all name them so."""

from webapp import settings as product_settings
from webapp.celery import app
from webapp.core.broker import TUNING_TASK

FIRST_NAMES = {"webapp.jobs.tasks.run_tuning_job", "webapp.jobs.tasks.requeue_stale_jobs",
               "webapp.core.tasks.worker_checkin", "webapp.core.tasks.clean_up_leftovers"}


def _registered_by_a_worker() -> set[str]:
    app.loader.import_default_modules()  # what `celery worker` does at start: CELERY_IMPORTS, then autodiscovery
    return set(app.tasks)


def test_a_worker_registers_the_tasks_under_their_first_names():
    assert FIRST_NAMES <= _registered_by_a_worker()


def test_every_name_the_web_side_and_the_scheduler_send_is_registered():
    scheduled = {entry["task"] for entry in product_settings.CELERY_BEAT_SCHEDULE.values()}
    sent = {TUNING_TASK, *product_settings.CELERY_TASK_ROUTES}
    assert sent | scheduled <= _registered_by_a_worker()
