"""The host app's signed user token, checked without a database."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from caredesk.widget.tokens import WidgetUser, sign_user_token, verify_user_token

from .conftest import SECRET


def _by_hand(payload: dict, secret: str = SECRET) -> str:
    """The recipe from docs/widget.md, written without caredesk's helper."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    part = b64(json.dumps(payload).encode())
    mac = hmac.new(secret.encode(), part.encode(), hashlib.sha256).digest()
    return f"{part}.{b64(mac)}"


def test_it_accepts_a_token_made_by_the_documented_recipe():
    token = _by_hand(
        {"email": "Dana@Acme.test", "name": " Dana ", "org": "Acme", "exp": int(time.time()) + 600}
    )

    assert verify_user_token(token) == WidgetUser("dana@acme.test", "Dana", "Acme")


def test_it_round_trips_its_own_tokens():
    assert verify_user_token(sign_user_token("a@b.test", "A")) == WidgetUser("a@b.test", "A")


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "a.b.c",
        "x" * 5000,
        "été.mac",
        _by_hand({"email": "a@b.test", "exp": 1}),  # long expired
        _by_hand({"email": "a@b.test"}),  # no expiry
        _by_hand({"email": "a@b.test", "exp": "9999999999"}),  # expiry not a number
        _by_hand({"email": "a@b.test", "exp": True}),
        _by_hand({"email": "not an address", "exp": int(time.time()) + 60}),
        _by_hand({"exp": int(time.time()) + 60}),
        _by_hand(["a@b.test"]),  # type: ignore[arg-type]
        _by_hand({"email": "a@b.test", "exp": int(time.time()) + 60}, secret="other"),
    ],
    ids=[
        "empty",
        "dot",
        "three-parts",
        "too-long",
        "non-ascii",
        "expired",
        "no-expiry",
        "expiry-text",
        "expiry-bool",
        "bad-email",
        "no-email",
        "not-an-object",
        "other-secret",
    ],
)
def test_it_refuses_bad_tokens_without_raising(token):
    assert verify_user_token(token) is None


def test_the_signature_covers_the_payload():
    good = sign_user_token("alice@acme.test")
    other = sign_user_token("mallory@evil.test")
    spliced = f"{other.split('.')[0]}.{good.split('.')[1]}"

    assert verify_user_token(spliced) is None


def test_it_refuses_tokens_that_live_too_long(settings):
    settings.CAREDESK_WIDGET_TOKEN_MAX_AGE = 3600

    assert verify_user_token(sign_user_token("a@b.test", ttl=3500)) is not None
    assert verify_user_token(sign_user_token("a@b.test", ttl=7200)) is None


def test_without_a_secret_no_token_is_valid(settings):
    token = sign_user_token("a@b.test")
    settings.CAREDESK_WIDGET_SECRET = ""

    assert verify_user_token(token) is None
    # An empty secret must not make a token "signed with the empty key" valid either.
    assert verify_user_token(_by_hand({"email": "a@b.test", "exp": 2**40}, secret="")) is None
