"""No N+1 anywhere: every list page, in the browser and in the API, costs the same number of queries
for 10 rows as for 300 (jobs in every state, datasets with versions, model lines with versions)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.webapp.factories import bulk_finished_jobs, csrf_client, make_api_token, make_ready_version
from webapp.accounts.models import Workspace
from webapp.adapters.models import AdapterVersion, ModelLine
from webapp.datasets.models import Dataset, DatasetVersion
from webapp.jobs.models import Job, MetricPoint

PAGES = ["/jobs/", "/datasets/", "/adapters/", "/reports/", "/reports/compare/", "/status/",
         "/api/v1/jobs/", "/api/v1/datasets/", "/api/v1/model-lines/"]


def add_rows(workspace: Workspace, version: DatasetVersion, count: int, start: int) -> None:
    """`count` more of everything a list shows: queued, running and finished jobs (running ones with
    curve points), datasets with two versions, model lines with adapter versions."""
    now = timezone.now()
    states = [Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.FAILED]
    jobs = Job.objects.bulk_create([
        Job(workspace=workspace, dataset_version=version, backbone="tiny-test", method="sharpzo", shots=1,
            budget=1000, status=states[i % 3], queries_used=10 * i, stage="zo" if i % 3 == 1 else "",
            attempts=1 if i % 3 else 0, heartbeat_at=now, started_at=now - dt.timedelta(minutes=1),
            name=f"job {start + i}")
        for i in range(count)])
    MetricPoint.objects.bulk_create(MetricPoint(job=job, seq=s, step=s, stage="zo", queries=10 * s, elapsed_s=s)
                                    for job in jobs if job.status == Job.Status.RUNNING for s in (1, 2, 3))
    finished = bulk_finished_jobs(workspace, count, dataset_version=version, with_versions=False)
    datasets = Dataset.objects.bulk_create(Dataset(workspace=workspace, name=f"set {start + i}") for i in range(count))
    DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=d, number=n, upload="x.zip", status="ready", class_counts={"a": 3, "b": 3})
        for d in datasets for n in (1, 2))
    lines = ModelLine.objects.bulk_create(ModelLine(workspace=workspace, name=f"line {start + i}")
                                          for i in range(count))
    AdapterVersion.objects.bulk_create(
        AdapterVersion(model_line=line, number=n, job=job, weights_file="x", card_file="y", sha256="0" * 64,
                       size_bytes=100, backbone="tiny-test", method=job.method, metrics={"tuned_accuracy": 0.7})
        for line, job in zip(lines, finished) for n in (1, 2))


def queries_for(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


@pytest.mark.parametrize("url", PAGES)
def test_a_list_page_costs_the_same_queries_for_10_or_300_rows(make_user, url):
    user = make_user("maria", workspace="Press line", role="engineer")
    workspace = Workspace.objects.get(name="Press line")
    version = make_ready_version(workspace, per_class=3)
    client = csrf_client(user)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {make_api_token(user)}"} if url.startswith("/api/") else {}
    add_rows(workspace, version, 10, 0)
    client.get(url, **headers)  # the first request of a session does one-off work (session, workers' check-in)
    few = queries_for(client, url, **headers)
    add_rows(workspace, version, 290, 10)
    many = queries_for(client, url, **headers)
    assert many == few, f"{url}: {few} queries for 10 rows, {many} for 300"


@pytest.mark.parametrize("kind", ["model line", "dataset"])
def test_a_page_of_versions_costs_the_same_queries_for_10_or_300_versions(make_user, kind):
    user = make_user("maria", workspace="Press line", role="engineer")
    workspace = Workspace.objects.get(name="Press line")
    version = make_ready_version(workspace, per_class=3)
    line = ModelLine.objects.create(workspace=workspace, name="press line")
    jobs = bulk_finished_jobs(workspace, 300, dataset_version=version, with_versions=False)

    def add_versions(numbers):
        if kind == "model line":
            AdapterVersion.objects.bulk_create(
                AdapterVersion(model_line=line, number=n, job=jobs[n - 1], weights_file="x", card_file="y",
                               sha256="0" * 64, size_bytes=100, backbone="tiny-test", method="sharpzo",
                               metrics={"tuned_accuracy": 0.7}) for n in numbers)
        else:
            DatasetVersion.objects.bulk_create(
                DatasetVersion(dataset=version.dataset, number=n + 1, upload="x.zip", status="ready",
                               class_counts={"a": 3, "b": 3}) for n in numbers)

    url = f"/adapters/lines/{line.pk}/" if kind == "model line" else f"/datasets/versions/{version.pk}/"
    client = csrf_client(user)
    add_versions(range(1, 11))
    client.get(url)
    few = queries_for(client, url)
    add_versions(range(11, 301))
    many = queries_for(client, url)
    assert many == few, f"{url}: {few} queries for 10 versions, {many} for 300"
