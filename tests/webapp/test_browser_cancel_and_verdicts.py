"""In a real browser: Cancel asks first, and a page opened while the job was queued says "Stop and keep
the best adapter" once it runs; a stopped or no-gain job's adapter is offered with its verdict beside a
secondary Download button, on the job page and on the version page, while a good one keeps the big one."""

import pytest

from tests.conftest import log_in, wait_for
from tests.webapp.factories import EVALUATION, make_finished_job, make_version_for_job
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cancel_asks_first_and_follows_the_job_from_queued_to_running(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, status=Job.Status.QUEUED)
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    button = browser.find_element(By.ID, "cancel-button")
    assert button.text == "Cancel" and "has not started" in button.get_attribute("data-confirm")

    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=1)
    wait_for(lambda: button.text == "Stop and keep the best adapter", timeout=30, message="the running label")
    assert "saves the best adapter found so far" in button.get_attribute("data-confirm")

    button.click()
    dialog = browser.switch_to.alert
    assert "Stop this job now?" in dialog.text
    dialog.dismiss()
    assert not Job.objects.get(pk=job.pk).cancel_requested  # nothing happened
    button.click()
    browser.switch_to.alert.accept()
    wait_for(lambda: Job.objects.get(pk=job.pk).cancel_requested, timeout=30, message="the stop request")


@pytest.mark.parametrize("kind", ["cancelled", "no gain", "good"])
def test_a_download_not_to_deploy_carries_its_verdict_and_steps_back(browser, live_server, make_user, tmp_path, kind):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    evaluation = {**EVALUATION, "validation": {"better_than_zero_shot": kind != "no gain", "sentence": ""}}
    job = make_finished_job("Press line", user=alice, evaluation=evaluation,
                            status=Job.Status.CANCELLED if kind == "cancelled" else Job.Status.COMPLETED)
    version = make_version_for_job(job, tmp_path)
    log_in(browser, live_server, "alice")
    words = {"cancelled": "Stopped early", "no gain": "Not better than the untuned", "good": None}[kind]

    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    download = browser.find_element(By.ID, "link-download")
    wait_for(download.is_displayed, timeout=30, message="the download link")
    verdict = browser.find_element(By.ID, "download-verdict")
    assert ("secondary" in download.get_attribute("class")) == bool(words)
    assert (verdict.is_displayed() and verdict.text.startswith(words)) if words else not verdict.is_displayed()

    browser.get(f"{live_server.url}/adapters/versions/{version.pk}/")
    download = browser.find_element(By.ID, "download-archive")
    assert ("secondary" in download.get_attribute("class")) == bool(words)
    shown = browser.find_elements(By.ID, "download-verdict")
    assert (bool(shown) and words.split()[-1] in shown[0].text) if words else not shown
