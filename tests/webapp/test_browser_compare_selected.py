"""In a real browser : comparing two selected jobs draws their learning curves on one
chart and their per-class recall side by side, and the cost/accuracy points carry the jobs' names."""

import pytest

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job
from webapp.jobs.models import MetricPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_selected_jobs_are_drawn_overlaid_and_the_points_are_labelled(browser, live_server, make_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    make_user("maria", workspace="Press line", role="manager")
    jobs = [make_finished_job("Press line", name=name, evaluation=EVALUATION) for name in ("run A", "run B")]
    for job in jobs:
        MetricPoint.objects.bulk_create([MetricPoint(job=job, seq=i, step=i, stage="s", queries=10 * i,
                                                     val_acc=0.4 + i / 20, elapsed_s=i) for i in range(5)])
    log_in(browser, live_server, "maria")
    WebDriverWait(browser, 30).until(lambda d: "/login/" not in d.current_url)
    browser.get(f"{live_server.url}/reports/compare/?job={jobs[0].pk}&job={jobs[1].pk}")

    for chart in ("chart-scatter", "chart-curves", "chart-recall"):
        WebDriverWait(browser, 30).until(
            lambda d, c=chart: d.find_element(By.ID, c).get_attribute("data-drawn") == "true")
    names = browser.execute_script("return document.getElementById('chart-curves').data.map(t => t.name)")
    assert sorted(names) == ["run A", "run B"]
    bars = browser.execute_script("return document.getElementById('chart-recall').data.map(t => [t.name, t.y])")
    assert sorted(bars) == [["run A", [100, 80, 86]], ["run B", [100, 80, 86]]]
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#chart-scatter .textpoint text')].map(t => t.textContent)")
    assert sorted(labels) == ["run A", "run B"]
