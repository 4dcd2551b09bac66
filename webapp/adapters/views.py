"""Adapter pages and downloads. Thin: selectors check the workspace, services write."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.accounts.access import require_posted_workspace
from webapp.accounts.selectors import workspaces_writable
from webapp.adapters import files, selectors, services, trials
from webapp.adapters.adapted import adapted_report
from webapp.adapters.forms import AdapterUploadForm
from webapp.adapters.upload import AdapterUploadRejected, adapter_version_upload
from webapp.core.evaluation_tables import evaluation_tables
from webapp.datasets.errors import human_bytes
from webapp.datasets.thumbnails import jpeg_response
from webapp.datasets.uploads import UploadLimitHandler, limit_upload
from webapp.integrations.tuning.wheel import WheelUnavailable, tuning_wheel, wheel_filename

READ_ONLY = "Your role is read-only: ask an engineer to upload adapters."


@require_GET
def adapter_list(request: HttpRequest) -> HttpResponseBase:
    lines = list(selectors.model_line_list(user=request.user))
    for line in lines:  # "latest" is never a version worse than zero-shot or than an earlier one
        line.recommended = selectors.model_line_recommended(model_line=line, versions=line.versions_by_number)
    return render(request, "adapters/list.html", {
        "lines": lines,
        "can_upload": workspaces_writable(user=request.user).exists(),
    })


@require_GET
def model_line_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    line, can_write = selectors.model_line_get(user=request.user, pk=pk)
    return render(request, "adapters/line.html", {
        "line": line,
        "versions": selectors.model_line_versions(model_line=line),
        "recommended": selectors.model_line_recommended(model_line=line),
        "changes": selectors.model_line_events(model_line=line, downloads=False),
        "downloads": selectors.model_line_events(model_line=line, downloads=True, limit=50),
        "can_write": can_write,
    })


@require_GET
def version_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, can_write = selectors.adapter_version_get(user=request.user, pk=pk)
    return render(request, "adapters/version.html", {
        "version": version,
        "line": version.model_line,
        "is_production": version.model_line.production_version_id == version.pk,
        "not_better": selectors.version_is_not_better(version),
        "gelu_build_note": selectors.version_gelu_build_note(version),
        "download_verdict": selectors.version_download_verdict(version),
        "can_write": can_write,
        "evaluation": version.metrics if version.source == "upload" else None,
        "tables": evaluation_tables((version.metrics or {}).get("evaluation")),
        "adapted": adapted_report(version.metrics),  # a sparse adapter's tuned parts, from a job or uploaded
        "trials": trials.adapter_trials_recent(version=version, user=request.user),
        "try_max_images": trials.TRY_MAX_IMAGES,
        "tuning_wheel": wheel_filename(),
        "try_errors": [m for m in messages.get_messages(request) if "try-error" in m.extra_tags],
    })


def _damaged(request: HttpRequest, exc: files.StoredFileDamaged) -> HttpResponse:
    return render(request, "adapters/problem.html", {"message": str(exc)}, status=500)


def download_response(spool, filename: str, content_type: str) -> FileResponse:
    """Streams a rewound file in blocks; FileResponse closes it when the response is done."""
    response = FileResponse(spool, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, no-cache"
    return response


def archive_response(*, version, user) -> HttpResponse:
    """Shared by the page and the JSON API: the zip, and a line in the version's history."""
    filename, spool = files.build_archive(version)
    services.adapter_version_record_download(version=version, user=user, what="archive")
    return download_response(spool, filename, "application/zip")


def file_response(*, version, user, name: str) -> HttpResponse:
    if name not in (files.WEIGHTS_NAME, files.CARD_NAME):
        raise Http404("Not found.")
    spool = files.spooled_verified(version, name)
    services.adapter_version_record_download(version=version, user=user, what=name)
    content_type = "application/json" if name == files.CARD_NAME else "application/octet-stream"
    return download_response(spool, name, content_type)


def tuning_wheel_response() -> FileResponse:
    """The `tuning` wheel the README in every archive installs (shared by the page and the JSON API);
    raises WheelUnavailable when it cannot be built here."""
    return download_response(open(tuning_wheel(), "rb"), wheel_filename(), "application/zip")


