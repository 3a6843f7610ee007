"""A ceiling on request bodies for the web pages, checked before a byte is read.

Django streams file uploads to temporary files and the per-file limit is checked once a
file has arrived (by the forms, through ``lifecycle.validate_uploads``); without a
ceiling, a stranger could make the server receive and store gigabytes first. The ceiling
is what the largest legitimate form can carry: ``ATTACHMENTS_PER_MESSAGE`` files of
``ATTACHMENT_MAX_BYTES`` plus the form fields (``DATA_UPLOAD_MAX_MEMORY_SIZE``). The REST
API and the inbound-mail webhooks have their own, tighter checks with answers in their
own formats, and are left to them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat

OWN_CHECKS = ("/api/", "/mail/")


def declared_length(request: HttpRequest) -> int:
    """The body size the client announces (Content-Length), read before the body is."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def body_ceiling(request: HttpRequest) -> int:
    ceiling = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.content_type == "multipart/form-data":
        ceiling += settings.ATTACHMENT_MAX_BYTES * settings.ATTACHMENTS_PER_MESSAGE
    return ceiling


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        own_check = request.path_info.startswith(OWN_CHECKS)
        if not own_check and declared_length(request) > body_ceiling(request):
            return self._too_large()
        return self.get_response(request)

    @staticmethod
    def _too_large() -> HttpResponse:
        limit = filesizeformat(settings.ATTACHMENT_MAX_BYTES)
        return HttpResponse(
            "<!doctype html><title>Too large</title><h1>That upload is too large</h1>"
            f"<p>Attach at most {settings.ATTACHMENTS_PER_MESSAGE} files of up to {limit} "
            "each. Go back, remove a file or two, and send again.</p>",
            status=413,
        )
