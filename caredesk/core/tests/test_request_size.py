"""Request bodies over what the largest legitimate form can carry are refused unread."""

import socket

import pytest
from django.urls import reverse

from caredesk.conftest import png_upload
from caredesk.tickets.models import Ticket


@pytest.fixture
def small_limits(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    settings.ATTACHMENTS_PER_MESSAGE = 2
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000  # ceiling: 2 x 1000 + 2000


def test_an_upload_over_the_ceiling_is_refused_before_the_form_sees_it(client, alice, small_limits):
    client.force_login(alice)
    big = png_upload()
    big.file.write(b"\0" * 5000)
    big.file.seek(0)
    response = client.post(
        reverse("portal:new"),
        {"subject": "Too big", "trying_to_do": "x", "actual": "y", "attachments": [big]},
    )
    assert response.status_code == 413
    assert "at most 2 files of up to 1000" in response.text.replace("\xa0", " ")
    assert not Ticket.objects.exists()


def test_within_the_ceiling_the_form_explains_a_file_over_its_own_limit(
    client, alice, small_limits
):
    client.force_login(alice)
    big = png_upload()
    big.file.write(b"\0" * 1500)  # over the file limit, within the request ceiling
    big.file.seek(0)
    response = client.post(
        reverse("portal:new"),
        {"subject": "Too big", "trying_to_do": "x", "actual": "y", "attachments": [big]},
    )
    assert response.status_code == 400
    assert "“screenshot.png”" in response.text


def test_a_declared_length_over_the_ceiling_is_answered_without_reading_the_body(
    live_server, small_limits
):
    """The client says a gigabyte follows and sends none of it: if the server read the
    body first, this would wait for the socket's timeout instead of answering."""
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST /widget/form/ HTTP/1.1\r\n"
            + f"Host: {host}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 1073741824\r\n\r\n"
        )
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"413"
