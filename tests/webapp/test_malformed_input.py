"""No input makes a server error: every URL pattern is walked with malformed ids and query values,
as a member, by GET and POST, and the API gets hostile JSON. A 500 would mean a traceback in DEBUG
and "Something went wrong" otherwise, for a mistake that deserves a plain 400 or 404."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.webapp.factories import make_api_token, make_finished_job, make_version_for_job

pytestmark = pytest.mark.django_db

HUGE = "9" * 25  # more than any database integer holds
BAD_VALUES = [HUGE, "-1", "1.5", "²", "", "x" * 500, "%00", "[]", "1e400"]
QUERY_NAMES = ["after", "job", "line", "workspace", "page", "method", "budget", "backbone", "dataset_version", "name"]


def _paths(patterns=None, prefix=""):
    """Every URL pattern with each of its parameters replaced by every bad value (one at a time)."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if not route.startswith("admin/"):  # Django's own admin is not ours to test
                yield from _paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield from _fill(route.lstrip("^").rstrip("$"))


def _fill(route: str):
    import re

    params = re.findall(r"<(?:\w+:)?\w+>", route)
    if not params:
        yield "/" + route
    for value in (HUGE, "1"):
        for param in params:
            yield "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route.replace(param, value, 1))


@pytest.fixture
def engineer(make_user, tmp_path):
    alice = make_user("alice", workspace="Press line")
    make_version_for_job(make_finished_job("Press line", user=alice), tmp_path)  # so that id 1 exists somewhere
    return alice


def test_every_url_answers_malformed_ids_and_query_values_without_a_server_error(engineer):
    client = Client(raise_request_exception=False)
    client.force_login(engineer)
    token = make_api_token(engineer)
    failures = []
    for path in sorted(set(_paths())):
        headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
        for value in BAD_VALUES:
            query = {name: value for name in QUERY_NAMES}
            for response in (client.get(path, query, headers=headers),
                             client.post(path, query, headers=headers)):
                if response.status_code >= 500:
                    failures.append(f"{response.request['REQUEST_METHOD']} {path} {value!r}: {response.status_code}")
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"dataset_version": ' + HUGE.encode() + b"}",
                                  b'{"dataset_version": 1, "config": {"seed": 1e400}}', b"\xff\xfe"])
def test_api_answers_hostile_json_with_a_plain_400(engineer, body):
    client = Client(raise_request_exception=False)
    response = client.post("/api/v1/jobs/", body, content_type="application/json",
                           headers={"Authorization": f"Bearer {make_api_token(engineer)}"})
    assert response.status_code in (400, 404) and response.json()["error"], response.content[:300]


def test_pages_forbid_inline_and_foreign_scripts(engineer):
    """A Content-Security-Policy on every answer, and no page of ours needs an inline script."""
    import re

    client = Client()
    client.force_login(engineer)
    for path in ("/login/", "/jobs/", "/datasets/", "/reports/", "/reports/compare/", "/accounts/tokens/",
                 "/adapters/lines/1/", "/no-such-page/"):
        response = client.get(path, follow=path == "/login/")
        policy = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        html = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html), path
        assert not re.search(r"\son(click|change|submit|load)=", html), path
