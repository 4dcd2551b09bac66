"""The job report a manager reads and prints: a plain-language summary first, then the facts, the
per-class accuracy and the confusion matrices (tables, plus Plotly charts from our own static files)."""

import json
import re
from html import unescape

import pytest
from django.template.defaultfilters import filesizeformat

from tests.webapp.factories import EVALUATION, csrf_client, make_finished_job, make_version_for_job
from webapp.jobs.models import Job
from webapp.reports.selectors import summary_sentence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cost_rate(settings):
    settings.COST_PER_WORKER_HOUR = 1.0
    settings.COST_CURRENCY = "EUR"


def _text(response) -> str:
    return re.sub(r"\s+", " ", unescape(response.content.decode()))  # also folds the no-break spaces


def test_finished_job_report_has_summary_facts_per_class_and_confusion(make_user, tmp_path):
    maria = make_user("maria", workspace="Press line", role="manager")
    job = make_finished_job("Press line", evaluation=EVALUATION, worker_seconds=1440.0, peak_memory_bytes=300 * 2**20,
                   model_line_name="press line 3 scratches")
    version = make_version_for_job(job, tmp_path)
    response = csrf_client(maria).get(f"/reports/jobs/{job.pk}/")
    assert response.status_code == 200
    page = _text(response)
    assert "Tuning raised accuracy from 61% to 88% for about 0.40 EUR in worker time." in page
    for fact in ("2000 queries, 1980 used", "sharpzo", "tiny-test", "61.0% → tuned", "88.0%", "(+27.0 pts)",
                 "24 min", "300.0 MB", "0.40 EUR", "press line 3 scratches v1</a>, "
                 + re.sub(r"\s+", " ", filesizeformat(version.size_bytes)),
                 "3 classes, 12 images", "queries in fp32"):
        assert fact in page, fact
    per_class = page[page.index('id="per-class"'):]
    assert "<td>green</td><td>10</td><td>50.0%</td><td>80.0%</td>" in per_class.replace(" <", "<").replace("> ", ">")
    assert "<th>red</th><td>0</td><td>1</td><td>6</td>" in page.replace(" <", "<").replace("> ", ">")
    chart = json.loads(re.search(r'id="report-evaluation" type="application/json">(.*?)</script>', page).group(1))
    assert chart["tuned"] == [1.0, 0.8, 0.86] and chart["confusion_zero_shot"][2] == [3, 1, 3]
    assert "/static/vendor/plotly/plotly.min.js" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another site (a CDN)


@pytest.mark.parametrize("fields, sentence", [
    ({"status": Job.Status.CANCELLED}, "Stopped early on request, tuning raised accuracy from 61% to 88%"),
    ({"tuned": 0.55}, "Tuning lowered accuracy from 61% to 55%"),
    ({"status": Job.Status.FAILED, "error": "The worker ran out of memory."},
     "This job failed after about 0.40 EUR in worker time: The worker ran out of memory."),
    ({"status": Job.Status.RUNNING}, "This job is running; the report is complete once it finishes."),
])
def test_summary_says_what_happened_in_plain_words(fields, sentence):
    assert summary_sentence(make_finished_job("Press line", **fields)).startswith(sentence)


def test_a_change_within_the_intervals_is_not_worded_as_a_gain():
    noise = {"class_names": ["blue", "green"], "zero_shot": {"confusion": [[30, 20], [23, 27]]},
             "tuned": {"confusion": [[31, 19], [23, 27]]}}
    sentence = summary_sentence(make_finished_job("Press line", zero_shot=0.57, tuned=0.58, evaluation=noise))
    assert sentence.startswith("Tuning changed accuracy from 57% to 58% for about")
    assert sentence.endswith("on 100 test images that is within the 95% intervals, so not a clear change.")


def test_a_job_without_evaluation_yet_still_reports_without_charts(make_user):
    job = make_finished_job("Press line", status=Job.Status.RUNNING)
    viewer = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    page = _text(viewer.get(f"/reports/jobs/{job.pk}/"))
    assert "This job is running" in page and "plotly.min.js" not in page


def test_another_workspace_gets_404(make_user):
    job = make_finished_job("Press line", evaluation=EVALUATION)
    assert csrf_client(make_user("mallory", workspace="Other site")).get(f"/reports/jobs/{job.pk}/").status_code == 404
