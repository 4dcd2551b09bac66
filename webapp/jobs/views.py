"""Job pages and their JSON endpoints. Thin: reads through selectors, writes through services."""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.accounts.selectors import workspaces_writable
from webapp.core.csv_download import csv_download
from webapp.core.numbers import human_duration
from webapp.core.params import whole_number
from webapp.datasets.selectors import dataset_version_get, dataset_versions_ready
from webapp.integrations.tuning import SPARSE_METHODS, queries_to_spend
from webapp.jobs.bounds import launch_bounds
from webapp.jobs.estimates import job_estimate, queries_for_minutes, workload_of
from webapp.jobs.forms import MAX_BUDGET_MINUTES, JobCreateForm, image_weights_text
from webapp.jobs.health import queue_has_live_worker
from webapp.jobs.leaderboard import leaderboard_view
from webapp.jobs.models import Job, MetricPoint
from webapp.jobs.quality import job_quality
from webapp.jobs.queues import job_queue
from webapp.jobs.selectors import (
    POINT_COLUMNS,
    job_curves_drawn,
    job_etas,
    job_get,
    job_list,
    job_live_payload,
    job_progress,
    job_queries_text,
    job_status_text,
    job_uses_queries,
    job_worker_silent,
    queue_places,
)
from webapp.jobs.services import job_cancel, job_create

MAX_BUDGET_FOR_ESTIMATE = 10**9


@require_GET
def job_list_view(request: HttpRequest) -> HttpResponseBase:
    jobs = list(job_list(user=request.user)[:500])
    rows = []
    served = {}  # queue -> has a live worker, asked once per queue
    places, etas = queue_places(jobs), job_etas(jobs)  # a query each, whatever the number of jobs
    for job in jobs:
        queue = job_queue(needs_gpu=job.needs_gpu)
        if job.status == Job.Status.QUEUED and queue not in served:
            served[queue] = queue_has_live_worker(queue)
        no_worker = job.status == Job.Status.QUEUED and not served[queue]
        position, others_ahead = places.get(job.pk, (None, 0))
        rows.append({"job": job, "progress": job_progress(job), "position": position,
                     "queries_text": job_queries_text(job),
                     "status_text": job_status_text(job, position=position, eta=etas.get(job.pk),
                                                     silent=job_worker_silent(job), no_worker=no_worker,
                                                     others_ahead=others_ahead)})
    return render(request, "jobs/list.html", {
        "rows": rows,
        "active": any(not job.is_finished for job in jobs),
        "can_launch": workspaces_writable(user=request.user).exists(),
        "has_dataset": bool(jobs) or dataset_versions_ready(user=request.user).exists(),
    })


