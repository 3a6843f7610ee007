"""Requester portal views (thin: every change goes through ``tickets.lifecycle``)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/portal/list.html", {})
