"""Login throttling in the compose topology (nginx from deploy/nginx.conf in front of gunicorn): failures
count against the client's address that the proxy forwards, not the proxy's. One client guessing does not
lock the user or the API out for everyone, and an X-Forwarded-For a client writes itself is not believed."""

import pytest

from tests.webapp.factories import make_api_token
from tests.webapp.http_client import LoopbackClient
from tests.webapp.proxy_process import compose_web

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "the-right-password-1"


@pytest.fixture
def proxy_port(tmp_path):
    with compose_web(tmp_path) as port:
        yield port


def test_a_guessing_client_locks_only_itself_out(make_user, proxy_port):
    make_user("alice", workspace="Press line", password=PASSWORD)
    guesser = LoopbackClient(proxy_port, "127.0.0.2")  # every request also claims to be from 10.9.9.9
    for _ in range(6):
        guesser.log_in("alice", "wrong")
    assert guesser.log_in("alice", PASSWORD) == 429

    assert LoopbackClient(proxy_port, "127.0.0.3").log_in("alice", PASSWORD) == 302


def test_wrong_tokens_from_one_client_leave_other_clients_working(make_user, proxy_port):
    key = make_api_token(make_user("alice", workspace="Press line"))
    guesser = LoopbackClient(proxy_port, "127.0.0.2")
    for i in range(25):
        guesser.request("GET", "/api/v1/datasets/", headers={"Authorization": f"Bearer ft_guess{i}",
                                                             "X-Forwarded-For": f"10.0.0.{i}"})
    assert guesser.request("GET", "/api/v1/datasets/", headers={"Authorization": f"Bearer {key}"})[0] == 429

    line_pc = LoopbackClient(proxy_port, "127.0.0.3")
    assert line_pc.request("GET", "/api/v1/datasets/", headers={"Authorization": f"Bearer {key}"})[0] == 200


@pytest.mark.parametrize("hops, forwarded, expected", [
    (0, "10.9.9.9", "127.0.0.1"),                 # no proxy trusted: the connecting address
    (1, "10.9.9.9, 127.0.0.2", "127.0.0.2"),      # what the proxy saw, not what the client wrote
    (2, "10.9.9.9, 192.0.2.7, 127.0.0.2", "192.0.2.7"),
    (2, "192.0.2.7", "192.0.2.7"),               # entered at the inner proxy
    (1, "", "127.0.0.1"),                         # came past the proxy
    (1, "not-an-address", "127.0.0.1"),
])
def test_the_client_address_believes_only_the_trusted_hops(settings, rf, hops, forwarded, expected):
    from webapp.core.client_address import client_address

    settings.TRUSTED_PROXY_HOPS = hops
    request = rf.get("/", REMOTE_ADDR="127.0.0.1", **({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}))
    assert client_address(request) == expected
