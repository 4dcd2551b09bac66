"""In a real browser, at a 375 px phone width and with print media emulated: the job list keeps its State
and Accuracy columns on the screen, Plotly's toolbar sits on no plot title, and a printed job page has
no Download button and no plot toolbars, and its plots take the page's width rather than half of it."""

import pytest

from tests.conftest import log_in, wait_for
from tests.webapp.factories import EVALUATION, make_finished_job, make_version_for_job
from webapp.jobs.models import MetricPoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True}
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
RIGHT_EDGE = "return arguments[0].getBoundingClientRect().right <= document.documentElement.clientWidth"
TOOLBAR_ON_TITLE = """return Array.from(document.querySelectorAll('.plot')).some(function (plot) {
  var bar = plot.querySelector('.modebar'), title = plot.querySelector('.gtitle');
  if (!bar || !title || getComputedStyle(bar).display === 'none'
      || getComputedStyle(bar.parentNode).display === 'none') return false;
  var a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
  return a.width > 0 && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
});"""
PLOT_SHARE = """var plots = document.querySelector('.plots').getBoundingClientRect().width;
return Array.from(document.querySelectorAll('.plot .svg-container > .main-svg:first-child'))
  .map(s => s.getBoundingClientRect().width / plots);"""


def _finished_job_with_curves(user, tmp_path):
    job = make_finished_job("Press line", user=user, evaluation=EVALUATION, name="press line 3, long name for a phone")
    MetricPoint.objects.bulk_create([MetricPoint(job=job, seq=i + 1, step=i + 1, stage="cmaes", queries=20 * (i + 1),
                                                 train_loss=1.0 - i / 10, val_acc=0.5 + i / 20, sharpness=0.1,
                                                 elapsed_s=i) for i in range(5)])
    make_version_for_job(job, tmp_path)
    return job


def _plots_drawn(browser):
    wait_for(lambda: browser.execute_script(
        "var p = document.getElementById('plot-loss'); return p && p.data && p.data[0].x.length > 0"),
        timeout=30, message="the curves")


def test_at_phone_width_the_state_and_accuracy_stay_in_sight_and_no_toolbar_covers_a_title(
        browser, live_server, make_user, tmp_path):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = _finished_job_with_curves(alice, tmp_path)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/")
    headers = {th.text: th for th in browser.find_elements(By.CSS_SELECTOR, "table.grid thead th") if th.is_displayed()}
    for name in ("State", "Accuracy (zero-shot → tuned)"):
        assert browser.execute_script(RIGHT_EDGE, headers[name]), name
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-job-id="{job.pk}"]')
    assert "61.0% → 88.0%" in row.text

    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    _plots_drawn(browser)
    browser.find_element(By.ID, "plot-loss").click()  # a tap: where the toolbar would show on hover
    assert not browser.execute_script(TOOLBAR_ON_TITLE)


def test_a_printed_job_page_has_no_download_button_nor_toolbars_and_full_width_plots(
        browser, live_server, make_user, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    job = _finished_job_with_curves(alice, tmp_path)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/jobs/{job.pk}/")
    _plots_drawn(browser)
    download = browser.find_element(By.ID, "link-download")
    wait_for(download.is_displayed, timeout=30, message="the download button")
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "plot-loss")).perform()  # the toolbar shows
    assert max(browser.execute_script(PLOT_SHARE)) < 0.6  # two plots a row on the screen
    assert not browser.execute_script(TOOLBAR_ON_TITLE)  # on a wide screen it sits clear of the title

    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not download.is_displayed()
    assert all(not el.is_displayed() for el in browser.find_elements(By.CSS_SELECTOR, ".modebar-container"))
    wait_for(lambda: min(browser.execute_script(PLOT_SHARE)) > 0.9, timeout=10, message="full-width printed plots")
