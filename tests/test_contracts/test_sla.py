"""SLA arithmetic: agreement hours, the stricter due time, and renewal periods (dates and working days: test_clock)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from fieldservice.contracts.operations import Coverage, next_period
from fieldservice.contracts.sla import coverage_due_times, stricter
from fieldservice.core.clock import add_working_days

SHANGHAI = timezone(timedelta(hours=8))


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
