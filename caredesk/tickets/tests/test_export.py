import io
import json

from django.core.management import call_command

from caredesk.tickets import lifecycle


def _export() -> list[dict]:
    out = io.StringIO()
    call_command("export", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_it_exports_every_ticket_with_messages_attachments_and_events(alice, agent, make_ticket):
    first = make_ticket(alice, with_screenshot=True)
    lifecycle.agent_reply(first, agent, "Thanks, looking", internal=False)
    lifecycle.agent_reply(first, agent, "internal thought", internal=True)
    second = make_ticket(alice, subject="Second")
    rows = _export()
    assert [r["number"] for r in rows] == [first.pk, second.pk]
    row = rows[0]
    assert row["subject"] == first.subject
    assert row["status"] == "open" and row["channel"] == "portal"
    assert row["requester"] == "alice@acme.test" and row["organization"] == "Acme Network"
    assert [(m["kind"], m["author"]) for m in row["messages"]] == [
        ("reply", "alice@acme.test"),
        ("reply", "agent@caredesk.test"),
        ("note", "agent@caredesk.test"),
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
    ]


def test_export_spans_batches(alice, make_ticket, monkeypatch):
    from caredesk.tickets.management.commands import export

    monkeypatch.setattr(export, "BATCH", 2)
    tickets = [make_ticket(alice, subject=f"T{i}") for i in range(5)]
    assert [r["number"] for r in _export()] == [t.pk for t in tickets]
