"""Agent workspace views (thin: every change goes through ``tickets.lifecycle``).

GET pages render; every action is a POST that calls one rule function, reports a refusal
(``TransitionError``) with ``messages.error`` and redirects back to the ticket page. The
presence heartbeat answers htmx with a template partial.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from caredesk.accounts.choices import OrganizationKind, Role
from caredesk.accounts.models import User
from caredesk.outbox.models import DeliveryStatus, OutboundEmail
from caredesk.tickets import access, lifecycle, presence, queues
from caredesk.tickets.access import get_ticket_for
from caredesk.tickets.choices import Activity, Category, Channel, Priority, Status
from caredesk.tickets.decorators import agent_required
from caredesk.tickets.forms import MultipleFileField
from caredesk.tickets.models import Ticket

QUEUE_TEMPLATE = "tickets/agent/queue.html"
TICKET_TEMPLATE = "tickets/agent/ticket.html"
OTHER_TICKETS = 10

# ---------------------------------------------------------------- forms


class QueueForm(forms.Form):
    """The queue page's GET parameters. A bad value is ignored, not an error page."""

    queue = forms.ChoiceField(
        choices=[(q.slug, q.label) for q in queues.QUEUES.values()], required=False
    )
    category = forms.ChoiceField(choices=[("", "Any category"), *Category.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "Any channel"), *Channel.choices], required=False)
    org_kind = forms.ChoiceField(
        label="Organization",
        choices=[("", "Any organization"), *OrganizationKind.choices],
        required=False,
    )
    q = forms.CharField(
        label="Search all tickets",
        max_length=200,
        required=False,
        widget=forms.SearchInput(attrs={"placeholder": "#123 or words"}),
    )
    after = forms.CharField(max_length=64, required=False)


class CategoryForm(forms.Form):
    category = forms.ChoiceField(
        choices=[
            ("", "Choose a category"),
            *(c for c in Category.choices if c[0] != Category.UNCATEGORIZED),
        ]
    )


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Priority.choices)


class StatusForm(forms.Form):
    # Validation accepts any status so the rules, not the form, explain a refusal;
    # the dropdown offers only the moves the rules allow from the current status.
    status = forms.ChoiceField(label="Change status to", choices=Status.choices)

    def __init__(self, *args, ticket: Ticket | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if ticket is not None:
            allowed = lifecycle.AGENT_TRANSITIONS[ticket.status]
            self.fields["status"].widget.choices = [
                (value, label) for value, label in Status.choices if value in allowed
            ]


class ReplyForm(forms.Form):
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 6}))
    kind = forms.ChoiceField(
        label="Send as",
        choices=[
            ("reply", "Public reply (sent to the requester)"),
            ("note", "Internal note (agents only)"),
        ],
        initial="reply",
        widget=forms.RadioSelect,
    )
    status = forms.ChoiceField(
        label="Then set status",
        choices=[
            ("", "Leave as it is"),
            (Status.PENDING, "Pending (waiting on the requester)"),
            (Status.ON_HOLD, "On-hold (waiting on the developers)"),
            (Status.SOLVED, "Solved"),
        ],
        required=False,
    )
    attachments = MultipleFileField(label="Attachments", required=False)

    def __init__(self, *args, presence_url: str = "", **kwargs):
        super().__init__(*args, auto_id="reply_%s", **kwargs)
        if presence_url:
            # Tell the other agents someone is typing (see presence.py).
            self.fields["body"].widget.attrs.update(
                {
                    "hx-post": presence_url,
                    "hx-trigger": "input changed delay:1s",
                    "hx-vals": '{"activity": "replying"}',
                    "hx-params": "activity",
                    "hx-target": "#presence",
                    "hx-swap": "innerHTML",
                }
            )


def active_agents():
    return User.objects.filter(
        is_active=True, role__in=(Role.AGENT, Role.MANAGER, Role.ADMIN)
    ).order_by("name", "email")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label="Assign to", queryset=active_agents(), required=False, empty_label=None
    )
    action = forms.ChoiceField(choices=[("assign", "Assign"), ("queue", "Back to the queue")])

    def for_display(self) -> AssignForm:
        """Read the agents once: a model select otherwise queries them per rendering step."""
        field = self.fields["assignee"]
        field.widget.choices = [(u.pk, u.display_name) for u in field.queryset]
        return self

    def clean(self):
        data = super().clean()
        if data.get("action") == "assign" and not data.get("assignee"):
            raise forms.ValidationError("Choose an agent to assign the ticket to.")
        return data


