"""Reads for jobs: lists, one job, its queue position, progress and ETA, and its metric points."""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, Min, QuerySet, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from webapp.accounts.access import get_for_user, visible
from webapp.core.broker import tuning_jobs_with_a_message
from webapp.core.cost import worker_cost
from webapp.core.numbers import human_duration
from webapp.integrations.tuning import (
    NO_QUERY_METHODS,
    SHARPNESS_METHODS,
    ConfigError,
    TuneConfig,
    method_label,
    queries_to_spend,
)
from webapp.jobs import curve_shape
from webapp.jobs.estimates import job_time_of
from webapp.jobs.health import queue_has_live_worker
from webapp.jobs.models import Job, MetricPoint
from webapp.jobs.quality import job_quality
from webapp.jobs.queue_outlook import job_queue_others_ahead, job_start_in_seconds, job_workload, jobs_ahead
from webapp.jobs.queues import job_queue

POINT_COLUMNS = ("seq", *MetricPoint.FIELDS)


def job_list(*, user) -> QuerySet[Job]:
    return (visible(Job.objects.all(), user).select_related("workspace", "dataset_version__dataset")
            .order_by("-queued_at", "-pk"))


def job_get(*, user, pk: int, write: bool = False) -> tuple[Job, bool]:
    """The one lookup of a job by id, as (job, can_write): 404 outside the user's workspaces, 403 on
    writes by readers."""
    return get_for_user(Job.objects.select_related("workspace", "dataset_version__dataset"), user, write=write, pk=pk)


def job_queue_position(job: Job) -> int | None:
    """1 = next to start. The tuning queue is shared by all workspaces, so everyone's jobs count
    (as a number only)."""
    if job.status != Job.Status.QUEUED:
        return None
    return jobs_ahead(job).count() + 1


def queue_places(jobs: list[Job]) -> dict[int, tuple[int, int]]:
    """(job_queue_position, job_queue_others_ahead) of every queued job of a list, from one read of the
    whole queue (ordered as job_queue_position counts) instead of two counts per job."""
    wanted = {job.pk for job in jobs if job.status == Job.Status.QUEUED}
    if not wanted:
        return {}
    places: dict[int, tuple[int, int]] = {}
    seen_per_workspace: dict[int, int] = {}
    queue = Job.objects.filter(status=Job.Status.QUEUED).order_by("queued_at", "pk").values_list("pk", "workspace_id")
    for index, (pk, workspace_id) in enumerate(queue):
        same = seen_per_workspace.get(workspace_id, 0)
        if pk in wanted:
            places[pk] = (index + 1, index - same)
        seen_per_workspace[workspace_id] = same + 1
    return places


def job_worker_silent(job: Job, now=None) -> bool:
    """A running job whose worker has not been heard from for longer than the stale limit: the page
    says so instead of showing it as running (the reaper will requeue it shortly)."""
    if job.status != Job.Status.RUNNING or job.heartbeat_at is None:
        return False
    now = now or timezone.now()
    return now - job.heartbeat_at > timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)


def job_waits_for_a_worker(job: Job) -> bool:
    """A queued job that no live worker can take (none consumes its queue: the tuning queue, or the GPU
    queue for a job that asked for a GPU): the page says so instead of a queue position that never moves."""
    return job.status == Job.Status.QUEUED and not queue_has_live_worker(job_queue(needs_gpu=job.needs_gpu))


# A job's message is sent once its row is committed: one queued this recently may have it on its way.
MESSAGE_ON_ITS_WAY_SECONDS = 10


def job_message_lost_resend_in(job: Job, now=None) -> float | None:
    """A queued job whose message is neither in its queue nor held by a worker was lost by the broker (a
    Redis restarted without persistence, or emptied): seconds until the scheduler sends it again, at most
    JOB_RESEND_AFTER_SECONDS after queueing plus one scheduler pass. None while its message is there, when
    the broker cannot be read, or for a job that is not queued."""
    if job.status != Job.Status.QUEUED or job.queued_at is None:
        return None
    now = now or timezone.now()
    queued_for = (now - job.queued_at).total_seconds()
    if queued_for < MESSAGE_ON_ITS_WAY_SECONDS:
        return None
    present = tuning_jobs_with_a_message(job_queue(needs_gpu=job.needs_gpu))
    if present is None or job.pk in present:
        return None
    return max(0.0, settings.JOB_RESEND_AFTER_SECONDS - queued_for) + settings.JOB_REAPER_INTERVAL_SECONDS


