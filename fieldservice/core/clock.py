"""The site's clock and calendar: its time zone, local dates, months, and working days by its holiday calendar.

A working day is a Monday to Friday that the calendar does not mark as a holiday, or any day it marks as a workday
(a weekend day worked to make up for a holiday, 调休). The calendar lives in the database (CalendarDay) and is read
on each call, at most once per call and once per transaction in loops: there is no process-wide copy, so an
admin's edit counts at once in every web process and worker. Its writers are here too, so the calendar has one home.
"""

import calendar
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError

from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.holidays import CALENDAR_DAYS, HOLIDAY, WORKDAY
from fieldservice.core.models import CalendarDay, transaction_cache
from fieldservice.extensions import db

log = logging.getLogger("fieldservice.core")

DEFAULT_TIMEZONE = "Asia/Shanghai"
KINDS = (HOLIDAY, WORKDAY)
_CACHE = "clock.calendar"


# ---------------------------------------------------------------- time and dates


def site_zone() -> ZoneInfo:
    """The site's time zone: FIELDSERVICE_TIMEZONE, Asia/Shanghai outside an app."""
    name = current_app.config.get("FIELDSERVICE_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def require_aware(at: datetime) -> datetime:
    """*at* itself; a naive datetime is refused (ValueError): whose clock would it be on?"""
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC or with an offset)")
    return at


def local_date(at: datetime) -> date:
    """The calendar day *at* falls on at the site (16:30 UTC is already tomorrow in Shanghai)."""
    return require_aware(at).astimezone(site_zone()).date()


def today() -> date:
    """Today's date at the site."""
    return local_date(datetime.now(UTC))


def add_months(day: date, months: int) -> date:
    """*day* moved by whole months, clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------- working days


def calendar_from(first: date) -> dict[date, str]:
    """The calendar's marks (day -> "holiday" or "workday") from *first* on; one query, kept for the transaction.

    Outside an app there is no database to read (a script, a unit test of the arithmetic): only weekends are off.
    """
    if not has_app_context():
        return {}
    cache = transaction_cache(_CACHE)
    # The table holds a few dozen rows a year: everything from *first* on is less work than guessing an end.
    if cache.get("first") is None or first < cache["first"]:
        rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.kind).where(CalendarDay.day >= first))
        cache["first"], cache["marks"] = first, dict(rows.tuples().all())
    return cache["marks"]


def is_working_day(day: date, marks: dict[date, str]) -> bool:
    """Monday-Friday unless *marks* make it a holiday; any day *marks* make a workday."""
    kind = marks.get(day)
    if kind is not None:
        return kind == WORKDAY
    return day.weekday() < 5


def add_working_days(start: datetime, days: int) -> datetime:
    """*start* moved on by *days* working days at the site, at the same local time of day; aware UTC.

    Each working day passed counts one; weekends and holidays do not, make-up workdays do, and the result never
    falls on a day off (Saturday + 1 = Monday, same time; Saturday + 0 = Monday too).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    zone = site_zone()
    local = require_aware(start).astimezone(zone)
    day, remaining = local.date(), days
    marks = calendar_from(day)
    while remaining > 0 or not is_working_day(day, marks):
        day += timedelta(days=1)
        if is_working_day(day, marks):
            remaining -= 1
    # Rebuild from the wall-clock time so a zone with daylight saving keeps 09:00 at 09:00.
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


# ---------------------------------------------------------------- the calendar's writers


def calendar_year(year: int) -> list[CalendarDay]:
    """The year's marked days, in date order."""
    query = sa.select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
    return list(db.session.scalars(query.order_by(CalendarDay.day)))


def _forget() -> None:
    # A later read in this transaction must see the edit (other transactions never saw the cached copy).
    transaction_cache(_CACHE).clear()


def add_calendar_day(data: dict, actor) -> CalendarDay:
    """Mark a day as a holiday or a make-up workday; a day already marked is refused (delete it first)."""
    day, kind = data.get("day"), data.get("kind")
    name_zh, name_en = (data.get("name_zh") or "").strip(), (data.get("name_en") or "").strip()
    fields = {}
    if not isinstance(day, date):
        fields["day"] = "Give the date."
    if kind not in KINDS:
        fields["kind"] = "The kind is holiday or workday."
    elif kind == WORKDAY and isinstance(day, date) and day.weekday() < 5:
        fields["kind"] = "A make-up working day falls on a Saturday or a Sunday."
    if not name_zh and not name_en:
        fields["name_zh"] = "Give the day's name."
    for name, value in (("name_zh", name_zh), ("name_en", name_en)):
        if len(value) > 80:
            fields[name] = "At most 80 characters."
    if not fields and db.session.get(CalendarDay, day) is not None:
        fields["day"] = "This date is already in the calendar."
    if fields:
        raise ValidationFailed("validation_failed", "Some fields are not valid: " + ", ".join(sorted(fields)), fields)
    entry = CalendarDay(day=day, kind=kind, name_zh=name_zh, name_en=name_en)
    try:
        with db.session.begin_nested():
            db.session.add(entry)
            db.session.flush()
    except IntegrityError as exc:  # another admin marked the same day a moment ago
        raise ValidationFailed(
            "validation_failed", "Some fields are not valid: day", {"day": "This date is already in the calendar."}
        ) from exc
    _forget()
    log.info("%s marked %s as %s (%s)", getattr(actor, "username", "system"), day, kind, name_zh or name_en)
    return entry


def delete_calendar_day(day: date, actor) -> None:
    """Unmark *day*: it is an ordinary day of the week again."""
    entry = db.session.get(CalendarDay, day)
    if entry is None:
        raise NotFound("not_found", f"{day.isoformat()} is not in the calendar.")
    db.session.delete(entry)
    db.session.flush()
    _forget()
    log.info("%s removed %s (%s) from the calendar", getattr(actor, "username", "system"), day, entry.kind)


def seed_calendar() -> int:
    """Fill an empty calendar with the public holidays of core/holidays.py; the number of days added."""
    if db.session.scalar(sa.select(CalendarDay.day).limit(1)) is not None:
        return 0
    db.session.add_all(
        CalendarDay(day=day, kind=kind, name_zh=name_zh, name_en=name_en)
        for day, kind, name_zh, name_en in CALENDAR_DAYS
    )
    db.session.flush()
    _forget()
    log.info("system seeded the calendar with %d days", len(CALENDAR_DAYS))
    return len(CALENDAR_DAYS)
