"""Finding people by email address: any case, through the index, on both databases."""

from django.db import connection

from caredesk.accounts.models import User


def test_by_email_finds_the_person_whatever_the_case(alice, bob):
    assert list(User.objects.by_email("ALICE@Acme.Test")) == [alice]
    assert list(User.objects.by_email("nobody@acme.test")) == []


def test_by_email_reads_the_case_insensitive_unique_index(alice, is_postgres):
    """Every incoming mail and sign-in looks a person up: at 100,000 requesters a scan
    of the users table would be the cost of each."""
    sql, params = User.objects.by_email("alice@acme.test").query.sql_with_params()
    with connection.cursor() as cursor:
        if is_postgres:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned
        cursor.execute(f"EXPLAIN {'' if is_postgres else 'QUERY PLAN '}{sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "accounts_user_email_ci_unique" in plan


def test_by_email_finds_an_address_stored_with_non_ascii_capitals(db):
    """Addresses typed in the admin keep their case; SQLite's LOWER() folds ASCII only."""
    emile = User.objects.create(email="Émile.Durand@Acme.test", name="Émile")
    assert list(User.objects.by_email("Émile.Durand@acme.test")) == [emile]


def test_a_requester_with_non_ascii_capitals_is_found_again(db):
    """Stored lowered by Python ("émile…"); SQLite's LOWER("Émile…") keeps the É, so the
    lookup also asks for the address as Python lowers it."""
    first = User.objects.requester("Émile.Durand@Acme.test", "Émile")
    assert first.email == "émile.durand@acme.test"
    assert User.objects.requester("Émile.Durand@Acme.test") == first
    assert User.objects.find("ÉMILE.durand@acme.test") == first
    assert list(User.objects.by_email("Émile.Durand@acme.test")) == [first]