ETA_WINDOW_POINTS = 20  # the rate over the latest points follows the stage the job is in now


def job_eta_seconds(job: Job, now=None) -> float | None:
    """A running job's time left, from its measured progress: the queries its method will still spend at its own
    recent rate (its own clock, resumes included), over its last ETA_WINDOW_POINTS points, since the stages
    spend queries at different speeds; over the whole run while it has fewer points; blended with the model's
    figure until a fifth of the budget is spent (blended_seconds_per_query). Then the finishing (evaluation,
    storing) by the time model. Before it has a rate of its own (start-up, the zero-shot point, a method that
    spends no query) it is the model's time less the time since it started. The method's run beyond its queries
    (the cheaper candidates weighed against its adapter, after its last query) is left until the queries are
    spent and after: without it a short job said 0 s with seconds to go. Points arrive only at evaluations
    (minutes apart on a slow worker), so the time left counts down from when the latest ones were stored: it
    moves every time the page asks. 0 once it should be done."""
    if job.status != Job.Status.RUNNING:
        return None
    recent = list(MetricPoint.objects.filter(job=job).order_by("-seq").values_list("queries", "elapsed_s")
                  [:ETA_WINDOW_POINTS + 1])
    return _eta_from(job, recent, now)


def job_etas(jobs: list[Job]) -> dict[int, float | None]:
    """job_eta_seconds for every running job of a list, in one query (the latest points of each job)."""
    running = [job for job in jobs if job.status == Job.Status.RUNNING]
    if not running:
        return {}
    latest = (MetricPoint.objects.filter(job__in=running)
              .annotate(rank=Window(RowNumber(), partition_by=F("job_id"), order_by=F("seq").desc()))
              .filter(rank__lte=ETA_WINDOW_POINTS + 1).order_by("job_id", "-seq")
              .values_list("job_id", "queries", "elapsed_s"))
    recent: dict[int, list[tuple[int, float]]] = {}
    for job_id, queries, elapsed in latest:
        recent.setdefault(job_id, []).append((queries, elapsed))
    models: dict = {}  # one look at the workers' figures per backbone and workload, not one per row
    return {job.pk: _eta_from(job, recent.get(job.pk, []), models=models) for job in running}


def _eta_from(job: Job, recent: list[tuple[int, float]], now=None, models: dict | None = None) -> float:
    """`recent`: (queries, elapsed_s) of the job's latest points, newest first. `models` keeps the time
    model of each (backbone, workload) already looked up."""
    now = now or timezone.now()
    key = (job.backbone, job_workload(job))
    models = {} if models is None else models
    if key not in models:
        models[key] = job_time_of(backbone=job.backbone, workload=key[1])
    model = models[key]
    spend = queries_to_spend(job.method, job.budget)
    if not recent or recent[0][0] <= 1 or recent[0][1] <= 0 or job.queries_used >= spend:
        since_start = (now - job.started_at).total_seconds() if job.started_at else 0.0
        if job.queries_used >= spend:  # queries spent: finishing is left, and the whole run of a method that
            # spends one query only (a linear probe fits after its zero-shot point)
            left = model.finishing_s + (model.tuning_s if spend <= 1 else model.run_s)
            return max(0.0, left - job_seconds_since_progress(job, now))
        return max(0.0, model.seconds - since_start)
    (last_q, last_t), (first_q, first_t) = recent[0], recent[-1]
    if len(recent) > ETA_WINDOW_POINTS and last_q > first_q and last_t > first_t:
        measured = (last_t - first_t) / (last_q - first_q)
    else:
        measured = last_t / last_q
    per_query = blended_seconds_per_query(measured, model.query_s, spent=job.queries_used, spend=spend)
    left = (spend - job.queries_used) * per_query + model.run_s + model.finishing_s
    return max(0.0, left - job_seconds_since_progress(job, now))


ETA_MODEL_UNTIL = 0.2  # the share of its budget after which a job's time left is its own pace alone


