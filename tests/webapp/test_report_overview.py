"""The workspace overview for managers: jobs per state, spend over time, best accuracy per model line."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from tests.webapp.factories import csrf_client, make_finished_job, make_version_for_job
from webapp.accounts.models import Workspace
from webapp.adapters.models import ModelLine
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cost_rate(settings):
    settings.COST_PER_WORKER_HOUR = 3.0
    settings.COST_CURRENCY = "EUR"


def test_states_spend_per_day_and_best_version_per_line(make_user, tmp_path):
    client = csrf_client(make_user("maria", workspace="Press line", role="manager"))
    today = timezone.now().replace(hour=12)
    yesterday = today - dt.timedelta(days=1)
    make_version_for_job(make_finished_job("Press line", model_line_name="scratches", tuned=0.8, worker_seconds=1200,
                                  finished_at=yesterday), tmp_path)
    best = make_version_for_job(make_finished_job("Press line", model_line_name="scratches", tuned=0.9,
                                                  worker_seconds=2400,
                                         finished_at=today), tmp_path)
    make_version_for_job(make_finished_job("Press line", model_line_name="scratches", tuned=0.85, worker_seconds=0,
                                  finished_at=today), tmp_path)
    make_finished_job("Press line", status=Job.Status.FAILED, worker_seconds=1200, finished_at=today)
    make_finished_job("Press line", status=Job.Status.QUEUED)
    make_finished_job("Other site", worker_seconds=99999, finished_at=today)  # not ours: neither counted nor shown
    line = ModelLine.objects.get(name="scratches")
    line.production_version = line.versions.get(number=1)
    line.save()

    response = client.get("/reports/")
    text = re.sub(r"\s+", " ", response.content.decode())
    assert response.status_code == 200
    assert "<td>Completed</td><td>3</td>" in text and "<td>Failed</td><td>1</td>" in text
    assert "<td>Queued</td><td>1</td>" in text
    assert "<th>All jobs</th><th>5</th>" in text
    assert 'id="total-cost">4.00 EUR' in text  # (1200 + 2400 + 0 + 1200) s at 3 EUR/h
    chart = json.loads(re.search(r'id="report-overview" type="application/json">(.*?)</script>', text).group(1))
    assert chart["spend"]["cost"] == [1.0, 3.0]
    assert chart["spend"]["days"] == [timezone.localdate(yesterday).isoformat(), timezone.localdate(today).isoformat()]
    row = text[text.index('id="best-per-line"'):]
    assert f'/adapters/versions/{best.pk}/">v2</a></td> <td>90.0%</td> <td>v1 (80.0%)</td>' in row


def test_a_member_of_several_workspaces_picks_one_and_other_workspaces_are_404(make_user):
    maria = make_user("maria", workspace="Press line", role="manager")
    make_user("mallory", workspace="Other site")
    make_finished_job("Other site", name="their job")
    other = Workspace.objects.get(name="Other site")
    client = csrf_client(maria)
    assert client.get(f"/reports/?workspace={other.pk}").status_code == 404
    from webapp.accounts.models import Membership
    Membership.objects.create(user=maria, workspace=other, role="viewer")
    page = client.get(f"/reports/?workspace={other.pk}").content.decode()
    assert "Reports: Other site" in page and "<th>All jobs</th><th>1</th>" in re.sub(r"\s+", " ", page)


def test_someone_without_a_workspace_sees_a_plain_note(make_user):
    page = csrf_client(make_user("newcomer")).get("/reports/").content.decode()
    assert "not a member of any workspace" in page
