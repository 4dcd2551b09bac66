"""In a real browser: a user who belongs to no workspace is told so, and whom to ask, on the pages and
on the refusal, instead of "No datasets yet" and a bare "Not allowed"; staff reach the admin from every
page, and there find a person's roles on that person's page and "Worker statuses" spelt right."""

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_without_a_workspace_is_told_why_and_whom_to_ask(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    make_user("nora")
    get_user_model().objects.create_user("sam", email="sam@example.com", password="pw-for-tests-1", is_staff=True)
    log_in(browser, live_server, "nora")
    browser.get(f"{live_server.url}/datasets/")
    notice = browser.find_element(By.ID, "no-workspace").text
    assert notice.startswith("You are not a member of any workspace yet") and "sam@example.com" in notice
    assert not browser.find_elements(By.ID, "admin-link")  # not staff

    browser.get(f"{live_server.url}/jobs/new/")
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Not allowed" in page and "You are not a member of any workspace yet" in page and "read-only" not in page
    assert browser.find_element(By.LINK_TEXT, "Back to the jobs").is_displayed()


def test_staff_reach_the_admin_and_a_persons_roles_from_their_page(browser, live_server, make_user):
    from selenium.webdriver.common.by import By

    engineer = make_user("erin", workspace="Press line")
    get_user_model().objects.create_superuser("sam", email="sam@example.com", password="pw-for-tests-1")
    log_in(browser, live_server, "sam")
    browser.get(f"{live_server.url}/jobs/")
    browser.find_element(By.ID, "admin-link").click()
    assert "Worker statuses" in browser.find_element(By.TAG_NAME, "body").text
    assert "Worker statuss" not in browser.page_source

    browser.get(f"{live_server.url}/admin/auth/user/{engineer.pk}/change/")
    memberships = browser.find_element(By.ID, "memberships-group").text
    assert "Press line" in memberships and "Engineer" in memberships
