"""What a user sees when something goes wrong: pages in the site's layout, in words, with a way back and no
trace of the code. A database outage is answered 503 with Retry-After, on pages, on the job page's poller
(in JSON) and on uploads, by a real gunicorn whose database cannot be opened."""

import urllib.error
import urllib.request
import uuid

import pytest
from django.test import Client

from tests.webapp.gunicorn_process import gunicorn
from webapp.accounts.access import READ_ONLY
from webapp.accounts.models import Workspace

CSRF = "a" * 32  # a CSRF secret the client chose, sent as cookie and form field, as Django accepts


def _fetch(url: str, *, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data,
                                     headers={"Cookie": f"sessionid=s{uuid.uuid4().hex}; csrftoken={CSRF}",
                                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers, answer.read().decode()


def _multipart_upload() -> tuple[bytes, str]:
    boundary = "tuning-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{CSRF}\r\n',
             f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nscratches\r\n',
             f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.zip"\r\n'
             f"Content-Type: application/zip\r\n\r\nnot really a zip\r\n",
             f"--{boundary}--\r\n"]
    return "".join(parts).encode("latin-1"), f"multipart/form-data; boundary={boundary}"


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_answered_503_in_words(tmp_path):
    away = f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"  # sqlite cannot open it: every query fails
    with gunicorn(tmp_path / "gunicorn.log", DATABASE_URL=away) as (port, _):
        base = f"http://127.0.0.1:{port}"
        status, headers, page = _fetch(f"{base}/jobs/")
        assert status == 503 and headers["Retry-After"].isdigit()
        assert "The database is not answering just now" in page and "Back to the jobs" in page
        assert "Tuning dashboard" in page and "css/app" in page  # the site's layout
        assert "Traceback" not in page and "sqlite" not in page and str(tmp_path) not in page

        status, headers, body = _fetch(f"{base}/jobs/1/metrics.json?after=0", headers={"Accept": "application/json"})
        assert status == 503 and headers["Retry-After"].isdigit() and headers["Content-Type"] == "application/json"
        assert "database is not answering" in body

        upload, content_type = _multipart_upload()
        status, headers, page = _fetch(f"{base}/datasets/upload/", data=upload, headers={"Content-Type": content_type})
        assert status == 503 and "Nothing you saved is lost" in page


@pytest.mark.django_db
def test_not_found_forbidden_and_server_error_pages_have_the_layout_and_a_way_back(make_user, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("vera", workspace="Press line", role="viewer"))

    missing = client.get("/jobs/987654/")
    assert missing.status_code == 404 and "Page not found" in missing.content.decode()

    workspace = Workspace.objects.get(name="Press line")
    refused = client.post("/datasets/upload/", {"workspace": workspace.pk, "name": "x"})
    assert refused.status_code == 403 and READ_ONLY.replace("'", "&#x27;") in refused.content.decode()

    from webapp.jobs import views

    def broken(**kwargs):
        raise RuntimeError("/srv/secret/path.py exploded")

    monkeypatch.setattr(views, "job_list", broken)
    failed = client.get("/jobs/")
    assert failed.status_code == 500 and "Something went wrong" in failed.content.decode()
    assert "/srv/secret" not in failed.content.decode() and "Traceback" not in failed.content.decode()

    for page in (missing, refused, failed):
        text = page.content.decode()
        assert "css/app" in text and "Back to the jobs" in text