@require_http_methods(["GET", "POST"])
def job_create_view(request: HttpRequest) -> HttpResponseBase:
    if not workspaces_writable(user=request.user).exists():
        raise PermissionDenied("Your role is read-only in every workspace: ask an engineer to launch jobs.")
    if request.method == "POST":
        # The ownership check comes first and answers 404/403; the form then checks the values.
        version_id = whole_number(request.POST.get("dataset_version"))
        if version_id is not None:
            dataset_version_get(user=request.user, pk=version_id, write=True)
        form = JobCreateForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = job_create(user=request.user, dataset_version=data["dataset_version"], config=form.config,
                                 name=data["name"], model_line_name=data["model_line_name"], needs_gpu=data["gpu"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(None if field == "__all__" else field, errors)
            else:
                messages.success(request, f"Launched {job}.")  # the page says its state, which soon changes
                return redirect("jobs:detail", pk=job.pk)
    else:
        form = JobCreateForm(user=request.user,
                             initial={"dataset_version": whole_number(request.GET.get("dataset_version"))})
    return render(request, "jobs/create.html", {"form": form})


@require_GET
def job_detail_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    job, can_write = job_get(user=request.user, pk=pk)
    payload = job_live_payload(job, after=None)  # the page fetches the curves itself, as for every update
    return render(request, "jobs/detail.html", {
        "job": job,
        "live": payload,
        "uses_queries": job_uses_queries(job),
        "curves": job_curves_drawn(job),
        "can_write": can_write,
        "evaluation_rows": _evaluation_rows(job),
        "quality": (payload.get("results") or {}).get("quality") and job_quality(job),
        "leaderboard": leaderboard_view(job),
    })


@require_GET
def job_metrics_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    job, _ = job_get(user=request.user, pk=pk)
    after = whole_number(request.GET.get("after", "0"))
    if after is None:
        return JsonResponse({"error": "'after' must be a whole number (the last seq already drawn)."}, status=400)
    # The page's first load (after=0) of a long job is downsampled; full=1, the CSV and the API give every point.
    return JsonResponse(job_live_payload(job, after=after, shaped=request.GET.get("full") != "1"))


@require_GET
def job_metrics_csv_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    job, _ = job_get(user=request.user, pk=pk)
    rows = MetricPoint.objects.filter(job=job).order_by("seq").values_list(*POINT_COLUMNS).iterator(chunk_size=2000)
    return csv_download(POINT_COLUMNS, rows, filename=f"job-{job.pk}-curves.csv")


@require_POST
def job_cancel_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    job, _ = job_get(user=request.user, pk=pk, write=True)
    if job.is_finished:
        messages.info(request, f"{job} had already ended ({job.get_status_display().lower()}).")
    else:
        job = job_cancel(job=job, user=request.user)
        if job.status == job.Status.CANCELLED:
            messages.success(request, f"{job} was cancelled before it started.")
        else:
            # tagged so the job page can take the banner down once the job has ended
            messages.success(request, f"{job} is stopping; the best adapter found so far will be saved.",
                             extra_tags="until-job-ends")
    return redirect("jobs:detail", pk=job.pk)


@require_GET
def job_estimate_view(request: HttpRequest) -> HttpResponseBase:
    """Run time and cost for the launch form, recomputed as the engineer changes its values; with sparse
    adapters also how many of the backbone's image weights the chosen share is, where known. Given
    `minutes` instead of a budget, it answers the budget in queries that fits in them (`budget`)."""
    budget, version_id = whole_number(request.GET.get("budget")), whole_number(request.GET.get("dataset_version"))
    minutes = whole_number(request.GET.get("minutes"))
    backbone = request.GET.get("backbone", "")
    if minutes is not None and not 0 < minutes <= MAX_BUDGET_MINUTES:
        return JsonResponse({"error": f"Enter the time budget as whole minutes, 1 to {MAX_BUDGET_MINUTES:,}."},
                            status=400)
    if minutes is None and (budget is None or not 0 < budget <= MAX_BUDGET_FOR_ESTIMATE):
        return JsonResponse({"error": "Enter the budget as a whole number of queries, at least 1."}, status=400)
    if not backbone:
        return JsonResponse({"error": "Choose a backbone."}, status=400)
    version = dataset_version_get(user=request.user, pk=version_id)[0] if version_id is not None else None
    counts = (version.class_counts or {}) if version is not None else {}
    method = request.GET.get("method", "")
    adapt = "sparse" if request.GET.get("adapt") == "sparse" and method in SPARSE_METHODS else "prompt"
    workload = workload_of(method=method, queries=0, num_classes=len(counts) or 2, num_images=sum(counts.values()),
                           adapt=adapt, shots=whole_number(request.GET.get("shots")) or 0,
                           param_budget=_fraction(request.GET.get("param_budget")), backbone=backbone,
                           dataset_version_id=version_id, class_names=list(counts))
    if minutes is not None:
        try:
            budget = queries_for_minutes(minutes, backbone=backbone, workload=workload)
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
    spend = queries_to_spend(method, budget)
    estimate = job_estimate(backbone=backbone, workload=dataclasses.replace(workload, queries=spend))
    body = estimate.as_dict()
    body["budget"] = budget
    body["num_classes"] = len(counts) or None
    body["num_images"] = sum(counts.values()) or None
    body["text"] = (f"About {human_duration(estimate.seconds)} of worker time, about {estimate.cost:.2f} "
                    f"{estimate.currency}" + (f", for {spend:,} queries." if spend > 1 else "."))
    body["image_weights"] = image_weights_text(backbone, request.GET.get("param_budget"))
    body["bounds"] = launch_bounds(version=version, method=method, adapt=adapt, backbone=backbone,
                                   shots=whole_number(request.GET.get("shots")))
    return JsonResponse(body)


def _fraction(value) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _evaluation_rows(job) -> list[dict]:
    """Per-class accuracy, zero-shot beside tuned, for the results table."""
    evaluation = job.evaluation or {}
    names = evaluation.get("class_names") or []
    zero = (evaluation.get("zero_shot") or {}).get("per_class_accuracy", {})
    tuned = (evaluation.get("tuned") or {}).get("per_class_accuracy", {})
    return [{"name": n, "zero_shot": zero.get(n), "tuned": tuned.get(n)} for n in names]
