"""Fixtures of the appointments: the request loop's factories, a working day ahead and a window maker."""

from datetime import datetime, time, timedelta

import pytest

from fieldservice.core.clock import site_zone
from fieldservice.core.models import utcnow
from tests.test_requests import conftest as requests_fixtures

# The request loop's fixtures, shared: the requests made here are theirs.
problem_types = requests_fixtures.problem_types
make_request = requests_fixtures.make_request
engineer = requests_fixtures.engineer


def working_day(days_ahead: int = 2):
    """A Monday-Friday date at least *days_ahead* days from today, in the site's zone."""
    day = utcnow().astimezone(site_zone()).date() + timedelta(days=days_ahead)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def window(day, start: str, end: str) -> tuple[datetime, datetime]:
    """(start, end) of a window on *day*, given as local "HH:MM" times of the site."""
    zone = site_zone()
    return tuple(datetime.combine(day, time.fromisoformat(t), tzinfo=zone) for t in (start, end))


@pytest.fixture
def day():
    return working_day()


@pytest.fixture
def assigned(db, make_request, engineer, make_user):
    """assigned(**request_fields) -> a request assigned to `engineer`, due well after the test windows."""
    from fieldservice.requests import operations as ops

    dispatcher = make_user("dispatcher")

    def make(to=None, **kw):
        kw.setdefault("required_by", utcnow() + timedelta(days=20))
        kw.setdefault("priority", 4)
        sr = make_request(**kw)
        ops.perform(sr, "assign", dispatcher, engineer_id=(to or engineer).id)
        db.session.commit()
        return sr

    return make
