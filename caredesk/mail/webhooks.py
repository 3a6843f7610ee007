"""Provider webhooks: inbound mail posted by an email service, through django-anymail.

Supported: **Mailgun**'s raw-MIME route (``forward("https://desk.example.org/mail/mailgun/
inbound_mime/")``; Mailgun posts the message as received, untouched, in the ``body-mime``
field when the URL ends in "mime"). anymail's view checks the request (Mailgun's
HMAC signature with ``MAILGUN_WEBHOOK_SIGNING_KEY``, plus HTTP basic auth if
``ANYMAIL_WEBHOOK_SECRET`` is set) and sends anymail's ``inbound`` signal;
``store_inbound`` below stores the message through ``intake.receive()``. An error
answers 500 and Mailgun retries (for 8 hours); 200 means committed.

Two things anymail alone does not give us, hence ``MailgunInboundView``:

* **the exact bytes.** anymail hands over a parsed ``AnymailInboundMessage``; its
  ``as_bytes()`` is a re-serialization, and Django decodes form fields as UTF-8 (a
  Latin-1 message would lose bytes). The view reads ``body-mime`` from the request body
  itself, byte for byte, and the receiver stores those bytes;
* **messages over 2.5 MB.** Django refuses form fields bigger than
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB), so any mail with a real screenshot would
  fail and, after Mailgun's retries, be lost. The view parses the form itself, up to
  ``MAIL_MAX_BYTES`` for the message; a bigger one is refused with 406, which Mailgun
  takes as final (no retries).

Reading the form before the signature can be checked means a stranger can make the view
read up to MAIL_MAX_BYTES (three times that, %-encoded); setting ANYMAIL_WEBHOOK_SECRET
makes it refuse posts without the right basic auth before reading their body.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from anymail.exceptions import AnymailConfigurationError
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.request import QueryDict
from django.utils.http import parse_header_parameters

from caredesk.core.middleware import declared_length

from . import intake
from .choices import Transport

logger = logging.getLogger("caredesk.mail.webhooks")

RAW_FIELD = "body-mime"
FORM_OVERHEAD = 1024 * 1024  # the other fields, multipart boundaries and headers


class MailgunInboundView(MailgunInboundWebhookView):
    """anymail's Mailgun inbound webhook, reading the form itself (see module doc)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.webhook_signing_key:
            # An empty key would make every signature "valid" for anyone who knows that.
            raise AnymailConfigurationError(
                "MAILGUN_WEBHOOK_SIGNING_KEY is empty: set it to the domain's "
                "HTTP webhook signing key"
            )

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Mailgun's signature travels in the body; basic auth (if configured) is a header:
        # check it before reading up to MAIL_MAX_BYTES from a stranger.
        AnymailBasicAuthMixin.validate_request(self, request)
        max_bytes = settings.MAIL_MAX_BYTES
        if request.content_type == "application/x-www-form-urlencoded":
            ceiling = 3 * max_bytes + FORM_OVERHEAD  # %XX-encoding triples a byte at most
        elif request.content_type == "multipart/form-data":
            ceiling = max_bytes + FORM_OVERHEAD
        else:
            return super().post(request, *args, **kwargs)  # anymail explains what is wrong
        length = declared_length(request)
        if length > ceiling:
            return self._refuse(request, 413, f"request of {length} bytes is over {ceiling}")

        body = request.read(ceiling + 1)
        if len(body) > ceiling:
            return self._refuse(request, 413, f"request body is over {ceiling} bytes")
        fields = _parse_form(body, request.META.get("CONTENT_TYPE", ""))
        raw = next((value for name, value in reversed(fields) if name == RAW_FIELD), None)
        if raw is None:
            return self._refuse(request, 400, f"no {RAW_FIELD} field: not a raw-MIME route")
        if len(raw) > max_bytes:
            # 406: Mailgun's "rejected, do not retry"; retrying cannot make it smaller.
            return self._refuse(request, 406, f"message of {len(raw)} bytes is over {max_bytes}")

        post = QueryDict(mutable=True)
        for name, value in fields:
            # anymail parses the message it is given before our receiver stores it, and
            # the standard library's parser raises on some (RecursionError on MIME parts
            # nested a thousand deep): a 500, and after Mailgun's retries, mail lost.
            # The message is stored from its exact bytes and parsed by the worker, which
            # survives any message; anymail gets an empty one.
            post.appendlist(name, "" if name == RAW_FIELD else value.decode("utf-8", "replace"))
        request.POST = post  # what anymail reads, instead of Django's size-limited parse
        request.caredesk_raw_mime = raw
        return super().post(request, *args, **kwargs)

    def _refuse(self, request: HttpRequest, status: int, why: str) -> HttpResponse:
        logger.warning("%s inbound webhook refused (%d): %s", self.esp_name, status, why)
        return HttpResponse(why, status=status, content_type="text/plain")


def _parse_form(body: bytes, content_type: str) -> list[tuple[str, bytes]]:
    """(name, value bytes) of every field of a form body, values exactly as sent."""
    media_type, params = parse_header_parameters(content_type)
    if media_type == "multipart/form-data":
        return _parse_multipart(body, params.get("boundary", "").encode("latin-1"))
    fields = []
    for pair in body.split(b"&"):
        if pair:
            name, _, value = pair.partition(b"=")
            name = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
            fields.append((name, unquote_to_bytes(value.replace(b"+", b" "))))
    return fields


def _parse_multipart(body: bytes, boundary: bytes) -> list[tuple[str, bytes]]:
    """RFC 7578: each part follows CRLF "--" boundary; its headers end at a blank line.
    Splitting on the delimiter keeps every content byte (the email package would decode
    a part that declares itself message/rfc822, for instance)."""
    if not boundary:
        return []
    fields = []
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary)
    for section in sections[1:]:  # sections[0] is the preamble
        if section.startswith(b"--"):
            break  # the closing delimiter
        head, separator, content = section.partition(b"\r\n\r\n")
        if not separator:
            continue
        for line in head.split(b"\r\n"):
            header, _, value = line.decode("latin-1").partition(":")
            if header.strip().lower() == "content-disposition":
                name = parse_header_parameters(value.strip())[1].get("name")
                if name is not None:
                    fields.append((name, content))
    return fields


@receiver(inbound, dispatch_uid="caredesk.mail.webhooks.store_inbound")
def store_inbound(sender, event: AnymailInboundEvent, esp_name: str, **kwargs) -> None:
    """Store what an anymail inbound webhook received (any provider anymail supports)."""
    message = event.message
    raw = getattr(event.esp_event, "caredesk_raw_mime", None)
    if raw is None:  # a provider view without our exact-bytes reading
        raw = message.as_bytes()
    recipients = message.envelope_recipient or ""
    queue_id = intake.receive(
        raw,
        transport=Transport.WEBHOOK,
        envelope_from=message.envelope_sender or "",
        envelope_to=[address.strip() for address in recipients.split(",") if address.strip()],
        mailbox=esp_name,
    )
    logger.info(
        "stored %s from %s webhook (event %s, %d bytes)",
        queue_id,
        esp_name,
        event.event_id,
        len(raw),
    )
