"""The only writes of analytics: bring the rollups up to date with the requests."""

import logging
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fieldservice.analytics.models import COUNTS, SUMS, Rollup, RollupState
from fieldservice.analytics.rollups import (
    ANY,
    BREAKDOWN_COLUMNS,
    DIMENSIONS,
    SPLITS,
    measures,
    month_of,
    month_start,
    request_rows,
    touched_cells,
)
from fieldservice.core.models import utcnow
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.analytics")

# A change is stamped (updated_at) before its transaction commits: one that commits this long after its stamp
# is still taken in by the next refresh. The refreshes overlap by as much, which costs only a few cells again.
COMMIT_MARGIN = timedelta(minutes=2)
MEASURES = COUNTS + SUMS
ROW_KEY = ("zone", "category", "key", "ref_id")
PRIMARY_KEY = ("dimension", "grain", "zone", "category", "period", "key", "ref_id")
# The count each sum of seconds is taken over: the sum is NULL where that count is 0, as a recount's.
SUM_COUNTS = {"response_s": "response_n", "urgent_s": "urgent_n", "resolution_s": "resolution_n"}

# The scratch tables of a refresh or a full build (temporary: its connection's own): the (day, zone, category)
# cells to count again, their requests' rows (rollups.request_rows: each request's part of every measure, taken
# once for all the breakdowns), a build's rows of one dimension, and the cells' day rows as they were (negated)
# and as they are now.
_scratch = sa.MetaData()
CELLS = sa.Table(
    "analytics_refresh_cells",
    _scratch,
    sa.Column("period", sa.Date, primary_key=True),
    sa.Column("zone", sa.String(80), primary_key=True),
    sa.Column("category", sa.String(40), primary_key=True),
    prefixes=["TEMPORARY"],
)
REQUEST_ROWS = sa.Table(
    "analytics_refresh_requests",
    _scratch,
    sa.Column("period", sa.Date),
    sa.Column("zone", sa.String(80)),
    sa.Column("category", sa.String(40)),
    *[sa.Column(name, type_) for name, type_ in BREAKDOWN_COLUMNS.items()],
    *[sa.Column(m, sa.Integer) for m in COUNTS],
    *[sa.Column(s, sa.Numeric) for s in SUMS],
    prefixes=["TEMPORARY"],
)
# A full build's rows of one dimension, summed before they are stored.
DIMENSION_ROWS = sa.Table(
    "analytics_build_rows",
    _scratch,
    *[sa.Column(c.name, c.type) for c in Rollup.__table__.columns],
    prefixes=["TEMPORARY"],
)
DELTAS = sa.Table(
    "analytics_refresh_deltas",
    _scratch,
    sa.Column("dimension", sa.String(20)),
    sa.Column("period", sa.Date),
    *[sa.Column(k, c.type) for k, c in Rollup.__table__.c.items() if k in ROW_KEY],
    *[sa.Column(m, sa.Integer) for m in COUNTS],
    *[sa.Column(s, sa.Numeric) for s in SUMS],
    prefixes=["TEMPORARY"],
)


def refresh_rollups(full: bool = False, now: datetime | None = None) -> int:
    """Bring the rollup rows up to date with the requests changed since the last refresh (build them all the
    first time, or when *full*); returns how many days of intake that touched. Idempotent: the cells of those
    days are counted again and the stored rows moved by the difference, in one transaction, and refreshes take
    turns (a lock)."""
    started = now or utcnow()
    if _postgres():
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('analytics_rollups'))"))
    current = db.session.execute(
        sa.select(RollupState).where(RollupState.id == 1).with_for_update()
    ).scalar_one_or_none()
    days = _rebuild() if current is None or full else _refresh_cells(current.watermark)
    if current is None:
        current = RollupState(id=1)
        db.session.add(current)
    current.watermark = started - COMMIT_MARGIN
    current.refreshed_at = utcnow()
    current.days_refreshed = len(days)
    db.session.flush()
    months = {month_start(d) for d in days}
    log.info("analytics rollups: %s days in %s months refreshed%s", len(days), len(months), " (all)" if full else "")
    return len(days)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# ---------------------------------------------------------------- the whole build


