"""Downloading a version: one archive (two files and a README with the commands) or each file alone,
only through the permission-checked views, never for another workspace."""

import hashlib
import io
import json
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.webapp.factories import csrf_client, make_finished_job, make_version_for_job
from webapp.adapters.models import AdapterEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(make_user, tmp_path):
    alice = make_user("alice", workspace="Press line")
    return make_version_for_job(make_finished_job("Press line", user=alice,
                                                  model_line_name="press line 3 scratches"), tmp_path)


def _stored(name):
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def test_archive_holds_both_files_and_a_readme_with_the_exact_commands(make_user, version):
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))  # reading is enough
    response = client.get(f"/adapters/versions/{version.pk}/archive/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert 'filename="press-line-3-scratches-v1.zip"' in response["Content-Disposition"]
    assert response.streaming  # sent in blocks from a spool, never built whole in memory
    body = response.getvalue()
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["press-line-3-scratches-v1/README.txt",
                                          "press-line-3-scratches-v1/adapter.json",
                                          "press-line-3-scratches-v1/adapter.safetensors"]
    weights = archive.read("press-line-3-scratches-v1/adapter.safetensors")
    assert weights == _stored(version.weights_file) and hashlib.sha256(weights).hexdigest() == version.sha256
    readme = archive.read("press-line-3-scratches-v1/README.txt").decode()
    assert "\n       tuning predict --adapter press-line-3-scratches-v1 --images /path/to/images" in readme
    assert version.sha256 in readme and "blue, green, red" in readme and "tiny-test" in readme


def test_each_file_alone_and_unknown_names_are_not_served(make_user, version):
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    weights = client.get(f"/adapters/versions/{version.pk}/files/adapter.safetensors")
    card = client.get(f"/adapters/versions/{version.pk}/files/adapter.json")
    assert weights.getvalue() == _stored(version.weights_file)
    assert json.loads(card.getvalue())["class_names"] == ["blue", "green", "red"]
    assert client.get(f"/adapters/versions/{version.pk}/files/..%2Fadapter.json").status_code == 404
    assert client.get(f"/adapters/versions/{version.pk}/files/README.txt").status_code == 404


def test_downloads_are_recorded_in_the_history(make_user, version):
    victor = make_user("victor", workspace="Press line", role="viewer")
    csrf_client(victor).get(f"/adapters/versions/{version.pk}/archive/")
    event = AdapterEvent.objects.filter(action="downloaded").get()
    assert event.actor == victor and event.version == version and "archive" in event.detail
    page = csrf_client(victor).get(f"/adapters/lines/{version.model_line_id}/").content.decode()
    assert "victor" in page and "downloaded v1 archive" in page


def test_another_workspace_gets_404_everywhere(make_user, version):
    client = csrf_client(make_user("mallory", workspace="Other site"))
    for url in (f"/adapters/versions/{version.pk}/", f"/adapters/versions/{version.pk}/archive/",
                f"/adapters/versions/{version.pk}/files/adapter.safetensors",
                f"/adapters/lines/{version.model_line_id}/"):
        assert client.get(url).status_code == 404, url
    assert version.model_line.name not in client.get("/adapters/").content.decode()
    assert not AdapterEvent.objects.filter(action="downloaded").exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client, version):
    response = client.get(f"/adapters/versions/{version.pk}/archive/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_file_changed_in_storage_is_refused_in_plain_words(make_user, version):
    default_storage.delete(version.weights_file)
    default_storage.save(version.weights_file, ContentFile(b"tampered"))
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    response = client.get(f"/adapters/versions/{version.pk}/archive/")
    assert response.status_code == 500
    assert "no longer matches the checksum" in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_readme_quotes_a_hostile_backbone_id_for_the_shell(make_user, tmp_path):
    """The card's backbone_id is anyone's text: the README's command must hand it over as one word."""
    import shlex

    alice = make_user("alice", workspace="Press line")
    hostile = "ViT-B-32'; touch /tmp/pwned; echo '@/opt/clip/b32.pt"
    version = make_version_for_job(make_finished_job("Press line", user=alice), tmp_path, backbone_id=hostile)
    response = csrf_client(alice).get(f"/adapters/versions/{version.pk}/archive/")
    archive = zipfile.ZipFile(io.BytesIO(response.getvalue()))
    readme = archive.read(next(n for n in archive.namelist() if n.endswith("README.txt"))).decode()
    command = next(line for line in readme.splitlines() if "--backbone" in line)
    assert shlex.split(command) == ["--backbone", "ViT-B-32'; touch /tmp/pwned; echo '@/full/path/to/the/checkpoint"]


def test_downloads_cannot_push_a_change_out_of_the_history(make_user, version):
    """A viewer may download as often as they like; "set as production" must stay in sight."""
    from webapp.adapters.services import model_line_set_production

    model_line_set_production(version=version, user=version.created_by)  # alice, an engineer
    client = csrf_client(make_user("victor", workspace="Press line", role="viewer"))
    for _ in range(201):
        client.get(f"/adapters/versions/{version.pk}/files/adapter.json")
    page = client.get(f"/adapters/lines/{version.model_line_id}/").content.decode()
    assert "set as production v1" in page
    history = page[page.index('id="history"'):page.index('id="downloads"')]
    assert "set as production v1" in history and "downloaded" not in history
