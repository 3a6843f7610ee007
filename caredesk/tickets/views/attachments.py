from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest

from caredesk.tickets.access import get_attachment_for
from caredesk.tickets.models import Attachment


def as_download(attachment: Attachment) -> FileResponse:
    """Always a download, never rendered: a screenshot named .html cannot run script
    here (the web page's link and the API's attachment URL both answer with this)."""
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


@login_required
def download(request: HttpRequest, pk: int) -> FileResponse:
    """Checked against who may see the ticket (404 if not)."""
    return as_download(get_attachment_for(request.user, pk))
