"""Inputs at the edges of what the API and forms take: an oversized body gets 413 in words, and names with
line breaks or other control characters are refused in words, in the job form and in the API."""

import json

import pytest
from django.test import Client

from tests.webapp.factories import csrf_client, csrf_post, make_api_token, make_ready_version
from tests.webapp.test_job_create import launch_data
from webapp.core.text import CONTROL_CHARACTERS
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(alice):
    return make_ready_version("Press line", name="scratches", user=alice, per_class=6)


def _api_post(user, body: str):
    return Client().post("/api/v1/jobs/", body, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {make_api_token(user)}")


def test_a_30_mb_api_body_gets_413_in_words(alice):
    response = _api_post(alice, json.dumps({"name": "x" * (30 * 2**20)}))
    assert response.status_code == 413
    assert "larger than 10 MB" in response.json()["error"]


@pytest.mark.parametrize("name", ["Press line 3\nscratches", "tab\there", "bell\x07"])
def test_names_with_control_characters_are_refused_by_the_api(alice, version, name):
    response = _api_post(alice, json.dumps({"dataset_version": version.pk, "budget": 300, "shots": 2, "name": name}))
    assert response.status_code == 400 and response.json()["fields"]["name"] == [CONTROL_CHARACTERS]
    response = _api_post(alice, json.dumps({"dataset_version": version.pk, "budget": 300, "shots": 2,
                                            "model_line": name}))
    assert response.status_code == 400 and CONTROL_CHARACTERS in response.json()["error"]
    assert not Job.objects.exists()


def test_names_with_line_breaks_are_refused_by_the_form(alice, version):
    response = csrf_post(csrf_client(alice), "/jobs/new/", launch_data(version, name="line 3\r\nscratches"))
    assert response.status_code == 200 and response.context["form"].errors["name"] == [CONTROL_CHARACTERS]
    assert CONTROL_CHARACTERS in response.content.decode().replace("&#x27;", "'")
    assert not Job.objects.exists()
