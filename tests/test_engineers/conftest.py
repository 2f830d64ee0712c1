"""Fixtures of engineers and dispatch: round-the-clock engineers (tests must not depend on the hour they run
at), a request factory with a fixed or current clock, and a dispatcher."""

from datetime import UTC, datetime, time, timedelta

import pytest

from fieldservice.core.models import utcnow

# A Tuesday, 10:00 in Shanghai (02:00 UTC): inside a normal 08:30-17:30 Monday-Friday shift.
TUESDAY_10 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
# Pudong and Jiading: about 40 km apart.
PUDONG = (31.2215, 121.5440)
JIADING = (31.3750, 121.2650)


@pytest.fixture
def dispatcher(make_user):
    return make_user("dispatcher")


@pytest.fixture
def problem_type(db):
    from fieldservice.requests.models import ProblemType

    pt = ProblemType(code="no_cooling", name_zh="不制冷", name_en="Not cooling", category="repair")
    db.session.add(pt)
    db.session.commit()
    return pt


@pytest.fixture
def engineer_factory(make_engineer):
    """Like make_engineer, but on duty around the clock every day unless hours or days are given."""

    def make(skills=("water_purifier",), **kw):
        kw.setdefault("work_start", time(0, 0))
        kw.setdefault("work_end", time(0, 0))  # end == start: a 24-hour shift
        kw.setdefault("work_days", "1,2,3,4,5,6,7")
        return make_engineer(skills=skills, **kw)

    return make


@pytest.fixture
def request_factory(db, make_customer, make_product, dispatcher, problem_type):
    """request_factory(category=..., priority=..., hours=..., at=(lat, lng), zone=..., now=...) -> a new
    request."""
    from fieldservice.requests import operations as ops

    products = {}

    def make(
        category="water_purifier", priority=3, hours=48, at=PUDONG, zone="浦东", now=None, customer=None, **kw
    ):
        now = now or utcnow()
        if category not in products:
            products[category] = make_product(category=category)
        customer = customer or make_customer(zone=zone, lat=at[0] if at else None, lng=at[1] if at else None)
        data = {
            "customer_id": customer.id,
            "product_id": products[category].id,
            "problem_type": "no_cooling",
            "description": "设备故障，需要上门检查",
            "priority": priority,
            "required_by": now + timedelta(hours=hours),
            **kw,
        }
        sr = ops.create_request(data, dispatcher, now=now)
        db.session.commit()
        return sr

    return make


@pytest.fixture
def assign(db, dispatcher):
    """assign(sr, engineer): give a job by hand (to build up an engineer's load)."""
    from fieldservice.requests import operations as ops

    def do(sr, engineer, actor=None):
        ops.perform(sr, "assign", actor or dispatcher, sr.version, engineer_id=engineer.id)
        db.session.commit()
        return sr

    return do
