"""The dashboard's request figures read from the rollups (bench/analytics_dashboard.py: a recount over a million
requests takes seconds). They are the figures as of the last refresh (the job runs every minute; the dashboard
says when), exactly those of a recount then (test_rollups.py).

`request_rows` and `measures` are the one SQL that makes rollup rows: the refresh job (operations.refresh_rollups)
takes each request's part of every measure once, then sums them per breakdown, for the requests of the days, zones
and categories whose requests changed since. Rows are kept four times over: per zone and category, per zone
(category `*`), per category (zone `*`) and for all (both `*`), so that a view reads only the rows of its own
filter. A query reads the month rows for the whole months of its range and the day rows for the rest; each table
function of queries.py then groups that source as its recount does.
"""

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from fieldservice.analytics.filters import Filters, seconds_between
from fieldservice.analytics.models import COUNTS, SUMS, Rollup, RollupState
from fieldservice.customers.models import Customer
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest, Survey
from fieldservice.requests.states import CANCELLED, OPEN, RESOLVED, REVISITED

LOW_SCORE = 3  # a survey score at or below this gets a human follow-up (queries.LOW_SCORE)
ANY = "*"  # the zone or category of the rows that count every zone or category
# (by zone, by category): the four ways the rows are kept.
SPLITS = ((True, True), (True, False), (False, True), (False, False))

sr = ServiceRequest
# Each breakdown: the request's code stored as `key`, its row id stored as `ref_id`.
DIMENSIONS: dict[str, tuple] = {
    "all": (None, None),
    "status": (sr.status, None),
    "problem_type": (sr.problem_type, None),
    "channel": (sr.channel, None),
    "product": (None, sr.product_id),
    "agreement": (sr.coverage, sr.agreement_id),
    "engineer": (None, sr.engineer_id),
}
# The columns of a request its breakdowns read, and their types: codes (a row's `key`) and row ids (its `ref_id`).
BREAKDOWN_COLUMNS = {
    **{key.key: sa.String() for key, _ in DIMENSIONS.values() if key is not None},
    **{ref.key: sa.Integer() for _, ref in DIMENSIONS.values() if ref is not None},
}


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _ranges(days) -> list[tuple[date, date]]:
    """Sorted *days* as [first, last] runs of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def created_on(days) -> sa.ColumnElement:
    """SQL: the request was logged on one of *days* (UTC), as ranges the created_at index serves."""
    return sa.or_(
        sa.false(),
        *(
            sa.and_(sr.created_at >= day_start(a), sr.created_at < day_start(b + timedelta(days=1)))
            for a, b in _ranges(days)
        ),
    )


def month_of(day) -> sa.ColumnElement:
    """SQL: the first day of the month of the date *day*."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc(sa.literal_column("'month'"), day), sa.Date)
    return sa.func.date(day, sa.literal_column("'start of month'"))


def request_rows(days=None) -> sa.Select:
    """One row per request logged on *days* (all of them when None): its day of intake (`period`), zone,
    category, the columns of its breakdowns (BREAKDOWN_COLUMNS) and its part of every measure: 1 or 0 for a count,
    its seconds or NULL for a sum. `measures` sums them into rollup rows."""
    response = seconds_between(sr.responded_at, sr.created_at)
    urgent = sa.case((sr.priority == 1, response))
    resolution = seconds_between(sr.resolved_at, sr.created_at)
    low = sa.or_(Survey.timeliness <= LOW_SCORE, Survey.attitude <= LOW_SCORE, Survey.quality <= LOW_SCORE)
    n_surveys = sa.func.count(Survey.id)
    surveys = sa.select(
        Survey.request_id,
        n_surveys.label("n"),
        n_surveys.filter(Survey.satisfied).label("satisfied"),
        n_surveys.filter(low).label("low"),
    ).group_by(Survey.request_id)
    if days is not None:
        surveys = surveys.where(Survey.request_id.in_(sa.select(sr.id).where(created_on(days))))
    surveys = surveys.subquery()

    def one_if(*conditions) -> sa.ColumnElement:
        return sa.case((sa.and_(*conditions), 1), else_=0)

    columns = {
        "period": sa.func.date(sr.created_at),
        "zone": sa.func.coalesce(Customer.zone, ""),
        "category": sr.service_category,
        **{name: getattr(sr, name) for name in BREAKDOWN_COLUMNS},
        "requests": sa.literal(1),
        "open": one_if(sr.status.in_(tuple(OPEN))),
        "closed": one_if(sr.status.in_((RESOLVED, REVISITED))),
        "cancelled": one_if(sr.status == CANCELLED),
        "countable": one_if(sr.status != CANCELLED),
        "breached": one_if(sa.or_(sr.response_breached, sr.resolution_breached), sr.status != CANCELLED),
        "resolved": one_if(sr.resolved_at.is_not(None)),
        "visited": one_if(sr.visit_count >= 1),
        "first_fix": one_if(sr.resolved_at.is_not(None), sr.visit_count == 1),
        "covered": one_if(sr.coverage == "agreement"),
        "response_n": one_if(response.is_not(None)),
        "urgent_n": one_if(urgent.is_not(None)),
        "resolution_n": one_if(resolution.is_not(None)),
        "surveys": sa.func.coalesce(surveys.c.n, 0),
        "satisfied": sa.func.coalesce(surveys.c.satisfied, 0),
        "low_scores": sa.func.coalesce(surveys.c.low, 0),
        "response_s": response,
        "urgent_s": urgent,
        "resolution_s": resolution,
    }
    query = (
        sa.select(*[column.label(name) for name, column in columns.items()])
        .select_from(sr)
        .join(Customer, Customer.id == sr.customer_id)
        .outerjoin(surveys, surveys.c.request_id == sr.id)
    )
    if days is not None:
        query = query.where(created_on(days))
    return query


