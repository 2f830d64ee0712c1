"""Preventive maintenance: one request per equipment per cycle, ahead of its date, never twice."""

import re
import threading
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa

from fieldservice.contracts.maintenance import cycle_starts, due_cycles
from fieldservice.contracts.models import MaintenanceOccurrence
from fieldservice.core import clock
from fieldservice.requests.maintenance import generate_maintenance
from tests.test_contracts.conftest import on


def _requests(db):
    from fieldservice.requests.models import ServiceRequest

    return db.session.scalars(sa.select(ServiceRequest).order_by(ServiceRequest.id)).all()


def test_cycles_within_the_period(make_customer, make_agreement):
    agreement = make_agreement(
        make_customer(), starts_on=on(0), ends_on=on(0) + timedelta(days=364), maintenance_cycle_months=3
    )
    assert len(cycle_starts(agreement)) == 4
    assert due_cycles(agreement, on(-8)) == []
    assert due_cycles(agreement, on(-7)) == [on(0)]


def test_requests_are_created_ahead_once_per_unit_and_cycle(db, make_equipment, make_product, make_agreement):
    first = make_equipment()
    second = make_equipment(customer=first.customer, product=make_product(model="RO-2"), serial_number="SN-2")
    make_agreement(
        first.customer, starts_on=on(5), ends_on=on(5) + timedelta(days=364), maintenance_cycle_months=6
    )
    run = generate_maintenance(on(0))
    db.session.commit()
    assert run.created == 2
    requests = _requests(db)
    assert sorted(r.equipment_id for r in requests) == sorted([first.id, second.id])
    assert {r.problem_type for r in requests} == {"maintenance"} and {r.priority for r in requests} == {4}
    assert all(r.status == "awaiting_assignment" for r in requests)
    # The description is data only (agreement, unit, cycle): words would be fixed in one language at creation.
    assert all(re.fullmatch(r"[\w-]+ .* · [\w-]+ · \d{4}-\d{2}-\d{2}", r.description) for r in requests)
    # Run again the same day, and the next day: nothing new.
    assert generate_maintenance(on(0)).created == 0
    assert generate_maintenance(on(1)).created == 0
    db.session.commit()
    assert len(_requests(db)) == 2


def test_an_expired_agreement_generates_nothing(db, make_equipment, make_agreement):
    unit = make_equipment()
    make_agreement(unit.customer, starts_on=on(-400), ends_on=on(-35), maintenance_cycle_months=3)
    assert generate_maintenance(on(0)).created == 0


def test_an_agreement_without_a_cycle_generates_nothing(db, make_equipment, make_agreement):
    unit = make_equipment()
    make_agreement(unit.customer, starts_on=on(1), ends_on=on(300))
    assert generate_maintenance(on(0)).created == 0


def test_the_maintenance_api_runs_it(db, api_as, make_equipment, make_agreement):
    unit = make_equipment()
    make_agreement(unit.customer, [unit], starts_on=on(2), ends_on=on(300), maintenance_cycle_months=12)
    api = api_as("manager")
    assert api.post("/api/v1/maintenance/run", json={}).json["created"] == 1
    assert api.post("/api/v1/maintenance/run", json={}).json == {
        "created": 0,
        "skipped": 0,
        "request_ids": [],
    }
    assert api_as("dispatcher").post("/api/v1/maintenance/run", json={}).status_code == 403


def _seed_in(app_context_db):
    """Customer, product, unit, manager and a 3-monthly agreement starting in 3 days, committed."""
    from fieldservice.auth.operations import create_user
    from fieldservice.contracts import operations as ops
    from fieldservice.customers.models import Customer, Equipment, Product

    db = app_context_db
    customer = Customer(name="上海冷链物流", phone="13800001111", address="浦东新区", zone="浦东")
    product = Product(name="商用净水器", model="RO-9", category="water_purifier")
    db.session.add_all([customer, product])
    db.session.flush()
    unit = Equipment(customer_id=customer.id, product_id=product.id, serial_number="SN-PM-1")
    db.session.add(unit)
    manager = create_user("pm-manager", "password123", "manager")
    db.session.flush()
    ops.create_agreement(
        {
            "customer_id": customer.id,
            "name": "金牌",
            "response_hours": 4,
            "resolution_hours": 24,
            "starts_on": on(3),
            "ends_on": on(3) + timedelta(days=364),
            "charging_method": "covered",
            "maintenance_cycle_months": 3,
            "equipment_ids": [unit.id],
        },
        manager,
    )
    db.session.commit()
    return unit.id


@pytest.mark.redis
def test_the_periodic_job_runs_in_a_real_worker_and_twice_is_once(worker_app, run_worker):
    from fieldservice.core.jobs import PERIODIC, dispatch_committed_jobs
    from fieldservice.extensions import db
    from fieldservice.requests.jobs import generate_maintenance_job

    assert any(p["func"] == generate_maintenance_job.job_path for p in PERIODIC)
    unit_id = _seed_in(db)
    # Two runs queued at once (say, two schedulers): the worker runs both, one request results.
    generate_maintenance_job.delay()
    generate_maintenance_job.delay()
    db.session.commit()
    assert dispatch_committed_jobs() == 2
    assert run_worker() >= 2  # the two runs, plus what the new request queues (notifications...)
    db.session.expire_all()
    requests = _requests(db)
    assert [r.equipment_id for r in requests] == [unit_id]
    assert db.session.scalar(sa.select(MaintenanceOccurrence.request_id)) == requests[0].id


@pytest.mark.postgres
def test_two_concurrent_runs_create_one_request(app, app_config, db):
    """Two workers at the same moment, each in its own transaction: the unique occurrence lets one win."""
    from fieldservice import create_app
    from fieldservice.extensions import db as _db

    unit_id = _seed_in(db)
    barrier, results, errors = threading.Barrier(2), [], []

    # Built here, not in the threads: one thread failing to start must not leave the other at the barrier.
    apps = [create_app(app_config) for _ in range(2)]

    def run(other):
        with other.app_context():
            try:
                barrier.wait(10)
                results.append(generate_maintenance(on(0)))
                _db.session.commit()
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                _db.session.remove()
                _db.engine.dispose()

    threads = [threading.Thread(target=run, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(r.created for r in results) == [0, 1]
    db.session.expire_all()
    assert [r.equipment_id for r in _requests(db)] == [unit_id]


def test_a_cycle_starting_on_a_day_off_is_due_by_the_next_working_day(db, make_equipment, make_agreement):
    friday = on(10) + timedelta(days=(4 - on(10).weekday()) % 7)
    clock.add_calendar_day({"day": friday, "kind": "holiday", "name_zh": "测试假日"}, None)
    db.session.commit()
    unit = make_equipment()
    make_agreement(unit.customer, starts_on=friday, ends_on=friday + timedelta(days=364), maintenance_cycle_months=6)
    assert generate_maintenance(friday - timedelta(days=3)).created == 1
    db.session.commit()
    (request,) = _requests(db)
    # The Friday is a holiday and the weekend follows: due by Monday 18:00 at the site.
    monday = friday + timedelta(days=3)
    assert request.required_by == datetime.combine(monday, time(18, 0), tzinfo=clock.site_zone())
