"""In a real browser : a manager opens a report and sees the test images the adapter
got wrong, as pictures with their true and predicted class and confidence, class by class, the most
confident mistake first."""

import pytest

from tests.conftest import log_in
from tests.webapp.mistakes_fixtures import job_with_mistakes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_report_shows_the_mistakes_as_thumbnails_with_classes_and_confidence(browser, live_server, make_user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    make_user("maria", workspace="Press line", role="manager")
    job, _ = job_with_mistakes("Press line")
    log_in(browser, live_server, "maria")
    browser.get(f"{live_server.url}/reports/jobs/{job.pk}/")

    groups = browser.find_elements(By.CSS_SELECTOR, "#mistakes .mistake-class")
    assert [g.get_attribute("data-class") for g in groups] == ["blue", "red"]
    captions = [[f.text.replace("\n", " ") for f in g.find_elements(By.TAG_NAME, "figcaption")] for g in groups]
    # each with its file name in the uploaded zip, so a suspect image can be found there
    assert captions == [["blue/0.png true blue predicted red 97% sure",
                         "blue/1.png true blue predicted green 55% sure"],
                        ["red/0.png true red predicted green 80% sure"]]
    images = browser.find_elements(By.CSS_SELECTOR, "#mistakes figure img")
    browser.execute_script("arguments[0].scrollIntoView()", images[-1])  # lazy images load once in view
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return [...arguments[0]].every(i => i.complete && i.naturalWidth > 0)", images))


def test_an_engineer_marks_a_mistake_as_mislabelled_and_the_dataset_version_keeps_it(browser, live_server, make_user):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    make_user("erin", workspace="Press line")
    job, _ = job_with_mistakes("Press line")
    log_in(browser, live_server, "erin")
    browser.get(f"{live_server.url}/reports/jobs/{job.pk}/")
    first = browser.find_elements(By.CSS_SELECTOR, "#mistakes figure.mistake")[0]
    assert "blue/0.png" in first.text
    first.find_element(By.CSS_SELECTOR, "form.mark button").click()

    # the form posts and the report comes back: wait for the new page rather than read the old one
    first = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: next((f for f in d.find_elements(By.CSS_SELECTOR, "#mistakes figure.mistake")
                        if "marked as mislabelled" in f.text), None))
    assert "blue/0.png" in first.text
    assert first.find_element(By.CSS_SELECTOR, "form.mark button").text == "Unmark"
    assert browser.current_url.endswith(f"/reports/jobs/{job.pk}/#mistakes")
    browser.get(f"{live_server.url}/datasets/versions/{job.dataset_version_id}/")
    assert "blue/0.png in blue" in browser.find_element(By.ID, "mislabelled").text
