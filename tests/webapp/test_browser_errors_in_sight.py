"""In a real browser: an error lands where the reader is. A wrong field on the launch form gives a
summary at the top, focused, with a link that takes the focus to the field; "Try an image" with too
many files shows its message in the Try section the page lands on, focused, not at the page's top."""

import pytest

from tests.conftest import log_in, wait_for
from tests.webapp.factories import class_image_png, make_finished_job, make_ready_version, make_version_for_job
from webapp.adapters.trials import TRY_MAX_IMAGES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IN_VIEW = "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;"


def _focused_id(browser) -> str:
    return browser.execute_script("return document.activeElement && document.activeElement.id")


def test_a_wrong_field_is_summarised_at_the_top_with_a_link_to_the_field(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    make_user("erin", workspace="Press line")
    version = make_ready_version("Press line", per_class=6)
    log_in(browser, live_server, "erin")
    browser.get(f"{live_server.url}/jobs/new/?dataset_version={version.pk}")
    shots = browser.find_element(By.ID, "id_shots")
    shots.clear()
    shots.send_keys("500")
    browser.find_element(By.ID, "launch").click()

    summary = wait_for(lambda: browser.find_elements(By.ID, "error-summary"), timeout=30,
                       message="the error summary")[0]
    wait_for(lambda: _focused_id(browser) == "error-summary", timeout=10, message="the focus on the summary")
    assert browser.execute_script(IN_VIEW, summary)
    link = summary.find_element(By.CSS_SELECTOR, "a[href='#id_shots']")
    assert link.text.startswith("Shots:") and "500 shots need" in link.text
    link.click()
    assert _focused_id(browser) == "id_shots"
    assert browser.execute_script(IN_VIEW, browser.find_element(By.ID, "id_shots"))


def test_too_many_images_to_try_are_refused_in_the_try_section_with_the_focus(browser, live_server, make_user,
                                                                              tmp_path):
    from selenium.webdriver.common.by import By

    alice = make_user("alice", workspace="Press line")
    version = make_version_for_job(make_finished_job("Press line", user=alice), tmp_path)
    images = []
    for i in range(TRY_MAX_IMAGES + 1):
        images.append(tmp_path / f"part {i}.png")
        images[-1].write_bytes(class_image_png(i % 3, i, size=32))

    log_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}/adapters/versions/{version.pk}/")
    browser.find_element(By.ID, "try-images").send_keys("\n".join(str(p) for p in images))
    browser.find_element(By.CSS_SELECTOR, "#try-form button").click()

    refused = wait_for(lambda: browser.find_elements(By.ID, "try-errors"), timeout=30, message="the refusal")[0]
    assert f"You sent {TRY_MAX_IMAGES + 1} images" in refused.text
    assert refused.find_element(By.XPATH, "ancestor::section").get_attribute("id") == "try"
    wait_for(lambda: _focused_id(browser) == "try-errors", timeout=10, message="the focus on the refusal")
    assert browser.execute_script(IN_VIEW, refused)
    assert not browser.find_elements(By.CSS_SELECTOR, "main > .flash")  # not at the top as well
