"""One attempt at a tuning job, on a worker: claim, load, tune with callbacks, evaluate, store.

Read top to bottom in `_run`. Everything the attempt writes to the job row goes through its Fence,
so an attempt that lost its job (requeued after a silence, or cancelled while queued) writes nothing.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from webapp.datasets.services import dataset_version_image_hashes, dataset_version_materialize
from webapp.integrations.backbones import load_plugins
from webapp.integrations.tuning import TuneConfig, adapters, runs
from webapp.jobs.mistakes import mistake_thumbnails_save, mistakes_of
from webapp.jobs.models import Job
from webapp.worker import handback, self_measure
from webapp.worker.checkpoints import StorageCheckpoint, checkpoint_delete
from webapp.worker.fence import (
    Fence,
    counted_attempts,
    job_claim,
    job_fail,
    job_finish,
    job_hand_back,
    job_log_append,
    job_retry,
)
from webapp.worker.outage import through_outages
from webapp.worker.pulse import Pulse, StopCheck
from webapp.worker.reasons import is_transient, plain_reason
from webapp.worker.sink import MetricSink
from webapp.worker.startup import Startup
from webapp.worker.status import worker_status_backbone_loaded
from webapp.worker.timings import record_job_timings

log = logging.getLogger(__name__)


def job_execute(*, job_id: int, worker: str) -> str:
    """Run the job if this delivery can claim it. Returns what happened, for the worker's log."""
    began = time.perf_counter()  # the job's wall time, from its claim: what the time model estimates
    fence = job_claim(job_id=job_id, worker=worker)
    if fence is None:
        return "not claimed (already taken, finished or cancelled)"
    job_log_append(fence=fence, text=f"[{_now()}] attempt {fence.attempt} started on {worker}")
    sink = MetricSink(fence)
    pulse = Pulse(fence, sink)
    try:
        with handback.listening(), pulse, self_measure.job_running():
            return _run(fence, sink, pulse, began)
    except Exception as exc:  # noqa: BLE001 - every failure ends as FAILED with a plain reason
        if fence.lost:
            return "lost the job to another attempt"
        log.exception("job %s failed", job_id)
        if isinstance(exc, (OperationalError, InterfaceError)):
            connection.close()  # the failing write below needs a fresh connection, not the dead one
        try:
            sink.flush()  # keep the curve up to the failure
        except Exception:  # noqa: BLE001
            log.exception("job %s: could not store its last metric points", job_id)
        detail = f"[{_now()}] attempt {fence.attempt} failed on {worker}:\n{traceback.format_exc()}"
        if is_transient(exc) and _counted_attempts(fence) < settings.JOB_MAX_ATTEMPTS:
            if job_retry(fence=fence, detail=detail + "  Requeued; it resumes from its last checkpoint.",
                         worker_seconds=pulse.unaccounted_seconds()):
                return "requeued after a transient error"
        if _keep_best_so_far(fence, pulse, reason=plain_reason(exc), detail=detail):
            checkpoint_delete(job_id)
            return "failed; the best adapter so far was kept"
        if job_fail(fence=fence, reason=plain_reason(exc), detail=detail, worker_seconds=pulse.unaccounted_seconds()):
            checkpoint_delete(job_id)
        return "failed"


class _ReadOnlyCheckpoint:
    def __init__(self, checkpoint: StorageCheckpoint):
        self.load = checkpoint.load

    def save(self, state: dict) -> None:
        pass


def _keep_best_so_far(fence: Fence, pulse: Pulse, *, reason: str, detail: str) -> bool:
    """A job that fails for good after a checkpoint keeps the best adapter found until then: the tuner,
    resumed from the checkpoint and told to stop at once, returns it without a new query. False when
    there is no checkpoint or this fails too (then the job fails as before)."""
    try:
        job = Job.objects.select_related("dataset_version__dataset").get(pk=fence.job_id)
        if not job.checkpoint:
            return False
        config = TuneConfig.from_record(job.config)
        backbone, data, zero_shot = _job_inputs(job, config, fence)
        result = runs.tune(config, data, should_stop=lambda: True, backbone=backbone,
                             checkpoint=_ReadOnlyCheckpoint(StorageCheckpoint(fence)))
        job_log_append(fence=fence, text=detail)
        return _finish(fence, pulse, job, backbone, data, result, zero_shot, failure=reason) is not None
    except Exception:  # noqa: BLE001
        log.exception("job %s: could not keep the best adapter so far", fence.job_id)
        return False


