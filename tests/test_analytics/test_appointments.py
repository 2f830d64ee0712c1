"""Appointments in analytics: kept on time, missed and changed, by engineer and by zone; changes by cause.

Four requests, their windows written as rows (each change books a new row and cancels the one before):

r1  浦东  E1  window asked to change by the customer, cancelled -> new window (dispatcher) kept on time
r2  浦东  E1  window missed -> booked again (dispatcher) and kept, but the engineer came after the window's end
r3  徐汇  E2  window cancelled -> new window set by the engineer, missed
r4  徐汇  E2  window cancelled -> new window (dispatcher), booked, still ahead
"""

from datetime import timedelta

import pytest

from fieldservice.appointments.models import Appointment
from fieldservice.core.models import utcnow


@pytest.fixture
def appointment_history(db, make_customer, make_product, make_engineer, make_user):
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="leak", name_zh="漏水", name_en="Leak", category="repair"))
    dispatcher = make_user("dispatcher")
    e1 = make_engineer(name="张师傅", zone="浦东")
    e2 = make_engineer(name="李师傅", zone="徐汇")
    product = make_product(category="water_purifier")
    base = (utcnow() - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)

    def request(zone):
        sr = ops.create_request(
            {
                "customer_id": make_customer(zone=zone).id,
                "product_id": product.id,
                "problem_type": "leak",
                "priority": 3,
                "description": "测试",
                "required_by": base + timedelta(days=20),
            },
            dispatcher,
            now=base - timedelta(days=1),
        )
        db.session.commit()
        return sr

    def row(sr, engineer, hours, status, by, reschedules=0, **kw):
        start = base + timedelta(hours=hours)
        db.session.add(
            Appointment(
                request_id=sr.id,
                engineer_id=engineer.id,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                status=status,
                reschedules=reschedules,
                set_by_id=by.id,
                reason="改约" if reschedules else None,
                **kw,
            )
        )
        db.session.flush()

    r1, r2, r3, r4 = request("浦东"), request("浦东"), request("徐汇"), request("徐汇")
    row(r1, e1, 1, "cancelled", dispatcher, change_requested_at=base, closed_at=base)
    row(r1, e1, 5, "kept", dispatcher, 1, closed_at=base + timedelta(hours=5, minutes=30))
    row(r2, e1, 2, "missed", dispatcher, closed_at=base + timedelta(hours=5))
    row(r2, e1, 26, "kept", dispatcher, 1, closed_at=base + timedelta(hours=28, minutes=20))
    row(r3, e2, 3, "cancelled", dispatcher, closed_at=base)
    row(r3, e2, 8, "missed", e2.user, 1, closed_at=base + timedelta(hours=11))
    row(r4, e2, 4, "cancelled", dispatcher, closed_at=base)
    row(r4, e2, 100, "booked", dispatcher, 1)
    db.session.commit()


def _rows(api, name, **query):
    response = api.get(f"/api/v1/analytics/tables/{name}", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["rows"]


def test_appointments_by_engineer(api_as, appointment_history):
    rows = {r["engineer"]: r for r in _rows(api_as("manager"), "appointments_engineers")}
    assert rows["张师傅"] == {
        "engineer": "张师傅",
        "zone": "浦东",
        "appointments": 3,
        "kept": 2,
        "on_time": 1,
        "on_time_rate": 33.3,
        "missed": 1,
        "missed_rate": 33.3,
        "reschedules": 1 + 1,
    }
    assert rows["李师傅"] == {
        "engineer": "李师傅",
        "zone": "徐汇",
        "appointments": 2,
        "kept": 0,
        "on_time": 0,
        "on_time_rate": 0.0,
        "missed": 1,
        "missed_rate": 100.0,
        "reschedules": 2,
    }


def test_appointments_by_zone_and_filtered(api_as, appointment_history):
    api = api_as("manager")
    by_zone = {r["zone"]: r for r in _rows(api, "appointments_zones")}
    assert (by_zone["浦东"]["appointments"], by_zone["浦东"]["on_time"]) == (3, 1)
    assert (by_zone["徐汇"]["appointments"], by_zone["徐汇"]["missed"]) == (2, 1)
    only = _rows(api, "appointments_engineers", zone="徐汇")
    assert [r["engineer"] for r in only] == ["李师傅"]


def test_reschedules_by_cause(api_as, appointment_history):
    rows = {r["cause"]: (r["reschedules"], r["share"]) for r in _rows(api_as("manager"), "reschedules")}
    assert rows == {
        "customer_asked": (1, 25.0),
        "after_missed": (1, 25.0),
        "engineer": (1, 25.0),
        "dispatch": (1, 25.0),
    }
    # Filtered to 浦东: the customer's request and the missed one.
    pudong = {r["cause"]: r["reschedules"] for r in _rows(api_as("manager"), "reschedules", zone="浦东")}
    assert pudong == {"customer_asked": 1, "after_missed": 1, "engineer": 0, "dispatch": 0}


def test_the_dashboard_shows_the_appointment_tables(console_as, appointment_history):
    page = console_as("manager").get("/analytics/").get_data(as_text=True)
    assert "按工程师统计的预约" in page and "按原因统计的改约" in page
    assert "客户要求另约时间" in page
