"""In a real browser at phone width, 390 CSS pixels: every main page fits without
sideways scrolling and the navigation folds behind a Menu button. Printed, the report keeps headings
with what follows them, and the confusion matrices' class names are not cut off."""

import copy

import pytest

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job, make_version_for_job
from tests.webapp.mistakes_fixtures import job_with_mistakes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
LONG_NAMES = ["scratches on the press line", "inclusion near the weld seam", "no defect at all (good part)"]


def _page_fits(browser) -> int:
    """How many CSS pixels the page is wider than the phone's screen (0 when it fits)."""
    # clientWidth is the layout viewport (390); a phone browser zooms out to show a wider page, so
    # window.innerWidth would grow with the page and hide the overflow.
    return browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_main_pages_fit_a_phone_and_the_navigation_folds(browser, live_server, make_user, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    alice = make_user("alice", workspace="Press line")
    job, _ = job_with_mistakes("Press line", user=alice, model_line_name="press line 3 scratches and dents")
    version = make_version_for_job(job, tmp_path)
    pages = ["/", "/datasets/", f"/datasets/versions/{job.dataset_version_id}/", "/jobs/", "/jobs/new/",
             f"/jobs/{job.pk}/", "/adapters/", f"/adapters/lines/{version.model_line_id}/",
             f"/adapters/versions/{version.pk}/", "/adapters/upload/", "/reports/", f"/reports/jobs/{job.pk}/",
             f"/reports/compare/?job={job.pk}", "/status/", "/accounts/tokens/"]

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    log_in(browser, live_server, "alice")
    WebDriverWait(browser, 30).until(lambda d: "/login/" not in d.current_url)
    too_wide = {}
    browser.get(live_server.url + "/status/")
    assert browser.execute_script("return document.documentElement.clientWidth") == PHONE["width"]
    for page in pages:
        browser.get(live_server.url + page)
        browser.execute_script("return document.fonts.ready")
        if _page_fits(browser) > 0:
            too_wide[page] = _page_fits(browser)
    assert too_wide == {}

    links = browser.find_elements(By.CSS_SELECTOR, ".topbar nav a")
    toggle = browser.find_element(By.ID, "menu-toggle")
    assert toggle.is_displayed() and not any(link.is_displayed() for link in links)
    toggle.click()
    assert all(link.is_displayed() for link in links) and toggle.get_attribute("aria-expanded") == "true"
    links[0].click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url.endswith("/datasets/"))

    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.set_window_size(1280, 900)
    browser.refresh()
    assert not browser.find_element(By.ID, "menu-toggle").is_displayed()
    assert all(link.is_displayed() for link in browser.find_elements(By.CSS_SELECTOR, ".topbar nav a"))


def test_the_printed_report_keeps_headings_with_their_tables_and_shows_whole_class_names(browser, live_server,
                                                                                         make_user):
    from selenium.webdriver.support.ui import WebDriverWait

    make_user("maria", workspace="Press line", role="manager")
    evaluation = copy.deepcopy(EVALUATION)
    evaluation["class_names"] = LONG_NAMES
    for part in ("zero_shot", "tuned"):
        evaluation[part]["per_class_accuracy"] = dict(zip(LONG_NAMES, evaluation[part]["per_class_accuracy"].values()))
    job = make_finished_job("Press line", evaluation=evaluation)
    log_in(browser, live_server, "maria")
    WebDriverWait(browser, 30).until(lambda d: "/login/" not in d.current_url)
    browser.get(f"{live_server.url}/reports/jobs/{job.pk}/")
    charts = ("chart-confusion-zero-shot", "chart-confusion-tuned")
    for chart in charts:
        WebDriverWait(browser, 30).until(
            lambda d, c=chart: d.find_element("id", c).get_attribute("data-drawn") == "true")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    browser.set_window_size(800, 1100)  # about an A4 page's width
    browser.execute_script("window.dispatchEvent(new Event('beforeprint'))")
    # The charts are redrawn for the page's width: wait until each drawing is as wide as its box.
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return arguments[0].every(id => { const e = document.getElementById(id);"
        " return Math.abs(e.querySelector('.main-svg').getBoundingClientRect().width - e.clientWidth) < 2; })",
        list(charts)))

    breaks = browser.execute_script(
        "return [...document.querySelectorAll('main h2')].map(h => getComputedStyle(h).breakAfter)")
    assert breaks and set(breaks) == {"avoid-page"}
    for chart in charts:
        # Every tick label lies inside the drawing (an SVG cuts off what falls outside it).
        outside = browser.execute_script("""
            const chart = document.querySelector('#' + arguments[0] + ' .main-svg').getBoundingClientRect();
            return [...document.querySelectorAll('#' + arguments[0] + ' .xtick text, #' + arguments[0]
                                                 + ' .ytick text')]
              .filter(t => { const r = t.getBoundingClientRect();
                             return r.left < chart.left - 1 || r.right > chart.right + 1
                                    || r.top < chart.top - 1 || r.bottom > chart.bottom + 1; })
              .map(t => t.textContent);""", chart)
        labels = browser.execute_script(
            "return [...document.querySelectorAll('#' + arguments[0] + ' .ytick text')].map(t => t.textContent)", chart)
        assert sorted(labels) == sorted(LONG_NAMES) and outside == []
