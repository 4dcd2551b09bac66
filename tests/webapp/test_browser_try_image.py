"""In a real browser, with a real worker on the default queue: an engineer tries
two images on an adapter version's page, one of them not an image, and sees the predicted class and
confidence of the good one and a plain reason for the other."""

import pytest

from tests.conftest import log_in
from tests.webapp.factories import class_image_png, make_finished_job, make_version_for_job

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_engineer_tries_images_and_sees_the_predicted_class_and_confidence(browser, live_server, make_user,
                                                                              celery_worker, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    alice = make_user("alice", workspace="Press line")
    version = make_version_for_job(make_finished_job("Press line", user=alice), tmp_path)
    good, bad = tmp_path / "part 7.png", tmp_path / "readme.txt"
    good.write_bytes(class_image_png(2, 0, size=48))
    bad.write_text("not a picture")

    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/adapters/versions/{version.pk}/")
    browser.find_element(By.CSS_SELECTOR, "#try-form input[type=file]").send_keys(f"{good}\n{bad}")
    browser.find_element(By.CSS_SELECTOR, "#try-form button").click()

    # The page refreshes by itself until the worker has answered.
    WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.trial[data-status="done"]'))
    rows = browser.find_elements(By.CSS_SELECTOR, ".trial-results tr")[1:]
    label = rows[0].find_element(By.CSS_SELECTOR, "td.label").text
    confidence = rows[0].find_element(By.CSS_SELECTOR, "td.confidence").text
    assert "part 7.png" in rows[0].text and label in version.class_names
    assert confidence.endswith("%") and 0 <= int(confidence[:-1]) <= 100
    assert rows[1].find_element(By.CSS_SELECTOR, "td.error").text == "readme.txt: not an image file."
    thumbnail = rows[0].find_element(By.TAG_NAME, "img")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", thumbnail))
