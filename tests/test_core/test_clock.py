"""The site's clock and calendar: local dates, months, and working days by the holiday calendar."""

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from fieldservice.core import clock
from fieldservice.core.clock import add_months, add_working_days, local_date
from fieldservice.core.errors import NotFound, ValidationFailed
from fieldservice.core.holidays import CALENDAR_DAYS
from fieldservice.core.models import CalendarDay
from fieldservice.engineers import schedule
from fieldservice.requests import operations as requests_ops

SHANGHAI = timezone(timedelta(hours=8))


def at(month: int, day: int, hour: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=SHANGHAI)


def test_local_date_is_the_shanghai_calendar_day(app):
    assert local_date(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert local_date(datetime(2026, 11, 23, 16, 0, tzinfo=UTC)) == date(2026, 11, 24)
    with pytest.raises(ValueError):
        local_date(datetime(2026, 11, 23, 12, 0))


def test_the_site_zone_comes_from_the_config(app):
    app.config["FIELDSERVICE_TIMEZONE"] = "Europe/Paris"
    assert str(clock.site_zone()) == "Europe/Paris"
    assert local_date(datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Monday 09:30 + 5 working days = next Monday 09:30.
        (datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI), 5, datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)),
        # Friday 17:00 + 1 = Monday 17:00 (the weekend does not count).
        (datetime(2026, 11, 27, 17, 0, tzinfo=SHANGHAI), 1, datetime(2026, 11, 30, 17, 0, tzinfo=SHANGHAI)),
        # Saturday + 1: Monday is the first working day after it.
        (datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI), 1, datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)),
        # Saturday + 5: Monday to Friday.
        (datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI), 5, datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)),
        # Saturday + 0: never due on a day off, so the next working day's same time.
        (datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI), 0, datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)),
    ],
)
def test_working_days_skip_weekends(app, start, days, expected):
    assert add_working_days(start, days) == expected


def test_working_days_are_counted_in_the_site_zone_not_utc(app):
    # Saturday 01:00 in Shanghai is Friday 17:00 UTC: read in UTC, + 1 working day would be Monday 17:00 UTC
    # (Tuesday 01:00 in Shanghai); read at the site it is Monday 01:00.
    saturday_early = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # Sat 01:00 in Shanghai
    due = add_working_days(saturday_early, 1)
    assert due == datetime(2026, 11, 30, 1, 0, tzinfo=SHANGHAI)
    assert due.tzinfo == UTC


def test_working_days_skip_holidays(app, holiday_calendar):
    start = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)  # Wednesday before the National Day week
    assert add_working_days(start, 1) == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)


def test_negative_working_days_are_refused(app):
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 23, tzinfo=UTC), -1)


def test_priority_4_over_the_spring_festival(app, holiday_calendar):
    # Fri 02-13 10:00. Response, 5 working days: Sat 02-14 is a make-up day (1); 02-15..02-23 are off;
    # Tue 02-24 (2), Wed 02-25 (3), Thu 02-26 (4), Fri 02-27 (5). Resolution, 10: Sat 02-28 make-up (6),
    # Sun 03-01 off, Mon 03-02 (7) ... Thu 03-05 (10).
    response, resolution = requests_ops.due_times(4, at(2, 13))
    assert response == at(2, 27)
    assert resolution == at(3, 5)


def test_a_make_up_saturday_counts(app, db, holiday_calendar):
    # Fri 10-09 + 1: Sat 10-10 is worked for the National Day week, so it is the next working day.
    assert add_working_days(at(10, 9), 1) == at(10, 10)
    # And a make-up Sunday (09-20): Fri 09-18 + 1 is that Sunday, not Monday.
    assert add_working_days(at(9, 18), 1) == at(9, 20)

    # Without the calendar the weekend would not count.
    db.session.execute(sa.delete(CalendarDay))
    db.session.commit()
    assert add_working_days(at(10, 9), 1) == at(10, 12)


def test_priority_4_logged_before_the_national_day_week(app, holiday_calendar):
    # Fri 09-18 10:00. Sun 09-20 is a make-up day: response (5) = Sun 09-20 (1), Mon 09-21 (2), Tue (3), Wed (4),
    # Thu 09-24 (5): still before the Mid-Autumn days off. Resolution (10): Fri 09-25 .. Sun 09-27 off (Mid-Autumn),
    # Mon 09-28 (6), Tue (7), Wed 09-30 (8), 10-01 .. 10-07 off, Thu 10-08 (9), Fri 10-09 (10): after the holiday.
    response, resolution = requests_ops.due_times(4, at(9, 18))
    assert response == at(9, 24)
    assert resolution == at(10, 9)


