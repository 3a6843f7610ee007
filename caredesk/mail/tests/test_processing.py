"""process_message(): every stored message ends as exactly one recorded outcome."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from caredesk.accounts.models import User
from caredesk.conftest import PNG_BYTES
from caredesk.mail import addresses
from caredesk.mail.choices import Outcome, Reason, State
from caredesk.mail.models import InboundMessage, ThreadIndex
from caredesk.mail.processing import process_pending, retry
from caredesk.outbox.models import OutboundEmail
from caredesk.tickets import lifecycle
from caredesk.tickets.choices import Channel, MessageKind, Status
from caredesk.tickets.models import Attachment, Ticket

from .factories import build, deliver, message_id_of, stored

pytestmark = pytest.mark.django_db


def test_new_mail_opens_a_ticket_and_acknowledges_it():
    inbound = deliver(build(attachments=[("shot.png", PNG_BYTES, "image/png")]))
    assert (inbound.state, inbound.outcome) == (State.DONE, Outcome.NEW_TICKET)
    ticket = inbound.ticket
    assert ticket.channel == Channel.EMAIL and ticket.subject == "Cannot add a volunteer"
    assert ticket.requester.email == "alice@acme.test"
    assert not ticket.requester.has_usable_password()
    message = ticket.messages.get()
    assert "volunteer I get an error" in message.body
    assert message.message_id == inbound.message_id
    assert ticket.attachments.get().sha256 == __import__("hashlib").sha256(PNG_BYTES).hexdigest()
    ack = OutboundEmail.objects.get(ref=f"ticket:{ticket.pk}")
    assert ack.to == ["alice@acme.test"]
    assert f"[#{ticket.pk}]" in ack.subject
    assert ack.headers["Auto-Submitted"] == "auto-replied"
    assert ack.headers["In-Reply-To"] == f"<{inbound.message_id}>"
    assert ack.headers["Reply-To"] == addresses.reply_address(ticket.pk)
    assert "one business day" in ack.body


def test_reply_threads_by_in_reply_to_of_our_acknowledgement():
    first = deliver(build())
    ack = OutboundEmail.objects.get()
    reply = deliver(
        build(subject="Re: something else entirely", in_reply_to=ack.headers["Message-ID"])
    )
    assert (reply.outcome, reply.reason) == (Outcome.FOLLOW_UP, Reason.HEADER)
    assert reply.ticket == first.ticket
    assert first.ticket.messages.count() == 2


def test_reply_threads_by_references_to_the_original_message():
    original = build()
    first = deliver(original)
    reply = deliver(build(subject="Re: x", references=f"<{message_id_of(original)}>"))
    assert (reply.outcome, reply.reason, reply.ticket) == (
        Outcome.FOLLOW_UP,
        Reason.HEADER,
        first.ticket,
    )


def test_reply_threads_by_signed_reply_address():
    first = deliver(build())
    address = addresses.reply_address(first.ticket.pk)
    reply = deliver(build(to=address, subject="no tag here"), to=(address,))
    assert (reply.outcome, reply.reason, reply.ticket) == (
        Outcome.FOLLOW_UP,
        Reason.REPLY_ADDRESS,
        first.ticket,
    )


def test_reply_threads_by_subject_tag_from_a_participant_only():
    first = deliver(build())
    number = first.ticket.pk
    reply = deliver(build(subject=f"Re: [#{number}] Cannot add"))
    assert (reply.outcome, reply.reason) == (Outcome.FOLLOW_UP, Reason.SUBJECT_TAG)
    stranger = deliver(build(sender="mallory@evil.test", subject=f"Re: [#{number}] hi"))
    assert stranger.outcome == Outcome.NEW_TICKET
    assert stranger.ticket != first.ticket


def test_stranger_replying_to_a_thread_gets_a_linked_ticket():
    first = deliver(build())
    ack = OutboundEmail.objects.get()
    other = deliver(build(sender="bob@bethel.test", in_reply_to=ack.headers["Message-ID"]))
    assert other.outcome == Outcome.LINKED_TICKET
    assert other.ticket.follow_up_of == first.ticket
    assert other.ticket.requester.email == "bob@bethel.test"
    assert first.ticket.messages.count() == 1


def test_reply_reopens_a_pending_ticket(agent):
    first = deliver(build())
    lifecycle.agent_reply(first.ticket, agent, "Which browser?", status=Status.PENDING)
    sent = OutboundEmail.objects.filter(subject__startswith="Re:").get()
    deliver(build(subject="Re: x", in_reply_to=sent.headers["Message-ID"]))
    first.ticket.refresh_from_db()
    assert first.ticket.status == Status.OPEN


def test_reply_to_a_closed_ticket_starts_a_linked_ticket(agent):
    first = deliver(build())
    lifecycle.change_status(first.ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(first.ticket, Status.CLOSED, by=agent)
    reply = deliver(build(subject=f"Re: [#{first.ticket.pk}] again"))
    assert reply.outcome == Outcome.LINKED_TICKET
    assert reply.ticket.follow_up_of == first.ticket


def test_list_mail_to_a_closed_ticket_opens_a_follow_up_without_acknowledging_it(agent):
    first = deliver(build())
    lifecycle.change_status(first.ticket, Status.SOLVED, by=agent)
    lifecycle.change_status(first.ticket, Status.CLOSED, by=agent)
    sent = OutboundEmail.objects.count()
    reply = deliver(build(subject=f"Re: [#{first.ticket.pk}] digest", headers={"List-Id": "<l.x>"}))
    assert reply.outcome == Outcome.LINKED_TICKET
    assert OutboundEmail.objects.count() == sent  # a list must never get an automatic answer


def test_the_same_message_twice_is_stored_once():
    raw = build()
    first = deliver(raw)
    again = deliver(raw)
    assert again.outcome == Outcome.DUPLICATE and again.ticket == first.ticket
    assert Ticket.objects.count() == 1
    assert first.ticket.messages.count() == 1


def test_the_same_message_by_another_route_is_a_duplicate():
    """One more Received: line, and the line ends an IMAP server rewrote."""
    raw = build()
    first = deliver(raw)
    again = deliver(
        b"Received: from mx2.acme.test by desk; Fri, 27 Nov 2026\n" + raw.replace(b"\r\n", b"\n")
    )
    assert again.outcome == Outcome.DUPLICATE and again.ticket == first.ticket
    assert Ticket.objects.count() == 1


def test_another_message_under_a_reused_message_id_is_applied_as_its_own():
    """Scanners and broken mailers send one Message-ID for every mail."""
    first = deliver(build(message_id="<scan@printer.acme.test>", body="Scan 1 attached"))
    other = deliver(build(message_id="<scan@printer.acme.test>", body="Scan 2 attached"))
    stranger = deliver(
        build(sender="bob@bethel.test", subject="Login", message_id="<scan@printer.acme.test>")
    )
    assert [first.outcome, other.outcome, stranger.outcome] == [Outcome.NEW_TICKET] * 3
    assert len({first.ticket_id, other.ticket_id, stranger.ticket_id}) == 3
    assert "Scan 2" in other.ticket.messages.get().body


def test_a_copy_is_recognised_however_many_messages_share_its_message_id():
    scans = [build(message_id="<scan@printer.acme.test>", body=f"Scan {n}") for n in range(23)]
    tickets = [deliver(raw).ticket for raw in scans]
    again = deliver(scans[21])
    assert again.outcome == Outcome.DUPLICATE and again.ticket == tickets[21]
    assert Ticket.objects.count() == 23


def test_each_message_under_a_reused_message_id_is_still_applied_once():
    scans = [build(message_id="<scan@printer.acme.test>", body=f"Scan {n}") for n in (1, 2)]
    first, second = deliver(scans[0]), deliver(scans[1])
    again = deliver(b"Received: from mx2.acme.test by desk\r\n" + scans[1])
    assert again.outcome == Outcome.DUPLICATE and again.ticket == second.ticket
    assert deliver(scans[0]).outcome == Outcome.DUPLICATE
    assert Ticket.objects.count() == 2 and first.ticket != second.ticket


def test_out_of_office_is_recorded_but_neither_ticket_nor_reopen(agent):
    first = deliver(build())
    lifecycle.change_status(first.ticket, Status.PENDING, by=agent)
    ack = OutboundEmail.objects.get()
    ooo = deliver(
        build(
            subject="Automatic reply: Cannot add a volunteer",
            headers={"Auto-Submitted": "auto-replied"},
            in_reply_to=ack.headers["Message-ID"],
        )
    )
    assert ooo.outcome == Outcome.AUTO_REPLY and ooo.ticket == first.ticket
    first.ticket.refresh_from_db()
    assert first.ticket.status == Status.PENDING
    recorded = first.ticket.messages.get(kind=MessageKind.AUTO_REPLY)
    assert recorded.internal
    unthreaded = deliver(build(headers={"Auto-Submitted": "auto-replied"}, subject="Away"))
    assert unthreaded.outcome == Outcome.AUTO_REPLY and unthreaded.ticket is None
    legacy = deliver(build(headers={"X-Autoreply": "yes"}, subject="Out of office"))
    assert legacy.outcome == Outcome.AUTO_REPLY
    assert Ticket.objects.count() == 1
    assert OutboundEmail.objects.count() == 1  # never answered


@pytest.mark.parametrize(
    "headers",
    [
        {"Precedence": "bulk"},
        {"List-Id": "<volunteers.lists.acme.test>"},
        {"Auto-Submitted": "auto-generated"},
    ],
)
def test_bulk_mail_gets_no_acknowledgement(headers):
    inbound = deliver(build(headers=headers))
    assert inbound.ticket is not None
    assert not OutboundEmail.objects.exists()


@pytest.mark.parametrize("sender", ["mailer-daemon@acme.test", "noreply@acme.test"])
def test_machine_senders_get_no_acknowledgement(sender):
    deliver(build(sender=sender))
    assert not OutboundEmail.objects.exists()


def test_mail_from_our_own_address_stops_the_loop():
    inbound = deliver(build(sender="support@demo.caredesk.test"))
    assert inbound.outcome == Outcome.OWN_MAIL
    assert not Ticket.objects.exists() and not OutboundEmail.objects.exists()


def test_per_sender_cap_on_acknowledgements(settings):
    settings.AUTO_REPLY_LIMIT_PER_HOUR = 2
    for i in range(4):
        deliver(build(subject=f"Problem {i}"))
    assert Ticket.objects.count() == 4
    assert OutboundEmail.objects.count() == 2


def test_mail_without_sender_is_quarantined_and_can_be_retried():
    raw = b"Subject: no from\r\n\r\nhello\r\n"
    inbound = deliver(raw)
    assert (inbound.state, inbound.outcome) == (State.QUARANTINED, Outcome.QUARANTINED)
    assert "No sender" in inbound.error
    assert bytes(inbound.raw) == raw
    assert retry(InboundMessage.objects.all()) == 1
    InboundMessage.objects.filter(pk=inbound.pk).update(envelope_from="late@acme.test")
    assert process_pending() == 1
    inbound.refresh_from_db()
    assert inbound.outcome == Outcome.NEW_TICKET and inbound.attempts == 2


def test_a_sender_address_longer_than_any_mail_address_is_quarantined_saying_so():
    """Over 254 characters it is no mailbox, and cannot be a requester's account: the
    message is held with that reason on every database (PostgreSQL used to refuse the
    account with a DataError traceback while SQLite made a ticket of it)."""
    sender = "a" * 300 + "@acme.test"
    raw = b"From: " + sender.encode() + b"\r\nSubject: Hello\r\n\r\nHi there\r\n"
    inbound = deliver(raw)
    assert (inbound.state, inbound.outcome) == (State.QUARANTINED, Outcome.QUARANTINED)
    assert inbound.error.startswith("The sender address is 310 characters long")
    assert inbound.sender == sender and bytes(inbound.raw) == raw
    assert not Ticket.objects.exists() and not User.objects.filter(email=sender).exists()


def test_the_acknowledgement_goes_to_the_sender_alone():
    """A mail naming fifty addresses makes one automatic answer, to its sender: the
    desk is no relay for whoever writes to it (the people copied get agents' answers)."""
    victims = ", ".join(f"v{i}@victims.test" for i in range(50))
    first = deliver(build(sender="spammer@throwaway.test", cc=victims))
    assert len(first.ticket.cc) == 50
    ack = OutboundEmail.objects.get()
    assert ack.to == ["spammer@throwaway.test"] and ack.cc == []


def test_cc_people_are_copied_and_may_reply():
    first = deliver(build(cc="carol@acme.test"))
    assert first.ticket.cc == ["carol@acme.test"]
    reply = deliver(build(sender="carol@acme.test", subject=f"Re: [#{first.ticket.pk}] x"))
    assert reply.outcome == Outcome.FOLLOW_UP
    assert User.objects.get(email="carol@acme.test").requested_tickets.count() == 0


def test_queue_is_processed_in_arrival_order():
    from caredesk.mail import intake

    original = build()
    reply = build(references=f"<{message_id_of(original)}>", subject="Re: x")
    intake.receive(original, transport="smtp")
    intake.receive(reply, transport="smtp")
    assert process_pending() == 2
    outcomes = list(InboundMessage.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [Outcome.NEW_TICKET, Outcome.FOLLOW_UP]


def test_agents_see_why_a_mail_landed_on_the_ticket(client, agent):
    from caredesk.conftest import PASSWORD

    first = deliver(build())
    ack = OutboundEmail.objects.get()
    deliver(build(subject="Re: x", in_reply_to=ack.headers["Message-ID"]))
    client.login(username=agent.email, password=PASSWORD)
    page = client.get(f"/agent/tickets/{first.ticket.pk}/").text
    assert "no reply address, known Message-ID or ticket tag matched" in page
    assert "email threaded by In-Reply-To / References header" in page


class _Folding(HTMLParser):
    """The text of one ``<article id=...>`` of a page: what shows, what is folded inside
    ``<details>`` (and its ``<summary>``), and whether each ``<details>`` starts open."""

    def __init__(self, article_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.article_id = article_id
        self.inside = self.found = False
        self.details = self.summary = 0
        self.shown: list[str] = []
        self.folded: list[str] = []
        self.summaries: list[str] = []
        self.opened: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article" and attrs.get("id") == self.article_id:
            self.inside = self.found = True
        elif self.inside and tag == "details":
            self.details += 1
            self.opened.append("open" in attrs)
        elif self.inside and tag == "summary":
            self.summary += 1

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "article":
            self.inside = False
        elif tag == "details":
            self.details -= 1
        elif tag == "summary":
            self.summary -= 1

    def handle_data(self, data):
        if not self.inside:
            return
        if self.summary:
            self.summaries.append(data)
        elif self.details:
            self.folded.append(data)
        else:
            self.shown.append(data)


def _article(page: str, article_id: str) -> _Folding:
    parser = _Folding(article_id)
    parser.feed(page)
    parser.close()
    assert parser.found, f"no <article id={article_id!r}> on the page"
    return parser


def test_a_gmail_reply_shows_its_new_text_with_the_quoted_history_folded(client, agent):
    """A real Gmail reply (multipart/alternative, quoted-printable, "On ... wrote:" then
    "> " lines) to an agent's answer: the ticket message is the new text alone, the
    history is kept beside it, and both the agent's page and the requester's portal page
    show the new text with the history folded away in a closed <details>."""
    from caredesk.conftest import PASSWORD
    from caredesk.mail.parsing import parse

    first = deliver(
        build(
            sender="Lucía Fernández <lucia.fernandez@gmail.com>",
            subject="Password reset link not working",
            body="The password reset link says it has expired.",
        )
    )
    ticket = first.ticket
    lifecycle.agent_reply(
        ticket,
        agent,
        "Hello Lucía,\n\nCould you please request a new link and open it within 15 "
        "minutes?\n\nBest regards,\nAcme Support",
    )
    answer = OutboundEmail.objects.get(subject__startswith="Re:")
    # The sample as Gmail sent it, answering that mail: its threading headers and subject
    # tag point at this ticket instead of the ones it was captured with.
    raw = (Path(__file__).parent / "samples" / "gmail_reply_with_quote.eml").read_bytes()
    raw = re.sub(
        rb"(?m)^References: .*$",
        b"References: " + f"{answer.headers['References']} {answer.headers['Message-ID']}".encode(),
        raw,
    )
    raw = re.sub(
        rb"(?m)^In-Reply-To: .*$", b"In-Reply-To: " + answer.headers["Message-ID"].encode(), raw
    )
    raw = raw.replace(b"[#1043]", f"[#{ticket.pk}]".encode())

    reply = deliver(raw)

    assert (reply.outcome, reply.reason, reply.ticket) == (
        Outcome.FOLLOW_UP,
        Reason.HEADER,
        ticket,
    )
    message = reply.ticket_message
    assert message.body == (
        "Hi,\n\n"
        "I tried what you suggested, but the reset link still says it has expired.\n"
        "It happens in Chrome and Firefox \u2013 screenshot below is from Chrome.\n\n"
        "Thanks,\n"
        "Lucía"
    )
    assert message.quoted.startswith(
        "On Mon, Mar 4, 2024 at 4:02 PM Acme Support <support@helpdesk.example.com>\nwrote:"
    )
    assert "> Could you please request a new link and open it within 15 minutes?" in (
        message.quoted
    )
    # Nothing of the text was dropped: new part and history are the whole of it.
    assert f"{message.body}\n\n{message.quoted}" == parse(raw).text.strip()
    assert bytes(reply.raw) == raw

    client.login(username=agent.email, password=PASSWORD)
    agent_page = client.get(f"/agent/tickets/{ticket.pk}/")
    client.logout()
    client.force_login(message.author)  # Lucía: her account came with her first email
    portal_page = client.get(f"/portal/tickets/{ticket.pk}/")

    for page, article_id in (
        (agent_page, f"message-{message.pk}"),
        (portal_page, f"m{message.pk}"),
    ):
        assert page.status_code == 200
        article = _article(page.text, article_id)
        shown, folded = "".join(article.shown), "".join(article.folded)
        assert message.body in shown
        assert "Could you please request a new link" not in shown
        assert message.quoted in folded
        assert article.opened == [False]  # one <details>, closed until clicked
        assert "".join(article.summaries).strip()  # with a label to click


def test_a_failed_send_is_visible_on_the_ticket(client, agent):
    from caredesk.conftest import PASSWORD
    from caredesk.outbox.models import DeliveryStatus

    first = deliver(build())
    OutboundEmail.objects.update(status=DeliveryStatus.FAILED, last_error="550 5.1.1 no such user")
    client.login(username=agent.email, password=PASSWORD)
    page = client.get(f"/agent/tickets/{first.ticket.pk}/").text
    assert "could not be delivered" in page and "550 5.1.1 no such user" in page


def test_a_bounce_of_our_reply_is_flagged_on_the_ticket_not_a_new_ticket(agent):
    from caredesk.outbox.models import DeliveryStatus

    first = deliver(build())
    lifecycle.agent_reply(first.ticket, agent, "Here is the answer")
    reply = OutboundEmail.objects.get(subject__startswith="Re:")
    bounce = (
        b"From: Mail Delivery System <MAILER-DAEMON>\r\n"
        b"To: support@demo.caredesk.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-1@mx.acme.test>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.acme.test\r\n\r\n"
        b"Final-Recipient: rfc822; alice@acme.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"Message-ID: " + reply.headers["Message-ID"].encode() + b"\r\n"
        b"Subject: Re: something\r\n"
        b"--B--\r\n"
    )
    inbound = deliver(bounce)
    assert (inbound.outcome, inbound.ticket) == (Outcome.BOUNCE, first.ticket)
    flagged = first.ticket.messages.get(kind=MessageKind.BOUNCE)
    assert flagged.internal and "5.1.1" in flagged.body
    reply.refresh_from_db()
    assert reply.status == DeliveryStatus.FAILED and "no such user" in reply.last_error
    assert Ticket.objects.count() == 1


def test_a_colleague_the_thread_was_forwarded_to_joins_it_visibly():
    first = deliver(build())
    ack = OutboundEmail.objects.get()
    reply = deliver(build(sender="dana@acme.test", in_reply_to=ack.headers["Message-ID"]))
    assert (reply.outcome, reply.ticket) == (Outcome.FOLLOW_UP, first.ticket)
    first.ticket.refresh_from_db()
    assert first.ticket.cc == ["dana@acme.test"]
    copied = first.ticket.events.get(kind="copied")
    assert copied.to_value == "dana@acme.test" and "colleague" in copied.data["reason"]


def test_a_member_of_a_sharing_organization_may_answer_by_the_tag(alice, carol, acme):
    acme.shared_tickets = True
    acme.save()
    first = deliver(build())
    reply = deliver(build(sender="carol@acme.test", subject=f"Re: [#{first.ticket.pk}] x"))
    assert (reply.outcome, reply.ticket) == (Outcome.FOLLOW_UP, first.ticket)
    first.ticket.refresh_from_db()
    assert first.ticket.cc == ["carol@acme.test"]


@pytest.mark.parametrize("sender", ["carol@acme.test", "mallory@acme.test"])
def test_the_tag_alone_makes_no_colleague_of_an_address_at_the_same_domain(alice, carol, sender):
    """A tag names a ticket by its (guessable) number: whoever writes from the
    requester's domain with nothing more (no mail of the thread, no membership of an
    organization that shares tickets) is a stranger, whose mail becomes a ticket of its
    own, and is never copied on the first."""
    first = deliver(build())
    other = deliver(build(sender=sender, subject=f"[#{first.ticket.pk}] hello"))
    assert other.outcome == Outcome.NEW_TICKET and other.ticket != first.ticket
    first.ticket.refresh_from_db()
    assert first.ticket.cc == [] and first.ticket.messages.count() == 1


def test_sharing_a_public_mail_provider_does_not_make_a_colleague():
    first = deliver(build(sender="rita@gmail.com"))
    ack = OutboundEmail.objects.get()
    other = deliver(build(sender="sam@gmail.com", in_reply_to=ack.headers["Message-ID"]))
    assert other.outcome == Outcome.LINKED_TICKET and other.ticket != first.ticket


# ---------------------------------------------------------------- batches and crashes


@pytest.fixture
def second_fails(monkeypatch):
    """A bug in the rules, hit once the ticket of the message "Second" is written."""
    real = lifecycle.create_ticket

    def create_ticket(**kwargs):
        ticket = real(**kwargs)
        if kwargs["subject"] == "Second":
            raise RuntimeError("simulated bug after the ticket was written")
        return ticket

    monkeypatch.setattr(lifecycle, "create_ticket", create_ticket)


def test_a_failing_message_in_a_batch_rolls_back_alone(second_fails):
    """A bug hit half-way through one message (its ticket already written) undoes that
    message only; the messages before and after it in the batch commit."""
    from caredesk.mail import intake

    for subject in ("First", "Second", "Third"):
        intake.receive(build(subject=subject), transport="smtp")
    assert process_pending() == 3

    ledger = list(InboundMessage.objects.order_by("id").values_list("subject", "outcome"))
    assert ledger == [
        ("First", Outcome.NEW_TICKET),
        ("Second", Outcome.QUARANTINED),  # the ledger still says what it was
        ("Third", Outcome.NEW_TICKET),
    ]
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["First", "Third"]
    failed = InboundMessage.objects.get(outcome=Outcome.QUARANTINED)
    assert "simulated bug" in failed.error and failed.leased_until is None
    assert OutboundEmail.objects.count() == 2  # no acknowledgement of the undone ticket


def _interrupted(raw: bytes, times: int = 0) -> InboundMessage:
    """A message a worker had marked in flight when it died (``times`` earlier deaths)."""
    from django.utils import timezone

    from caredesk.mail import intake

    inbound = stored(intake.receive(raw, transport="smtp"))
    InboundMessage.objects.filter(pk=inbound.pk).update(
        attempts=times + 1, interruptions=times, leased_until=timezone.now()
    )
    return inbound


def test_a_message_interrupted_by_a_dead_worker_is_taken_again_alone_and_once():
    stuck = _interrupted(build(subject="Was in flight"))
    from caredesk.mail import intake

    later = stored(intake.receive(build(subject="Arrived later"), transport="smtp"))
    assert process_pending(limit=1) == 1  # the interrupted one goes alone, first
    stuck.refresh_from_db()
    assert (stuck.outcome, stuck.interruptions, stuck.attempts) == (Outcome.NEW_TICKET, 1, 2)
    assert stuck.leased_until is None
    assert process_pending() == 1
    later.refresh_from_db()
    assert later.outcome == Outcome.NEW_TICKET and later.interruptions == 0
    assert Ticket.objects.count() == 2  # nothing applied twice


def test_a_message_that_keeps_killing_the_worker_is_quarantined_not_retried_forever():
    stuck = _interrupted(build(subject="Poison"), times=2)
    assert process_pending() == 1
    stuck.refresh_from_db()
    assert stuck.outcome == Outcome.QUARANTINED and stuck.interruptions == 3
    assert "stopped 3 times" in stuck.error
    assert not Ticket.objects.exists()
    # A manager's retry gives it a fresh start.
    assert retry(InboundMessage.objects.filter(pk=stuck.pk)) == 1
    assert process_pending() == 1
    stuck.refresh_from_db()
    assert stuck.outcome == Outcome.NEW_TICKET


# ---------------------------------------------------------------- two workers, committed


def _marked_by_a_worker(subject: str) -> tuple[list[InboundMessage], object]:
    """A worker's batch of one, marked in flight (committed) but not applied yet."""
    from caredesk.mail import intake, processing

    batch = [stored(intake.receive(build(subject=subject), transport="smtp"))]
    return batch, processing._mark(batch)


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_outlived_its_lease_does_not_apply_what_another_took_over():
    from django.utils import timezone

    from caredesk.mail import processing

    batch, mark = _marked_by_a_worker("Slow")
    # Its lease and mark ran out while it stalled; another worker takes the message over.
    InboundMessage.objects.update(leased_until=timezone.now() - timezone.timedelta(seconds=1))
    assert process_pending() == 1
    taken_over = InboundMessage.objects.get()
    assert taken_over.outcome == Outcome.NEW_TICKET and taken_over.interruptions == 1

    processing._apply_marked(
        batch, mark, [processing._parse(m) for m in batch]
    )  # the first worker wakes up

    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.get().ticket_id == taken_over.ticket_id


@pytest.mark.django_db(transaction=True)
def test_a_batch_another_worker_is_still_applying_is_left_to_it():
    from caredesk.mail import processing

    batch, mark = _marked_by_a_worker("Being applied")
    assert process_pending() == 0  # the mark is fresh: not a dead worker's
    assert InboundMessage.objects.get().state == State.QUEUED

    processing._apply_marked(batch, mark, [processing._parse(m) for m in batch])

    row = InboundMessage.objects.get()
    assert (row.outcome, row.interruptions, row.leased_until) == (Outcome.NEW_TICKET, 0, None)
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_attachments_of_undone_work_leave_no_files_behind(second_fails, settings):
    """The batch is tried whole, undone when one message fails, then applied message by
    message: storage is not transactional, so the files of what was undone are deleted."""
    from caredesk.mail import intake

    png = ("screen.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")
    for subject in ("First", "Second"):
        intake.receive(build(subject=subject, attachments=[png]), transport="smtp")
    assert process_pending() == 2

    stored = sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    kept = [Path(a.file.name).name for a in Attachment.objects.all()]
    assert len(kept) == 1  # the first message's; the second was quarantined
    assert stored == kept  # nothing from the undone first pass, nothing of the second


def test_a_batch_that_fails_as_a_whole_is_not_counted_as_a_worker_death(monkeypatch):
    from caredesk.mail import intake, processing

    for subject in ("One", "Two"):
        intake.receive(build(subject=subject), transport="smtp")
    real = processing._process_one
    calls = []

    def fail_on_the_second(inbound, *args):
        calls.append(inbound.pk)
        if len(calls) == 2:
            raise processing.DatabaseError("simulated: the database went away")
        real(inbound, *args)

    monkeypatch.setattr(processing, "_process_one", fail_on_the_second)
    monkeypatch.setattr(processing, "_all_at_once", lambda *args: False)  # one by one
    with pytest.raises(processing.DatabaseError):
        process_pending()
    rows = list(InboundMessage.objects.order_by("id").values_list("state", "leased_until"))
    assert rows == [(State.QUEUED, None), (State.QUEUED, None)]  # both rolled back, unmarked
    assert not Ticket.objects.exists()

    monkeypatch.undo()
    assert process_pending() == 2
    outcomes = set(InboundMessage.objects.values_list("outcome", "interruptions"))
    assert outcomes == {(Outcome.NEW_TICKET, 0)}


def test_an_overlong_message_id_is_kept_as_its_digest_and_still_threads():
    long_id = ("雪" * 990 + "@example.jp").encode()  # ~3 kB of raw 8-bit header
    first = deliver(
        b"From: alice@acme.test\r\nSubject: Hello\r\nMessage-ID: <" + long_id + b">\r\n\r\nHi\r\n"
    )
    assert first.outcome == Outcome.NEW_TICKET
    assert first.message_id.startswith("sha256.") and len(first.message_id) < 100
    reply = deliver(
        b"From: alice@acme.test\r\nSubject: Re: Hello\r\nIn-Reply-To: <"
        + long_id
        + b">\r\n\r\nMore\r\n"
    )
    assert (reply.outcome, reply.ticket_id) == (Outcome.FOLLOW_UP, first.ticket_id)


def test_a_batch_of_mail_reads_the_webhook_endpoints_once_and_notifies_each_ticket():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from caredesk.mail import intake
    from caredesk.outbox.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(url="https://hooks.example.org/caredesk")
    WebhookEndpoint.objects.create(url="https://off.example.org/", active=False)
    for subject in ("One", "Two", "Three"):
        intake.receive(build(subject=subject), transport="smtp")

    with CaptureQueriesContext(connection) as queries:
        assert process_pending() == 3

    reads = [q for q in queries if 'FROM "outbox_webhookendpoint"' in q["sql"]]
    assert len(reads) == 1
    created = WebhookDelivery.objects.filter(event_type="ticket.created")
    subjects = sorted(d.payload["data"]["ticket"]["subject"] for d in created)
    assert subjects == ["One", "Three", "Two"]
    assert {d.endpoint.url for d in created} == {"https://hooks.example.org/caredesk"}


def test_a_reply_in_the_same_batch_as_its_original_threads_and_a_copy_is_a_duplicate():
    """Message-IDs are written to the thread index when the batch ends: a reply or a
    second copy within the batch is still known."""
    from caredesk.mail import intake

    original = build(subject="Original")
    reply = build(subject="Re: Original", in_reply_to=f"<{message_id_of(original)}>")
    for raw in (original, reply, original):
        intake.receive(raw, transport="smtp")
    assert process_pending() == 3
    rows = list(InboundMessage.objects.order_by("id"))
    assert [row.outcome for row in rows] == [
        Outcome.NEW_TICKET,
        Outcome.FOLLOW_UP,
        Outcome.DUPLICATE,
    ]
    assert rows[0].ticket_id == rows[1].ticket_id == rows[2].ticket_id
    assert ThreadIndex.objects.filter(message_id=message_id_of(original)).count() == 1


def test_an_undone_message_leaves_its_message_id_out_of_the_index(second_fails):
    from caredesk.mail import intake

    first, second = build(subject="First"), build(subject="Second")
    for raw in (first, second):
        intake.receive(raw, transport="smtp")
    assert process_pending() == 2
    indexed = set(ThreadIndex.objects.filter(outbound=False).values_list("message_id", flat=True))
    assert indexed == {message_id_of(first)}  # the quarantined one is not a thread


@pytest.mark.parametrize(("fit", "batches"), [(2, [2, 2, 1]), (0, [1, 1, 1, 1, 1])])
def test_a_batch_holds_no_more_raw_mail_than_its_memory_budget(monkeypatch, fit, batches):
    from caredesk.mail import intake, processing

    raws = [build(subject=f"Volunteer list {n}", body="x" * 3000) for n in range(5)]
    for raw in raws:
        intake.receive(raw, transport="smtp")
    # Room for `fit` messages; with none, each one goes alone all the same.
    monkeypatch.setattr(processing, "BATCH_BYTES", fit * max(map(len, raws)) or 10)
    sizes = []
    real = processing._apply_marked
    monkeypatch.setattr(
        processing,
        "_apply_marked",
        lambda mine, mark, parsed: sizes.append(len(mine)) or real(mine, mark, parsed),
    )
    assert process_pending() == 5
    assert sizes == batches
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {Outcome.NEW_TICKET}


def test_an_automatic_reply_matched_by_its_tag_is_recorded_once_and_proves_nothing():
    first = deliver(build())
    raw = build(subject=f"Away: [#{first.ticket.pk}]", headers={"Auto-Submitted": "auto-replied"})
    assert deliver(raw).outcome == Outcome.AUTO_REPLY
    assert deliver(raw).outcome == Outcome.DUPLICATE
    assert first.ticket.messages.filter(kind=MessageKind.AUTO_REPLY).count() == 1
    assert not ThreadIndex.objects.filter(message_id=message_id_of(raw)).exists()
