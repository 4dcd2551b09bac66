"""API tokens: created and shown once, stored only as a hash, listed and revoked by their owner only."""

import pytest
from django.http import Http404
from django.test import Client
from django.urls import reverse

from webapp.accounts.models import ApiToken
from webapp.accounts.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("accounts:api_tokens"))
    return client


def csrf(client: Client) -> str:
    return client.cookies["csrftoken"].value


def test_service_stores_only_the_hash(make_user):
    user = make_user("eng", workspace="Plant A")
    token, key = api_token_create(user=user, name="line 3 PC")
    assert key.startswith("ft_") and key not in token.key_hash
    assert ApiToken.objects.get(key_hash=ApiToken.hash_key(key)) == token
    assert token.prefix == key[:8]


def test_create_shows_the_key_once(make_user):
    client = login(make_user("eng", workspace="Plant A"))
    response = client.post(reverse("accounts:api_tokens"), {"name": "line 3 PC", "csrfmiddlewaretoken": csrf(client)})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = response.context["new_key"]
    assert key in response.content.decode()
    assert ApiToken.objects.get().key_hash == ApiToken.hash_key(key)
    later = client.get(reverse("accounts:api_tokens")).content.decode()
    assert "line 3 PC" in later and key not in later and key[:8] in later


def test_create_needs_a_name_and_csrf(make_user):
    client = login(make_user("eng", workspace="Plant A"))
    assert client.post(reverse("accounts:api_tokens"), {"name": "x"}).status_code == 403
    response = client.post(reverse("accounts:api_tokens"), {"name": "  ", "csrfmiddlewaretoken": csrf(client)})
    assert response.status_code == 200 and not ApiToken.objects.exists()


def test_list_shows_only_own_tokens(make_user):
    alice, bob = make_user("alice", workspace="Plant A"), make_user("bob", workspace="Plant A")
    api_token_create(user=alice, name="alice laptop")
    api_token_create(user=bob, name="bob script")
    page = login(bob).get(reverse("accounts:api_tokens")).content.decode()
    assert "bob script" in page and "alice laptop" not in page


def test_owner_revokes_and_the_key_stops_resolving(make_user):
    user = make_user("eng", workspace="Plant A")
    token, key = api_token_create(user=user, name="old")
    client = login(user)
    response = client.post(reverse("accounts:api_token_revoke", args=[token.pk]), {"csrfmiddlewaretoken": csrf(client)})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(key_hash=ApiToken.hash_key(key)).exists()


def test_another_user_cannot_revoke(make_user):
    alice, mallory = make_user("alice", workspace="Plant A"), make_user("mallory", workspace="Plant B")
    token, _ = api_token_create(user=alice, name="alice laptop")
    client = login(mallory)
    response = client.post(reverse("accounts:api_token_revoke", args=[token.pk]), {"csrfmiddlewaretoken": csrf(client)})
    assert response.status_code == 404
    with pytest.raises(Http404):
        api_token_revoke(user=mallory, token_id=token.pk)
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_viewer_may_manage_own_tokens(make_user):
    """A token acts as its user: a viewer's token can only read, so viewers may have tokens too."""
    client = login(make_user("reader", workspace="Plant A", role="viewer"))
    response = client.post(reverse("accounts:api_tokens"),
                           {"name": "report script", "csrfmiddlewaretoken": csrf(client)})
    assert response.status_code == 200 and ApiToken.objects.count() == 1


def test_tokens_page_needs_login():
    response = Client().get(reverse("accounts:api_tokens"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
