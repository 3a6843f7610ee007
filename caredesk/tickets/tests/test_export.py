import io
import json

from django.core.management import call_command

from caredesk.tickets import lifecycle
from caredesk.tickets.choices import MessageKind


def _export() -> list[dict]:
    out = io.StringIO()
    call_command("export", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_it_exports_every_ticket_with_messages_attachments_and_events(alice, agent, make_ticket):
    first = make_ticket(alice, with_screenshot=True)
    reply = lifecycle.agent_reply(first, agent, "Thanks, looking", internal=False)
    lifecycle.agent_reply(first, agent, "internal thought", internal=True)
    lifecycle.record_automatic_mail(
        first,
        kind=MessageKind.AUTO_REPLY,
        body="Out of office until Monday",
        author=alice,
        message_id="ooo-1@acme.test",
    )
    lifecycle.record_automatic_mail(
        first, kind=MessageKind.BOUNCE, body="Delivery to jo@acme.test failed (5.1.1)"
    )
    second = make_ticket(alice, subject="Second")
    rows = _export()
    assert [r["number"] for r in rows] == [first.pk, second.pk]
    row = rows[0]
    assert row["subject"] == first.subject
    assert row["status"] == "open" and row["channel"] == "portal"
    assert row["requester"] == "alice@acme.test" and row["organization"] == "Acme Network"
    reply.refresh_from_db()
    assert reply.message_id  # the Message-ID of the email that carried the reply
    exported = [(m["kind"], m["author"], m["internal"], m["message_id"]) for m in row["messages"]]
    assert exported == [
        ("reply", "alice@acme.test", False, None),
        ("reply", "agent@caredesk.test", False, reply.message_id),
        ("note", "agent@caredesk.test", True, None),
        ("auto_reply", "alice@acme.test", True, "ooo-1@acme.test"),
        ("bounce", None, True, None),
    ]
    assert [m["text"] for m in row["messages"][3:]] == [
        "Out of office until Monday",
        "Delivery to jo@acme.test failed (5.1.1)",
    ]
    attachment = row["messages"][0]["attachments"][0]
    assert attachment["filename"] == "screenshot.png"
    assert attachment["sha256"] == first.attachments.get().sha256
    assert [(e["kind"], e["to"]) for e in row["events"]] == [
        ("created", "new"),
        ("claimed", "agent@caredesk.test"),
        ("status", "open"),
        ("replied", ""),
        ("noted", ""),
        ("recorded", "auto_reply"),
        ("recorded", "bounce"),
    ]


def test_export_spans_batches(alice, make_ticket, monkeypatch):
    from caredesk.tickets.management.commands import export

    monkeypatch.setattr(export, "BATCH", 2)
    tickets = [make_ticket(alice, subject=f"T{i}") for i in range(5)]
    assert [r["number"] for r in _export()] == [t.pk for t in tickets]
