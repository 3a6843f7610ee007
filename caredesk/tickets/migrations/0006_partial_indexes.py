"""Partial indexes on tickets: a new ticket (unclaimed, unsolved, not a follow-up) adds
no entry to the assignee, solved or follow-up indexes; and no index on Message.message_id,
which no query reads (replies are threaded by mail.ThreadIndex). Fewer pages for every
creation's commit to write (docs/benchmarks.md, the API section). The single-column
indexes are dropped without a table rebuild (caredesk/lib/migrations.py)."""

import django.db.models.deletion
from django.db import migrations, models

from caredesk.lib.migrations import drop_field_indexes


class Migration(migrations.Migration):
    dependencies = [("tickets", "0005_fk_indexes_covered")]

    operations = [
        migrations.RemoveIndex(model_name="ticket", name="ticket_assignee_status_id"),
        migrations.RemoveIndex(model_name="ticket", name="ticket_status_solved"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="message_id",
                    field=models.CharField(blank=True, max_length=998),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="follow_up_of",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="follow_ups",
                        to="tickets.ticket",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes("tickets", [("message", "message_id"), ("ticket", "follow_up_of")])
            ],
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("assignee__isnull", False)),
                fields=["assignee", "status", "id"],
                name="ticket_assignee_status_id",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("solved_at__isnull", False)),
                fields=["status", "solved_at", "id"],
                name="ticket_status_solved",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("follow_up_of__isnull", False)),
                fields=["follow_up_of"],
                name="ticket_follow_up_of",
            ),
        ),
    ]
