"""Two jobs launched with the same settings read as two jobs (date and id in the
automatic name), and the compare page shows the selected jobs' curves overlaid and their per-class
recall side by side."""

import copy
import json
import re

import pytest

from tests.webapp.factories import EVALUATION, csrf_client, make_finished_job, make_ready_version
from webapp.jobs.models import MetricPoint
from webapp.jobs.services import job_create, tune_config_from
from webapp.reports.side_by_side import MAX_POINTS_PER_CURVE

pytestmark = pytest.mark.django_db


def test_two_jobs_with_the_same_automatic_name_are_told_apart(make_user, django_capture_on_commit_callbacks):
    alice = make_user("alice", workspace="Press line")
    version = make_ready_version("Press line", name="scratches", per_class=6)
    config = tune_config_from({"method": "sharpzo", "backbone": "tiny-test", "budget": 2000, "shots": 2})
    with django_capture_on_commit_callbacks(execute=False):
        first = job_create(user=alice, dataset_version=version, config=config)
        second = job_create(user=alice, dataset_version=version, config=config)
        named = job_create(user=alice, dataset_version=version, config=config, name="  my own name ")
    assert first.name != second.name
    assert re.fullmatch(rf"SharpZO on scratches v1, \d{{4}}-\d\d-\d\d \d\d:\d\d \(#{second.pk}\)", second.name)
    assert named.name == "my own name"


def _json(page, element_id: str):
    return json.loads(re.search(rf'id="{element_id}" type="application/json">(.*?)</script>',
                                page.content.decode(), re.S).group(1))


def test_selected_jobs_get_overlaid_curves_and_per_class_recall_side_by_side(make_user):
    maria = make_user("maria", workspace="Press line", role="manager")
    other = copy.deepcopy(EVALUATION)
    other["tuned"]["per_class_accuracy"] = {"blue": 0.5, "green": 0.25, "red": 1.0}
    a = make_finished_job("Press line", name="run A", evaluation=EVALUATION)
    b = make_finished_job("Press line", name="run B", evaluation=other)
    n = MAX_POINTS_PER_CURVE * 2 + 7
    MetricPoint.objects.bulk_create(
        [MetricPoint(job=a, seq=i, step=i, stage="s", queries=10 * i, val_acc=i / n, elapsed_s=i) for i in range(n)] +
        [MetricPoint(job=b, seq=i, step=i, stage="s", queries=5 * i, val_acc=0.5, elapsed_s=i) for i in range(3)])
    client = csrf_client(maria)

    page = client.get(f"/reports/compare/?job={a.pk}&job={b.pk}")
    selected = _json(page, "report-selected")
    curves = {c["label"]: c for c in selected["curves"]}
    assert set(curves) == {"run A", "run B"} and curves["run B"]["queries"] == [0, 5, 10]
    assert len(curves["run A"]["queries"]) <= MAX_POINTS_PER_CURVE + 1
    assert curves["run A"]["queries"][-1] == 10 * (n - 1)
    recall = selected["recall"]
    column = {label: j for j, label in enumerate(recall["jobs"])}
    rows = {row["name"]: row["recalls"] for row in recall["rows"]}
    assert rows["green"][column["run A"]] == 0.8 and rows["green"][column["run B"]] == 0.25
    assert 'id="recall-side-by-side"' in page.content.decode()

    assert b'id="side-by-side"' not in client.get("/reports/compare/").content  # only for a selection
    assert b'id="side-by-side"' not in client.get(f"/reports/compare/?job={a.pk}").content
