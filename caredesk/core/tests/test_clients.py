"""Which address a request counts under for per-address rate limits."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from caredesk.conftest import PASSWORD
from caredesk.core.clients import client_address

PROXY = "10.0.0.5"


def _request(remote: str = PROXY, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_facing_clients_directly_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_request("203.0.113.9", forwarded="198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own entry is ignored
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "198.51.100.7", PROXY),  # fewer hops than configured: not trusted
        (1, "", PROXY),
        (1, None, PROXY),
    ],
)
def test_behind_proxies_the_outermost_proxy_names_the_client(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(_request(forwarded=forwarded)) == expected


def test_clients_behind_one_proxy_have_their_own_sign_in_limit(client, alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_RATE_LIMIT = 1  # per address: five times this
    login = reverse("login")

    def attempt(email: str, address: str):
        return client.post(
            login,
            {"username": email, "password": "wrong"},
            headers={"X-Forwarded-For": f"6.6.6.6, {address}"},
            REMOTE_ADDR=PROXY,
        )

    for i in range(5):
        attempt(f"guess{i}@acme.test", "198.51.100.1")
    assert "Too many sign-in attempts" in attempt("guess9@acme.test", "198.51.100.1").text
    # Another visitor behind the same proxy is not locked out by the first one.
    response = client.post(
        login,
        {"username": "alice@acme.test", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.2"},
        REMOTE_ADDR=PROXY,
    )
    assert response.status_code == 302


def test_the_header_is_believed_only_from_the_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8::1"]
    assert client_address(_request(PROXY, forwarded="198.51.100.7")) == "198.51.100.7"
    assert client_address(_request("2001:db8::1", forwarded="198.51.100.7")) == "198.51.100.7"
    # Someone reaching the server directly, with a header of their own making:
    assert client_address(_request("203.0.113.9", forwarded="198.51.100.7")) == "203.0.113.9"
