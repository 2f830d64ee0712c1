"""Document numbers (SR-20261123-0001, TS-..., PR-/RO-/SC-..., AG-2026-0001, INV-2026-0001): one counter per series."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.core.models import increment
from fieldservice.extensions import db


class NumberCounter(db.Model):
    """The last number handed out in a series: the number without its sequence (SR-20261123, AG-2026)."""

    __tablename__ = "number_counters"

    series: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<NumberCounter {self.series} {self.last}>"


def next_number(series: str) -> str:
    """Return the next number of *series*, e.g. SR-20261123 -> SR-20261123-0001, unique under concurrent use."""
    # An upsert: the series' row stays locked until commit, so two transactions never draw the same number.
    last = increment(NumberCounter.__table__, {"series": series}, "last")
    return f"{series}-{last:04d}"
