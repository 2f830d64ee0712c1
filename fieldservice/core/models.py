"""Model mixins (timestamps, the optimistic-locking version column), the session helpers every domain uses, and
the site's holiday calendar."""

from contextlib import contextmanager
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from fieldservice.core.base import UTCDateTime, utcnow  # noqa: F401  (UTCDateTime: the migrations name it here)
from fieldservice.core.errors import Conflict, NotFound
from fieldservice.extensions import db


class CalendarDay(db.Model):
    """A day that differs from the ordinary week at the site: a public holiday, or a weekend day worked (调休)."""

    __tablename__ = "calendar_days"
    __table_args__ = (sa.CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),)

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    name_zh: Mapped[str] = mapped_column(sa.String(80), default="")
    name_en: Mapped[str] = mapped_column(sa.String(80), default="")

    def __repr__(self) -> str:
        return f"<CalendarDay {self.day.isoformat()} {self.kind}>"


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionMixin:
    """An integer `version`, bumped on every UPDATE; a concurrent UPDATE of an older version fails."""

    version: Mapped[int] = mapped_column(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


def check_version(obj: VersionMixin, sent_version: int | None) -> None:
    """Refuse a write whose client read an older version of *obj* (API.md: 409, nothing changed)."""
    if sent_version is None:
        return
    if sent_version != obj.version:
        raise Conflict(
            "stale_version",
            f"This record was changed by someone else (now version {obj.version}, you sent {sent_version}).",
            current_version=obj.version,
        )


def get_or_404(model, object_id: int, what: str | None = None, message: str | None = None):
    """The row of *model* with this id, or API.md's 404 ("No <what> with id N." unless *message* says better)."""
    obj = db.session.get(model, object_id)
    if obj is None:
        what = what or model.__tablename__.removesuffix("s").replace("_", " ")
        raise NotFound("not_found", message or f"No {what} with id {object_id}.")
    return obj


def conflict_insert(table):
    """An INSERT that understands ON CONFLICT on the database in use (PostgreSQL or SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


_INCREMENTS: dict[tuple, sa.TextClause] = {}


def increment(table: sa.Table, keys: dict, count_column: str) -> int:
    """Add one to the counter row of *table* whose key columns hold *keys*, creating it at 1; return the new
    count. Atomic: the row stays locked until commit, so two transactions never get the same number.

    Written as text because SQLAlchemy does not cache its ON CONFLICT constructs (each call would compile the
    statement anew); the statement is the same on PostgreSQL and SQLite (3.35 or later)."""
    key = (table.name, tuple(keys), count_column)
    statement = _INCREMENTS.get(key)
    if statement is None:
        quote = db.session.get_bind().dialect.identifier_preparer.quote
        names = [quote(name) for name in keys]
        count, name = quote(count_column), quote(table.name)
        statement = _INCREMENTS[key] = sa.text(
            f"INSERT INTO {name} ({', '.join(names)}, {count}) VALUES ({', '.join(':' + k for k in keys)}, 1)"
            f" ON CONFLICT ({', '.join(names)}) DO UPDATE SET {count} = {name}.{count} + 1 RETURNING {count}"
        )
    return db.session.execute(statement, keys).scalar_one()


def insert_many(objects: list, session=None) -> None:
    """Store many new objects at once and keep them in the session as stored rows, ids set: for the batch paths
    (automatic dispatch's events and messages), which call it with the rows they built.

    On PostgreSQL, for each class whose objects all set the same attributes: the ids drawn from the table's
    sequence in one query, then one INSERT executed for all rows without RETURNING. Elsewhere the ORM's own
    flush. PostgreSQL has a path of its own because it was measured faster (800 messages, best of 15, on the
    bench machine: 99 ms this way, 146 ms by the ORM's flush, 188 ms by one INSERT ... RETURNING in the order
    given, the one statement SQLite could share); SQLite has no sequence to draw ids from.
    """
    session = session or db.session
    by_class: dict[type, list] = {}
    for obj in objects:
        by_class.setdefault(type(obj), []).append(obj)
    for same_class in by_class.values():
        if _bulk_insertable(session, same_class):
            _bulk_insert(session, same_class)
        else:
            session.add_all(same_class)
            session.flush()


def _given(mapper, obj) -> tuple[str, ...]:
    return tuple(attr.key for attr in mapper.column_attrs if attr.key in obj.__dict__)


def _bulk_insertable(session, objects: list) -> bool:
    """Whether insert_many can write *objects* (of one class) in bulk: PostgreSQL, the same attributes set."""
    if not draws_ids(session):
        return False
    mapper = sa.inspect(type(objects[0]))
    first = _given(mapper, objects[0])
    return all(_given(mapper, obj) == first for obj in objects)


def next_ids(model, n: int, session=None) -> list[int]:
    """*n* new ids of *model*'s table, drawn from its sequence in one query, in ascending order (PostgreSQL only:
    draws_ids()). For rows whose id must be known before they are stored together (insert_many)."""
    session = session or db.session
    (pk,) = sa.inspect(model).local_table.primary_key.columns
    return session.scalars(
        sa.text("SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"),
        {"table": pk.table.name, "column": pk.name, "n": n},
    ).all()


def draws_ids(session=None) -> bool:
    """Whether next_ids works on the database in use (SQLite has no sequence to draw ids from)."""
    return (session or db.session).get_bind().dialect.name == "postgresql"


def _bulk_insert(session, objects: list) -> None:
    """The PostgreSQL path of insert_many; the objects are transient (never added, or expunged). Objects that carry
    their id already (next_ids) keep it; the others get theirs from the sequence."""
    from sqlalchemy.orm import make_transient_to_detached

    mapper = sa.inspect(type(objects[0]))
    table = mapper.local_table
    (pk,) = table.primary_key.columns
    pk_attr = mapper.get_property_by_column(pk).key
    columns = {attr.key: attr.columns[0].key for attr in mapper.column_attrs if attr.columns[0].table is table}
    given = [key for key in _given(mapper, objects[0]) if key in columns and key != pk_attr]
    if objects[0].__dict__.get(pk_attr) is None:
        for obj, new_id in zip(objects, next_ids(type(objects[0]), len(objects), session), strict=True):
            setattr(obj, pk_attr, new_id)
    rows = []
    for obj in objects:
        rows.append({columns[key]: obj.__dict__[key] for key in given} | {pk.key: obj.__dict__[pk_attr]})
    session.execute(sa.insert(table), rows)
    for obj in objects:
        make_transient_to_detached(obj)
        session.add(obj)


# ---------------------------------------------------------------- what one transaction has learnt

_TRANSACTION_CACHE = "fieldservice_transaction_cache"


def transaction_cache(name: str) -> dict:
    """A dict for *name* that lives as long as the session's outermost transaction: emptied when it commits or
    rolls back, and when any savepoint rolls back (what the dict remembers may have been undone with it, row
    locks included). Savepoints that are released keep it."""
    return db.session.info.setdefault(_TRANSACTION_CACHE, {}).setdefault(name, {})


def _forget_on_commit(session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_TRANSACTION_CACHE, None)


def _forget_on_rollback(session, _previous_transaction) -> None:
    session.info.pop(_TRANSACTION_CACHE, None)


sa.event.listen(Session, "after_commit", _forget_on_commit)
sa.event.listen(Session, "after_soft_rollback", _forget_on_rollback)


@contextmanager
def within_savepoint():
    """Run the block inside a savepoint, so that its failure leaves the session usable for the caller's next
    step: the caller's savepoint when it runs in one already (sync applies each op in its own; rolling that
    back undoes the op with the block, at a third of the statements), else a savepoint of the block's own."""
    if db.session().in_nested_transaction():
        yield
        return
    with db.session.begin_nested():
        yield


def commit_keeping_loaded() -> None:
    """Commit and leave the session's objects loaded as they are: they hold what was just written, so the
    answer built from them (a new request's detail) costs no reload of each row."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
