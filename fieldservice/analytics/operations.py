"""The only writes of analytics: bring the rollups up to date with the requests."""

import logging
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from fieldservice.analytics.models import COUNTS, SUMS, Rollup, RollupState
from fieldservice.analytics.rollups import (
    ANY,
    DIMENSIONS,
    SPLITS,
    measures,
    month_start,
    next_month,
    touched_days,
)
from fieldservice.core.models import utcnow
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.analytics")

# A change is stamped (updated_at) before its transaction commits: one that commits this long after its stamp
# is still taken in by the next refresh. The refreshes overlap by as much, which costs only a few days again.
COMMIT_MARGIN = timedelta(minutes=2)
MEASURES = COUNTS + SUMS
ROW_KEY = ("zone", "category", "key", "ref_id")


def refresh_rollups(full: bool = False, now: datetime | None = None) -> int:
    """Recompute the rollup rows of the days whose requests changed since the last refresh (all of them the first
    time, or when *full*), and the month rows of their months; returns how many days. Idempotent: a day's rows
    are deleted and selected again in one transaction, and refreshes take turns (a lock)."""
    started = now or utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('analytics_rollups'))"))
    current = db.session.execute(
        sa.select(RollupState).where(RollupState.id == 1).with_for_update()
    ).scalar_one_or_none()
    if current is None or full:
        # Rebuilt whole: on PostgreSQL emptied to its files (readers wait for the rebuild), so that the rows of a
        # read lie together as they are written, not in the holes of deleted ones.
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(sa.text("TRUNCATE analytics_rollups"))
        else:
            db.session.execute(sa.delete(Rollup))
        days = None
    else:
        days = touched_days(current.watermark)
    for dimension in DIMENSIONS:
        if days is not None:
            if not days:
                break
            db.session.execute(
                sa.delete(Rollup).where(
                    Rollup.dimension == dimension, Rollup.grain == "day", Rollup.period.in_(sorted(days))
                )
            )
        # The requests are counted once, per zone and category; the other three ways are sums of those rows.
        rows = measures(dimension, days).add_columns(sa.literal(dimension), sa.literal("day"))
        # Inserted in key order: a read's rows lie together on disk.
        rows = rows.order_by(*[rows.selected_columns[k] for k in ("zone", "category", "period", "key", "ref_id")])
        db.session.execute(sa.insert(Rollup).from_select(["period", *ROW_KEY, *MEASURES, "dimension", "grain"], rows))
        for by_zone, by_category in SPLITS[1:]:
            _sum_day_rows(dimension, by_zone, by_category, days)
    rebuilt = days is None
    if rebuilt:
        days = set(_day_row_periods())
    months = sorted({month_start(d) for d in days})
    for month in months:
        _refresh_month(month)
    if rebuilt and db.session.get_bind().dialect.name == "postgresql":
        # Written in key order and indexed afresh: a read's rows and index entries lie together (measured by
        # bench/analytics_dashboard.py: the rows of one breakdown otherwise sit one or two per page).
        db.session.execute(sa.text("CLUSTER analytics_rollups USING pk_analytics_rollups"))
        db.session.execute(sa.text("ANALYZE analytics_rollups"))
    if current is None:
        current = RollupState(id=1)
        db.session.add(current)
    current.watermark = started - COMMIT_MARGIN
    current.refreshed_at = utcnow()
    current.days_refreshed = len(days)
    db.session.flush()
    log.info("analytics rollups: %s days in %s months refreshed%s", len(days), len(months), " (all)" if full else "")
    return len(days)


def _day_row_periods() -> list[date]:
    query = sa.select(Rollup.period).where(Rollup.dimension == "all", Rollup.grain == "day").distinct()
    return [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in db.session.scalars(query)]


def _insert_sums(dimension: str, grain: str, keys: dict, where, group_by) -> None:
    """Insert rollup rows of *dimension* and *grain*: *keys* (column name -> SQL) and every measure summed over
    the rollup rows *where* selects, grouped by *group_by*."""
    r = Rollup
    rows = (
        sa.select(
            *keys.values(),
            *[sa.func.sum(getattr(r, m)) for m in MEASURES],
            sa.literal(dimension),
            sa.literal(grain),
        )
        .where(*where)
        .group_by(*group_by)
        .order_by(*group_by)
    )
    db.session.execute(sa.insert(r).from_select([*keys, *MEASURES, "dimension", "grain"], rows))


def _sum_day_rows(dimension: str, by_zone: bool, by_category: bool, days) -> None:
    """The day rows kept for every zone and/or every category (`*`) on *days* (all when None): sums of the
    rows per zone and category."""
    r = Rollup
    where = [r.dimension == dimension, r.grain == "day", r.zone != ANY, r.category != ANY]
    if days is not None:
        where.append(r.period.in_(sorted(days)))
    group_by = [c for c, split in ((r.zone, by_zone), (r.category, by_category)) if split]
    keys = {
        "zone": r.zone if by_zone else sa.literal(ANY),
        "category": r.category if by_category else sa.literal(ANY),
        "period": r.period,
        "key": r.key,
        "ref_id": r.ref_id,
    }
    _insert_sums(dimension, "day", keys, where, [*group_by, r.period, r.key, r.ref_id])


def _refresh_month(month: date) -> None:
    """The month rows of *month*: the sums of its day rows."""
    r = Rollup
    for dimension in DIMENSIONS:
        db.session.execute(sa.delete(r).where(r.dimension == dimension, r.grain == "month", r.period == month))
        keys = {k: getattr(r, k) for k in ROW_KEY}
        where = [r.dimension == dimension, r.grain == "day", r.period >= month, r.period < next_month(month)]
        _insert_sums(dimension, "month", {**keys, "period": sa.literal(month, sa.Date)}, where, list(keys.values()))
