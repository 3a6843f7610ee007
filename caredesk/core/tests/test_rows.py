"""lib/rows: statements built once must write and read exactly what the ORM would."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext_lazy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caredesk.accounts.models import User
from caredesk.api.models import IdempotencyRecord
from caredesk.lib.rows import (
    Query,
    _insert_sql,
    _prepared,
    insert,
    insert_many,
    insert_values,
    update,
)
from caredesk.mail.models import AutoReplyLog, InboundMessage, PendingAcknowledgement, ThreadIndex
from caredesk.mail.outbound import _SENT_SINCE
from caredesk.outbox.models import OutboundEmail
from caredesk.tickets.models import Attachment, Event, Message, SearchDocument, Ticket

WRITTEN_BY_ROWS = [
    User,
    PendingAcknowledgement,
    Ticket,
    Message,
    Attachment,
    Event,
    SearchDocument,
    OutboundEmail,
    ThreadIndex,
    AutoReplyLog,
    InboundMessage,
    IdempotencyRecord,
]


def test_no_model_signal_is_connected_to_the_models_it_writes():
    # insert() and update() send none; a receiver added later would silently miss them.
    for model in WRITTEN_BY_ROWS:
        for signal in (pre_init, post_init, pre_save, post_save):
            assert not signal.has_listeners(model), (model, signal)


def test_insert_writes_what_the_orm_reads_back(make_ticket, alice):
    ticket = make_ticket(alice)
    event = insert(
        Event(ticket=ticket, actor=alice, kind="created", to_value="new", data={"é": [1, None]})
    )
    assert event.pk is not None
    assert not event._state.adding
    stored = Event.objects.get(pk=event.pk)
    assert (stored.ticket_id, stored.actor_id, stored.kind) == (ticket.pk, alice.pk, "created")
    assert stored.data == {"é": [1, None]}
    assert stored.created_at == event.created_at  # the field's default, stored as given


def test_insert_with_a_key_of_its_own(make_ticket, alice):
    ticket = make_ticket(alice)
    SearchDocument.objects.filter(ticket=ticket).delete()
    insert(SearchDocument(ticket=ticket, document="words"))
    assert SearchDocument.objects.get(ticket=ticket).document == "words"


def test_a_conflict_is_skipped_when_asked_and_raised_otherwise(make_ticket, alice):
    ticket = make_ticket(alice)
    first = insert(ThreadIndex(message_id="a@example.org", ticket=ticket))
    again = insert(ThreadIndex(message_id="a@example.org", ticket=ticket), ignore_conflicts=True)
    assert first.pk is not None
    assert again.pk is None
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(ThreadIndex(message_id="a@example.org", ticket=ticket))
    assert ThreadIndex.objects.filter(message_id="a@example.org").count() == 1


def test_insert_many_writes_each_row_as_the_orm_would(make_ticket, alice):
    ticket = make_ticket(alice)
    rows = [ThreadIndex(message_id=f"many-{n}@example.org", ticket=ticket) for n in range(3)]
    rows[2].outbound = True
    insert_many(rows)
    stored = ThreadIndex.objects.filter(message_id__startswith="many-").order_by("message_id")
    assert [(r.message_id, r.ticket_id, r.outbound) for r in stored] == [
        ("many-0@example.org", ticket.pk, False),
        ("many-1@example.org", ticket.pk, False),
        ("many-2@example.org", ticket.pk, True),
    ]
    assert [r.created_at for r in stored] == [r.created_at for r in rows]  # as given
    insert_many([])  # nothing to do


def test_a_broken_transaction_refuses_further_statements_as_the_orm_does(make_ticket, alice):
    ticket = make_ticket(alice)
    insert(ThreadIndex(message_id="b@example.org", ticket=ticket))
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
            insert(ThreadIndex(message_id="b@example.org", ticket=ticket))
        with pytest.raises(TransactionManagementError):
            insert(ThreadIndex(message_id="c@example.org", ticket=ticket))
    assert not ThreadIndex.objects.filter(message_id="c@example.org").exists()


def test_statements_are_in_the_query_log_while_it_is_kept(make_ticket, alice):
    ticket = make_ticket(alice)
    with CaptureQueriesContext(connection) as captured:
        insert(ThreadIndex(message_id="d@example.org", ticket=ticket))
        update(ticket, ["subject"])
        _SENT_SINCE("d@example.org", datetime(2026, 1, 1, tzinfo=UTC))
    statements = [query["sql"] for query in captured.captured_queries]
    assert [sql.split()[0] for sql in statements] == ["INSERT", "UPDATE", "SELECT"]
    assert "d@example.org" in statements[0]


def test_update_writes_the_named_columns_only_while_the_row_is_as_expected(make_ticket, alice):
    ticket = make_ticket(alice)
    ticket.subject, ticket.priority = "New subject", "urgent"
    assert update(ticket, ["subject"], status="closed") == 0  # not closed: nothing changes
    assert Ticket.objects.get(pk=ticket.pk).subject != "New subject"
    assert update(ticket, ["subject"], status=ticket.status) == 1
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.subject == "New subject"
    assert stored.priority != "urgent"  # not named
    with pytest.raises(ValueError, match="IS NULL"):
        update(ticket, ["subject"], assignee=None)


def test_update_compares_datetimes_as_the_orm_stores_them(make_ticket, alice):
    ticket = make_ticket(alice)
    stamp = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=stamp)
    ticket.subject = "Changed"
    assert update(ticket, ["subject"], updated_at=stamp + timedelta(microseconds=1)) == 0
    assert update(ticket, ["subject"], updated_at=stamp) == 1


def test_a_query_converts_values_as_the_orm_does(make_ticket, alice):
    ticket = make_ticket(alice)
    ThreadIndex.objects.create(message_id="out@example.org", ticket=ticket, outbound=True)
    indexed = Query(
        lambda mid: ThreadIndex.objects.filter(message_id=mid).values_list(
            "outbound", "ticket_id", "created_at"
        ),
        str,
    )
    assert indexed("out@example.org") == list(
        ThreadIndex.objects.filter(message_id="out@example.org").values_list(
            "outbound", "ticket_id", "created_at"
        )
    )
    assert indexed.first("out@example.org")[0] is True  # not SQLite's 1
    assert indexed.first("unknown@example.org") is None


def test_a_query_binds_datetimes_and_aggregates(db):
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    for minutes in (5, 30, 90):
        AutoReplyLog.objects.create(
            address="a@example.org", sent_at=now - timedelta(minutes=minutes)
        )
    sent = _SENT_SINCE  # the auto-reply cap's count (mail/outbound.py)
    assert sent.first("a@example.org", now - timedelta(hours=1)) == (2,)
    assert sent.first("a@example.org", now - timedelta(minutes=30)) == (2,)  # >= holds
    assert sent.first("a@example.org", now - timedelta(minutes=29)) == (1,)
    assert sent.first("b@example.org", now - timedelta(hours=1)) is None


def test_a_query_of_models_fills_select_related_in_one_statement(
    make_ticket, alice, django_assert_num_queries
):
    ticket = make_ticket(alice)
    by_number = Query(lambda n: Ticket.objects.select_related("requester").filter(pk=n), int)
    with django_assert_num_queries(1):
        found = by_number.first(ticket.pk)
        assert found == ticket
        assert found.requester.email == alice.email
        assert found.subject == ticket.subject
    assert by_number.first(ticket.pk + 1000) is None


def test_a_stand_in_must_be_one_plain_parameter(db):
    twice = Query(lambda s: Ticket.objects.filter(subject=s, references=s).values_list("pk"), str)
    with pytest.raises(ValueError, match="must appear once"):
        twice("x")
    hidden = Query(lambda s: Ticket.objects.filter(subject__contains=s).values_list("pk"), str)
    with pytest.raises(ValueError, match="must appear once"):
        hidden("x")  # wrapped in %…%: it would not be bound as given
    with pytest.raises(TypeError):
        Query(lambda f: Ticket.objects.filter(pk=f), float)


@pytest.mark.parametrize(
    "transform",
    [str.lower, str.upper, str.strip, lambda s: s[:998]],
    ids=["lower", "upper", "strip", "slice"],
)
def test_a_stand_in_changed_while_building_is_refused_not_baked_in(db, transform):
    changed = Query(lambda s: User.objects.filter(email=transform(s)).values_list("pk"), str)
    with pytest.raises(ValueError, match="must appear once"):
        changed("bob@example.org")


def test_a_small_integer_column_takes_a_stand_in(db):
    attempts = Query(lambda n: InboundMessage.objects.filter(attempts=n).values_list("pk"), int)
    assert attempts(3) == []


def test_a_naive_datetime_is_refused(db):
    since = Query(lambda t: AutoReplyLog.objects.filter(sent_at__gte=t).values_list("pk"), datetime)
    with pytest.raises(ValueError, match="naive"):
        since(datetime(2026, 1, 1))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.emails() | st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s))
def test_find_by_email_agrees_with_the_orm(db, address):
    with transaction.atomic():
        User.objects.create_user("Émile.Zola@Example.org", None)
        if "@" in address:
            User.objects.create_user(address.lower(), None)
        assert User.objects.find(address) == User.objects.by_email(address).first()
        assert User.objects.find("émile.zola@example.ORG") is not None
        transaction.set_rollback(True)


def test_insert_takes_binary_fields_where_they_are_a_plain_parameter(db):
    raw = bytes(range(256)) * 4
    row = insert(InboundMessage.received(raw, transport="smtp", queue_id="q" * 32))
    assert bytes(InboundMessage.objects.get(pk=row.pk).raw) == raw


def test_insert_values_writes_a_row_without_an_instance(make_ticket, alice):
    ticket = make_ticket(alice)
    before = timezone.now()
    assert (
        insert_values(Event, ticket_id=ticket.pk, actor_id=alice.pk, kind="noted", data=[1]) is None
    )
    stored = Event.objects.get(kind="noted", actor=alice)
    assert (stored.ticket_id, stored.actor_id, stored.kind, stored.data) == (
        ticket.pk,
        alice.pk,
        "noted",
        [1],
    )
    # Columns not given take their field's default, callables called per row.
    assert (stored.from_value, stored.to_value) == ("", "")
    assert stored.created_at >= before
    insert_values(Event, ticket_id=ticket.pk, kind="noted")
    other = Event.objects.get(kind="noted", actor=None)
    assert other.data == {}


def test_insert_values_with_a_key_of_its_own_and_unknown_columns_refused(make_ticket, alice):
    ticket = make_ticket(alice)
    SearchDocument.objects.filter(ticket=ticket).delete()
    insert_values(SearchDocument, ticket_id=ticket.pk, document="words")
    assert SearchDocument.objects.get(ticket=ticket).document == "words"
    with pytest.raises(TypeError, match="no column ticket"):
        insert_values(Event, ticket=ticket, kind="noted")  # the column is ticket_id
    with pytest.raises(TypeError, match="needs insert"):
        insert_values(Attachment, ticket_id=ticket.pk, filename="a.txt", size=1, sha256="0")
    assert not Attachment.objects.exists()


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(),
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    flag=st.booleans(),
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)
def test_values_prepared_without_the_field_are_what_the_field_would_give(
    db, text, number, flag, moment
):
    # A column marked plain for a type takes values of that type as they are, and a
    # date-time column on SQLite writes a UTC moment as its text: exactly what the
    # field's own preparation gives for them on this database.
    samples = {str: text, int: number, bool: flag}
    checked = 0
    for model in WRITTEN_BY_ROWS:
        _, plan, _ = _insert_sql(model, connection.vendor, False)
        for column in plan:
            value = moment if column.utc_text else samples.get(column.plain)
            if value is None:
                continue
            expected = column.field.get_db_prep_save(value, connection)
            (prepared,) = _prepared((column,), [value], connection)
            assert type(prepared) is type(expected) and prepared == expected, column
            checked += 1
    assert checked > 50


def test_other_values_go_through_the_fields_preparation(db):
    _, plan, _ = _insert_sql(Event, connection.vendor, False)
    columns = {c.attname: c for c in plan}
    assert columns["kind"].plain is str and columns["ticket_id"].plain is int
    assert columns["data"].plain is None and columns["created_at"].plain is None
    assert columns["created_at"].utc_text == (connection.vendor == "sqlite")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.get_fixed_timezone(120))
    field = columns["created_at"].field  # not in UTC: the field converts it
    assert _prepared([columns["created_at"]], [moment], connection) == [
        field.get_db_prep_save(moment, connection)
    ]
    lazy = gettext_lazy("noted")  # not exactly a str: prepared as the field does
    assert _prepared([columns["kind"]], [lazy], connection) == ["noted"]
