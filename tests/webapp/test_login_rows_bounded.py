"""Failed logins cannot grow the database without bound: made-up usernames from one address share one
count (and, while the user agent stays the same, one row), and after the failure limit that address is
refused unknown names at once; real accounts keep their own count. API tokens per user are capped, in words."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

pytestmark = pytest.mark.django_db


def test_made_up_usernames_share_one_row_and_lock_only_unknown_names(make_user, settings):
    make_user("alice", workspace="Press line", password="the-right-password-1")
    client = Client()
    answers = [client.post("/login/", {"username": f"guess-{i}", "password": "x"}).status_code for i in range(40)]
    assert answers[:settings.LOGIN_FAILURE_LIMIT - 1] == [200] * (settings.LOGIN_FAILURE_LIMIT - 1)
    assert set(answers[settings.LOGIN_FAILURE_LIMIT:]) == {429}
    assert AccessAttempt.objects.count() == 1

    client.post("/login/", {"username": "alice", "password": "the-right-password-1"})
    assert "_auth_user_id" in client.session


def test_a_changing_user_agent_adds_at_most_a_row_per_failure_before_the_lock(settings):
    client = Client()
    for i in range(40):
        client.post("/login/", {"username": f"guess-{i}", "password": "x"}, HTTP_USER_AGENT=f"agent-{i}")
    assert AccessAttempt.objects.count() <= settings.LOGIN_FAILURE_LIMIT


def test_api_tokens_per_user_are_capped_in_words(make_user, settings):
    from webapp.accounts.models import ApiToken

    settings.API_TOKENS_PER_USER = 3
    client = Client()
    client.force_login(make_user("alice", workspace="Press line"))
    for i in range(3):
        assert client.post("/accounts/tokens/", {"name": f"line PC {i}"}).context["new_key"]
    refused = client.post("/accounts/tokens/", {"name": "one more"})
    assert not refused.context["new_key"] and ApiToken.objects.count() == 3
    assert "You have 3 API tokens, the most one user may have" in refused.content.decode()