def measures(dimension: str, rows: sa.FromClause) -> sa.Select:
    """Rollup rows of *dimension* (period, zone, category, key, ref_id and every measure) summed over *rows*, a
    table or subquery of `request_rows`."""
    key_col, ref_col = [None if c is None else rows.c[c.key] for c in DIMENSIONS[dimension]]
    key = sa.func.coalesce(key_col, "") if key_col is not None else sa.literal("")
    ref = sa.func.coalesce(ref_col, 0) if ref_col is not None else sa.literal(0)
    return sa.select(
        rows.c.period,
        rows.c.zone,
        rows.c.category,
        key.label("key"),
        ref.label("ref_id"),
        *[sa.func.sum(rows.c[name]).label(name) for name in COUNTS + SUMS],
    ).group_by(rows.c.period, rows.c.zone, rows.c.category, *[c for c in (key_col, ref_col) if c is not None])


# ---------------------------------------------------------------- which days are not in the rollups yet


def state() -> RollupState | None:
    return db.session.get(RollupState, 1)


def ready() -> bool:
    """Whether the rollups were built (until then every figure is a recount)."""
    return state() is not None


def touched_cells(since: datetime) -> sa.Select:
    """The (period, zone, category) cells of the requests changed at or after *since*, and of every request of a
    customer changed then (a customer's zone is a rollup's key): in the customer's zone, and in every other zone
    with rows that day and category (the zone it may have left)."""
    r = Rollup
    day, zone = sa.func.date(sr.created_at), sa.func.coalesce(Customer.zone, "")
    cell = sa.select(day.label("period"), zone.label("zone"), sr.service_category.label("category"))
    cell = cell.join(Customer, Customer.id == sr.customer_id).distinct()
    # Two queries, not one OR: each is served by its own index.
    cells = [cell.where(sr.updated_at >= since)]
    customers = list(db.session.scalars(sa.select(Customer.id).where(Customer.updated_at >= since)))
    if customers:
        theirs = cell.where(sr.customer_id.in_(customers))
        cells.append(theirs)
        theirs = theirs.subquery()
        cells.append(
            sa.select(r.period, r.zone, r.category)
            .join(theirs, sa.and_(r.period == theirs.c.period, r.category == theirs.c.category))
            .where(r.dimension == "all", r.grain == "day", r.zone != ANY)
        )
    return sa.union(*cells)


def touched_days(since: datetime) -> set[date]:
    """The days of intake of the cells touched since *since*."""
    cells = touched_cells(since).subquery()
    return {_as_date(d) for d in db.session.scalars(sa.select(cells.c.period).distinct())}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# ---------------------------------------------------------------- reading


def _full_months(f: Filters) -> tuple[date | None, date | None]:
    """The first and the last month (their first days) that the date range covers whole; None: unbounded."""
    first = None if f.since is None else (f.since if f.since.day == 1 else next_month(f.since))
    last = None
    if f.until is not None:
        last = (
            month_start(f.until)
            if (f.until + timedelta(days=1)).day == 1
            else month_start(f.until.replace(day=1) - timedelta(days=1))
        )
    return first, last


def source(dimension: str, f: Filters, by_day: bool = False) -> sa.Subquery:
    """Rollup rows (period, key, ref_id and the measures) of *dimension* for the requests the filters select:
    the month rows of the range's whole months, the day rows of the rest. *by_day*: never month rows."""
    r = Rollup
    columns = [r.period, r.key, r.ref_id, *[getattr(r, n) for n in COUNTS + SUMS]]
    split = (r.dimension == dimension, r.zone == (f.zone or ANY), r.category == (f.category or ANY))
    days = sa.select(*columns).where(r.grain == "day", *split)
    if f.since is not None:
        days = days.where(r.period >= f.since)
    if f.until is not None:
        days = days.where(r.period <= f.until)
    if by_day:
        return days.subquery()
    first, last = _full_months(f)
    if first is None and last is None:
        return sa.select(*columns).where(r.grain == "month", *split).subquery()
    months = sa.select(*columns).where(r.grain == "month", *split)
    outside = []  # the days the month rows do not stand for
    if first is not None:
        months = months.where(r.period >= first)
        outside.append(r.period < first)
    if last is not None:
        months = months.where(r.period <= last)
        outside.append(r.period >= next_month(last))
    return sa.union_all(months, days.where(sa.or_(*outside))).subquery()


def total(column) -> sa.ColumnElement:
    """The sum of a count column over rollup rows, as an integer (0 when there are none)."""
    return sa.cast(sa.func.coalesce(sa.func.sum(column), 0), sa.BigInteger)


def average(rows: sa.Subquery, name: str) -> sa.ColumnElement:
    """The average of a time measure over rollup rows: its summed seconds over how many had one."""
    n = {"response_s": "response_n", "urgent_s": "urgent_n", "resolution_s": "resolution_n"}[name]
    return sa.func.sum(rows.c[name]) / sa.func.nullif(sa.func.sum(rows.c[n]), 0)


def request_measures(rows: sa.Subquery) -> dict:
    """The columns of queries._request_measures, over rollup rows."""
    return {
        "jobs": total(rows.c.requests),
        "resolved": total(rows.c.resolved),
        "visited": total(rows.c.visited),
        "first_fix": total(rows.c.first_fix),
        "response_s": average(rows, "response_s"),
        "urgent_response_s": average(rows, "urgent_s"),
        "resolution_s": average(rows, "resolution_s"),
    }
