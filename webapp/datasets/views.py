"""Dataset pages. Thin: forms check input, services write, selectors read with the workspace check."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from webapp.accounts.access import require_posted_workspace
from webapp.accounts.selectors import workspaces_writable
from webapp.datasets import selectors, services
from webapp.datasets.errors import human_bytes
from webapp.datasets.forms import DatasetUploadForm, DemoDatasetForm
from webapp.datasets.thumbnails import thumbnail_response
from webapp.datasets.uploads import UploadLimitHandler, limit_upload
from webapp.integrations.tuning import default_shots, split_sizes

READ_ONLY = "Your role is read-only: ask an engineer to do this."


def _list_page(request: HttpRequest, *, upload_form=None, status=200) -> HttpResponseBase:
    initial = {"name": request.GET.get("name", "")}
    if request.GET.get("workspace"):
        initial["workspace"] = request.GET["workspace"]
    context = {
        "datasets": selectors.dataset_list(user=request.user),
        "can_upload": workspaces_writable(user=request.user).exists(),
        "upload_form": upload_form or DatasetUploadForm(user=request.user, initial=initial),
        "demo_form": DemoDatasetForm(user=request.user),
        "max_upload": human_bytes(settings.DATASET_MAX_UPLOAD_BYTES),
    }
    return render(request, "datasets/list.html", context, status=status)


@require_GET
def dataset_list(request: HttpRequest) -> HttpResponseBase:
    return _list_page(request)


@require_POST
@limit_upload(lambda: settings.DATASET_MAX_UPLOAD_BYTES)
def dataset_upload(request: HttpRequest, limiter: UploadLimitHandler) -> HttpResponseBase:
    require_posted_workspace(request.user, request.POST.get("workspace"), refusal=READ_ONLY)
    form = DatasetUploadForm(request.POST, request.FILES, user=request.user)
    if limiter.too_large:
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error(None, f"The file is larger than the upload limit of "
                             f"{human_bytes(settings.DATASET_MAX_UPLOAD_BYTES)}. Upload a smaller zip.")
        return _list_page(request, upload_form=form, status=400)
    if not form.is_valid():
        return _list_page(request, upload_form=form, status=400)
    try:
        version = services.dataset_upload_create(
            user=request.user,
            workspace=form.cleaned_data["workspace"],
            name=form.cleaned_data["name"],
            upload=form.cleaned_data["file"],
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _list_page(request, upload_form=form, status=400)
    return redirect("datasets:version", pk=version.pk)


@require_POST
def dataset_demo(request: HttpRequest) -> HttpResponseBase:
    require_posted_workspace(request.user, request.POST.get("workspace"), refusal=READ_ONLY)
    form = DemoDatasetForm(request.POST, user=request.user)
    if not form.is_valid():
        return _list_page(request, status=400)
    version = services.dataset_demo_create(user=request.user, workspace=form.cleaned_data["workspace"])
    return redirect("datasets:version", pk=version.pk)


@require_GET
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    dataset, _ = selectors.dataset_get(user=request.user, pk=pk)
    latest = dataset.versions.order_by("-number").first()
    if latest is None:
        raise Http404("This dataset has no versions.")
    return redirect("datasets:version", pk=latest.pk)


@require_GET
def version_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, can_write = selectors.dataset_version_get(user=request.user, pk=pk)
    shots = selectors.dataset_version_shots_per_class(version)
    thumbnails = (version.report or {}).get("thumbnails", {})
    classes = [
        {"label": label, "count": count, "shots": shots.get(label, 0), "thumbnails": thumbnails.get(label, [])}
        # manifest["classes"] keeps the order; a jsonb dict (PostgreSQL) does not.
        for label, count in sorted((version.class_counts or {}).items())
    ]
    split_shots = min(default_shots(), selectors.dataset_version_max_shots(version))
    for c in classes:  # what a job at split_shots gives each class: stratified, every class in validation
        c["train"], c["val"], c["test"] = split_sizes(c["count"], split_shots) if split_shots >= 1 else (0, 0, 0)
    context = {
        "version": version,
        "dataset": version.dataset,
        "versions": version.dataset.versions.order_by("-number"),
        "classes": classes,
        "max_shots": selectors.dataset_version_max_shots(version),
        "split_shots": split_shots,
        "report": version.report or {},
        "status": selectors.dataset_version_status(version),
        "can_upload": can_write,
        "mislabelled": version.mislabelled.order_by("label", "original"),
    }
    return render(request, "datasets/version.html", context)


@require_GET
def version_status(request: HttpRequest, pk: int) -> HttpResponseBase:
    version, _ = selectors.dataset_version_get(user=request.user, pk=pk)
    return JsonResponse(selectors.dataset_version_status(version))


@require_GET
def version_thumbnail(request: HttpRequest, pk: int, sha256: str) -> HttpResponseBase:
    version, _ = selectors.dataset_version_get(user=request.user, pk=pk)
    listed = {sha for shas in (version.report or {}).get("thumbnails", {}).values() for sha in shas}
    if sha256 not in listed:
        raise Http404("Not found.")
    return thumbnail_response(version.pk, sha256)


@require_POST
def image_mislabelled(request, pk: int, sha256: str):
    """Mark or unmark one image as mislabelled (the report's mistakes gallery); back to where it was."""
    version, _ = selectors.dataset_version_get(user=request.user, pk=pk, write=True)
    try:
        services.dataset_image_mark_mislabelled(user=request.user, version=version, sha256=sha256,
                                                mislabelled=request.POST.get("mislabelled") == "1")
    except ValidationError:
        raise Http404("Not found.") from None
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("datasets:version", pk=pk)
