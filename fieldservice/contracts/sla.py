"""Dates and due times at the site: the local calendar day, working days, and an agreement's SLA clock."""

from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Asia/Shanghai"


def site_zone() -> ZoneInfo:
    name = current_app.config.get("FIELDSERVICE_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one (UTC or with an offset)")
    return at


def local_date(at: datetime) -> date:
    """The calendar day *at* falls on at the site (16:30 UTC is already tomorrow in Shanghai)."""
    return _aware(at).astimezone(site_zone()).date()


def today() -> date:
    """Today's date at the site."""
    return local_date(datetime.now(UTC))


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: datetime, days: int, holidays: Collection[date] = ()) -> datetime:
    """*start* moved on by *days* working days at the site, at the same local time of day; aware UTC.

    Each working day passed counts one; Saturdays, Sundays and *holidays* (site dates) do not count, and the result
    never falls on one (Saturday + 1 = Monday, same time).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    zone = site_zone()
    local = _aware(start).astimezone(zone)
    day, remaining = local.date(), days
    while remaining > 0 or not is_working_day(day, holidays):
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            remaining -= 1
    # Rebuild from the wall-clock time so a zone with daylight saving keeps 09:00 at 09:00.
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


def coverage_due_times(coverage, at: datetime) -> tuple[datetime | None, datetime | None]:
    """When a request logged at *at* must be answered and resolved under *coverage* (None where it sets no hours).

    SLA hours run round the clock: a Gold agreement's 4 h response includes nights and weekends.
    """
    start = _aware(at).astimezone(UTC)
    response = getattr(coverage, "response_hours", None)
    resolution = getattr(coverage, "resolution_hours", None)
    return (
        start + timedelta(hours=response) if response else None,
        start + timedelta(hours=resolution) if resolution else None,
    )


def stricter(priority_due: datetime, agreement_due: datetime | None) -> datetime:
    """DOMAIN.md "Priorities": the agreement's due time wins where it is earlier than the priority's."""
    if agreement_due is None:
        return priority_due
    return min(_aware(priority_due), _aware(agreement_due))