def test_priority_4_logged_on_mid_autumn_day_is_due_after_the_national_day_week(app, holiday_calendar):
    # Fri 09-25 10:00 is itself a day off. Response (5): 09-26, 09-27 off, Mon 09-28 (1), Tue (2), Wed 09-30 (3),
    # 10-01 .. 10-07 off, Thu 10-08 (4), Fri 10-09 (5). Resolution (10): Sat 10-10 make-up (6), Sun 10-11 off,
    # Mon 10-12 (7), Tue (8), Wed (9), Thu 10-15 (10).
    response, resolution = requests_ops.due_times(4, at(9, 25))
    assert response == at(10, 9)
    assert resolution == at(10, 15)


def test_the_calendar_is_read_once_per_transaction(app, holiday_calendar, db):
    statements = []

    def count(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        for day in range(1, 20):
            add_working_days(at(9, day), 5)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    # A new transaction reads it again: an admin's edit elsewhere counts at once.
    db.session.commit()
    db.session.add(CalendarDay(day=date(2026, 11, 2), kind="holiday", name_zh="测试", name_en="Test"))
    db.session.commit()
    assert add_working_days(at(10, 30), 1) == at(11, 3)


def test_an_added_holiday_counts_in_the_same_transaction(app, db):
    friday = at(11, 20)
    assert add_working_days(friday, 1) == at(11, 23)
    clock.add_calendar_day({"day": date(2026, 11, 23), "kind": "holiday", "name_zh": "测试"}, None)
    assert add_working_days(friday, 1) == at(11, 24)
    clock.delete_calendar_day(date(2026, 11, 23), None)
    assert add_working_days(friday, 1) == at(11, 23)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "holiday", "name_zh": "x"}, "day"),
        ({"day": date(2026, 11, 23), "kind": "vacation", "name_zh": "x"}, "kind"),
        # A make-up working day on a Monday makes no sense.
        ({"day": date(2026, 11, 23), "kind": "workday", "name_zh": "x"}, "kind"),
        ({"day": date(2026, 11, 23), "kind": "holiday", "name_zh": " ", "name_en": ""}, "name_zh"),
        ({"day": date(2026, 11, 23), "kind": "holiday", "name_en": "x" * 81}, "name_en"),
        # Already listed (the seeded New Year's Day).
        ({"day": date(2026, 1, 1), "kind": "holiday", "name_zh": "元旦"}, "day"),
    ],
)
def test_bad_calendar_days_are_refused_and_change_nothing(app, db, holiday_calendar, data, field):
    with pytest.raises(ValidationFailed) as refused:
        clock.add_calendar_day(data, None)
    assert field in refused.value.fields
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == len(CALENDAR_DAYS)


def test_deleting_a_day_not_listed_is_refused(app):
    with pytest.raises(NotFound):
        clock.delete_calendar_day(date(2026, 11, 23), None)


def test_seed_calendar_fills_an_empty_calendar_once(app, db):
    assert clock.seed_calendar() == len(CALENDAR_DAYS)
    assert clock.seed_calendar() == 0
    days = {d.day: d for d in clock.calendar_year(2026)}
    assert days[date(2026, 2, 14)].kind == "workday"
    assert all(days[date(2026, 2, d)].kind == "holiday" for d in range(15, 24))
    assert date(2026, 2, 24) not in days
    assert len(clock.calendar_year(2027)) > 0


def test_the_seed_lists_make_up_days_on_weekends_only():
    for day, kind, name_zh, name_en in CALENDAR_DAYS:
        assert kind in ("holiday", "workday")
        assert name_zh and name_en
        if kind == "workday":
            assert day.weekday() >= 5, day


def test_weekday_engineers_are_off_on_holidays_and_work_make_up_days(app, holiday_calendar):
    office, office_hours = {1, 2, 3, 4, 5}, (time(9, 0), time(18, 0))
    # Thu 10-01 10:00, National Day: the next shift is Thu 10-08 09:00.
    assert schedule.available_from(office, *office_hours, at(10, 1)) == at(10, 8, 9)
    # Sat 10-10 is a make-up day: the engineer works it, with the usual hours.
    assert schedule.available_from(office, *office_hours, at(10, 10)) == at(10, 10)
    # A rota with weekend days is its own: on duty on National Day, off on the make-up Saturday if not on the rota.
    rota = {1, 2, 3, 4, 7}
    assert schedule.available_from(rota, *office_hours, at(10, 1)) == at(10, 1)
    assert schedule.available_from(rota, *office_hours, at(10, 10)) == at(10, 11, 9)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 1, 1), 12, date(2027, 1, 1)),
    ],
)
def test_add_months_clamps_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected
