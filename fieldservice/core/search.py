"""Free-text filters of the lists: one way to match a search box against columns."""

import sqlalchemy as sa


def contains_text(q: str, *columns) -> sa.ColumnElement[bool]:
    """Rows where any of *columns* contains *q* (trimmed, any case); its `%`, `_` and `\\` are taken literally,
    so that `q=%_%` finds the rows that contain those characters, not every row."""
    text = q.strip()
    return sa.or_(*(column.icontains(text, autoescape=True) for column in columns))
