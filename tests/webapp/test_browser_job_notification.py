"""In a real browser : an engineer who allowed notifications gets one from the open
job page when the job ends, without a reload. The end is written by the test as the worker would."""

import pytest
from django.utils import timezone

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium shows no notifications when headless: record what the page asks for instead.
RECORD = """
window.shown = [];
class Recorded { constructor(title, options) { window.shown.push([title, options.body]); } }
Recorded.permission = "granted";
Recorded.requestPermission = () => Promise.resolve("granted");
window.Notification = Recorded;
"""


def test_the_open_job_page_notifies_when_the_job_ends(browser, live_server, make_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=1, queries_used=100,
                            name="night run")
    log_in(browser, live_server, "alice")
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": live_server.url, "permissions": ["notifications"]})
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD})
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    wait = WebDriverWait(browser, 30)
    assert "You will get a notification" in browser.find_element(By.ID, "notify-state").text
    assert not browser.find_element(By.ID, "notify-button").is_displayed()  # already allowed: nothing to ask

    Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED, finished_at=timezone.now(),
                                         zero_shot_accuracy=0.61, tuned_accuracy=0.88, evaluation=EVALUATION)
    shown = wait.until(lambda d: d.execute_script("return window.shown.length ? window.shown : null"))
    assert shown[0][0] == "night run: Completed" and len(shown) == 1
    assert not browser.find_element(By.ID, "notify").is_displayed()  # nothing left to be notified of


def test_the_page_asks_for_permission_only_when_the_button_is_pressed(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, status=Job.Status.QUEUED)
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    button = browser.find_element(By.ID, "notify-button")
    assert button.is_displayed()  # headless Chromium starts at "default": not asked yet
    assert browser.execute_script("return Notification.permission") == "default"
