"""Due-time and period arithmetic: site calendar days, working days, SLA hours, months and renewals."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from fieldservice.contracts.operations import Coverage, add_months, next_period
from fieldservice.contracts.sla import add_working_days, coverage_due_times, local_date, stricter

SHANGHAI = timezone(timedelta(hours=8))


def test_local_date_is_the_shanghai_calendar_day(app):
    assert local_date(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert local_date(datetime(2026, 11, 23, 16, 0, tzinfo=UTC)) == date(2026, 11, 24)
    with pytest.raises(ValueError):
        local_date(datetime(2026, 11, 23, 12, 0))


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


def test_working_days_skip_holidays(app):
    start = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)  # Wednesday before the National Day week
    holidays = {date(2026, 10, d) for d in range(1, 8)}
    assert add_working_days(start, 1, holidays) == datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)


def test_negative_working_days_are_refused(app):
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 23, tzinfo=UTC), -1)


def test_agreement_hours_run_round_the_clock_and_the_stricter_due_time_wins(app):
    gold = Coverage("agreement", 1, "AG-2026-0001 金牌", 4, 24, "covered")
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=SHANGHAI)
    response_due, resolution_due = coverage_due_times(gold, friday_evening)
    assert response_due == datetime(2026, 11, 28, 0, 0, tzinfo=SHANGHAI)
    assert resolution_due == datetime(2026, 11, 28, 20, 0, tzinfo=SHANGHAI)
    priority_4_due = add_working_days(friday_evening, 5)
    assert stricter(priority_4_due, response_due) == response_due
    assert stricter(friday_evening + timedelta(hours=2), response_due) == friday_evening + timedelta(hours=2)
    assert stricter(priority_4_due, None) == priority_4_due


def test_warranty_sets_no_due_times(app):
    warranty = Coverage("warranty", None, "保修", None, None, "covered")
    assert coverage_due_times(warranty, datetime(2026, 1, 1, tzinfo=UTC)) == (None, None)
    assert coverage_due_times(None, datetime(2026, 1, 1, tzinfo=UTC)) == (None, None)


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


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "expected"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), (date(2027, 1, 1), date(2027, 12, 31))),
        (date(2026, 3, 15), date(2026, 9, 14), (date(2026, 9, 15), date(2027, 3, 14))),
        # Not whole months: the same number of days.
        (date(2026, 1, 1), date(2026, 1, 10), (date(2026, 1, 11), date(2026, 1, 20))),
    ],
)
def test_next_period_has_the_same_length(starts_on, ends_on, expected):
    from types import SimpleNamespace

    assert next_period(SimpleNamespace(starts_on=starts_on, ends_on=ends_on)) == expected
