"""The API's front door: /api/v1/ answers a JSON index of every endpoint, /api/v1/openapi.json an OpenAPI
document generated from the code (every route of webapp/api/urls.py, with its methods), both linked from
the tokens page; and /favicon.ico is an icon, not a 404."""

import pytest
from django.test import Client

from tests.webapp.factories import csrf_client

pytestmark = pytest.mark.django_db


def test_the_index_lists_every_endpoint_and_points_at_the_description():
    response = Client().get("/api/v1/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    paths = {e["path"]: e for e in body["endpoints"]}
    assert paths["/api/v1/jobs/"]["methods"] == ["GET", "POST"]
    assert paths["/api/v1/jobs/{pk}/cancel/"]["methods"] == ["POST"]
    assert "/api/v1/tuning-wheel/" in paths
    from webapp.api.urls import urlpatterns  # after the site's URL conf has registered its converters

    assert len(paths) == len(urlpatterns) - 2  # all but the index and the description themselves
    assert body["openapi"].endswith("/api/v1/openapi.json") and "Bearer" in body["authentication"]


def test_the_openapi_document_is_generated_from_the_routes():
    document = Client().get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.") and document["info"]["title"] == "Tuning dashboard API"
    job = document["paths"]["/api/v1/jobs/{pk}/"]
    assert set(job) >= {"get", "parameters"} and job["parameters"][0] == {
        "in": "path", "name": "pk", "required": True, "schema": {"type": "integer"}}
    assert document["paths"]["/api/v1/jobs/"]["post"]["security"] == [{"token": []}]
    assert document["components"]["securitySchemes"]["token"] == {"type": "http", "scheme": "bearer"}
    assert set(document["paths"]["/api/v1/adapters/{pk}/files/{name}"]["get"]["responses"]) >= {"200", "401", "404"}


def test_the_tokens_page_links_both_and_the_favicon_is_found(make_user):
    page = csrf_client(make_user("erin", workspace="Press line")).get("/accounts/tokens/").content.decode()
    assert 'href="/api/v1/" id="api-index"' in page and 'href="/api/v1/openapi.json" id="api-openapi"' in page
    assert 'rel="icon"' in page
    icon = Client().get("/favicon.ico", follow=True)
    assert icon.status_code == 200 and b"<svg" in b"".join(icon.streaming_content)