def blended_seconds_per_query(measured: float, model: float, *, spent: int, spend: int) -> float:
    """A query's seconds for the rest of a job: its own pace so far, blended with the model's figure while
    little of the budget is spent (the first points are few, and the first generations lack work the later
    ones do), the model's weight falling to 0 at ETA_MODEL_UNTIL of the budget."""
    own = min(1.0, spent / (ETA_MODEL_UNTIL * spend)) if spend > 0 else 1.0
    return own * measured + (1 - own) * model


def job_seconds_since_progress(job: Job, now=None) -> float:
    if job.progress_at is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - job.progress_at).total_seconds())


OVERDUE_AFTER_SECONDS = 60  # a running job this long past its time left says so instead of "0 s left"


def job_uses_queries(job: Job) -> bool:
    """False for the methods that fit in one pass (zero-shot, linear probe, Tip-Adapter): their budget
    in queries means nothing, and "1 / 2000" would read as a job stopped at the start."""
    return job.method not in NO_QUERY_METHODS


def job_queries_text(job: Job) -> str:
    """'120 of 2,000 queries', or what a one-pass method does instead."""
    if not job_uses_queries(job):
        return "one pass over the training images, no query budget"
    return f"{job.queries_used:,} of {job.budget:,} queries"


def _config_as_run(job: Job) -> TuneConfig:
    """The settings the job ran with; a record this version cannot read (a setting since removed) still shows
    its page, read as the oldest settings (the fields' `absent` values)."""
    try:
        return TuneConfig.from_record(job.config or {})
    except ConfigError:
        return TuneConfig.from_record({})


def job_curves_drawn(job: Job) -> dict:
    """Which of the job page's plots have anything to draw, and in words why not: a plot that stays
    empty with no word reads as a fault."""
    label, config = method_label(job.method), _config_as_run(job)
    sharpness = sparsity = ""
    if job.method not in SHARPNESS_METHODS:
        sharpness = (f"{label} does not measure sharpness (only SharpZO does, when its radius rho is above 0), so "
                     "there is no curve here.")
    elif not config.rho:
        sharpness = ("This job ran with the sharpness radius at 0 (rho, the default: in our measurements the "
                     "sharpness-aware shift made no measurable difference to accuracy), so it measured no sharpness "
                     "and there is no curve here. A job launched with rho above 0 under the advanced settings "
                     "draws one.")
    if config.adapt == "sparse":
        if not config.param_budget:
            sparsity = ("At a 0% share the image model is left exactly as it is (no weight changed): this adapter "
                        "tunes the prompt and the linear head only, so there is no curve here.")
    elif job.method not in SHARPNESS_METHODS or not config.sparsity:
        sparsity = (f"{label} froze none of the adapter's numbers, so there is no curve here. Only SharpZO freezes "
                    "some (Z-pruning), when its sparsity is above 0: off by default, because in our measurements it "
                    "made no measurable difference to accuracy.")
    title = "Image model left unchanged" if config.adapt == "sparse" else "Adapter sparsity (coordinates masked)"
    return {"sharpness_note": sharpness, "sparsity_note": sparsity, "sparsity_title": title}


STARTUP_STEPS = {"loading": "loading the backbone", "encoding": "encoding the images",
                 "zeroshot": "evaluating the untuned model (zero-shot), the first point of the plots"}


def job_startup_step(job: Job) -> str:
    """Before its first query, the start-up step a running job is in, in words ('' after it)."""
    state = job.startup or {}
    if job.status != Job.Status.RUNNING or job.queries_used or state.get("step") not in STARTUP_STEPS:
        return ""
    if state["step"] == "encoding" and state.get("total"):
        return f"encoding {state['total']:,} images ({state.get('done') or 0:,} done)"
    return STARTUP_STEPS[state["step"]]


def job_progress(job: Job) -> float:
    """The share of the queries spent; while the images are being encoded, the share of them encoded."""
    if job.status == Job.Status.COMPLETED:
        return 1.0
    state = job.startup or {}
    if job_startup_step(job) and state.get("step") == "encoding" and state.get("total"):
        return min(1.0, (state.get("done") or 0) / state["total"])
    return min(1.0, job.queries_used / job.budget) if job.budget else 0.0


NO_WORKER_TEXT = "No tuning worker is running; the job will start when one is."
NO_GPU_WORKER_TEXT = "No GPU worker is running, and this job asked for a GPU; it will start when one is."


