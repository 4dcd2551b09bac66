"""A tuning worker measures itself when it starts, in its pool process, beside the job loop: it loads the
backbone of WORKER_MEASURE_BACKBONE (the first job finds it loaded), then times image encoding, a job's
finishing, the query function and a short run of each family of methods
(webapp/integrations/tuning/speed.py). The figures go to its WorkerStatus row
(webapp.worker.status.worker_status_record_timings), so the form's estimates are right before any job has
finished.

A job never waits for the measurement beyond the backbone's loading (which it needs anyway): while a job
runs, the measurement stops and starts again after the job.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

LOAD_WAIT_SECONDS = 120  # a job waits this long at most for the backbone the measurement is loading

_job_running = threading.Event()
_job_done = threading.Event()
_loaded = threading.Event()
_loaded.set()  # nothing is loading until a measurement starts


def self_measure_start(*, hostname: str) -> None:
    backbone = settings.WORKER_MEASURE_BACKBONE
    if not backbone:
        return
    _loaded.clear()
    threading.Thread(target=_measure, args=(hostname, backbone), name="worker-self-measure", daemon=True).start()


@contextmanager
def job_running():
    """Around a job: waits for a backbone being loaded, and holds the measurement while the job runs."""
    _loaded.wait(LOAD_WAIT_SECONDS)
    _job_running.set()
    _job_done.clear()
    try:
        yield
    finally:
        _job_running.clear()
        _job_done.set()


def _measure(hostname: str, backbone: str) -> None:
    from webapp.integrations.backbones import load_plugins
    from webapp.integrations.tuning.speed import (
        measure_finishing,
        measure_images,
        measure_load,
        measure_methods,
        measured_prompt_tokens,
    )
    from webapp.worker.status import worker_status_backbone_loaded, worker_status_record_timings

    try:
        load_plugins()
        try:
            loaded, load_s = measure_load(backbone)
        finally:
            _loaded.set()
        worker_status_record_timings(hostname=hostname, backbone=backbone, load_s=load_s)
        worker_status_backbone_loaded(hostname=hostname, backbone=backbone)
        _wait_while_a_job_runs()
        worker_status_record_timings(hostname=hostname, backbone=backbone, image_s=measure_images(loaded),
                                     overhead_s=measure_finishing(loaded, backbone))
        lines = None
        while lines is None:  # a job stopped it: measured again after the job (it takes seconds)
            _wait_while_a_job_runs()
            lines = measure_methods(loaded, backbone, should_stop=_job_running.is_set)
        worker_status_record_timings(hostname=hostname, backbone=backbone, query_s=lines,
                                     prompt_tokens=measured_prompt_tokens())
        log.info("worker %s measured itself on %s", hostname, backbone)
    except Exception:  # noqa: BLE001 - estimates then use the defaults, and finished jobs measure
        log.warning("worker %s could not measure itself on %s", hostname, backbone, exc_info=True)
    finally:
        connections.close_all()


def _wait_while_a_job_runs() -> None:
    while _job_running.is_set():
        _job_done.wait(60)
