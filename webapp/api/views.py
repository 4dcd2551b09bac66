"""JSON API v1 for scripts and line PCs (see README, "JSON API"). Thin: selectors read with the same
workspace checks as the pages, services write."""

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET

from webapp.adapters import selectors as adapter_selectors
from webapp.adapters.views import archive_response, file_response, tuning_wheel_response
from webapp.api import selectors, services
from webapp.api.auth import api_endpoint, error, json_body
from webapp.api.errors import BadRequest
from webapp.api.openapi import endpoint_index, openapi_document
from webapp.core.params import whole_number
from webapp.datasets.selectors import dataset_get
from webapp.integrations.tuning.wheel import WheelUnavailable
from webapp.jobs.selectors import job_get
from webapp.jobs.services import job_cancel

JOBS_PER_PAGE = 50


@login_not_required
@require_GET
def api_index(request: HttpRequest) -> HttpResponseBase:
    """The front door: every endpoint, and where the machine-readable description is. No token needed:
    it holds no data."""
    return JsonResponse({"api": "Tuning dashboard API, version 1",
                         "authentication": "Send 'Authorization: Bearer <token>'; create a token on "
                                           + request.build_absolute_uri(reverse("accounts:api_tokens")),
                         "openapi": request.build_absolute_uri(reverse("api:openapi")),
                         "endpoints": endpoint_index()})


@login_not_required
@require_GET
def api_openapi(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse(openapi_document())


def _after(request: HttpRequest) -> int:
    after = whole_number(request.GET.get("after", "0"))
    if after is None:
        raise BadRequest("'after' must be the last seq you have (a whole number, 0 for all points).")
    return after


@api_endpoint("GET")
def backbone_list(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"results": selectors.backbones()})


@api_endpoint("GET")
def dataset_list(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"results": [selectors.dataset_payload(d) for d in selectors.datasets(user=request.user)]})


@api_endpoint("GET")
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    dataset, _ = dataset_get(user=request.user, pk=pk)
    return JsonResponse(selectors.dataset_payload(dataset))


@api_endpoint("GET", "POST")
def job_list(request: HttpRequest) -> HttpResponseBase:
    if request.method == "POST":
        job = services.api_job_create(user=request.user, payload=json_body(request))
        payload = selectors.job_payload(job, after=0)
        if not getattr(job, "sent_to_broker", True):
            payload["note"] = ("The job is saved and queued; the task broker is unreachable just now, so it "
                               "will be sent when the broker is back. Do not create it again.")
        return JsonResponse(payload, status=201)
    page = Paginator(selectors.jobs(user=request.user), JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return JsonResponse({
        "count": page.paginator.count,
        "next": f"{reverse('api:jobs')}?page={page.next_page_number()}" if page.has_next() else None,
        "results": [selectors.job_summary(job) for job in page.object_list],
    })


@api_endpoint("GET")
def job_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    job, _ = job_get(user=request.user, pk=pk)
    return JsonResponse(selectors.job_payload(job, after=_after(request)))


@api_endpoint("POST")
def job_cancel_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = job_cancel(job=job_get(user=request.user, pk=pk, write=True)[0], user=request.user)
    return JsonResponse(selectors.job_payload(job, after=_after(request)))


@api_endpoint("GET")
def model_line_list(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"results": [selectors.model_line_payload(line)
                                     for line in selectors.model_lines(user=request.user)]})


@api_endpoint("GET")
def adapter_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, _ = adapter_selectors.adapter_version_get(user=request.user, pk=pk)
    return JsonResponse(selectors.adapter_version_payload(version, line=version.model_line))


@api_endpoint("GET")
def adapter_archive(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, _ = adapter_selectors.adapter_version_get(user=request.user, pk=pk)
    return archive_response(version=version, user=request.user)


@api_endpoint("GET")
def adapter_file(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    version, _ = adapter_selectors.adapter_version_get(user=request.user, pk=pk)
    return file_response(version=version, user=request.user, name=name)


@api_endpoint("GET")
def tuning_wheel(request: HttpRequest) -> HttpResponseBase:
    """The `tuning` wheel (tuning-<version>-py3-none-any.whl) that applies the adapters on a line PC."""
    try:
        return tuning_wheel_response()
    except WheelUnavailable as exc:
        return error(503, str(exc))


@api_endpoint("GET")
def production_archive(request: HttpRequest, pk: int) -> HttpResponseBase:
    """What a line PC fetches: the version currently marked as production on this model line."""
    line, _ = adapter_selectors.model_line_get(user=request.user, pk=pk)
    if line.production_version is None:
        return JsonResponse({"error": f"{line.name} has no production version yet."}, status=404)
    version, _ = adapter_selectors.adapter_version_get(user=request.user, pk=line.production_version_id)
    return archive_response(version=version, user=request.user)
