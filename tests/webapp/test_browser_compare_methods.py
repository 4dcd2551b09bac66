"""In a real browser: a comparison gives a method one colour in the scatter and in the curves; a linear
probe (no queries) is a level line at its best, not a vertical line at one query; "Export the selected
jobs as CSV" exports the ticked jobs only; every selection checkbox has a label."""

import csv
import time

import pytest

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job
from webapp.jobs.models import MetricPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _curve(job, queries, accuracies):
    MetricPoint.objects.bulk_create([MetricPoint(job=job, seq=i + 1, step=i + 1, stage="s", queries=q, val_acc=a,
                                                 elapsed_s=i) for i, (q, a) in enumerate(zip(queries, accuracies))])


def _drawn(browser, chart):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, chart).get_attribute("data-drawn") == "true")


def test_one_colour_per_method_and_a_probe_is_a_level_line(browser, live_server, make_user):
    make_user("maria", workspace="Press line", role="manager")
    sharp = make_finished_job("Press line", name="run A", method="sharpzo", evaluation=EVALUATION)
    cmaes = make_finished_job("Press line", name="run C", method="cmaes", evaluation=EVALUATION, tuned=0.7)
    probe = make_finished_job("Press line", name="probe", method="linear_probe", evaluation=EVALUATION, tuned=0.8)
    _curve(sharp, [10, 200, 400], [0.4, 0.5, 0.6])
    _curve(cmaes, [10, 100, 300], [0.4, 0.45, 0.5])
    _curve(probe, [1, 1, 1], [0.5, 0.7, 0.6])
    log_in(browser, live_server, "maria")
    browser.get(f"{live_server.url}/reports/compare/?job={sharp.pk}&job={cmaes.pk}&job={probe.pk}")
    _drawn(browser, "chart-scatter")
    _drawn(browser, "chart-curves")
    scatter = dict(browser.execute_script(
        "return document.getElementById('chart-scatter').data.map(t => [t.name, t.marker.color])"))
    curves = {name: (color, x, y) for name, color, x, y in browser.execute_script(
        "return document.getElementById('chart-curves').data.map(t => [t.name, t.line.color, t.x, t.y])")}
    assert curves["run A"][0] == scatter["sharpzo"] and curves["run C"][0] == scatter["cmaes"]
    assert scatter["sharpzo"] != scatter["cmaes"]
    color, x, y = curves["probe (no queries: its best)"]
    assert color == scatter["linear_probe"] and x == [0, 400] and y == [70, 70]


def test_the_selected_jobs_export_alone_and_every_checkbox_has_a_label(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    make_user("maria", workspace="Press line", role="manager")
    jobs = [make_finished_job("Press line", name=name, evaluation=EVALUATION) for name in ("run A", "run B", "run C")]
    log_in(browser, live_server, "maria")
    browser.get(f"{live_server.url}/reports/compare/")
    boxes = browser.find_elements(By.CSS_SELECTOR, "#select-form input[type=checkbox]")
    assert len(boxes) == 3
    names = browser.execute_script("return arguments[0].map(b => b.labels.length ? b.labels[0].textContent : '')",
                                   boxes)
    assert sorted(names) == ["Select run A", "Select run B", "Select run C"]

    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(browser.downloads)})
    browser.find_element(By.ID, f"select-{jobs[1].pk}").click()
    browser.find_element(By.ID, "csv-selected").click()
    deadline = time.monotonic() + 30
    while not list(browser.downloads.glob("comparison*.csv")) and time.monotonic() < deadline:
        time.sleep(0.2)
    with open(next(browser.downloads.glob("comparison*.csv")), newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 2 and "run B" in rows[1]  # the header and the one ticked job
