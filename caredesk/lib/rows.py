"""Hot-path statements whose SQL is built once, not on every call.

Django builds each statement from scratch: ``Event.objects.create()`` spends ~150 µs of
Python on a seven-column insert, and a one-row ``filter().first()`` 230-400 µs, where
SQLite's own work is 10-20 µs (measured on the 2-core bench machine). A new ticket
writes eight or nine rows and makes four or five lookups, so statement building was most
of the cost of a ticket created by mail or through the API (docs/benchmarks.md).

``insert()`` writes one model instance with an INSERT compiled once per model, and
``insert_values()`` a row given as column values, without an instance. ``Query``
is a read written with the ORM, compiled once, then run with new values. Both go through
Django's cursor (its transaction, its query log under DEBUG, its backend adapters), and
the values are prepared by the model fields exactly as the ORM prepares them; only the
building of the SQL text is skipped. Model signals are not sent: caredesk connects none
to these models (``caredesk/core/tests/test_rows.py`` keeps it so).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    EmailField,
    Field,
    ForeignKey,
    IntegerField,
    Model,
    OneToOneField,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    QuerySet,
    SlugField,
    SmallAutoField,
    SmallIntegerField,
    TextField,
    TimeField,
    URLField,
)
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.sql import UpdateQuery
from django.utils import timezone


def _connection() -> BaseDatabaseWrapper:
    """This thread's connection object itself: ``django.db.connection`` is a proxy that
    looks it up again on every attribute, and field preparation reads many."""
    return connections[DEFAULT_DB_ALIAS]


class _Statement(NamedTuple):
    """One statement's SQL twice: as Django writes it (``%s`` placeholders, for Django's
    own cursor) and as the database driver takes it (SQLite's ``?``)."""

    sql: str
    driver_sql: str

    @classmethod
    def of(cls, sql: str, vendor: str) -> _Statement:
        if vendor == "sqlite":  # as Django's SQLite cursor converts it on every call
            return cls(sql, FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%"))
        return cls(sql, sql)


def _fetchone(cursor) -> Any:
    return cursor.fetchone()


def _fetchall(cursor) -> list:
    return cursor.fetchall()


def _rowcount(cursor) -> int:
    return cursor.rowcount


def _execute[R](
    connection: BaseDatabaseWrapper,
    statement: _Statement,
    params: list,
    read: Callable[[Any], R],
    *,
    many: bool = False,
) -> R:
    """Run ``statement`` and return what ``read`` takes from the cursor.

    Django's cursor wrapper converts the placeholders on every call (a regular
    expression on SQLite) and adds its own layers: ~10 µs a statement, as much as SQLite
    takes to insert a row. So the statement runs on the driver's cursor, after the
    checks Django's makes (a usable connection, this thread's, no broken transaction)
    and with its errors turned into Django's (``IntegrityError`` and the rest) as Django
    does. Django's own cursor is used while it logs queries (``DEBUG``, or a test
    counting them) or runs execute wrappers, so those still see every statement.
    ``many``: ``params`` is a list of parameter lists (``executemany``)."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            (cursor.executemany if many else cursor.execute)(statement.sql, params)
            return read(cursor)
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        if connection.vendor == "sqlite":
            cursor = connection.connection.cursor()  # Django's adds only the conversion
        else:
            cursor = connection.create_cursor()  # e.g. PostgreSQL's time zone loader
        try:
            (cursor.executemany if many else cursor.execute)(statement.driver_sql, params)
            return read(cursor)
        finally:
            cursor.close()


class _Column(NamedTuple):
    """How one column's value is found and prepared for an INSERT."""

    field: Field
    attname: str
    # Values of exactly this type (and None) are what the field's preparation would
    # return unchanged, so they skip it: ~2 µs a column, a third of a row's cost.
    plain: type | None
    # The field computes its value when saved (auto_now, a file): its pre_save runs.
    computed: bool
    # A date and time in UTC is stored as its text without the zone (SQLite, whose
    # connections are in UTC): as the field would, without its four layers of calls.
    utc_text: bool


# Field classes whose preparation returns values of this type as they are (Django's
# code; on each database a probe checks it when the statement is compiled: PostgreSQL's
# server-side binding wraps integers, for example). Subclasses are not assumed to.
_UNCHANGED: dict[type[Field], type] = {
    **dict.fromkeys((CharField, TextField, EmailField, SlugField, URLField), str),
    **dict.fromkeys(
        (
            IntegerField,
            BigIntegerField,
            SmallIntegerField,
            PositiveIntegerField,
            PositiveSmallIntegerField,
            PositiveBigIntegerField,
            AutoField,
            BigAutoField,
            SmallAutoField,
        ),
        int,
    ),
    BooleanField: bool,
}
_PROBES: dict[type, Any] = {str: "probe", int: 30_011, bool: True}


def _plain_type(field: Field, connection: BaseDatabaseWrapper) -> type | None:
    target = field.target_field if type(field) in (ForeignKey, OneToOneField) else field
    kind = _UNCHANGED.get(type(target))
    if kind is None:
        return None
    probe = _PROBES[kind]
    prepared = field.get_db_prep_save(probe, connection)
    return kind if type(prepared) is kind and prepared == probe else None


_PROBE_MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)


def _utc_text(field: Field, connection: BaseDatabaseWrapper) -> bool:
    if type(field) is not DateTimeField or connection.vendor != "sqlite":
        return False
    return all(
        field.get_db_prep_save(moment, connection) == str(moment.replace(tzinfo=None))
        for moment in (_PROBE_MOMENT, _PROBE_MOMENT.replace(microsecond=0))
    )


def _computed(field: Field) -> bool:
    if type(field).pre_save is Field.pre_save:
        return False
    if isinstance(field, DateField | TimeField):  # they compute only when asked to
        return field.auto_now or field.auto_now_add
    return True


@cache
def _insert_sql(
    model: type[Model], vendor: str, on_conflict: bool, returning: bool = True
) -> tuple[_Statement, tuple[_Column, ...], bool]:
    meta = model._meta
    if meta.parents:
        raise TypeError(f"{meta.label}: multi-table inheritance is not supported here")
    generated = meta.pk.db_returning  # an auto-increment key: the database assigns it
    fields = tuple(f for f in meta.concrete_fields if not (f.primary_key and generated))
    for field in fields:
        if field.db_returning or not _plain_placeholder(field):
            raise TypeError(f"{meta.label}.{field.name} needs the ORM's own insert")
    connection = _connection()
    quote = connection.ops.quote_name  # the vendor's quoting, whichever thread's
    # Identifiers from the model's metadata, quoted; the values travel as parameters.
    columns = ", ".join(quote(f.column) for f in fields)
    places = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({places})"  # noqa: S608
    if on_conflict:
        sql += " ON CONFLICT DO NOTHING"
    if generated and returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
    plan = tuple(
        _Column(f, f.attname, _plain_type(f, connection), _computed(f), _utc_text(f, connection))
        for f in fields
    )
    return _Statement.of(sql, vendor), plan, generated and returning


def _plain_placeholder(field) -> bool:
    """Whether the field's values go into SQL as a bare ``%s``, as most do. Some ask for
    their own (``get_placeholder_sql``): a binary field does on MySQL, not on SQLite or
    PostgreSQL; a geometry does everywhere."""
    placeholder = getattr(field, "get_placeholder_sql", None)
    if placeholder is None:
        return True
    try:
        sql, _ = placeholder(b"probe", None, _connection())
    except Exception:  # e.g. it needs a compiler: not a plain one
        return False
    return sql == "%s"


def _prepared(plan: Sequence[_Column], values: list, connection: BaseDatabaseWrapper) -> list:
    """``values`` (one per column of ``plan``) as the fields' preparation gives them, in
    place; the plain ones as they are (one call a row, not one a column: that call was a
    third of the cost)."""
    for i, column in enumerate(plan):
        value = values[i]
        if value is None or type(value) is column.plain:
            continue
        if column.utc_text and type(value) is datetime and value.tzinfo is UTC:
            values[i] = str(value.replace(tzinfo=None))
        else:
            values[i] = column.field.get_db_prep_save(value, connection)
    return values


def _object_params(obj: Model, plan: tuple[_Column, ...], connection) -> list:
    """The row's values as ``save()`` would send them."""
    values = [c.field.pre_save(obj, True) if c.computed else getattr(obj, c.attname) for c in plan]
    return _prepared(plan, values, connection)


def insert(obj: Model, *, ignore_conflicts: bool = False) -> Model:
    """INSERT ``obj`` (as ``obj.save(force_insert=True)`` would) and set its key.

    With ``ignore_conflicts``, a row that breaks a unique constraint is skipped: the
    object then keeps ``pk=None`` if the database assigns keys."""
    connection = _connection()
    statement, plan, generated = _insert_sql(type(obj), connection.vendor, ignore_conflicts)
    params = _object_params(obj, plan, connection)
    if generated:
        row = _execute(connection, statement, params, _fetchone)
        obj.pk = row[0] if row else None
    else:
        _execute(connection, statement, params, _rowcount)
    if obj.pk is not None:
        obj._state.adding = False
        obj._state.db = connection.alias
    return obj


def insert_values(model: type[Model], **values: Any) -> None:
    """INSERT one row of ``model`` from column values (``ticket_id=…``, not ``ticket=…``),
    each missing one at its field's default: for rows written and not used again, so no
    model instance is built (~15 µs for a ten-column model) and no key is read back (a
    row less to fetch). A field that computes its value when saved (a file) needs
    ``insert()``; ``auto_now`` and ``auto_now_add`` take the current time."""
    connection = _connection()
    statement, plan, _ = _insert_sql(model, connection.vendor, False, False)
    params = []
    for column in plan:
        if column.attname in values:
            value = values.pop(column.attname)
        elif column.computed and isinstance(column.field, DateTimeField):
            value = timezone.now()
        elif column.computed:
            raise TypeError(f"{model._meta.label}.{column.attname} needs insert()")
        else:
            value = column.field.get_default()
        params.append(value)
    if values:
        raise TypeError(f"{model._meta.label} has no column {', '.join(values)}")
    _execute(connection, statement, _prepared(plan, params, connection), _rowcount)


def insert_many(objs: Sequence[Model]) -> None:
    """INSERT ``objs`` (all of one model), one statement run for each row: as
    ``bulk_create`` writes them, without building SQL for all of them at once (for 200
    rows that cost more than the rows). Keys the database assigns are not read back."""
    if not objs:
        return
    connection = _connection()
    statement, plan, _ = _insert_sql(type(objs[0]), connection.vendor, False, False)
    params = [_object_params(obj, plan, connection) for obj in objs]
    _execute(connection, statement, params, _rowcount, many=True)


class _Slot:
    """Stands for a value in the compiled query; unique, so its place can be found, and
    changed by any transformation a builder might apply to it (case, spaces, slicing,
    accents), so that a value transformed at compile time is refused rather than baked
    in: the check then finds no parameter equal to the stand-in."""

    samples = {
        str: lambda i: f" Slot-{i}-Ä\u00a0" + "x" * 1000 + " ",
        int: lambda i: 30_011 + i,  # within every integer column's range
        datetime: lambda i: datetime(1901, 2, 3, 4, 5, 6, 700_000 + i, tzinfo=UTC),
    }


def _adapt(value: Any, connection: BaseDatabaseWrapper) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the ORM would guess its zone")
        return connection.ops.adapt_datetimefield_value(value)
    return value


class Update(NamedTuple):
    """What a ``Query`` may build instead of a read: ``queryset.update(**values)``."""

    queryset: QuerySet
    values: dict[str, Any]


class Query:
    """A read written with the ORM and compiled once (per database vendor).

    ``build`` receives one stand-in per declared type and returns a queryset: of model
    instances (``select_related`` included) or of ``values_list()`` tuples; or an
    ``Update`` (the query then returns how many rows it changed). Each stand-in
    must end up as one plain query parameter (``field=value``, ``field__gte=value``,
    ``Lower(Value(value))``…), which is checked when the query is compiled. Calling the
    query runs the same SQL with the given values and returns what the queryset would::

        thread_entry = Query(
            lambda message_id: ThreadIndex.objects.filter(message_id=message_id)
            .values_list("outbound", "ticket_id")[:1],
            str,
        )
        rows = thread_entry("abc@example.org")
    """

    def __init__(self, build: Callable[..., QuerySet], *types: type) -> None:
        for kind in types:
            if kind not in _Slot.samples:
                raise TypeError(f"unsupported parameter type {kind!r}")
        self._build = build
        self._types = types
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, *values: Any) -> list | int:
        connection = _connection()
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            compiled = _Compiled(self._build, self._types, connection)
            self._compiled[connection.vendor] = compiled
        return compiled.run(values, connection)

    def first(self, *values: Any) -> Any:
        rows = self(*values)
        return rows[0] if rows else None


