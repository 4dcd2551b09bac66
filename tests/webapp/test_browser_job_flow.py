"""In a real browser: log in, upload a small dataset on the datasets page, launch a job with a small
budget on the tiny backbone, watch the Plotly curves gain points while it runs, and read the final
accuracy once it ends, all without reloading the job page."""

import io
import time
import zipfile

import pytest

from tests.conftest import log_in
from tests.webapp.factories import FAST_TUNING, class_image_png
from tests.webapp.tiny_backbone import TINY_BACKBONE
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

POINTS_IN_LOSS_PLOT = "return document.getElementById('plot-loss').data[0].x.length"




def dataset_zip(path, classes=("red", "green", "blue"), per_class=6) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k, label in enumerate(classes):
            for i in range(per_class):
                archive.writestr(f"{label}/{i:02d}.png", class_image_png(k, i))
    path.write_bytes(buffer.getvalue())


def test_launch_in_the_browser_and_watch_the_curves_grow_until_the_final_accuracy(
        browser, live_server, make_user, celery_worker, jobs_hold, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    make_user("eng", workspace="Plant A", password="pw-for-tests-1")
    zip_path = tmp_path / "parts.zip"
    dataset_zip(zip_path)

    log_in(browser, live_server, "eng")

    # Upload through the datasets page; the worker checks and imports it.
    browser.get(live_server.url + "/datasets/")
    upload = browser.find_element(By.CSS_SELECTOR, "#upload form")
    upload.find_element(By.NAME, "name").send_keys("Painted parts")
    upload.find_element(By.NAME, "file").send_keys(str(zip_path))
    upload.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 120).until(EC.text_to_be_present_in_element((By.ID, "version-status"), "Ready"))

    # Launch: the estimate shows before launch, the advanced settings open on demand.
    browser.get(live_server.url + "/jobs/new/")
    form = browser.find_element(By.ID, "job-form")
    Select(form.find_element(By.NAME, "dataset_version")).select_by_index(0)
    Select(form.find_element(By.NAME, "backbone")).select_by_value(TINY_BACKBONE)
    Select(form.find_element(By.NAME, "method")).select_by_value("sharpzo")  # live curves of a long run

    def set_field(name, value):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(str(value))

    set_field("shots", 2)
    set_field("budget", 1500)
    WebDriverWait(browser, 30).until(EC.text_to_be_present_in_element((By.ID, "estimate-text"), "of worker time"))
    basis = browser.find_element(By.ID, "estimate-basis").text  # what the figures rest on, in words
    assert "Measured by" in basis or "uses defaults" in basis, basis
    # A time budget fills in the queries that fit in it; typing a budget in queries clears it again.
    set_field("budget_minutes", 1)
    WebDriverWait(browser, 30).until(lambda b: form.find_element(By.NAME, "budget").get_attribute("value") != "1500")
    set_field("budget", 1500)
    assert form.find_element(By.NAME, "budget_minutes").get_attribute("value") == ""
    form.find_element(By.CSS_SELECTOR, "#advanced summary").click()
    for name, value in FAST_TUNING.items():
        set_field(name, value)
    form.find_element(By.ID, "launch").click()

    WebDriverWait(browser, 30).until(EC.presence_of_element_located((By.ID, "job-live")))
    job = Job.objects.get()
    assert browser.current_url.endswith(f"/jobs/{job.pk}/")

    # While the job runs, the loss plot gains points without a reload.
    counts = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = browser.find_element(By.ID, "job-live").get_attribute("data-status")
        counts.append((status, browser.execute_script(POINTS_IN_LOSS_PLOT)))
        growing_while_running = [n for s, n in counts if s == "running" and n > 0]
        if len(set(growing_while_running)) >= 2 or status in {"completed", "failed", "cancelled"}:
            break
        time.sleep(0.5)
    running_counts = [n for s, n in counts if s == "running" and n > 0]
    assert len(set(running_counts)) >= 2, counts  # at least two different, growing counts while running
    assert running_counts == sorted(running_counts)
    jobs_hold.release()

    # The end: the page shows the accuracies it got from the JSON endpoint, then stops polling.
    WebDriverWait(browser, 300).until(
        lambda b: b.find_element(By.ID, "job-live").get_attribute("data-finished") == "true")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    assert browser.find_element(By.ID, "job-status").text == "Completed"
    tuned = browser.find_element(By.ID, "tuned-acc").text
    assert tuned.startswith(f"{job.tuned_accuracy * 100:.1f}% (95% interval ")  # an interval beside every figure
    assert browser.find_element(By.ID, "zero-shot-acc").text.endswith("test images")
    assert "95% interval" in browser.find_element(By.ID, "tuned-bacc").text
    not_better = browser.find_element(By.ID, "not-better")
    assert not_better.is_displayed() == (job.evaluation["validation"]["better_than_zero_shot"] is False)
    assert browser.find_element(By.ID, "result-adapter").text == "Painted parts v1"
    assert browser.execute_script(POINTS_IN_LOSS_PLOT) == job.metrics.exclude(train_loss=None).count()
