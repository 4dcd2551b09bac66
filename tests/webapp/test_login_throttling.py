"""Guessing passwords or API tokens is throttled (django-axes): after a few failures the right secret
is refused too, from that address, until the cool-off has passed; then it works again."""

import datetime as dt

import pytest
from django.test import Client

from tests.webapp.factories import make_api_token

pytestmark = pytest.mark.django_db


def _age_failures(minutes: int) -> None:
    """As if `minutes` had passed since the failures (rather than sleeping through a cool-off)."""
    from axes.models import AccessAttempt

    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes))


@pytest.mark.parametrize("login_url", ["/login/", "/admin/login/"])
def test_thirty_wrong_passwords_lock_the_login_until_the_cool_off_ends(make_user, login_url):
    make_user("alice", workspace="Press line", password="the-right-password-1")
    client = Client()
    for _ in range(30):
        client.post(login_url, {"username": "alice", "password": "wrong"})
    locked = client.post(login_url, {"username": "alice", "password": "the-right-password-1"})
    assert locked.status_code == 429 and "_auth_user_id" not in client.session

    _age_failures(16)
    client.post("/login/", {"username": "alice", "password": "the-right-password-1"})
    assert "_auth_user_id" in client.session


def test_wrong_api_tokens_are_throttled_too(make_user):
    key = make_api_token(make_user("alice", workspace="Press line"))
    client = Client()
    for i in range(30):
        client.get("/api/v1/datasets/", headers={"Authorization": f"Bearer ft_guess{i}"})
    refused = client.get("/api/v1/datasets/", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 429 and "try again" in refused.json()["error"]

    _age_failures(16)
    assert client.get("/api/v1/datasets/", headers={"Authorization": f"Bearer {key}"}).status_code == 200
