from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest

from caredesk.tickets.access import get_attachment_for


@login_required
def download(request: HttpRequest, pk: int) -> FileResponse:
    """Attachments are always downloads, checked against who may see the ticket (404 if
    not), never served as inline HTML: a screenshot named .html cannot run script here."""
    attachment = get_attachment_for(request.user, pk)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
