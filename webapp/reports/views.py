"""Manager reports. Thin: selectors read (with the workspace check), templates and report_charts.js draw."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webapp.core.csv_download import csv_download
from webapp.core.params import whole_number
from webapp.datasets.thumbnails import thumbnail_response
from webapp.integrations.tuning import METHOD_LABELS
from webapp.jobs.mistakes import recorded_mistake
from webapp.reports import selectors
from webapp.reports.side_by_side import MAX_JOBS as MAX_SELECTED
from webapp.reports.side_by_side import side_by_side

PAGE_SIZE = 50
MAX_POINTS = 1000  # the scatter shows at most this many (the newest); the table pages through all


@require_GET
def overview(request: HttpRequest) -> HttpResponseBase:
    workspaces = list(selectors.overview_workspaces(user=request.user))
    wanted = whole_number(request.GET.get("workspace"))
    if wanted is not None:
        chosen = next((w for w in workspaces if w.pk == wanted), None)
        if chosen is None:
            raise Http404("Not found.")
    else:
        chosen = workspaces[0] if workspaces else None
    context = {"workspaces": workspaces, "workspace": chosen}
    if chosen is not None:
        context.update(selectors.workspace_overview(workspace=chosen))
    return render(request, "reports/overview.html", context)


@require_GET
def job_report(request: HttpRequest, pk: int) -> HttpResponseBase:
    job, can_write = selectors.job_report_get(user=request.user, pk=pk)
    return render(request, "reports/job.html", {**selectors.job_report_context(job), "can_write": can_write})


@require_GET
def mistake_image(request: HttpRequest, pk: int, sha256: str) -> HttpResponseBase:
    """A thumbnail in the report's mistakes gallery: only images this job recorded as mistakes."""
    job, _ = selectors.job_report_get(user=request.user, pk=pk)
    if not recorded_mistake(job.evaluation, sha256):
        raise Http404("Not found.")
    return thumbnail_response(job.dataset_version_id, sha256)


class Comparison:
    """What the query string asks to compare: a model line's versions, selected jobs, or all finished
    jobs (optionally of one workspace or method). Shared by the page and the CSV export."""

    def __init__(self, request):
        params = request.GET
        self.line = None
        self.job_ids = [n for n in map(whole_number, params.getlist("job")) if n is not None]
        self.workspace_id = whole_number(params.get("workspace"))
        self.method = params.get("method", "") if params.get("method", "") in METHOD_LABELS else ""
        line_id = whole_number(params.get("line"))
        if line_id is not None:
            self.line, _ = selectors.model_line_for_report(user=request.user, pk=line_id)
            self.queryset = selectors.comparison_line_versions(line=self.line)
        else:
            self.queryset = selectors.comparison_jobs(user=request.user, workspace_id=self.workspace_id,
                                                      job_ids=self.job_ids, method=self.method)

    def row(self, obj) -> selectors.Row:
        return selectors.row_from_version(obj, self.line) if self.line else selectors.row_from_job(obj)

    @property
    def title(self) -> str:
        if self.line:
            return f"Versions of {self.line.name}"
        return f"{len(self.job_ids)} selected jobs" if self.job_ids else "Finished jobs"


@require_GET
def compare(request: HttpRequest) -> HttpResponseBase:
    comparison = Comparison(request)
    page = Paginator(comparison.queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [comparison.row(obj) for obj in page.object_list]
    points = [comparison.row(obj).point() for obj in comparison.queryset[:MAX_POINTS]]
    query = request.GET.copy()
    query.pop("page", None)
    selected = side_by_side(comparison.queryset) if comparison.job_ids else None
    return render(request, "reports/compare.html", {
        "selected": selected, "max_selected": MAX_SELECTED,
        "comparison": comparison, "page": page, "rows": rows,
        "chart": {"points": points, "currency": settings.COST_CURRENCY},
        "query": query.urlencode(), "workspaces": selectors.overview_workspaces(user=request.user),
        "methods": METHOD_LABELS, "max_points": MAX_POINTS,
    })


@require_GET
def compare_csv(request: HttpRequest) -> HttpResponseBase:
    comparison = Comparison(request)
    rows = (selectors.csv_row(comparison.row(obj)) for obj in comparison.queryset.iterator(chunk_size=500))
    return csv_download(selectors.CSV_HEADER, rows, filename="comparison.csv")
