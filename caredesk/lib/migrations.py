"""Migration operations shared by the apps' migrations."""

from __future__ import annotations

from django.db import migrations


def drop_field_indexes(app_label: str, fields: list[tuple[str, str]]) -> migrations.RunPython:
    """Drop the single-column index Django made for each field in ``fields`` (model name,
    field name): a foreign key whose lookups a composite or partial index now serves, a
    column no query looks up. For the state, pair it with ``AlterField(..., db_index=False)`` in
    ``SeparateDatabaseAndState``: a plain AlterField makes SQLite copy the whole table,
    which takes minutes on a desk with millions of rows; dropping an index takes none.
    The index is found by its columns, not its generated name."""

    def forward(apps, schema_editor) -> None:
        connection = schema_editor.connection
        for model_name, field_name in fields:
            model = apps.get_model(app_label, model_name)
            column = model._meta.get_field(field_name).column
            with connection.cursor() as cursor:
                constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            for name, info in constraints.items():
                single = info["columns"] == [column]
                if single and info["index"] and not info["unique"] and not info["primary_key"]:
                    schema_editor.execute(schema_editor._delete_index_sql(model, name))

    def backward(apps, schema_editor) -> None:
        for model_name, field_name in fields:
            model = apps.get_model(app_label, model_name)
            field = model._meta.get_field(field_name)
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
            # PostgreSQL also gives a text column a pattern-ops index for LIKE.
            like = getattr(schema_editor, "_create_like_index_sql", None)
            if like is not None and (sql := like(model, field)) is not None:
                schema_editor.execute(sql)

    return migrations.RunPython(forward, backward, elidable=False)
