"""The user foreign key loses its own index: idempotency_user_key starts with it
(see caredesk/lib/migrations.py: the index is dropped, the table is not rebuilt)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from caredesk.lib.migrations import drop_field_indexes


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='idempotencyrecord',
                    name='user',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[
                drop_field_indexes("api", [("idempotencyrecord", "user")])
            ],
        ),
    ]
