"""In a real browser : an engineer stops a running job; when it ends, the open job page,
without a reload, drops the cancel button and the "is stopping" banner and links to the report, the
adapter version (with a download button) and the dataset version. The job's end is written by the test
as the worker would write it (no worker runs)."""

import pytest
from django.db import transaction
from django.utils import timezone

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job, make_version_for_job
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_finished_job_leads_to_its_report_adapter_and_dataset_without_a_reload(browser, live_server, make_user,
                                                                                  tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    alice = make_user("alice", workspace="Press line", password="pw-for-tests-1")
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, queries_used=400, attempts=1,
                   model_line_name="press line 3")
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    wait = WebDriverWait(browser, 30)
    assert not browser.find_element(By.ID, "link-report").is_displayed()  # the results card is hidden while running

    browser.find_element(By.ID, "cancel-button").click()
    wait.until(EC.alert_is_present()).accept()  # "Stop this job now? ..."
    banner = wait.until(lambda b: [f for f in b.find_elements(By.CSS_SELECTOR, ".flash") if "is stopping" in f.text])[0]
    assert banner.is_displayed() and browser.find_element(By.ID, "cancel-form").is_displayed()
    wait.until(lambda b: "Stopping" in b.find_element(By.ID, "job-status-text").text)

    # The worker saves the best adapter and ends the job, in one transaction.
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED, finished_at=timezone.now(), queries_used=410,
                                             zero_shot_accuracy=0.61, tuned_accuracy=0.88, evaluation=EVALUATION)
        job.refresh_from_db()
        version = make_version_for_job(job, tmp_path)

    wait.until(lambda b: b.find_element(By.ID, "job-live").get_attribute("data-finished") == "true")
    assert not banner.is_displayed()
    assert not browser.find_element(By.ID, "cancel-form").is_displayed()
    hrefs = {id_: browser.find_element(By.ID, id_).get_attribute("href").removeprefix(live_server.url)
             for id_ in ("link-report", "link-adapter", "link-download", "link-dataset")}
    assert hrefs == {"link-report": f"/reports/jobs/{job.pk}/", "link-adapter": f"/adapters/versions/{version.pk}/",
                     "link-download": f"/adapters/versions/{version.pk}/archive/",
                     "link-dataset": f"/datasets/versions/{job.dataset_version_id}/"}
    assert browser.find_element(By.ID, "link-download").is_displayed()
    assert browser.find_element(By.ID, "link-adapter").text == "Adapter press line 3 v1"

    browser.get(f"{live_server.url}/jobs/{job.pk}/")  # and the same links when the page is opened afterwards
    href = browser.find_element(By.ID, "link-download").get_attribute("href")
    assert href.endswith(f"/versions/{version.pk}/archive/")
    assert browser.find_element(By.ID, "link-report").is_displayed()
    assert not browser.find_elements(By.ID, "cancel-form")
