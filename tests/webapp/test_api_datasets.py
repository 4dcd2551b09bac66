"""Listing datasets and their versions over the API, with the same workspace rules as the pages."""

import pytest
from django.test import Client

from tests.webapp.factories import make_api_token, make_ready_version

pytestmark = pytest.mark.django_db


def _get(key, url):
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_datasets_with_versions_of_my_workspaces_only(make_user):
    key = make_api_token(make_user("victor", workspace="Press line", role="viewer"))
    ours = make_ready_version("Press line", name="scratches", classes=("ok", "scratch"), per_class=4)
    theirs = make_ready_version("Other site", name="their dataset")
    body = _get(key, "/api/v1/datasets/").json()
    assert [d["name"] for d in body["results"]] == ["scratches"]
    (version,) = body["results"][0]["versions"]
    assert version == {"id": ours.pk, "number": 1, "status": "ready", "classes": {"ok": 4, "scratch": 4}, "images": 8,
                       "content_hash": ours.content_hash, "error": None, "created_at": version["created_at"],
                       "status_text": "Ready."}
    assert _get(key, f"/api/v1/datasets/{ours.dataset_id}/").json()["versions"][0]["id"] == ours.pk
    other = _get(key, f"/api/v1/datasets/{theirs.dataset_id}/")
    assert other.status_code == 404 and other.json() == {"error": "Not found."}
