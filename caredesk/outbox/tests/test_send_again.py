"""Failed deliveries can be sent again, from the admin or the shell; nothing else moves."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from caredesk.outbox.models import DeliveryStatus, OutboundEmail

pytestmark = pytest.mark.django_db


def _emails() -> dict[str, OutboundEmail]:
    rows = {}
    for status in DeliveryStatus.values:
        rows[status] = OutboundEmail.objects.create(
            to=["alice@acme.test"],
            subject=f"A {status} one",
            body="…",
            status=status,
            attempts=8 if status == DeliveryStatus.FAILED else 1,
            last_error="550 no such user" if status == DeliveryStatus.FAILED else "",
            next_attempt_at=timezone.now() + timezone.timedelta(hours=6),
        )
    return rows


def _state(row: OutboundEmail) -> tuple:
    row.refresh_from_db()
    return row.status, row.attempts


def test_a_manager_sends_failed_mail_again_from_the_admin(client, manager):
    rows = _emails()
    client.force_login(manager)
    response = client.post(
        reverse("admin:outbox_outboundemail_changelist"),
        {"action": "send_failed_again", "_selected_action": [r.pk for r in rows.values()]},
        follow=True,
    )
    assert "1 failed delivery queued again." in response.text
    failed = rows[DeliveryStatus.FAILED]
    assert _state(failed) == (DeliveryStatus.PENDING, 0)
    assert failed.next_attempt_at <= timezone.now()  # due at once, with all its attempts
    assert _state(rows[DeliveryStatus.SENT]) == (DeliveryStatus.SENT, 1)
    assert _state(rows[DeliveryStatus.PENDING]) == (DeliveryStatus.PENDING, 1)


def test_the_command_counts_and_sends_failed_mail_again():
    rows = _emails()
    out = io.StringIO()
    call_command("outbox", "stats", stdout=out)
    assert json.loads(out.getvalue())["email"] == {"pending": 1, "sent": 1, "failed": 1}

    call_command("outbox", "retry", "email", stdout=io.StringIO())
    assert _state(rows[DeliveryStatus.FAILED]) == (DeliveryStatus.PENDING, 0)
    assert _state(rows[DeliveryStatus.SENT]) == (DeliveryStatus.SENT, 1)

    with pytest.raises(CommandError, match="No such email deliveries"):
        call_command("outbox", "retry", "email", "999999", stdout=io.StringIO())
