"""In a real browser: noise is not worded as a gain. A manager reads a report whose change lies within
the 95% intervals and is told it is not a clear change, and the overview marks a model line whose best
version did not beat the untuned model."""

import pytest

from tests.conftest import log_in
from tests.webapp.factories import EVALUATION, make_finished_job, make_version_for_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 57 of 100 test images right before tuning, 58 after: +1 point, well inside the intervals.
NOISE = {"class_names": ["blue", "green"],
         "zero_shot": {"accuracy": 0.57, "confusion": [[30, 20], [23, 27]]},
         "tuned": {"accuracy": 0.58, "confusion": [[31, 19], [23, 27]]},
         "validation": {"better_than_zero_shot": False, "sentence": ""}}


def test_a_change_within_the_noise_is_not_called_a_gain_and_a_no_gain_line_is_marked(
        browser, live_server, make_user, tmp_path):
    from selenium.webdriver.common.by import By

    make_user("maria", workspace="Press line", role="manager", password="pw-for-tests-1")
    noisy = make_finished_job("Press line", zero_shot=0.57, tuned=0.58, evaluation=NOISE,
                              model_line_name="no gain line")
    no_gain = make_version_for_job(noisy, tmp_path)
    clear = make_finished_job("Press line", evaluation=EVALUATION, model_line_name="clear gain line")
    make_version_for_job(clear, tmp_path)

    log_in(browser, live_server, "maria")
    browser.get(f"{live_server.url}/reports/jobs/{noisy.pk}/")
    summary = browser.find_element(By.ID, "summary").text
    assert "raised" not in summary
    assert "from 57% to 58%" in summary and "within the 95% intervals, so not a clear change" in summary
    browser.get(f"{live_server.url}/reports/jobs/{clear.pk}/")
    assert browser.find_element(By.ID, "summary").text.startswith("Tuning raised accuracy from 61% to 88%")

    browser.get(f"{live_server.url}/reports/")
    table = browser.find_element(By.ID, "best-per-line")
    marks = table.find_elements(By.CSS_SELECTOR, ".badge.warn")
    assert [m.get_attribute("id") for m in marks] == [f"no-gain-{no_gain.model_line_id}"]
    assert marks[0].is_displayed() and marks[0].text == "no gain over zero-shot"