@require_GET
def tuning_wheel_download(request, filename: str):
    if filename != wheel_filename():  # an older version's link: the dashboard serves its own version only
        return redirect("adapters:tuning_wheel", filename=wheel_filename())
    try:
        return tuning_wheel_response()
    except WheelUnavailable as exc:
        return render(request, "adapters/problem.html", {"message": str(exc)}, status=503)


@require_GET
def version_archive(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, _ = selectors.adapter_version_get(user=request.user, pk=pk)
    try:
        return archive_response(version=version, user=request.user)
    except files.StoredFileDamaged as exc:
        return _damaged(request, exc)


@require_GET
def version_file(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    version, _ = selectors.adapter_version_get(user=request.user, pk=pk)
    try:
        return file_response(version=version, user=request.user, name=name)
    except files.StoredFileDamaged as exc:
        return _damaged(request, exc)


@require_POST
def version_set_production(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, _ = selectors.adapter_version_get(user=request.user, pk=pk, write=True)
    services.model_line_set_production(version=version, user=request.user)
    messages.success(request, f"v{version.number} is now the production version of {version.model_line.name}.")
    return redirect("adapters:line", pk=version.model_line_id)


@require_POST
def line_clear_production(request: HttpRequest, pk: int) -> HttpResponseBase:
    line, _ = selectors.model_line_get(user=request.user, pk=pk, write=True)
    services.model_line_clear_production(model_line=line, user=request.user)
    messages.success(request, f"{line.name} has no production version now.")
    return redirect("adapters:line", pk=line.pk)


def _upload_page(request: HttpRequest, form, status=200) -> HttpResponseBase:
    lines = selectors.model_line_list(user=request.user).filter(workspace__in=workspaces_writable(user=request.user))
    return render(request, "adapters/upload.html", {
        "form": form, "line_names": sorted({line.name for line in lines}),
        "max_upload_mb": settings.ADAPTER_MAX_UPLOAD_BYTES // 2**20,
    }, status=status)


@require_http_methods(["GET", "POST"])
@limit_upload(lambda: settings.ADAPTER_MAX_UPLOAD_BYTES)
def adapter_upload(request: HttpRequest, limiter: UploadLimitHandler) -> HttpResponseBase:
    if request.method == "GET":
        if not workspaces_writable(user=request.user).exists():
            raise PermissionDenied(READ_ONLY)
        return _upload_page(request, AdapterUploadForm(user=request.user))
    require_posted_workspace(request.user, request.POST.get("workspace"), refusal=READ_ONLY)
    form = AdapterUploadForm(request.POST, request.FILES, user=request.user)
    if limiter.too_large:
        form.is_valid()
        form.add_error(None, f"The upload is larger than the limit of {settings.ADAPTER_MAX_UPLOAD_BYTES // 2**20} MB; "
                             "adapters are usually a few kilobytes. Is this the right file?")
        return _upload_page(request, form, status=400)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    data = form.cleaned_data
    try:
        version = adapter_version_upload(
            user=request.user, workspace=data["workspace"], model_line_name=data["model_line"],
            dataset_version=data["dataset_version"], note=data["note"],
            archive=data["archive"], weights=data["weights"], card=data["card"],
        )
    except AdapterUploadRejected as exc:
        form.add_error(None, exc.message)
        return _upload_page(request, form, status=400)
    messages.success(request, f"Stored as {version}. The evaluation on {data['dataset_version']} is queued.")
    return redirect("adapters:version", pk=version.pk)


@require_POST
@limit_upload(trials.trial_upload_limit)
def version_try(request: HttpRequest, pk: int, limiter: UploadLimitHandler) -> HttpResponseBase:
    version, _ = selectors.adapter_version_get(user=request.user, pk=pk, write=True)
    uploads = request.FILES.getlist("images")  # reads the body: only then does the limiter know its size
    try:
        if limiter.too_large:
            raise ValidationError(f"The images are larger than the limit of {human_bytes(limiter.limit)} together; "
                                  "send fewer or smaller images.")
        trials.adapter_trial_create(user=request.user, version=version, uploads=uploads)
    except ValidationError as exc:
        # shown beside the form it is about (adapters/_try.html), where the page lands, not at its top
        messages.error(request, " ".join(exc.messages), extra_tags="try-error in-place")
    return redirect(reverse("adapters:version", args=[version.pk]) + "#try")


@require_GET
def trial_image(request: HttpRequest, pk: int, index: int) -> HttpResponseBase:
    return jpeg_response(trials.adapter_trial_thumbnail(user=request.user, pk=pk, index=index))
