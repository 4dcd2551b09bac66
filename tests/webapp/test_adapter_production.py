"""Marking a version as the one in production (an alias): engineers only, recorded in the history."""

import pytest

from tests.webapp.factories import csrf_client, csrf_post, make_finished_job, make_version_for_job
from webapp.adapters.models import AdapterEvent, ModelLine

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(make_user, tmp_path):
    make_user("alice", workspace="Press line")
    return [make_version_for_job(make_finished_job("Press line", model_line_name="scratches"), tmp_path)
            for _ in range(2)]


def test_engineer_sets_and_clears_production_and_the_history_says_who(make_user, versions):
    v1, v2 = versions
    erin = make_user("erin", workspace="Press line")
    client = csrf_client(erin)
    assert csrf_post(client, f"/adapters/versions/{v2.pk}/production/").status_code == 302
    line = ModelLine.objects.get(pk=v1.model_line_id)
    assert line.production_version == v2
    assert csrf_post(client, f"/adapters/versions/{v1.pk}/production/").status_code == 302
    line.refresh_from_db()
    assert line.production_version == v1
    assert csrf_post(client, f"/adapters/lines/{line.pk}/production/clear/").status_code == 302
    line.refresh_from_db()
    assert line.production_version is None
    history = list(AdapterEvent.objects.filter(model_line=line).exclude(action="created")
                   .values_list("action", "detail", "actor__username"))
    assert history == [("cleared_production", "v1", "erin"), ("set_production", "v1", "erin"),
                       ("set_production", "v2", "erin")]
    page = client.get(f"/adapters/lines/{line.pk}/").content.decode()
    assert "set as production v2" in page and "removed from production v1" in page


def test_viewers_and_managers_may_not_change_production(make_user, versions):
    for name, role in (("victor", "viewer"), ("maria", "manager")):
        client = csrf_client(make_user(name, workspace="Press line", role=role))
        assert csrf_post(client, f"/adapters/versions/{versions[0].pk}/production/").status_code == 403
        assert csrf_post(client, f"/adapters/lines/{versions[0].model_line_id}/production/clear/").status_code == 403
        page = client.get(f"/adapters/lines/{versions[0].model_line_id}/").content.decode()
        assert 'action="/adapters/versions/' not in page
    assert ModelLine.objects.get(pk=versions[0].model_line_id).production_version is None


def test_another_workspace_gets_404(make_user, versions):
    client = csrf_client(make_user("mallory", workspace="Other site"))
    assert csrf_post(client, f"/adapters/versions/{versions[0].pk}/production/").status_code == 404
    assert csrf_post(client, f"/adapters/lines/{versions[0].model_line_id}/production/clear/").status_code == 404


def test_post_without_csrf_token_is_refused(make_user, versions):
    client = csrf_client(make_user("erin", workspace="Press line"))
    assert client.post(f"/adapters/versions/{versions[0].pk}/production/").status_code == 403
    assert ModelLine.objects.get(pk=versions[0].model_line_id).production_version is None


def test_pages_list_lines_versions_and_the_production_badge(make_user, versions):
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    csrf_client(make_user("erin", workspace="Press line"))
    line = ModelLine.objects.get(pk=versions[0].model_line_id)
    line.production_version = versions[1]
    line.save()
    listing = client.get("/adapters/").content.decode()
    assert "scratches" in listing and f'/adapters/versions/{versions[1].pk}/">v2</a>' in listing
    detail = client.get(f"/adapters/versions/{versions[1].pk}/").content.decode()
    assert "production</span>" in detail and versions[1].sha256 in detail and "88.0%" in detail
