"""From a dataset version to a job: the version page's "Tune this dataset" button,
the launch form preselecting that version (only one the user may tune), and a budget too small to do
anything refused with the minimum (tuning.config.minimum_budget) in the message, on the form and the API."""

import json
import re

import pytest
from django.test import Client

from tests.webapp.factories import FAST_TUNING, csrf_client, csrf_post, make_api_token, make_ready_version
from tests.webapp.tiny_backbone import TINY_BACKBONE
from tuning import TuneConfig
from tuning.config import minimum_budget
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def selected_version(page: str) -> str | None:
    select = page[page.index('name="dataset_version"'):]
    select = select[:select.index("</select>")]
    match = re.search(r'<option value="(\d+)"[^>]*selected', select)
    return match and match.group(1)


@pytest.fixture
def versions(alice):
    return [make_ready_version("Press line", name=name, user=alice, per_class=6) for name in ("a-first", "b-second")]


def test_version_page_links_engineers_to_the_form_with_that_version(alice, make_user, versions):
    target = versions[1]
    page = csrf_client(alice).get(f"/datasets/versions/{target.pk}/").content.decode()
    assert f'href="/jobs/new/?dataset_version={target.pk}">Tune this dataset</a>' in page
    manager = make_user("maria", workspace="Press line", role="manager")
    assert "Tune this dataset" not in csrf_client(manager).get(f"/datasets/versions/{target.pk}/").content.decode()


def test_form_preselects_the_version_the_user_came_from(alice, versions):
    client = csrf_client(alice)
    assert selected_version(client.get("/jobs/new/").content.decode()) is None  # the first is the browser's default
    page = client.get(f"/jobs/new/?dataset_version={versions[1].pk}").content.decode()
    assert selected_version(page) == str(versions[1].pk)


def test_form_ignores_a_version_the_user_may_not_tune(alice, make_user, versions):
    make_user("bob", workspace="Paint shop")
    other = make_ready_version("Paint shop", name="paint secrets", per_class=6)
    response = csrf_client(alice).get(f"/jobs/new/?dataset_version={other.pk}")
    assert response.status_code == 200
    page = response.content.decode()
    assert selected_version(page) is None and "paint secrets" not in page
    assert selected_version(csrf_client(alice).get("/jobs/new/?dataset_version=junk").content.decode()) is None


def test_a_budget_too_small_to_do_anything_is_refused_with_the_minimum(alice, versions):
    minimum = minimum_budget(TuneConfig(**{**FAST_TUNING, "method": "sharpzo"}))
    data = {"dataset_version": versions[0].pk, "backbone": TINY_BACKBONE, "method": "sharpzo", "shots": 2, "seed": 0,
            "budget": 10, "name": "", "model_line_name": "", **FAST_TUNING}
    response = csrf_post(csrf_client(alice), "/jobs/new/", data)
    assert response.status_code == 200 and not Job.objects.exists()
    assert minimum > 10
    assert (f"A budget of 10 queries is too small to tune anything: sharpzo needs at least {minimum} queries "
            "with these settings.") in response.content.decode()
    assert csrf_post(csrf_client(alice), "/jobs/new/", {**data, "budget": minimum}).status_code == 302


def test_the_api_refuses_it_with_the_same_message(alice, versions):
    response = Client().post("/api/v1/jobs/", json.dumps({"dataset_version": versions[0].pk, "budget": 10,
                                                           "method": "sharpzo"}),
                             content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {make_api_token(alice)}")
    assert response.status_code == 400 and "budget" in response.json()["fields"]
    assert f"at least {minimum_budget(TuneConfig(method='sharpzo'))} queries" in response.json()["error"]
