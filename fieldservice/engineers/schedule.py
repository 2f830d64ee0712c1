"""When an engineer can work: shifts on work days in the site's time zone, minus leave; and travel distance.

"On duty" means inside a shift: on one of the engineer's ISO work days, from work_start to work_end, local
time of the site (Asia/Shanghai by default). A shift whose end is not after its start runs past midnight; one
that ends when it starts lasts 24 hours (a round-the-clock team).

The site's holiday calendar (core.clock) counts only for an engineer whose work days are all weekdays (the office
week, or part of it): a public holiday is a day off for them, and a make-up working day (调休) is a work day with
their usual hours. An engineer whose work days include a Saturday or a Sunday is on a rota of their own, which
the calendar leaves as it is (the round-the-clock team is on duty over the holidays).
"""

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fieldservice.core.clock import calendar_from, site_zone
from fieldservice.core.holidays import HOLIDAY, WORKDAY

EARTH_RADIUS_KM = 6371.0088
# How far ahead to look for an engineer's next shift: past two weeks nobody plans a job on it.
HORIZON = timedelta(days=14)


# ISO weekdays of the office week: an engineer working only on these follows the holiday calendar.
OFFICE_WEEK = frozenset(range(1, 6))


def format_work_days(days: Iterable[int]) -> str:
    return ",".join(str(d) for d in sorted(set(days)))


def works_on(day: date, work_days: set[int], marks: dict[date, str]) -> bool:
    """Whether an engineer with these ISO *work_days* works on *day*, by the calendar's *marks* (see above)."""
    if work_days and work_days <= OFFICE_WEEK:
        kind = marks.get(day)
        if kind == HOLIDAY:
            return False
        if kind == WORKDAY:
            return True
    return day.isoweekday() in work_days


def _shifts(
    work_days: set[int], start: time, end: time, at: datetime, horizon: timedelta, zone: ZoneInfo
) -> Iterable[tuple[datetime, datetime]]:
    """The shifts that end after *at* and start before at + horizon, in order, as aware datetimes."""
    local = at.astimezone(zone)
    # Start a day early: yesterday's overnight shift may still be running.
    first = local.date() - timedelta(days=1)
    marks = calendar_from(first)
    for offset in range(horizon.days + 3):
        day = first + timedelta(days=offset)
        if not works_on(day, work_days, marks):
            continue
        shift_start = datetime.combine(day, start, tzinfo=zone)
        end_day = day if end > start else day + timedelta(days=1)
        shift_end = datetime.combine(end_day, end, tzinfo=zone)
        if shift_end <= at:
            continue
        if shift_start >= at + horizon:
            return
        yield shift_start, shift_end


def available_from(
    work_days: set[int],
    start: time,
    end: time,
    at: datetime,
    leaves: Iterable[tuple[datetime, datetime]] = (),
    horizon: timedelta = HORIZON,
) -> datetime | None:
    """The first moment at or after *at* when the engineer is on shift and not on leave (UTC), or None."""
    zone = site_zone()
    leaves = sorted(leaves)
    for shift_start, shift_end in _shifts(work_days, start, end, at, horizon, zone):
        moment = max(shift_start, at)
        moved = True
        while moved:  # leaves may chain or overlap: step past each one that covers the moment
            moved = False
            for leave_start, leave_end in leaves:
                if leave_start <= moment < leave_end:
                    moment, moved = leave_end, True
        if moment < shift_end:
            return moment.astimezone(UTC)
    return None


def engineer_available_from(
    engineer, at: datetime, leaves=None, horizon: timedelta = HORIZON
) -> datetime | None:
    if leaves is None:
        leaves = [(leave.starts_at, leave.ends_at) for leave in engineer.leaves]
    return available_from(engineer.weekdays, engineer.work_start, engineer.work_end, at, leaves, horizon)


def on_duty(engineer, at: datetime) -> bool:
    """Inside one of the engineer's shifts at *at* (leave aside)."""
    return available_from(engineer.weekdays, engineer.work_start, engineer.work_end, at) == at.astimezone(UTC)


def on_leave(leaves: Iterable[tuple[datetime, datetime]], at: datetime) -> bool:
    return any(start <= at < end for start, end in leaves)


def haversine_km(
    lat1: float | None, lng1: float | None, lat2: float | None, lng2: float | None
) -> float | None:
    """Great-circle distance in km, or None when either point is unknown."""
    if None in (lat1, lng1, lat2, lng2):
        return None
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _joined(shifts):
    """Back-to-back shifts (a round-the-clock rota, one day's shift ending as the next begins) as one stretch of
    duty: a visit may run across midnight there."""
    current = None
    for start, end in shifts:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def shift_at(engineer, at: datetime) -> tuple[datetime, datetime] | None:
    """The engineer's shift running at *at* (start inclusive, end exclusive), as aware datetimes, or None."""
    zone = site_zone()
    shifts = _shifts(engineer.weekdays, engineer.work_start, engineer.work_end, at, HORIZON, zone)
    for shift_start, shift_end in _joined(shifts):
        if shift_start <= at < shift_end:
            return shift_start, shift_end
        if shift_start > at:
            return None
    return None


def shifts_between(
    work_days: set[int], work_start: time, work_end: time, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The shifts of an engineer with these hours that overlap [start, end), in order, in UTC (the schedule)."""
    shifts = []
    for shift_start, shift_end in _joined(_shifts(work_days, work_start, work_end, start, end - start, site_zone())):
        if shift_start < end:
            shifts.append((shift_start.astimezone(UTC), shift_end.astimezone(UTC)))
    return shifts
