"""Free-text filters of the lists: one way to match a search box against columns.

On PostgreSQL the columns a big list searches have a pg_trgm GIN index (`trigram_index`), which answers
`column ILIKE '%text%'` for any text of three characters or more, Chinese included (pg_trgm makes trigrams of
any letters of the database's character type); shorter text is matched by reading the rows. SQLite has no
such index and reads the rows.
"""

import sqlalchemy as sa

from fieldservice.extensions import db


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_text(q: str, *columns) -> sa.ColumnElement[bool]:
    """Rows where any of *columns* contains *q* (trimmed, any case); its `%`, `_` and `\\` are taken literally,
    so that `q=%_%` finds the rows that contain those characters, not every row. Written as ILIKE, which a
    trigram index answers (lower(column) LIKE ... would need an index on lower(column))."""
    pattern = "%" + _escaped(q.strip()) + "%"
    return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))


def starts_with_text(q: str, *columns) -> sa.ColumnElement[bool]:
    """Rows where any of *columns* starts with *q* (trimmed, any case), taken literally as contains_text does."""
    pattern = _escaped(q.strip()) + "%"
    return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))


def trigram_index(name: str, column: str) -> sa.Index:
    """A pg_trgm GIN index for `column ILIKE '%text%'` (contains_text) on PostgreSQL; a plain index elsewhere."""
    return sa.Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


@sa.event.listens_for(db.metadata, "before_create")
def _trigram_extension(target, connection, **_kw) -> None:
    """The schema made from the models (tests, bench/generate.py) has the extension as the migrations make it."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
