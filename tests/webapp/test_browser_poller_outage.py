"""In a real browser: while the database is away the job page's poller gets 503 with Retry-After
(webapp/core/error_views.py), keeps what it has drawn, shows no error, and carries on by itself when the
database is back. The outage is the metrics view's query failing as a lost database connection does."""

import pytest

from tests.conftest import log_in
from tests.webapp.factories import make_finished_job
from webapp.jobs.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_job_page_waits_quietly_through_a_database_outage(browser, live_server, make_user, monkeypatch):
    from django.db import OperationalError
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from webapp.core import error_views
    from webapp.jobs import views

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=1)
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: b.find_element(By.ID, "job-status").text == "Running")

    polls = []

    def database_away(*args, **kwargs):
        polls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(error_views, "RETRY_AFTER_SECONDS", 1)
    monkeypatch.setattr(views, "job_live_payload", database_away)
    wait.until(lambda b: len(polls) >= 4)  # it keeps asking, as often as the answer says
    note = browser.find_element(By.ID, "poll-note")
    assert "error" not in (note.get_attribute("class") or "") and "lost" not in note.text
    assert browser.find_element(By.ID, "job-status").text == "Running"  # what it had stays

    monkeypatch.undo()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED)
    wait.until(lambda b: b.find_element(By.ID, "job-status").text == "Completed")
    assert browser.find_element(By.ID, "poll-note").text == ""