def _no_worker_text(job: Job) -> str:
    return NO_GPU_WORKER_TEXT if job.needs_gpu else NO_WORKER_TEXT


def job_status_text(job: Job, *, position: int | None = None, eta: float | None = None, silent: bool = False,
                    no_worker: bool = False, others_ahead: int = 0, start_in: float | None = None,
                    resend_in: float | None = None) -> str:
    """One line that says where the job stands, in words."""
    if job.status == Job.Status.QUEUED and job.cancel_requested:
        return ("Stopping: the next free worker keeps the best adapter from the job's last checkpoint."
                + (" " + _no_worker_text(job).split(";")[0] + "." if no_worker else ""))
    if job.status == Job.Status.QUEUED and no_worker:
        return _no_worker_text(job)
    if job.status == Job.Status.QUEUED and resend_in is not None:
        return ("Queued, but the broker has lost its message to the workers (was Redis restarted or emptied?); "
                f"it is sent again within about {human_duration(resend_in)}, and the job starts then.")
    if job.status == Job.Status.QUEUED:
        text = f"Queued, position {position} in the queue" if position else "Queued"
        if others_ahead:
            text += (f" ({others_ahead} of the jobs ahead {'is' if others_ahead == 1 else 'are'} "
                     f"from other workspaces)")
        text += " (resumes from its checkpoint)" if job.attempts else ""
        if start_in is not None:
            text += ("; it should start now" if start_in < 1
                     else f"; it should start in about {human_duration(start_in)}")
        return text
    if job.status == Job.Status.RUNNING:
        if silent:
            return "The worker has stopped responding; the job will be requeued and resume from its checkpoint."
        if job.cancel_requested:
            return "Stopping: the worker saves the best adapter found so far."
        step = job_startup_step(job)
        text = f"Running: {step}" if step else f"Running, {job.queries_used:,} of {job.budget:,} queries"
        since = job_seconds_since_progress(job)
        if eta is not None and eta < 1 and since > OVERDUE_AFTER_SECONDS:
            return text + (f"; slower than its recent pace, its last progress report was {human_duration(since)} ago "
                           "(it keeps sending signs of life)")
        return text + (f", about {human_duration(eta)} left" if eta is not None else "")
    if job.status == Job.Status.COMPLETED:
        if not job_uses_queries(job):
            return "Finished."
        return f"Finished after {job.queries_used:,} quer{'y' if job.queries_used == 1 else 'ies'}."
    if job.status == Job.Status.CANCELLED:
        return (f"Cancelled at {job.queries_used:,} of {job.budget:,} queries." if job.attempts
                else "Cancelled before it started.")
    return "Stopped by an error; the reason is below."


def _columns(sql: str, params) -> dict[str, list]:
    # The ORM's per-row work costs as much as the query on a 20,000-point job (see bench_metrics.py):
    # run the SQL on a plain cursor. The columns are plain numbers and one string: nothing to convert.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = list(zip(*rows)) if rows else [()] * len(POINT_COLUMNS)
    return {name: list(values) for name, values in zip(POINT_COLUMNS, columns)}


def metric_columns(job: Job, *, after: int = 0) -> dict[str, list]:
    """Points with seq > after, column by column (what Plotly's extendTraces takes)."""
    query = MetricPoint.objects.filter(job=job, seq__gt=after).order_by("seq").values_list(*POINT_COLUMNS)
    return _columns(*query.query.sql_with_params())


_shaping = threading.Lock()


def metric_columns_shaped(job: Job) -> tuple[dict[str, list], bool]:
    """All points of a short job; of a long one, at most curve_shape.MAX_POINTS that keep the shape of
    every curve (see webapp/jobs/curve_shape.py). Returns (columns, downsampled).

    The downsampling query reads every point of the job (about 0.1 s for 20,000 on SQLite), so its
    result is kept per stored series (first, last seq and count: new points make a new key); one
    thread per process computes it while the others opening the same page wait for it."""
    span = MetricPoint.objects.filter(job=job).aggregate(first=Min("seq"), last=Max("seq"), count=Count("pk"))
    if span["count"] <= curve_shape.MAX_POINTS:
        return metric_columns(job), False
    key = f"curve-shape:{job.pk}:{job.queued_at.timestamp()}:{span['first']}:{span['last']}:{span['count']}"
    with _shaping:
        columns = cache.get(key)
        if columns is None:
            columns = _columns(*curve_shape.downsampled_sql(job.pk, span["first"], span["last"], POINT_COLUMNS))
            cache.set(key, columns, timeout=3600)
    return columns, True


