"""Mailgun's raw-MIME inbound route, posted as Mailgun posts it.

Mailgun's forward() to a URL ending in "mime" posts the fields ``recipient``, ``sender``,
``from``, ``subject``, ``body-mime`` (the message as received), ``timestamp``, ``token``
and ``signature`` = hex HMAC-SHA256 of timestamp + token under the domain's webhook
signing key; as application/x-www-form-urlencoded, or multipart/form-data when the
message has attachments. The bodies below are built byte by byte, not by Django's test
client, so that what is tested is that wire format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client

from caredesk.mail.choices import Transport
from caredesk.mail.tests.factories import deeply_nested, ledger

pytestmark = pytest.mark.django_db

URL = "/mail/mailgun/inbound_mime/"
SIGNING_KEY = "key-0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _anymail(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)  # a provider has no CSRF cookie


def eml(body: bytes = b"The export button does nothing.", **headers) -> bytes:
    head = {
        "From": "Bob <bob@bethel.test>",
        "To": "support@desk.test",
        "Subject": "Export fails",
        "Message-ID": f"<{uuid.uuid4().hex}@bethel.test>",
        "Date": "Thu, 26 Nov 2026 10:00:00 +0100",
        **headers,
    }
    lines = [f"{name}: {value}".encode() for name, value in head.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + b"\r\n"


def mailgun_fields(raw: bytes, key: str = SIGNING_KEY, **overrides) -> list[tuple[str, bytes]]:
    timestamp = str(int(time.time()))
    token = secrets.token_hex(25)  # 50 characters, as Mailgun's
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    fields = {
        "recipient": b"support@desk.test",
        "sender": b"bob@bethel.test",
        "from": b"Bob <bob@bethel.test>",
        "subject": b"Export fails",
        "body-mime": raw,
        "timestamp": timestamp.encode(),
        "token": token.encode(),
        "signature": signature.hexdigest().encode(),
        **overrides,
    }
    return list(fields.items())


def urlencoded(fields: list[tuple[str, bytes]]) -> bytes:
    return b"&".join(
        quote_from_bytes(name.encode(), safe="").encode()
        + b"="
        + quote_from_bytes(value, safe="").encode()
        for name, value in fields
    )


def multipart(fields: list[tuple[str, bytes]], boundary: str) -> bytes:
    parts = [
        b"--"
        + boundary.encode()
        + b'\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value
        + b"\r\n"
        for name, value in fields
    ]
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


def post_urlencoded(client, fields, **extra):
    return client.post(
        URL, urlencoded(fields), content_type="application/x-www-form-urlencoded", **extra
    )


def post_multipart(client, fields, **extra):
    boundary = uuid.uuid4().hex
    return client.post(
        URL,
        multipart(fields, boundary),
        content_type=f"multipart/form-data; boundary={boundary}",
        **extra,
    )


def test_it_stores_the_message_from_a_signed_urlencoded_post(client):
    raw = eml()
    response = post_urlencoded(client, mailgun_fields(raw))

    assert response.status_code == 200
    row = ledger().get()
    assert bytes(row.raw) == raw
    assert row.transport == Transport.WEBHOOK
    assert row.mailbox == "Mailgun"
    assert row.envelope_from == "bob@bethel.test"
    assert row.envelope_to == ["support@desk.test"]


def test_a_message_the_standard_parser_cannot_parse_is_stored_byte_exact(client):
    raw = deeply_nested()
    response = post_urlencoded(client, mailgun_fields(raw))

    assert response.status_code == 200
    assert bytes(ledger().get().raw) == raw


def test_it_stores_8bit_mime_with_an_attachment_byte_exact_from_multipart(client):
    png = base64.encodebytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256))).replace(b"\n", b"\r\n")
    raw = eml(
        b"--b1\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"L'export \xe9choue, voir la capture.\r\n"
        b"--b1\r\n"
        b"Content-Type: image/png; name=capture.png\r\n"
        b"Content-Disposition: attachment; filename=capture.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + png + b"--b1--",
        **{"MIME-Version": "1.0", "Content-Type": 'multipart/mixed; boundary="b1"'},
    )
    response = post_multipart(client, mailgun_fields(raw))

    assert response.status_code == 200
    assert bytes(ledger().get().raw) == raw


def test_a_message_bigger_than_djangos_form_limit_still_arrives(client, settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 3_000_000
    raw = eml((b"A" * 76 + b"\r\n") * 40_000)  # about 3.1 MB, a screenshot's worth
    response = post_multipart(client, mailgun_fields(raw))

    assert response.status_code == 200
    assert ledger().get().size == len(raw)


def test_a_message_over_the_mail_limit_is_refused_for_good(client, settings):
    settings.MAIL_MAX_BYTES = 5_000
    response = post_urlencoded(client, mailgun_fields(eml(b"x" * 6_000)))

    assert response.status_code == 406  # Mailgun: rejected, not retried
    assert not ledger().exists()


def test_a_wrong_signature_is_refused(client):
    fields = mailgun_fields(eml(), key="key-not-the-right-one")
    assert post_urlencoded(client, fields).status_code == 400
    assert post_multipart(client, fields).status_code == 400
    assert not ledger().exists()


def test_a_post_without_a_signature_is_refused(client):
    fields = [(name, value) for name, value in mailgun_fields(eml()) if name != "signature"]
    assert post_urlencoded(client, fields).status_code == 400
    assert not ledger().exists()


def test_basic_auth_is_required_when_a_webhook_secret_is_set(client, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "mailgun:s3cret-route-password"}
    fields = mailgun_fields(eml())

    assert post_urlencoded(client, fields).status_code == 400  # signed, but no basic auth
    wrong = base64.b64encode(b"mailgun:guess").decode()
    assert post_urlencoded(client, fields, HTTP_AUTHORIZATION=f"Basic {wrong}").status_code == 400
    assert not ledger().exists()

    settings.MAIL_MAX_BYTES = 1_000  # refused for its auth before its size is looked at
    assert post_urlencoded(client, mailgun_fields(eml(b"x" * 2_000))).status_code == 400
    settings.MAIL_MAX_BYTES = 25 * 1024 * 1024

    right = base64.b64encode(b"mailgun:s3cret-route-password").decode()
    assert post_urlencoded(client, fields, HTTP_AUTHORIZATION=f"Basic {right}").status_code == 200
    assert ledger().count() == 1


@pytest.mark.parametrize("anymail_settings", [{}, {"MAILGUN_WEBHOOK_SIGNING_KEY": ""}])
def test_without_a_signing_key_everything_is_refused(settings, anymail_settings):
    settings.ANYMAIL = anymail_settings
    client = Client(raise_request_exception=False)
    fields = mailgun_fields(eml(), key="")  # "signed" with the empty key

    assert post_urlencoded(client, fields).status_code == 500  # Mailgun retries meanwhile
    assert not ledger().exists()


def test_a_post_without_the_raw_message_is_refused(client):
    fields = [(name, value) for name, value in mailgun_fields(eml()) if name != "body-mime"]
    fields.append(("body-plain", b"The export button does nothing."))

    assert post_urlencoded(client, fields).status_code == 400
    assert not ledger().exists()
