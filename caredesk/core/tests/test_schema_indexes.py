"""Every foreign key leads an index (joins and cascading deletes never scan a table), and
none has a single-column index that a composite index starting with it makes redundant."""

from django.apps import apps
from django.db import connection, models


def _indexes(table: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        info["columns"]
        for info in constraints.values()
        if (info["index"] or info["unique"]) and info["columns"] and not info["primary_key"]
    ]


def _caredesk_foreign_keys():
    for model in apps.get_models():
        if not model.__module__.startswith("caredesk.") or not model._meta.managed:
            continue
        for field in model._meta.local_fields:
            if isinstance(field, models.ForeignKey) and not field.primary_key:
                yield model, field


def test_every_foreign_key_leads_an_index_and_none_is_indexed_twice(db):
    unindexed, doubled = [], []
    for model, field in _caredesk_foreign_keys():
        leading = [cols for cols in _indexes(model._meta.db_table) if cols[0] == field.column]
        name = f"{model._meta.label}.{field.name}"
        if not leading:
            unindexed.append(name)
        elif [field.column] in leading and any(len(cols) > 1 for cols in leading):
            doubled.append(name)
    assert unindexed == []
    assert doubled == []
