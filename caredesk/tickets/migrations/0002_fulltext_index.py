"""The full-text index over SearchDocument, per database vendor (see tickets/search.py)."""

from django.db import migrations

SQLITE_CREATE = [
    # External-content FTS5 table: the text lives once, in tickets_searchdocument.
    """CREATE VIRTUAL TABLE tickets_fts USING fts5(
        document, content='tickets_searchdocument', content_rowid='ticket_id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )""",
    """CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets_searchdocument BEGIN
        INSERT INTO tickets_fts(rowid, document) VALUES (new.ticket_id, new.document);
    END""",
    """CREATE TRIGGER tickets_fts_ad AFTER DELETE ON tickets_searchdocument BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, document)
        VALUES ('delete', old.ticket_id, old.document);
    END""",
    """CREATE TRIGGER tickets_fts_au AFTER UPDATE ON tickets_searchdocument BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, document)
        VALUES ('delete', old.ticket_id, old.document);
        INSERT INTO tickets_fts(rowid, document) VALUES (new.ticket_id, new.document);
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS tickets_fts_au",
    "DROP TRIGGER IF EXISTS tickets_fts_ad",
    "DROP TRIGGER IF EXISTS tickets_fts_ai",
    "DROP TABLE IF EXISTS tickets_fts",
]
# search.matching_ids_sql(): WHERE to_tsvector('simple', document) @@ to_tsquery(...)
POSTGRES_CREATE = [
    "CREATE INDEX tickets_searchdocument_fts ON tickets_searchdocument "
    "USING gin (to_tsvector('simple', document))",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS tickets_searchdocument_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        ),
    ]