def _run(fence: Fence, sink: MetricSink, pulse: Pulse, began: float) -> str:
    load_plugins()
    job = Job.objects.select_related("dataset_version__dataset").get(pk=fence.job_id)
    config = TuneConfig.from_record(job.config)

    startup = Startup(fence)
    backbone, data, zero_shot = _job_inputs(job, config, fence, startup)
    checkpoint = StorageCheckpoint(fence, before_save=sink.flush)
    result = runs.tune(config, data, on_metrics=sink.add, should_stop=StopCheck(fence), checkpoint=checkpoint,
                       backbone=backbone)
    sink.flush()
    if fence.lost:
        return "lost the job to another attempt"
    if result.stopped and handback.requested() and not _cancel_requested(fence):
        handed_back = job_hand_back(fence=fence, queries=result.queries_used,
                                    worker_seconds=pulse.unaccounted_seconds())
        return "handed back to the queue (worker shutting down)" if handed_back else "lost the job to another attempt"
    if checkpoint.loaded_from:
        first = sink.first_received or (None, None)
        job_log_append(fence=fence, text=f"[{_now()}] resumed from a checkpoint at {checkpoint.resumed_queries} "
                                         f"queries; the tuner went on at {first[0]} queries (step {first[1]})")

    finished = _finish(fence, pulse, job, backbone, data, result, zero_shot)
    if finished is None:
        return "lost the job to another attempt"
    try:  # housekeeping: the job has its result already, a hiccup here must not report it as failed
        checkpoint_delete(job.pk)
        record_job_timings(job=job, config=config, data=data, result=result, startup=startup,
                           resumed=bool(checkpoint.loaded_from), wall_s=time.perf_counter() - began)
    except Exception:  # noqa: BLE001
        log.exception("job %s: cleanup after the result failed", job.pk)
    return finished.status


def _counted_attempts(fence: Fence) -> int:
    handbacks = Job.objects.values_list("handbacks", flat=True).get(pk=fence.job_id)
    return counted_attempts(attempts=fence.attempt, handbacks=handbacks)


def _cancel_requested(fence: Fence) -> bool:
    return Job.objects.filter(pk=fence.job_id, cancel_requested=True).exists()


def _job_inputs(job: Job, config, fence: Fence, startup: Startup | None = None):
    """The job's backbone (cached per worker process), its few-shot data (image features cached on
    disk) and the zero-shot evaluation on its test split; `startup` names and times each step."""
    startup = startup or Startup(None)
    cache = Path(settings.WORKER_CACHE_DIR)
    with startup.step("loading"):
        backbone = adapters.load_backbone(config.backbone, device=config.device)
    if job.worker:
        worker_status_backbone_loaded(hostname=job.worker, backbone=config.backbone)
    folder = through_outages(
        lambda: dataset_version_materialize(version=job.dataset_version, cache_dir=cache / "datasets"),
        fence=fence, what="The dataset's images", doing="read")
    with startup.step("encoding", total=sum((job.dataset_version.class_counts or {}).values())):
        data = adapters.load_image_folder(folder, backbone=backbone, shots=config.shots, seed=config.seed,
                                          cache_dir=cache / "features", on_progress=startup.progress,
                                          hashes=dataset_version_image_hashes(job.dataset_version))
    with startup.step("zeroshot"):
        zero_shot = adapters.evaluate(backbone, data.test, class_names=data.class_names).to_record()
    return backbone, data, zero_shot


def _finish(fence: Fence, pulse: Pulse, job: Job, backbone, data, result, zero_shot: dict,
            failure: str = "") -> Job | None:
    """Evaluate the tuned adapter on the test split, then store it and finish the job (None: the job
    was lost to another attempt). The stores ride out a storage or database outage (through_outages):
    the result is computed once and kept until it is written."""
    evaluation = adapters.evaluate(backbone, data.test, adapter=result.adapter, class_names=data.class_names)
    tuned = evaluation.to_record()
    tuned["mistakes"] = mistakes_of(evaluation, data.test, data.class_names)
    through_outages(lambda: mistake_thumbnails_save(dataset_version_id=job.dataset_version_id,
                                                    image_paths=data.test.paths, mistakes=tuned["mistakes"]),
                    fence=fence, what="The pictures of the misclassified images")
    adapter_dir = Path(settings.WORKER_CACHE_DIR) / "jobs" / str(job.pk) / f"adapter-attempt-{fence.attempt}"
    shutil.rmtree(adapter_dir, ignore_errors=True)
    runs.save_adapter(result.adapter, adapter_dir)
    try:
        spent = 0.0

        def store() -> Job | None:
            nonlocal spent  # the seconds of a try that failed are counted by the one that succeeds
            spent += pulse.unaccounted_seconds()
            return job_finish(fence=fence, result=result, zero_shot=zero_shot, tuned=tuned,
                              class_names=data.class_names,
                              adapter_dir=adapter_dir, worker_seconds=spent, failure=failure)

        return through_outages(store, fence=fence, what="The tuned adapter")
    finally:
        shutil.rmtree(adapter_dir, ignore_errors=True)


def _now() -> str:
    return timezone.now().strftime("%Y-%m-%d %H:%M:%S")
