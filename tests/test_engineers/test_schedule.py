"""When an engineer can work: shifts (overnight ones too) minus leave; and travel distance."""

from datetime import time, timedelta

import pytest

from fieldservice.engineers import schedule
from tests.test_engineers.conftest import JIADING, TUESDAY_10


def test_shifts_overnight_and_leave_move_the_first_available_moment(app, make_engineer):
    night = make_engineer(work_start=time(22, 0), work_end=time(6, 0), work_days="1,2,3,4,5,6,7")
    # Tuesday 10:00 local: the next shift starts at 22:00 local = 14:00 UTC.
    assert schedule.engineer_available_from(night, TUESDAY_10, leaves=[]) == TUESDAY_10 + timedelta(hours=12)
    # Wednesday 03:00 local is inside Tuesday's shift.
    inside = TUESDAY_10 + timedelta(hours=17)
    assert schedule.on_duty(night, inside)
    leave = [(inside - timedelta(hours=1), inside + timedelta(hours=1))]
    assert schedule.engineer_available_from(night, inside, leaves=leave) == inside + timedelta(hours=1)
    assert not schedule.on_duty(night, TUESDAY_10)


def test_haversine_distance(app):
    assert schedule.haversine_km(31.2215, 121.5440, *JIADING) == pytest.approx(33.0, abs=3)
    assert schedule.haversine_km(None, 121.5, 31.2, 121.5) is None


def test_round_the_clock_shifts_are_one_stretch_across_midnight(app, engineer_factory):
    """A visit booked at 22:00 for three hours on a round-the-clock rota fits: the days' shifts join."""
    from datetime import datetime

    from fieldservice.core.clock import site_zone
    from fieldservice.engineers.schedule import shift_at, shifts_between

    engineer = engineer_factory()
    late = datetime(2026, 12, 7, 22, 0, tzinfo=site_zone())
    start, end = shift_at(engineer, late)
    assert start <= late and end >= late + timedelta(hours=3)
    assert (
        len(shifts_between(engineer.weekdays, engineer.work_start, engineer.work_end, late, late + timedelta(hours=3)))
        == 1
    )
    # Day shifts still end at their hour.
    day = engineer_factory(work_start=time(9, 0), work_end=time(18, 0))
    assert shift_at(day, late) is None
    assert shift_at(day, late.replace(hour=17))[1] == late.replace(hour=18)