def _rebuild() -> set[date]:
    """Every rollup row again, from all the requests; returns the days of intake."""
    if _postgres():
        # Emptied to its files (readers wait for the rebuild), so that the rows of a read lie together as they
        # are written, not in the holes of deleted ones.
        db.session.execute(sa.text("TRUNCATE analytics_rollups"))
    else:
        db.session.execute(sa.delete(Rollup))
    _create_scratch()
    _fill_request_rows(request_rows())
    built = DIMENSION_ROWS.c
    for dimension in sorted(DIMENSIONS):
        # The requests are counted once, per zone and category; the other three ways and the months are sums of
        # those rows. Summed in an unindexed scratch table, then stored in key order (the key's first column is
        # the dimension): a read's rows and index entries lie together, as in a table clustered on its key.
        rows = measures(dimension, REQUEST_ROWS).add_columns(sa.literal(dimension), sa.literal("day"))
        db.session.execute(
            sa.insert(DIMENSION_ROWS).from_select(["period", *ROW_KEY, *MEASURES, "dimension", "grain"], rows)
        )
        for by_zone, by_category in SPLITS[1:]:
            _sum_day_rows(by_zone, by_category)
        _sum_month_rows()
        stored = sa.select(*[built[c.name] for c in Rollup.__table__.columns]).order_by(
            *[built[k] for k in PRIMARY_KEY]
        )
        db.session.execute(sa.insert(Rollup).from_select([c.name for c in Rollup.__table__.columns], stored))
        db.session.execute(sa.delete(DIMENSION_ROWS))
    _drop_scratch()
    if _postgres():
        db.session.execute(sa.text("ANALYZE analytics_rollups"))
    query = sa.select(Rollup.period).where(Rollup.dimension == "all", Rollup.grain == "day").distinct()
    return set(db.session.scalars(query))


def _insert_sums(grain: str, keys: dict, where, group_by) -> None:
    """Add rows of *grain* to DIMENSION_ROWS: *keys* (column name -> SQL) and every measure summed over the rows
    *where* selects there, grouped by *group_by*."""
    built = DIMENSION_ROWS.c
    rows = sa.select(
        *keys.values(),
        *[sa.func.sum(built[m]) for m in MEASURES],
        built.dimension,
        sa.literal(grain),
    )
    rows = rows.where(*where).group_by(built.dimension, *group_by)
    db.session.execute(sa.insert(DIMENSION_ROWS).from_select([*keys, *MEASURES, "dimension", "grain"], rows))


def _sum_day_rows(by_zone: bool, by_category: bool) -> None:
    """The day rows kept for every zone and/or every category (`*`): sums of the rows per zone and category."""
    built = DIMENSION_ROWS.c
    where = [built.grain == "day", built.zone != ANY, built.category != ANY]
    group_by = [c for c, split in ((built.zone, by_zone), (built.category, by_category)) if split]
    keys = {
        "zone": built.zone if by_zone else sa.literal(ANY),
        "category": built.category if by_category else sa.literal(ANY),
        "period": built.period,
        "key": built.key,
        "ref_id": built.ref_id,
    }
    _insert_sums("day", keys, where, [*group_by, built.period, built.key, built.ref_id])


def _sum_month_rows() -> None:
    """The month rows of every month and all four ways: the sums of the day rows, in one pass."""
    built = DIMENSION_ROWS.c
    keys = {k: built[k] for k in ROW_KEY} | {"period": month_of(built.period)}
    _insert_sums("month", keys, [built.grain == "day"], list(keys.values()))


# ---------------------------------------------------------------- a refresh


def _refresh_cells(since: datetime) -> set[date]:
    """Count again the requests of every (day, zone, category) cell that a change since *since* touched, and
    move each stored row that sums such a cell by the cell's difference; returns the days touched.

    A request's day, customer and category are fixed at intake; its zone moves only with its customer, whose
    requests' cells are then counted again in every zone (the one they left included)."""
    _create_scratch()
    db.session.execute(sa.insert(CELLS).from_select(["period", "zone", "category"], touched_cells(since)))
    if _postgres():
        db.session.execute(sa.text(f"ANALYZE {CELLS.name}"))
    days = set(db.session.scalars(sa.select(CELLS.c.period).distinct()))
    if days:
        rows = request_rows(days)
        cell = sa.tuple_(*[rows.selected_columns[k] for k in ("period", "zone", "category")])
        _fill_request_rows(rows.where(cell.in_(sa.select(CELLS))))
        for dimension in DIMENSIONS:
            _add_deltas(dimension)
        for grain in ("day", "month"):
            for by_zone, by_category in SPLITS:
                _apply_deltas(grain, by_zone, by_category)
    _drop_scratch()
    return days


