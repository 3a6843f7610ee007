"""The mail ledger: where did that mail go? Managers search every received message and
its outcome, read quarantined ones with their error, and queue them again."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from caredesk.lib.text import as_number
from caredesk.tickets.decorators import manager_required

from .choices import Outcome, State
from .models import InboundMessage
from .parsing import split_header_block

PAGE = 50
HEADERS_PREVIEW = 16_384


@manager_required
def ledger(request: HttpRequest) -> HttpResponse:
    rows = InboundMessage.objects.defer("raw").select_related("ticket").order_by("-id")
    outcome = request.GET.get("outcome", "")
    if outcome in Outcome.values:
        rows = rows.filter(outcome=outcome)
    if request.GET.get("state") in State.values:
        rows = rows.filter(state=request.GET["state"])
    q = request.GET.get("q", "").strip()
    if q:
        number = q.lstrip("#")
        # Senders are stored lower-case: exact matches, so each term reads its index
        # (``__iexact`` compiles to LIKE on SQLite, which reads the whole ledger).
        match = Q(message_id=q.strip("<>")) | Q(sender=q.lower())
        if (n := as_number(number)) is not None:
            match |= Q(ticket_id=n) | Q(pk=n)
        rows = rows.filter(match)
    before = as_number(request.GET.get("before", ""))
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows[: PAGE + 1])
    context = {
        "rows": page[:PAGE],
        "next_before": page[PAGE - 1].pk if len(page) > PAGE else None,
        "outcomes": Outcome.choices,
        "outcome": outcome,
        "q": q,
    }
    return render(request, "mail/ledger.html", context)


@manager_required
def ledger_entry(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(InboundMessage.objects.select_related("ticket"), pk=pk)
    raw = bytes(entry.raw)
    head = split_header_block(raw)[0][:HEADERS_PREVIEW]
    from .processing import AUTHENTICATION_FAILED

    context = {
        "entry": entry,
        "headers": head.decode("utf-8", "replace"),
        "held_for_authentication": entry.error.startswith(AUTHENTICATION_FAILED),
    }
    return render(request, "mail/ledger_entry.html", context)


@manager_required
@require_POST
def ledger_retry(request: HttpRequest, pk: int) -> HttpResponse:
    from .processing import retry

    release = request.POST.get("release") == "1"
    if retry(InboundMessage.objects.filter(pk=pk), release=release):
        messages.success(request, "Queued again: the worker will process it next.")
    else:
        messages.error(request, "Only quarantined messages can be retried.")
    return redirect("mail-ledger-entry", pk=pk)
