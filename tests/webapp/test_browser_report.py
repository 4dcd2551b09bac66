"""In a real browser: a manager opens a finished job's report (factory data), sees the summary and the
Plotly charts drawn from our own static files, and downloads the adapter archive."""

import time
import zipfile

import pytest

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job, make_version_for_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def _wait_for_file(folder, pattern, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern} in {folder} after {timeout}s: {list(folder.iterdir())}")


def test_manager_reads_the_report_with_charts_and_downloads_the_archive(browser, live_server, make_user,
                                                                        tmp_path, settings):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.COST_PER_WORKER_HOUR = 1.0
    settings.COST_CURRENCY = "EUR"
    make_user("maria", workspace="Press line", role="manager", password="pw-for-tests-1")
    job = make_finished_job("Press line", evaluation=EVALUATION, worker_seconds=1440.0,
                            model_line_name="press line 3 scratches")
    version = make_version_for_job(job, tmp_path)

    log_in(browser, live_server, "maria")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: "/login/" not in d.current_url)  # the session cookie is set once the login answered
    browser.get(f"{live_server.url}/reports/jobs/{job.pk}/")

    summary = browser.find_element(By.ID, "summary").text
    assert summary == "Tuning raised accuracy from 61% to 88% for about 0.40 EUR in worker time."
    for chart in ("chart-per-class", "chart-confusion-zero-shot", "chart-confusion-tuned"):
        wait.until(lambda d, c=chart: d.find_element(By.ID, c).get_attribute("data-drawn") == "true")
    bars = browser.execute_script("return document.getElementById('chart-per-class').data.map(t => t.y)")
    assert bars == [[90, 50, 43], [100, 80, 86]]
    heat = browser.execute_script("return document.getElementById('chart-confusion-tuned').data[0].z")
    assert heat[0] == [0, 1, 6]  # drawn bottom-up: the last true class is the first row of z

    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(browser.downloads)})
    browser.find_element(By.ID, "download-archive").click()
    archive = _wait_for_file(browser.downloads, "*.zip")
    assert archive.name == "press-line-3-scratches-v1.zip"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["press-line-3-scratches-v1/README.txt",
                                         "press-line-3-scratches-v1/adapter.json",
                                         "press-line-3-scratches-v1/adapter.safetensors"]
        assert version.sha256 in zf.read("press-line-3-scratches-v1/README.txt").decode()


def test_class_names_are_text_in_the_charts_never_links(browser, live_server, make_user):
    """A class folder named like HTML must show as those characters, not become a clickable link."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    hostile = '<a href="http:evil.example">x</a>'
    evaluation = {**EVALUATION, "class_names": [hostile, "green", "red"]}
    for part in ("zero_shot", "tuned"):
        per_class = dict(EVALUATION[part]["per_class_accuracy"])
        per_class[hostile] = per_class.pop("blue")
        evaluation[part] = {**EVALUATION[part], "per_class_accuracy": per_class}
    make_user("maria", workspace="Press line", role="manager", password="pw-for-tests-1")
    job = make_finished_job("Press line", evaluation=evaluation, name='<a href="http:evil.example">job</a>')

    log_in(browser, live_server, "maria")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: "/login/" not in d.current_url)
    browser.get(f"{live_server.url}/reports/jobs/{job.pk}/")
    wait.until(lambda d: d.find_element(By.ID, "chart-per-class").get_attribute("data-drawn") == "true")
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#chart-per-class .xtick text")]
    assert hostile in ticks and not browser.find_elements(By.CSS_SELECTOR, "#chart-per-class a")

    browser.get(f"{live_server.url}/reports/compare/?job={job.pk}")
    wait.until(lambda d: d.find_element(By.ID, "chart-scatter").get_attribute("data-drawn") == "true")
    browser.execute_script("Plotly.Fx.hover('chart-scatter', [{curveNumber: 0, pointNumber: 0}])")
    hover = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#chart-scatter .hoverlayer").text)
    assert '<a href="http:evil.example">job</a>' in hover
    assert not browser.find_elements(By.CSS_SELECTOR, "#chart-scatter a")
