from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and `make run`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest):
    """Send people where they work: agents to the workspace, everyone else to the portal."""
    if request.user.is_authenticated and request.user.is_agent:
        return redirect("agent:queue")
    return redirect("portal:tickets")


@require_GET
def favicon(request: HttpRequest):
    """For pages without a ``<link rel="icon">`` (the admin): browsers ask for this."""
    return redirect(static("caredesk/favicon.svg"), permanent=True)
