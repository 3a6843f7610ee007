"""The running worker parses the next batch in a helper process (mail/parse_ahead.py):
the outcome is the same as parsing in the worker, and the helper really did the work."""

from __future__ import annotations

import pytest

from caredesk.mail import intake, processing
from caredesk.mail.choices import Outcome, Transport
from caredesk.mail.models import InboundMessage
from caredesk.mail.parse_ahead import ParseAhead

from .factories import build, message_id_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ahead():
    helper = ParseAhead()
    yield helper
    helper.close()


def test_batches_after_the_first_are_parsed_by_the_helper(ahead, monkeypatch):
    monkeypatch.setattr(processing, "BATCH_SIZE", 2)
    in_worker = []
    real = processing.parse
    monkeypatch.setattr(processing, "parse", lambda raw: in_worker.append(raw) or real(raw))
    first = build(subject="One")
    raws = [
        first,
        build(subject="Two"),
        build(subject="Re: One", references=f"<{message_id_of(first)}>"),
    ]
    raws += [build(subject="Four"), build(subject="Five")]
    for raw in raws:
        intake.receive(raw, transport=Transport.SMTP)

    assert processing.process_pending(ahead=ahead) == 5

    assert in_worker == raws[:2]  # only the first batch: nothing was parsed ahead of it
    rows = InboundMessage.objects.order_by("id")
    assert [row.subject for row in rows] == ["One", "Two", "Re: One", "Four", "Five"]
    assert [row.outcome for row in rows] == [
        Outcome.NEW_TICKET,
        Outcome.NEW_TICKET,
        Outcome.FOLLOW_UP,
        Outcome.NEW_TICKET,
        Outcome.NEW_TICKET,
    ]
    assert rows[2].ticket_id == rows[0].ticket_id


def test_without_its_helper_the_worker_parses_alone(ahead, monkeypatch):
    monkeypatch.setattr(processing, "BATCH_SIZE", 1)
    ahead.close()  # the helper is gone
    for subject in ("One", "Two"):
        intake.receive(build(subject=subject), transport=Transport.SMTP)
    assert processing.process_pending(ahead=ahead) == 2
    assert set(InboundMessage.objects.values_list("outcome", flat=True)) == {Outcome.NEW_TICKET}


def test_the_helper_is_given_no_more_than_the_memory_budget(ahead, monkeypatch):
    raws = [build(subject=f"Volunteer list {n}", body="x" * 3000) for n in range(4)]
    for raw in raws:
        intake.receive(raw, transport=Transport.SMTP)
    monkeypatch.setattr(processing, "BATCH_BYTES", max(map(len, raws)))  # one at a time
    submitted = []
    real = ahead.submit
    monkeypatch.setattr(ahead, "submit", lambda rows: submitted.append(len(rows)) or real(rows))
    assert processing.process_pending(ahead=ahead) == 4
    assert submitted == [1, 1, 1, 0]
