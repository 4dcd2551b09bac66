"""The API answers only to a valid bearer token, in JSON, and never to a session cookie."""

import pytest
from django.test import Client

from tests.webapp.factories import make_api_token
from webapp.accounts.models import ApiToken

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/v1/datasets/", "/api/v1/jobs/", "/api/v1/jobs/1/", "/api/v1/model-lines/",
             "/api/v1/adapters/1/archive/"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ft_not-a-real-token", "Basic YWxpY2U6cHc="])
def test_missing_or_wrong_tokens_get_401_json(header):
    client = Client()
    for url in ENDPOINTS:
        response = client.get(url, **({"HTTP_AUTHORIZATION": header} if header else {}))
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in response.json()["error"]


def test_a_logged_in_browser_session_is_not_enough(make_user):
    client = Client()
    client.force_login(make_user("alice", workspace="Press line"))
    assert client.get("/api/v1/datasets/").status_code == 401


def test_a_valid_token_works_and_its_use_is_noted(make_user):
    alice = make_user("alice", workspace="Press line")
    key = make_api_token(alice)
    response = Client().get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200 and response.json() == {"results": []}
    assert ApiToken.objects.get(user=alice).last_used_at is not None


def test_a_deactivated_user_or_revoked_token_is_refused(make_user):
    alice = make_user("alice", workspace="Press line")
    key = make_api_token(alice)
    alice.is_active = False
    alice.save()
    assert Client().get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    alice.is_active = True
    alice.save()
    ApiToken.objects.filter(user=alice).delete()
    assert Client().get("/api/v1/datasets/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_wrong_method_is_answered_in_json(make_user):
    key = make_api_token(make_user("alice", workspace="Press line"))
    response = Client().delete("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405 and response["Allow"] == "GET, POST" and "error" in response.json()
