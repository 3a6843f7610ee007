"""Agent workspace views (thin: every change goes through ``tickets.lifecycle``)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from caredesk.tickets.decorators import agent_required


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/agent/queue.html", {})