def _create_scratch() -> None:
    connection = db.session.connection()
    for table in _scratch.sorted_tables:
        table.drop(connection, checkfirst=True)
        table.create(connection)


def _drop_scratch() -> None:
    connection = db.session.connection()
    for table in reversed(_scratch.sorted_tables):
        table.drop(connection)


def _fill_request_rows(rows: sa.Select) -> None:
    db.session.execute(sa.insert(REQUEST_ROWS).from_select(list(rows.selected_columns.keys()), rows))
    if _postgres():
        db.session.execute(sa.text(f"ANALYZE {REQUEST_ROWS.name}"))


def _add_deltas(dimension: str) -> None:
    """The cells' day rows of *dimension* as stored (negated) and as counted now, into DELTAS."""
    r, c = Rollup, CELLS.c
    columns = ["dimension", "period", *ROW_KEY, *MEASURES]
    stored = (
        sa.select(
            sa.literal(dimension),
            r.period,
            *[getattr(r, k) for k in ROW_KEY],
            *[-getattr(r, m) for m in COUNTS],
            *[-sa.func.coalesce(getattr(r, s), 0) for s in SUMS],
        )
        .join(CELLS, sa.and_(r.zone == c.zone, r.category == c.category, r.period == c.period))
        .where(r.dimension == dimension, r.grain == "day")
    )
    db.session.execute(sa.insert(DELTAS).from_select(columns, stored))
    now = measures(dimension, REQUEST_ROWS).subquery()
    counted = sa.select(
        sa.literal(dimension),
        now.c.period,
        *[now.c[k] for k in ROW_KEY],
        *[now.c[m] for m in COUNTS],
        *[sa.func.coalesce(now.c[s], 0) for s in SUMS],
    )
    db.session.execute(sa.insert(DELTAS).from_select(columns, counted))


def _apply_deltas(grain: str, by_zone: bool, by_category: bool) -> None:
    """Move the rows of *grain* kept per zone and/or category (else `*`) by the sums of the cells' differences:
    a row that did not exist is inserted, a row left with no request deleted."""
    d = DELTAS.c
    period = d.period if grain == "day" else month_of(d.period)
    group_by = [d.dimension, *[c for c, split in ((d.zone, by_zone), (d.category, by_category)) if split]]
    group_by += [period, d.key, d.ref_id]
    sums = {m: sa.func.sum(d[m]) for m in MEASURES}
    # A sum of seconds is NULL where nothing was timed, as a recount's: where its count and itself move by 0
    # (a new row then has no time), and where the count comes to 0 (below).
    moved = {s: sa.case((sa.and_(sums[SUM_COUNTS[s]] == 0, sums[s] == 0), None), else_=sums[s]) for s in SUMS}
    rows = (
        sa.select(
            d.dimension,
            sa.literal(grain),
            d.zone if by_zone else sa.literal(ANY),
            d.category if by_category else sa.literal(ANY),
            period,
            d.key,
            d.ref_id,
            *[sums[m] for m in COUNTS],
            *[moved[s] for s in SUMS],
        )
        .where(sa.true())  # SQLite reads an INSERT ... SELECT ... ON CONFLICT without a WHERE as a join's ON
        .group_by(*group_by)
        .having(sa.or_(*[sums[m] != 0 for m in MEASURES]))
    )
    insert = (postgresql.insert if _postgres() else sqlite.insert)(Rollup)
    r, new = Rollup.__table__.c, insert.excluded
    update = {m: r[m] + new[m] for m in COUNTS}
    update |= {
        s: sa.case(
            (r[SUM_COUNTS[s]] + new[SUM_COUNTS[s]] == 0, None),
            else_=sa.func.coalesce(r[s], 0) + sa.func.coalesce(new[s], 0),
        )
        for s in SUMS
    }
    statement = (
        insert.from_select([*PRIMARY_KEY, *MEASURES], rows)
        .on_conflict_do_update(index_elements=list(PRIMARY_KEY), set_=update)
        .returning(*[r[k] for k in PRIMARY_KEY], r.requests)
    )
    emptied = [tuple(row[:-1]) for row in db.session.execute(statement) if row.requests == 0]
    if emptied:
        key = sa.tuple_(*[r[k] for k in PRIMARY_KEY])
        db.session.execute(sa.delete(Rollup).where(key.in_(emptied)))