def job_results(job: Job) -> dict | None:
    if not job.is_finished:
        return None
    adapter = job.adapter_versions.select_related("model_line").order_by("-created_at").first()
    quality = job_quality(job)
    return {
        "zero_shot_accuracy": job.zero_shot_accuracy,
        "tuned_accuracy": job.tuned_accuracy,
        "best_val_accuracy": job.best_val_accuracy,
        "queries_used": job.queries_used,
        "worker_seconds": round(job.worker_seconds, 1),
        "cost": round(worker_cost(job.worker_seconds), 4),
        "currency": settings.COST_CURRENCY,
        "peak_memory_bytes": job.peak_memory_bytes,
        "adapter_version": f"{adapter.model_line.name} v{adapter.number}" if adapter else None,
        "adapter_version_id": adapter.pk if adapter else None,
        # where a finished job leads; the page fills its links from these without a reload
        "links": {
            "report": reverse("reports:job", args=[job.pk]),
            "dataset_version": reverse("datasets:version", args=[job.dataset_version_id]),
            "adapter_version": reverse("adapters:version", args=[adapter.pk]) if adapter else None,
            "adapter_archive": reverse("adapters:archive", args=[adapter.pk]) if adapter else None,
        },
        "evaluation": job.evaluation or None,  # per-class accuracy and confusion matrices
        "quality": quality.as_payload() if quality else None,  # balanced accuracy, intervals, verdict
        "download_verdict": download_verdict(job, quality),
    }


def download_verdict(job: Job, quality) -> str:
    """Said beside the Download button, which then looks secondary, when the adapter is not one to
    deploy: a stopped job's, or one no better than the untuned model. '' for a recommendable one."""
    if quality is not None and quality.not_better:
        return "Not better than the untuned (zero-shot) model on validation: keep it for the record, not for the line."
    if job.status == Job.Status.CANCELLED:
        return "Stopped early on request: this is the best adapter found before the stop, not a finished tuning."
    return ""


def job_live_payload(job: Job, *, after: int | None = 0, shaped: bool = False) -> dict:
    """What the job page polls: status, progress and only the points it has not drawn yet
    (none at all with after=None: the page itself then asks for them). `shaped`: a first load
    (after=0) of a long job gets a downsampled series that keeps the curves' shape."""
    position = job_queue_position(job)
    eta = job_eta_seconds(job)
    silent = job_worker_silent(job)
    no_worker = job_waits_for_a_worker(job)
    others_ahead = job_queue_others_ahead(job)
    start_in = None if no_worker else job_start_in_seconds(job)
    resend_in = None if no_worker else job_message_lost_resend_in(job)
    downsampled = False
    points: dict[str, list] | None
    if shaped and after == 0:
        points, downsampled = metric_columns_shaped(job)
    else:
        points = metric_columns(job, after=after) if after is not None else None
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "status_text": job_status_text(job, position=position, eta=eta, silent=silent, no_worker=no_worker,
                                       others_ahead=others_ahead, start_in=start_in, resend_in=resend_in),
        "finished": job.is_finished,
        "cancel_requested": job.cancel_requested,
        "queue_position": position,
        "queue_others_ahead": others_ahead,  # of the jobs ahead, those of workspaces this user cannot see
        "start_in_seconds": None if start_in is None else round(start_in, 1),
        "worker_silent": silent,
        "no_worker": no_worker,
        "message_lost": resend_in is not None,  # the broker lost it; the scheduler sends it again
        "queries_used": job.queries_used,
        "budget": job.budget,
        "progress": round(job_progress(job), 4),
        "eta_seconds": None if eta is None else round(eta, 1),
        "stage": job.stage,
        "startup_step": job_startup_step(job),  # before the first query: what the worker is doing
        "stage_switch_queries": job.stage_switch_queries,
        "attempts": job.attempts,
        "error": job.error,
        "last_seq": points["seq"][-1] if points and points["seq"] else after,
        "points": points,
        "downsampled": downsampled,  # the full series: metrics.csv, or the API
        "results": job_results(job),
    }
