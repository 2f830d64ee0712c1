"""When an engineer can work: shifts on work days in the site's time zone, minus leave; and travel distance.

"On duty" means inside a shift: on one of the engineer's ISO work days, from work_start to work_end, local
time of the site (Asia/Shanghai by default). A shift whose end is not after its start runs past midnight; one
that ends when it starts lasts 24 hours (a round-the-clock team).
"""

import math
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

EARTH_RADIUS_KM = 6371.0088
# How far ahead to look for an engineer's next shift: past two weeks nobody plans a job on it.
HORIZON = timedelta(days=14)


def site_zone() -> ZoneInfo:
    name = current_app.config["FIELDSERVICE_TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def format_work_days(days: Iterable[int]) -> str:
    return ",".join(str(d) for d in sorted(set(days)))


def _shifts(
    work_days: set[int], start: time, end: time, at: datetime, horizon: timedelta, zone: ZoneInfo
) -> Iterable[tuple[datetime, datetime]]:
    """The shifts that end after *at* and start before at + horizon, in order, as aware datetimes."""
    local = at.astimezone(zone)
    # Start a day early: yesterday's overnight shift may still be running.
    for offset in range(-1, horizon.days + 2):
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in work_days:
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