def _errors(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


# ---------------------------------------------------------------- queue


@agent_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueForm(request.GET)
    form.is_valid()  # invalid fields drop out of cleaned_data: they act as unset
    data = form.cleaned_data
    current = queues.QUEUES[data.get("queue") or queues.DEFAULT_QUEUE]
    filters = queues.Filters(
        category=data.get("category") or "",
        channel=data.get("channel") or "",
        org_kind=data.get("org_kind") or "",
    )
    q = (data.get("q") or "").strip()
    after = data.get("after") or ""
    if q:
        page = queues.search_page(q, filters=filters, after=after)
    else:
        page = queues.queue_page(current, request.user, filters=filters, after=after)
    sizes = queues.queue_sizes(request.user)
    # Links keep the filters and drop empty parameters: ?queue=mine&channel=email
    kept = {k: v for k, v in vars(filters).items() if v}
    here = {"queue": current.slug, **kept, **({"q": q} if q else {})}
    context = {
        "form": form,
        "tabs": [
            (tab, sizes[slug], "?" + urlencode({"queue": slug, **kept}))
            for slug, tab in queues.QUEUES.items()
        ],
        "first_link": "?" + urlencode(here),
        "next_link": "?" + urlencode({**here, "after": page.next_cursor})
        if page.next_cursor
        else None,
        "current": current,
        "filtered": bool(filters),
        "q": q,
        "page": page,
        "paged": bool(after),
        "show_solved_at": current.recent_first and not q,
        "show_claim": current.slug == "unclaimed" and not q,
        "scan_limit": f"{queues.SCAN_LIMIT:,}",
    }
    if request.htmx.target == "workspace" and not request.htmx.history_restore_request:
        # A boosted tab, filter or pager link: only the workspace section, and the
        # address bar shows the clean URL rather than the form's empty parameters.
        response = render(request, f"{QUEUE_TEMPLATE}#workspace", context)
        after_part = {"after": after} if after else {}
        response["HX-Push-Url"] = reverse("agent:queue") + "?" + urlencode({**here, **after_part})
    else:
        response = render(request, QUEUE_TEMPLATE, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


# ---------------------------------------------------------------- ticket page


def _ticket_page(
    request: HttpRequest, ticket: Ticket, *, reply_form: ReplyForm | None = None, status=200
) -> HttpResponse:
    user = request.user
    presence_url = reverse("agent:presence", args=[ticket.pk])
    context = {
        "ticket": ticket,
        "conversation": access.visible_messages(user, ticket),
        "events": ticket.events.select_related("actor"),
        "other_tickets": Ticket.objects.filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .order_by("-id")[:OTHER_TICKETS],
        "present": presence.others(ticket, user),
        # Sends to the requester that failed or are still being retried, with the error.
        "delivery_problems": OutboundEmail.objects.filter(ref=f"ticket:{ticket.pk}")
        .exclude(status=DeliveryStatus.SENT)
        .exclude(last_error="")
        .order_by("-id")[:10],
        "heartbeat_seconds": presence.HEARTBEAT_SECONDS,
        "claimed_by_other": ticket.assignee_id is not None and ticket.assignee_id != user.pk,
        "can_claim": ticket.assignee_id is None
        and ticket.status not in (Status.SOLVED, Status.CLOSED),
        "category_form": CategoryForm(initial={"category": ticket.category}),
        "priority_form": PriorityForm(initial={"priority": ticket.priority}),
        "status_form": StatusForm(ticket=ticket),
        "reply_form": reply_form or ReplyForm(presence_url=presence_url),
        "assign_form": AssignForm(initial={"assignee": ticket.assignee_id}).for_display()
        if user.is_manager and not ticket.is_final
        else None,
    }
    return render(request, TICKET_TEMPLATE, context, status=status)


@agent_required
@require_GET
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    return _ticket_page(request, get_ticket_for(request.user, number))


def _back(ticket: Ticket) -> HttpResponse:
    return redirect("agent:ticket", number=ticket.pk)


def _action(
    request: HttpRequest,
    number: int,
    form_class: type[forms.Form],
    apply: Callable[[Ticket, dict], str],
) -> HttpResponse:
    """Validate, call the rule, report, and go back to the ticket page."""
    ticket = get_ticket_for(request.user, number)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return _back(ticket)
    try:
        done = apply(ticket, form.cleaned_data)
    except lifecycle.TransitionError as err:
        messages.error(request, str(err))
    else:
        if done:
            messages.success(request, done)
    return _back(ticket)


@agent_required
@require_POST
def claim(request: HttpRequest, number: int) -> HttpResponse:
    def apply(ticket: Ticket, data: dict) -> str:
        lifecycle.claim(ticket, request.user)
        return f"You claimed #{ticket.pk}."

    return _action(request, number, forms.Form, apply)


@agent_required
@require_POST
def categorize(request: HttpRequest, number: int) -> HttpResponse:
    def apply(ticket: Ticket, data: dict) -> str:
        lifecycle.categorize(ticket, data["category"], by=request.user)
        return f"Categorized as {Category(data['category']).label.lower()}."

    return _action(request, number, CategoryForm, apply)


@agent_required
@require_POST
def set_priority(request: HttpRequest, number: int) -> HttpResponse:
    def apply(ticket: Ticket, data: dict) -> str:
        lifecycle.set_priority(ticket, data["priority"], by=request.user)
        return f"Priority set to {Priority(data['priority']).label.lower()}."

    return _action(request, number, PriorityForm, apply)


@agent_required
@require_POST
def change_status(request: HttpRequest, number: int) -> HttpResponse:
    def apply(ticket: Ticket, data: dict) -> str:
        lifecycle.change_status(ticket, data["status"], by=request.user)
        return f"Status set to {Status(data['status']).label}."

    return _action(request, number, StatusForm, apply)


@agent_required
@require_POST
def assign(request: HttpRequest, number: int) -> HttpResponse:
    def apply(ticket: Ticket, data: dict) -> str:
        assignee = data["assignee"] if data["action"] == "assign" else None
        lifecycle.assign(ticket, assignee, by=request.user)
        if assignee is None:
            return f"#{ticket.pk} is back in the unclaimed queue."
        return f"#{ticket.pk} assigned to {assignee.display_name}."

    return _action(request, number, AssignForm, apply)


@agent_required
@require_POST
def reply(request: HttpRequest, number: int) -> HttpResponse:
    """A failed reply re-renders the page with the text kept, instead of losing it."""
    ticket = get_ticket_for(request.user, number)
    presence_url = reverse("agent:presence", args=[ticket.pk])
    form = ReplyForm(request.POST, request.FILES, presence_url=presence_url)
    if not form.is_valid():
        return _ticket_page(request, ticket, reply_form=form, status=400)
    internal = form.cleaned_data["kind"] == "note"
    try:
        lifecycle.agent_reply(
            ticket,
            request.user,
            form.cleaned_data["body"],
            internal=internal,
            status=form.cleaned_data["status"] or None,
            uploads=form.cleaned_data["attachments"],
        )
    except lifecycle.TransitionError as err:
        messages.error(request, str(err))
        ticket.refresh_from_db()
        return _ticket_page(request, ticket, reply_form=form, status=400)
    presence.record(ticket, request.user, Activity.VIEWING, force=True)  # done typing
    messages.success(request, "Internal note added." if internal else "Reply sent.")
    return _back(ticket)


# ---------------------------------------------------------------- presence


@agent_required
@require_POST
def heartbeat(request: HttpRequest, number: int) -> HttpResponse:
    """htmx heartbeat: record this agent, answer with the other agents present."""
    ticket = get_ticket_for(request.user, number)
    activity = request.POST.get("activity")
    if activity not in Activity.values:
        activity = Activity.VIEWING
    presence.record(ticket, request.user, activity)
    context = {"ticket": ticket, "present": presence.others(ticket, request.user)}
    return render(request, f"{TICKET_TEMPLATE}#presence", context)
