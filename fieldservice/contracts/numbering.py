"""Numbers of agreements and invoices (AG-2026-0001, INV-2026-0001): unique under concurrent writes."""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fieldservice.contracts.models import NumberCounter
from fieldservice.extensions import db

# --- numbers -------------------------------------------------------------------------------------------------------


def next_number(prefix: str, year: int) -> str:
    """The next number of a series, e.g. AG-2026-0001: a counter row per series, incremented in place."""
    series = f"{prefix}-{year}"
    bump = (
        sa.update(NumberCounter)
        .where(NumberCounter.series == series)
        .values(last=NumberCounter.last + 1)
        .returning(NumberCounter.last)
        .execution_options(synchronize_session=False)
    )
    last = db.session.execute(bump).scalar()
    if last is None:
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(NumberCounter).values(series=series, last=1))
            last = 1
        except IntegrityError:
            # Another transaction created the series meanwhile: its row exists now.
            last = db.session.execute(bump).scalar_one()
    return f"{series}-{last:04d}"
