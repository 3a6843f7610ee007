"""Requester portal views (thin: every change goes through ``tickets.lifecycle``).

The portal is the requester's side of the desk. Agents may use it for tickets they
requested themselves; every other ticket they work in the agent workspace. Whatever the
viewer's role, the portal never shows internal notes.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods, require_POST

from caredesk.accounts.models import User
from caredesk.tickets import access, lifecycle
from caredesk.tickets.choices import Channel, Status
from caredesk.tickets.forms import GuidedFieldsMixin, MultipleFileField
from caredesk.tickets.models import Message, Ticket

PAGE_SIZE = 25
TEXT_MAX = 20_000
SUPPORT_TEAM = "Support team"  # how an agent without a name appears to requesters

# What each status means for the person waiting on an answer.
STATUS_HINTS = {
    Status.NEW: "Waiting for a support agent to pick it up.",
    Status.OPEN: "A support agent is working on it.",
    Status.PENDING: "We are waiting for your reply.",
    Status.ON_HOLD: "Waiting on our developers; we will update you.",
    Status.SOLVED: "Marked as solved. Reply if the problem is still there.",
    Status.CLOSED: "Closed. A reply opens a new ticket linked to this one.",
}


# ---------------------------------------------------------------- forms


def _attachment_hint() -> str:
    return (
        f"Screenshots or other files, up to {filesizeformat(settings.ATTACHMENT_MAX_BYTES)} "
        f"each, at most {settings.ATTACHMENTS_PER_MESSAGE} files."
    )


class AttachmentsMixin(forms.Form):
    attachments = MultipleFileField(label="Screenshots and files")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at request time, so the hint follows the setting.
        self.fields["attachments"].help_text = _attachment_hint()


def _textarea(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class NewTicketForm(GuidedFieldsMixin, AttachmentsMixin, forms.Form):
    subject = forms.CharField(
        max_length=250,
        help_text="A few words that say what went wrong.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    trying_to_do = forms.CharField(
        label=Ticket._meta.get_field("trying_to_do").verbose_name,
        max_length=TEXT_MAX,
        widget=_textarea(),
    )
    expected = forms.CharField(
        label=Ticket._meta.get_field("expected").verbose_name,
        max_length=TEXT_MAX,
        required=False,
        widget=_textarea(3),
    )
    actual = forms.CharField(
        label=Ticket._meta.get_field("actual").verbose_name,
        max_length=TEXT_MAX,
        help_text="Error messages, in their exact words, help the most.",
        widget=_textarea(),
    )
    references = forms.CharField(
        label=Ticket._meta.get_field("references").verbose_name,
        help_text=Ticket._meta.get_field("references").help_text,
        max_length=TEXT_MAX,
        required=False,
        widget=_textarea(2),
    )

    field_order = ["subject", "trying_to_do", "expected", "actual", "references", "attachments"]


class ReplyForm(AttachmentsMixin, forms.Form):
    body = forms.CharField(label="Your reply", max_length=TEXT_MAX, widget=_textarea(5))

    field_order = ["body", "attachments"]


# ---------------------------------------------------------------- queries


def _portal_tickets(user: User) -> QuerySet[Ticket]:
    """The tickets this person sees as a requester: their own, plus their organization's
    when it shares tickets. Agents see everything in the workspace; here, their own."""
    tickets = access.visible_tickets(user)
    if user.is_agent:
        tickets = tickets.filter(requester=user)
    return tickets


def _get_ticket(user: User, number: int) -> Ticket:
    ticket = access.get_ticket_for(user, number)  # 404 unless visible
    if user.is_agent and ticket.requester_id != user.pk:
        raise Http404("No such ticket")
    return ticket


def _conversation(user: User, ticket: Ticket) -> QuerySet[Message]:
    # visible_messages() already hides notes from requesters; the portal hides them from
    # everyone, agents included, because this page is what the requester sees.
    return access.visible_messages(user, ticket).filter(internal=False)


def _int_param(request: HttpRequest, name: str) -> int | None:
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _page(tickets: QuerySet[Ticket], before: int | None, after: int | None):
    """Keyset pagination on the ticket number, newest first.

    Returns (tickets on this page, whether older ones exist, whether newer ones exist).
    """
    newest_first = tickets.order_by("-id")
    if after is not None:
        rows = list(tickets.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = bool(rows) and newest_first.filter(id__lt=rows[-1].id).exists()
        return rows, has_older, has_newer
    if before is not None:
        newest_first = newest_first.filter(id__lt=before)
    rows = list(newest_first[: PAGE_SIZE + 1])
    has_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    has_newer = bool(rows) and before is not None and tickets.filter(id__gt=rows[0].id).exists()
    return rows, has_older, has_newer


def author_label(message: Message, viewer: User) -> str:
    """Who wrote a message, as the requester should see it: agents by name, never email."""
    author = message.author
    if author is None:
        return SUPPORT_TEAM
    if author.pk == viewer.pk:
        return "You"
    if author.is_agent:
        return author.name or SUPPORT_TEAM
    return author.display_name


# ---------------------------------------------------------------- views


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    tickets = _portal_tickets(request.user).select_related("requester")
    before, after = _int_param(request, "before"), _int_param(request, "after")
    rows, has_older, has_newer = _page(tickets, before, after)
    return render(
        request,
        "tickets/portal/list.html",
        {
            "tickets": rows,
            "older": rows[-1].id if has_older else None,
            "newer": rows[0].id if has_newer else None,
            "paged": before is not None or after is not None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_ticket(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "tickets/portal/new.html", {"form": NewTicketForm()})
    form = NewTicketForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            ticket = lifecycle.create_ticket(
                requester=request.user,
                subject=form.cleaned_data["subject"],
                channel=Channel.PORTAL,
                fields=form.guided_fields(),
                uploads=form.cleaned_data["attachments"],
            )
        except lifecycle.TransitionError as err:
            form.add_error(None, str(err))
        else:
            messages.success(
                request,
                f"Thank you: your ticket is #{ticket.number}. A support agent will answer "
                f"within one business day; we will email you at {request.user.email} "
                "and the answer will appear here.",
            )
            return redirect("portal:ticket", number=ticket.number)
    return render(request, "tickets/portal/new.html", {"form": form}, status=_status(form))


@login_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _get_ticket(request.user, number)
    return _render_detail(request, ticket, ReplyForm())


@login_required
@require_POST
def reply(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _get_ticket(request.user, number)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        was = ticket.status
        try:
            message = lifecycle.requester_reply(
                ticket,
                request.user,
                form.cleaned_data["body"],
                channel=Channel.PORTAL,
                uploads=form.cleaned_data["attachments"],
            )
        except lifecycle.TransitionError as err:
            form.add_error(None, str(err))
        else:
            if message.ticket_id != ticket.pk:
                messages.success(
                    request,
                    f"Ticket #{ticket.number} was closed, so your reply opened a new "
                    f"ticket, #{message.ticket_id}, linked to it. A support agent will "
                    "answer within one business day.",
                )
                return redirect("portal:ticket", number=message.ticket_id)
            ticket.refresh_from_db(fields=["status"])
            reopened = was in (Status.PENDING, Status.SOLVED) and ticket.status != was
            messages.success(
                request,
                "Your reply was added and the ticket is open again."
                if reopened
                else "Your reply was added.",
            )
            return redirect("portal:ticket", number=ticket.number)
    return _render_detail(request, ticket, form, status=_status(form))


@login_required
@require_POST
def mark_solved(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _get_ticket(request.user, number)
    try:
        lifecycle.mark_solved_by_requester(ticket, request.user)
    except lifecycle.TransitionError as err:
        messages.error(request, str(err))
    else:
        messages.success(
            request,
            f"Ticket #{ticket.number} is marked as solved. Thank you! "
            "If the problem comes back, reply here and it opens again.",
        )
    return redirect("portal:ticket", number=ticket.number)


def _status(form: forms.Form) -> int:
    return 400 if form.is_bound and form.errors else 200


def _render_detail(
    request: HttpRequest, ticket: Ticket, form: ReplyForm, *, status: int = 200
) -> HttpResponse:
    user = request.user
    conversation = [(m, author_label(m, user)) for m in _conversation(user, ticket)]
    visible = _portal_tickets(user)
    follow_ups = visible.filter(follow_up_of=ticket).order_by("id").only("id", "subject")
    follow_up_of = (
        visible.filter(pk=ticket.follow_up_of_id).only("id", "subject").first()
        if ticket.follow_up_of_id
        else None
    )
    return render(
        request,
        "tickets/portal/detail.html",
        {
            "ticket": ticket,
            "status_hint": STATUS_HINTS.get(ticket.status, ""),
            "assignee_name": (ticket.assignee.name or SUPPORT_TEAM) if ticket.assignee else "",
            "conversation": conversation,
            "form": form,
            "can_mark_solved": ticket.status not in (Status.SOLVED, Status.CLOSED),
            "follow_ups": list(follow_ups),
            "follow_up_of": follow_up_of,
        },
        status=status,
    )