class _Compiled:
    def __init__(self, build: Callable[..., QuerySet], types: tuple[type, ...], connection) -> None:
        samples = [_Slot.samples[kind](i) for i, kind in enumerate(types)]
        built = build(*samples)
        self.updates = isinstance(built, Update)
        if self.updates:
            query = built.queryset.query.chain(UpdateQuery)
            query.add_update_values(built.values)
        else:
            query = built.query
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        self.statement, self.params = _Statement.of(sql, connection.vendor), list(params)
        self.places = []
        for sample in samples:
            found = [i for i, p in enumerate(self.params) if p == _adapt(sample, connection)]
            if len(found) != 1:
                raise ValueError(f"{sample!r} must appear once as a parameter, not {len(found)}")
            self.places.append(found[0])
        self.converters: list = []
        self.make: Callable[[list], Any] = tuple
        if self.updates:
            return
        self.converters = list(
            compiler.get_converters([column for column, _, _ in compiler.select]).items()
        )
        if built._iterable_class is ModelIterable:
            self.make = self._model_maker(compiler, built._fetch_mode, connection.alias)
        elif built._iterable_class is not ValuesListIterable:
            raise TypeError("only model and values_list() querysets")

    @staticmethod
    def _model_maker(compiler, fetch_mode, alias: str) -> Callable[[list], Model]:
        # As ModelIterable builds its objects, from the compiler's description of the row.
        if fetch_mode.track_peers:
            raise TypeError("fetch modes that track peers need the ORM's own iteration")
        info = compiler.klass_info
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in compiler.select[start:end]]
        populators = get_related_populators(info, compiler.select, alias, fetch_mode)
        model = info["model"]

        def make(row: list) -> Model:
            obj = model.from_db(alias, names, row[start:end], fetch_mode=fetch_mode)
            for populator in populators:
                populator.populate(row, obj)
            return obj

        return make

    def run(self, values: tuple, connection: BaseDatabaseWrapper) -> list | int:
        bound = list(self.params)
        for place, value in zip(self.places, values, strict=True):
            bound[place] = _adapt(value, connection)
        if self.updates:
            return _execute(connection, self.statement, bound, _rowcount)
        rows = _execute(connection, self.statement, bound, _fetchall)
        made = []
        for row in rows:
            row = list(row)
            for place, (functions, expression) in self.converters:  # as the compiler does
                for convert in functions:
                    row[place] = convert(row[place], expression, connection)
            made.append(self.make(row))
        return made


