"""The dashboard's rollups: the request measures summed per day (and per month) and per zone, category and
one breakdown (problem type, product, agreement, engineer, channel, status), kept up to date by a job."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest

# The refresh (and every dashboard read) looks up the requests changed since the rollups' watermark.
sa.Index("ix_service_requests_updated_at", ServiceRequest.updated_at)

# The counts and sums every rollup row carries; the averages are sum / n at reading time.
COUNTS = (
    "requests",
    "open",
    "closed",
    "cancelled",
    "countable",
    "breached",
    "resolved",
    "visited",
    "first_fix",
    "covered",
    "response_n",
    "urgent_n",
    "resolution_n",
    "surveys",
    "satisfied",
    "low_scores",
)
SUMS = ("response_s", "urgent_s", "resolution_s")


class Rollup(db.Model):
    """The measures of the requests logged in one period (a UTC day, or the month starting at `period`) for one
    zone and product category (or every one: `*`), broken down by `dimension` (`all`: not broken down). A
    breakdown's value is `key` (a code) and/or `ref_id` (a row's id), '' and 0 when it has none."""

    __tablename__ = "analytics_rollups"

    # The key's order serves the reads: one breakdown, grain, zone and category, then a range of periods.
    dimension: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    grain: Mapped[str] = mapped_column(sa.String(5), primary_key=True)  # day | month
    zone: Mapped[str] = mapped_column(sa.String(80), primary_key=True)  # `*`: every zone
    category: Mapped[str] = mapped_column(sa.String(40), primary_key=True)  # `*`: every category
    period: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    ref_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)

    requests: Mapped[int] = mapped_column(default=0)
    open: Mapped[int] = mapped_column(default=0)
    closed: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)
    countable: Mapped[int] = mapped_column(default=0)
    breached: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[int] = mapped_column(default=0)
    visited: Mapped[int] = mapped_column(default=0)
    first_fix: Mapped[int] = mapped_column(default=0)
    covered: Mapped[int] = mapped_column(default=0)
    response_n: Mapped[int] = mapped_column(default=0)
    urgent_n: Mapped[int] = mapped_column(default=0)
    resolution_n: Mapped[int] = mapped_column(default=0)
    surveys: Mapped[int] = mapped_column(default=0)
    satisfied: Mapped[int] = mapped_column(default=0)
    low_scores: Mapped[int] = mapped_column(default=0)
    # Seconds, summed exactly (numeric) so that sum / n equals the average a recount takes.
    response_s: Mapped[float | None] = mapped_column(sa.Numeric)
    urgent_s: Mapped[float | None] = mapped_column(sa.Numeric)
    resolution_s: Mapped[float | None] = mapped_column(sa.Numeric)

    def __repr__(self) -> str:
        return (
            f"<Rollup {self.dimension} {self.grain} {self.period} {self.zone}/{self.category} {self.key}{self.ref_id}>"
        )


class RollupState(db.Model):
    """One row: every change to a request before `watermark` is in the rollups (later ones are read live)."""

    __tablename__ = "analytics_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    watermark: Mapped[datetime]
    refreshed_at: Mapped[datetime]
    days_refreshed: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<RollupState watermark={self.watermark.isoformat()}>"
