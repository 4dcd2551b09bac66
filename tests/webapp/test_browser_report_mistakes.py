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
    assert captions == [["true blue predicted red 97% sure", "true blue predicted green 55% sure"],
                        ["true red predicted green 80% sure"]]
    images = browser.find_elements(By.CSS_SELECTOR, "#mistakes figure img")
    browser.execute_script("arguments[0].scrollIntoView()", images[-1])  # lazy images load once in view
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return [...arguments[0]].every(i => i.complete && i.naturalWidth > 0)", images))
