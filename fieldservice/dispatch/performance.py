"""Engineer and team performance over a period, aggregated in SQL.

A job is a request logged in the period and owned by the engineer now (assigned, locked, resolved or revisited
with them; a job handed back or returned is not theirs). Completed: resolved or revisited. First-time fix:
completed with one visit. Response time: logged -> first response (accepted or arrived); resolution time:
logged -> resolved. Satisfaction: the callback surveys of those jobs (share satisfied, and the mean 1-5
score).
"""

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from fieldservice.core import clock
from fieldservice.engineers.models import Engineer
from fieldservice.extensions import db
from fieldservice.requests.models import ServiceRequest as SR
from fieldservice.requests.models import Survey
from fieldservice.requests.states import RESOLVED, REVISITED

COMPLETED = (RESOLVED, REVISITED)
DEFAULT_DAYS = 30


class seconds_between(FunctionElement):  # noqa: N801 (an SQL function, named like one)
    """SQL: seconds from the first timestamp to the second, on PostgreSQL and SQLite."""

    type = sa.Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def period_bounds(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """Whole days, both included; the last DEFAULT_DAYS days up to today (site time) by default."""
    if today is None:
        today = clock.today()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return start, end


def _utc_range(start: date, end: date) -> tuple[datetime, datetime]:
    zone = clock.site_zone()
    return (
        datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC),
    )


def _aggregate(start: date, end: date, engineer_ids: list[int] | None, by_engineer: bool):
    surveys = (
        sa.select(
            Survey.request_id,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((Survey.satisfied, 1), else_=0)).label("satisfied"),
            sa.func.sum(
                sa.func.coalesce(Survey.timeliness, 0)
                + sa.func.coalesce(Survey.attitude, 0)
                + sa.func.coalesce(Survey.quality, 0)
            ).label("score_sum"),
            sa.func.sum(
                sa.case((Survey.timeliness.is_not(None), 1), else_=0)
                + sa.case((Survey.attitude.is_not(None), 1), else_=0)
                + sa.case((Survey.quality.is_not(None), 1), else_=0)
            ).label("score_count"),
        )
        .group_by(Survey.request_id)
        .subquery()
    )
    done = SR.status.in_(COMPLETED)
    columns = [
        sa.func.count(SR.id).label("jobs"),
        sa.func.sum(sa.case((done, 1), else_=0)).label("completed"),
        sa.func.sum(sa.case((sa.and_(done, SR.visit_count == 1), 1), else_=0)).label("first_time_fixes"),
        sa.func.avg(seconds_between(SR.created_at, SR.responded_at)).label("response_seconds"),
        sa.func.avg(sa.case((done, seconds_between(SR.created_at, SR.resolved_at)))).label("resolution_seconds"),
        sa.func.coalesce(sa.func.sum(surveys.c.n), 0).label("surveys"),
        sa.func.coalesce(sa.func.sum(surveys.c.satisfied), 0).label("satisfied"),
        sa.func.sum(surveys.c.score_sum).label("score_sum"),
        sa.func.sum(surveys.c.score_count).label("score_count"),
    ]
    lower, upper = _utc_range(start, end)
    query = (
        sa.select(*columns)
        .select_from(SR)
        .outerjoin(surveys, surveys.c.request_id == SR.id)
        .where(SR.engineer_id.is_not(None), SR.created_at >= lower, SR.created_at < upper)
    )
    if engineer_ids is not None:
        query = query.where(SR.engineer_id.in_(engineer_ids))
    if by_engineer:
        query = query.add_columns(SR.engineer_id).group_by(SR.engineer_id)
    return db.session.execute(query).mappings().all()


def _ratio(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _hours(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def _figures(row, engineer: Engineer | None = None) -> dict:
    row = row or {}
    jobs, completed = int(row.get("jobs") or 0), int(row.get("completed") or 0)
    fixes, surveys = int(row.get("first_time_fixes") or 0), int(row.get("surveys") or 0)
    score_count = int(row.get("score_count") or 0)
    return {
        "engineer_id": engineer.id if engineer else None,
        "name": engineer.name if engineer else None,
        "jobs": jobs,
        "completed": completed,
        "completion_rate": _ratio(completed, jobs),
        "first_time_fixes": fixes,
        "first_time_fix_rate": _ratio(fixes, completed),
        "mean_response_hours": _hours(row.get("response_seconds")),
        "mean_resolution_hours": _hours(row.get("resolution_seconds")),
        "surveys": surveys,
        "satisfaction_rate": _ratio(int(row.get("satisfied") or 0), surveys),
        "mean_score": round(float(row["score_sum"]) / score_count, 2) if score_count else None,
    }


def engineer_performance(engineer: Engineer, start: date, end: date) -> dict:
    rows = _aggregate(start, end, [engineer.id], by_engineer=False)
    return _figures(rows[0] if rows else None, engineer)


def team_performance(start: date, end: date, zone: str | None = None) -> dict:
    """The team's figures and each engineer's (of the zone, active or with jobs in the period)."""
    query = sa.select(Engineer).order_by(Engineer.name, Engineer.id)
    if zone:
        query = query.where(Engineer.zone == zone)
    engineers = list(db.session.scalars(query))
    ids = [e.id for e in engineers]
    per_engineer = {row["engineer_id"]: row for row in _aggregate(start, end, ids, by_engineer=True)}
    team = _aggregate(start, end, ids, by_engineer=False)
    return {
        "team": _figures(team[0] if team else None),
        "engineers": [_figures(per_engineer.get(e.id), e) for e in engineers if e.active or e.id in per_engineer],
    }
