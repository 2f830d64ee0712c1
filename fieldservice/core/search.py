"""Free-text filters of the lists: one way to match a search box against columns.

On PostgreSQL the columns a big list searches have a pg_trgm GIN index (`trigram_index`), which answers
`column ILIKE '%text%'` for any text of three characters or more, Chinese included (pg_trgm makes trigrams of
any letters of the database's character type); shorter text is matched by reading the rows. Two characters
have no trigram (漏水, a leak): a long text that is searched for them too (the request's description) has its
trigram index made of the text with each character doubled instead (`doubled_trigram_index`): 漏水 is in the
text exactly when 漏漏水水 is in the doubled text, and that has trigrams. SQLite has no such index and reads the
rows.
"""

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from fieldservice.extensions import db


def escaped(text: str) -> str:
    """*text* for a LIKE pattern with `\\` as the escape: its `%`, `_` and `\\` taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cased(text: str) -> bool:
    """Whether *text* has letters with a case. Text without (digits, Chinese, a phone) is matched by LIKE, not
    ILIKE: no other case of a row can match it, and ILIKE lower-cases every row it reads, twenty times the cost
    of LIKE on Chinese text (measured: 20,000 customers, 111 ms against 5)."""
    return text.lower() != text.upper()


class _strpos(sa.sql.functions.GenericFunction):
    """strpos(text, part): where *part* starts in *text*, 0 when it is not there (SQLite's instr)."""

    name = "strpos"
    type = sa.Integer()
    inherit_cache = True


@compiles(_strpos, "sqlite")
def _strpos_sqlite(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


def contains_text(q: str, *columns) -> sa.ColumnElement[bool]:
    """Rows where any of *columns* contains *q* (trimmed, any case); its `%`, `_` and `\\` are taken literally,
    so that `q=%_%` finds the rows that contain those characters, not every row. Written as ILIKE (LIKE for
    text without case), which a trigram index answers (lower(column) LIKE ... would need an index on
    lower(column)). Text of one or two characters has no trigram, and a trigram index asked for it would be read
    whole for nothing: it is written as strpos, which reads the rows."""
    text = q.strip()
    cased = _cased(text)
    if len(text) < 3:
        if cased:
            return sa.or_(*(_strpos(sa.func.lower(column), text.lower()) > 0 for column in columns))
        return sa.or_(*(_strpos(column, text) > 0 for column in columns))
    pattern = "%" + escaped(text) + "%"
    if cased:
        return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))
    return sa.or_(*(column.like(pattern, escape="\\") for column in columns))


def starts_with_text(q: str, *columns) -> sa.ColumnElement[bool]:
    """Rows where any of *columns* starts with *q* (trimmed, any case), taken literally as contains_text does."""
    text = q.strip()
    pattern = escaped(text) + "%"
    if _cased(text):
        return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))
    return sa.or_(*(column.like(pattern, escape="\\") for column in columns))


def trigram_index(name: str, column: str) -> sa.Index:
    """A pg_trgm GIN index for `column ILIKE '%text%'` (contains_text) on PostgreSQL; a plain index elsewhere."""
    return sa.Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def doubled(column) -> sa.ColumnElement[str]:
    """SQL: *column* with each of its characters twice (abc -> aabbcc); regexp_replace is immutable, so an index
    can be made of it ('.' matches a newline too)."""
    # The constants written into the SQL, not bound: the index's expression is matched by its text, and a plan made
    # for any values of bound ones (a prepared statement's generic plan) would not see that they are the same.
    return sa.func.regexp_replace(
        column, sa.literal_column("'(.)'"), sa.literal_column(r"'\1\1'"), sa.literal_column("'g'")
    )


def doubled_contains(q: str, column) -> sa.ColumnElement[bool]:
    """Rows whose *column* contains *q* (trimmed, any case; 2 characters or more), asked of the doubled text so that
    a doubled_trigram_index answers it: q is in the text exactly when q doubled is in the doubled text (at an odd
    place in it only when q is one character repeated, which the text then also holds)."""
    text = q.strip()
    pattern = "%" + "".join(escaped(c) * 2 for c in text) + "%"
    if _cased(text):
        return doubled(column).ilike(pattern, escape="\\")
    return doubled(column).like(pattern, escape="\\")


def doubled_trigram_index(name: str, column) -> sa.Index:
    """A pg_trgm GIN index of *column* doubled (doubled_contains) on PostgreSQL, none elsewhere."""
    return sa.Index(
        name, doubled(column).label("doubled"), postgresql_using="gin", postgresql_ops={"doubled": "gin_trgm_ops"}
    ).ddl_if(dialect="postgresql")


@sa.event.listens_for(db.metadata, "before_create")
def _trigram_extension(target, connection, **_kw) -> None:
    """The schema made from the models (tests, bench/generate.py) has the extension as the migrations make it."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
