"""In a real browser: upload a zip on the datasets page; the version page (which polls the status
endpoint while the worker ingests) ends on the classes, shot counts and permission-checked thumbnails."""

import pytest

from tests.conftest import log_in
from tests.webapp.dataset_builders import class_images, make_zip

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]




def test_upload_in_the_browser_ends_on_a_ready_page_with_classes_and_thumbnails(browser, live_server, make_user,
                                                                                celery_worker, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    make_user("eng", workspace="Plant A", password="pw-for-tests-1")
    zip_path = tmp_path / "steel.zip"
    zip_path.write_bytes(make_zip(class_images({"crazing": 4, "rolled-in_scale": 5}, seed=3)))

    log_in(browser, live_server, "eng")
    browser.get(live_server.url + "/datasets/")
    form = browser.find_element(By.CSS_SELECTOR, "#upload form")
    form.find_element(By.NAME, "name").send_keys("Steel strip")
    form.find_element(By.NAME, "file").send_keys(str(zip_path))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    wait = WebDriverWait(browser, 60)
    # The page polls the status endpoint and reloads itself when the worker is done.
    wait.until(EC.text_to_be_present_in_element((By.ID, "version-status"), "Ready"))
    classes = browser.find_element(By.ID, "classes").text
    assert "rolled-in_scale" in classes and "up to 2 shots" in classes
    thumbs = browser.find_elements(By.CSS_SELECTOR, "img.thumb")
    assert len(thumbs) == 9
    # The page has just reloaded itself: let the browser finish loading the thumbnails before judging them.
    wait.until(lambda d: all(d.execute_script("return arguments[0].complete", t) for t in thumbs))
    assert all(browser.execute_script("return arguments[0].naturalWidth", t) > 0 for t in thumbs)


def test_progress_bar_follows_the_status_endpoint_and_reloads_when_done(browser, live_server, make_user):
    """No worker here: the test moves the row itself, so each state is seen for certain."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.webapp.dataset_fixtures import version_with_upload
    from webapp.datasets.models import DatasetVersion

    user = make_user("eng", workspace="Plant A")
    version = version_with_upload(user=user, workspace_name="Plant A", data=b"PK\x05\x06" + b"\0" * 18)
    DatasetVersion.objects.filter(pk=version.pk).update(progress=0.4)
    session = SessionStore()
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash()})
    session.save()
    browser.get(live_server.url + "/login/")
    browser.add_cookie({"name": "sessionid", "value": session.session_key, "path": "/"})

    browser.get(f"{live_server.url}/datasets/versions/{version.pk}/")
    wait = WebDriverWait(browser, 30)
    assert browser.find_element(By.ID, "progress-text").text == "40%"
    DatasetVersion.objects.filter(pk=version.pk).update(progress=0.7)
    wait.until(EC.text_to_be_present_in_element((By.ID, "progress-text"), "70%"))
    DatasetVersion.objects.filter(pk=version.pk).update(
        status=DatasetVersion.Status.READY, progress=1.0, class_counts={"crazing": 9, "pits": 12})
    wait.until(EC.text_to_be_present_in_element((By.ID, "version-status"), "Ready"))
    assert "up to 7 shots" in browser.find_element(By.ID, "classes").text
    assert not browser.find_elements(By.ID, "ingesting")
