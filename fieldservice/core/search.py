"""Free-text filters of the lists: one way to match a search box against columns.

On PostgreSQL the columns a big list searches have a pg_trgm GIN index (`trigram_index`), which answers
`column ILIKE '%text%'` for any text of three characters or more, Chinese included (pg_trgm makes trigrams of
any letters of the database's character type); shorter text is matched by reading the rows. Two characters
have no trigram (漏水, a leak): the description also has a GIN index of its bigrams (`bigram_index`, the SQL
function fs_bigrams), which a search of two characters asks first. SQLite has no such index and reads the rows.
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


# The distinct two-character pieces of a text, lower-cased; immutable, so an index can be made of it. The
# migration that adds it (f7b1c2d3e4a5) holds a copy of this text.
BIGRAMS_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION fs_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT lower(substr(t, i, 2))), '{}')
    FROM generate_series(1, length(t) - 1) AS i
$$
"""


def bigrams(text: str) -> list[str]:
    """What fs_bigrams makes of *text* (trimmed), sorted."""
    text = text.strip().lower()
    return sorted({text[i : i + 2] for i in range(len(text) - 1)})


def has_bigrams(text: str) -> bool:
    """Whether a search for *text* goes through the bigram index: two characters, which have no trigram."""
    return len(text.strip()) == 2


def bigram_index(name: str, column: str) -> sa.Index:
    """A GIN index of fs_bigrams(*column*) on PostgreSQL (none elsewhere), for `has_bigrams` searches."""
    return sa.Index(name, sa.text(f"fs_bigrams({column})"), postgresql_using="gin").ddl_if(dialect="postgresql")


@sa.event.listens_for(db.metadata, "before_create")
def _trigram_extension(target, connection, **_kw) -> None:
    """The schema made from the models (tests, bench/generate.py) has the extension and the function as the
    migrations make them."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        connection.exec_driver_sql(BIGRAMS_FUNCTION_SQL)
