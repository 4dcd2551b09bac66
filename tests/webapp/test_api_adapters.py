"""Model lines, adapter versions and their downloads over the API: what a line PC fetches."""

import io
import zipfile

import pytest
from django.test import Client

from tests.webapp.factories import make_api_token, make_finished_job, make_version_for_job
from webapp.adapters.models import AdapterEvent, ModelLine

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(make_user, tmp_path):
    make_user("erin", workspace="Press line")
    return [make_version_for_job(make_finished_job("Press line", model_line_name="scratches"), tmp_path)
            for _ in range(2)]


def _api(user):
    client, auth = Client(), f"Bearer {make_api_token(user)}"
    return lambda url: client.get(url, HTTP_AUTHORIZATION=auth)


def test_model_lines_with_versions_hashes_and_production(make_user, versions):
    line = ModelLine.objects.get(name="scratches")
    line.production_version = versions[0]
    line.save()
    get = _api(make_user("victor", workspace="Press line", role="viewer"))
    (payload,) = get("/api/v1/model-lines/").json()["results"]
    assert payload["production_version"] == versions[0].pk
    assert payload["production_archive_url"] == f"/api/v1/model-lines/{line.pk}/production/archive/"
    assert [v["number"] for v in payload["versions"]] == [2, 1]
    v1 = payload["versions"][1]
    assert v1["sha256"] == versions[0].sha256 and v1["is_production"] and v1["class_names"] == ["blue", "green", "red"]
    assert (get(f"/api/v1/adapters/{versions[1].pk}/").json()["archive_url"]
            == f"/api/v1/adapters/{versions[1].pk}/archive/")


def test_downloads_archive_files_and_the_production_version(make_user, versions):
    victor = make_user("victor", workspace="Press line", role="viewer")
    get = _api(victor)
    archive = get(f"/api/v1/adapters/{versions[1].pk}/archive/")
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    assert "scratches-v2/adapter.safetensors" in zipfile.ZipFile(io.BytesIO(archive.getvalue())).namelist()
    weights = get(f"/api/v1/adapters/{versions[0].pk}/files/adapter.safetensors").getvalue()
    assert len(weights) == versions[0].size_bytes
    line = ModelLine.objects.get(name="scratches")
    none_yet = get(f"/api/v1/model-lines/{line.pk}/production/archive/")
    assert none_yet.status_code == 404 and "no production version yet" in none_yet.json()["error"]
    line.production_version = versions[0]
    line.save()
    production = get(f"/api/v1/model-lines/{line.pk}/production/archive/")
    assert "scratches-v1/adapter.json" in zipfile.ZipFile(io.BytesIO(production.getvalue())).namelist()
    assert AdapterEvent.objects.filter(action="downloaded", actor=victor).count() == 3


def test_another_workspace_sees_nothing_and_gets_404(make_user, versions):
    get = _api(make_user("mallory", workspace="Other site"))
    assert get("/api/v1/model-lines/").json() == {"results": []}
    line_id = versions[0].model_line_id
    for url in (f"/api/v1/adapters/{versions[0].pk}/", f"/api/v1/adapters/{versions[0].pk}/archive/",
                f"/api/v1/adapters/{versions[0].pk}/files/adapter.json",
                f"/api/v1/model-lines/{line_id}/production/archive/"):
        assert get(url).status_code == 404, url
    assert not AdapterEvent.objects.filter(action="downloaded").exists()