@cache
def _update_sql(model: type[Model], vendor: str, names: tuple[str, ...], where: tuple[str, ...]):
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    conditions = [meta.pk, *(meta.get_field(name) for name in where)]
    quote = _connection().ops.quote_name  # the vendor's quoting, whichever thread's
    # Identifiers from the model's metadata, quoted; the values travel as parameters.
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    tests = " AND ".join(f"{quote(f.column)} = %s" for f in conditions)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {tests}"  # noqa: S608
    return _Statement.of(sql, vendor), fields, conditions[1:]


def update(obj: Model, names: Sequence[str], **expected: Any) -> int:
    """UPDATE the columns ``names`` of ``obj``'s row to its current values, as
    ``obj.save(update_fields=names)`` would, but only while the row's other columns still
    hold the ``expected`` values (a conditional update: none may be None). Returns how
    many rows changed: 0 or 1."""
    connection = _connection()
    statement, fields, conditions = _update_sql(
        type(obj), connection.vendor, tuple(names), tuple(expected)
    )
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
    params.append(obj._meta.pk.get_db_prep_value(obj.pk, connection))
    for field in conditions:
        value = expected[field.name]
        if value is None:
            raise ValueError(f"expected {field.name} IS NULL: use the ORM")
        params.append(field.get_db_prep_value(value, connection, prepared=False))
    return _execute(connection, statement, params, _rowcount)
