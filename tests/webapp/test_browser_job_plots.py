"""In a real browser : each live plot has a plain sentence saying what it shows and
what good looks like, and no made-up axis before its first point (accuracy stays 0-100 %)."""

import pytest

from tests.conftest import log_in
from tests.webapp.factories import make_finished_job
from webapp.jobs.models import Job, MetricPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAYOUT = ("var l = document.getElementById(arguments[0])._fullLayout; "
          "return [l.yaxis.range, l.yaxis.showticklabels, l.xaxis.showticklabels]")


def test_plots_explain_themselves_and_show_no_axis_before_the_first_point(browser, live_server, make_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    alice = make_user("alice", workspace="Press line")
    job = make_finished_job("Press line", user=alice, status=Job.Status.RUNNING, attempts=1)
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.execute_script("return !!document.getElementById('plot-val')._fullLayout"))
    wait.until(lambda b: b.find_element(By.ID, "job-status").text == "Running")

    notes = [el.text for el in browser.find_elements(By.CSS_SELECTOR, ".plots .plot-note")]
    assert len(notes) == 4 and all("Good:" in n or "normal" in n for n in notes)
    # The loss caption speaks of the stage-2 line once there is one (test_browser_plots_say_why.py).
    assert "falls" in notes[0] and "validation images" in notes[1] and "nudged" in notes[2] and "frozen" in notes[3]

    val_range, _, _ = browser.execute_script(LAYOUT, "plot-val")
    assert val_range == [0, 1]
    _, loss_y_ticks, loss_x_ticks = browser.execute_script(LAYOUT, "plot-loss")
    assert (loss_y_ticks, loss_x_ticks) == (False, False)

    MetricPoint.objects.create(job=job, seq=1, step=1, stage="cmaes", queries=30, train_loss=1.2, val_acc=0.5,
                               elapsed_s=1.0)
    wait.until(lambda b: b.execute_script(LAYOUT, "plot-loss")[1:] == [True, True])
    assert browser.execute_script(LAYOUT, "plot-val")[0] == [0, 1]
