"""Foreign keys whose lookups a composite index already serves lose their own index
(see caredesk/lib/migrations.py: the index is dropped, the table is not rebuilt)."""

import django.db.models.deletion
from django.db import migrations, models

from caredesk.lib.migrations import drop_field_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0002_inbound_interruptions"),
        ("tickets", "0005_fk_indexes_covered"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inboundmessage",
                    name="ticket",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tickets.ticket",
                    ),
                ),
            ],
            database_operations=[drop_field_indexes("mail", [("inboundmessage", "ticket")])],
        ),
    ]
