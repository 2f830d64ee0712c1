"""Concurrent stock use on real PostgreSQL: row locks keep every level at or above zero, opposite transfers
never deadlock, and two deliveries of the same visit's parts take the stock once."""

import threading

import pytest
import sqlalchemy as sa

from fieldservice.auth.models import User
from fieldservice.core.errors import ApiError
from fieldservice.extensions import db as _db
from fieldservice.parts.models import StockMovement, VisitPart
from fieldservice.parts.stock import Move, location, move_stock, transfer_stock
from fieldservice.parts.visits import consume_visit_parts
from tests.test_parts.conftest import qty_at
from tests.test_parts.test_stock import assert_ledger_matches_levels

pytestmark = pytest.mark.postgres


def _race(app, n: int, work) -> list:
    """Run work(i) in n threads at once, each in its own app context (its own session and connection)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        with app.app_context():
            try:
                barrier.wait(10)
                results[i] = work(i)
                _db.session.commit()
            except ApiError as exc:
                _db.session.rollback()
                results[i] = exc.code
            except Exception as exc:  # noqa: BLE001 - reported below, never swallowed
                _db.session.rollback()
                results[i] = repr(exc)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_fifty_concurrent_uses_of_the_last_units_never_go_below_zero(app, db, manager, part, stock_van, van):
    stock_van(part, 7)
    manager_id, part_id, van_id = manager.id, part.id, van.id
    customer_site = location("customer").id
    db.session.commit()

    def use(_i):
        actor = _db.session.get(User, manager_id)
        move_stock([Move(part_id, 1, van_id, customer_site)], reason="use", actor=actor)
        return "used"

    results = _race(app, 50, use)
    assert results.count("used") == 7, results
    assert results.count("insufficient_stock") == 43, results
    db.session.expire_all()
    assert qty_at(van_id, part_id) == 0
    assert db.session.query(StockMovement).filter_by(reason="use").count() == 7
    assert_ledger_matches_levels(db)


def test_opposite_transfers_do_not_deadlock(app, db, manager, make_part, central, regional, receive):
    a, b = make_part(), make_part()
    for warehouse in (central, regional):
        for part in (a, b):
            receive(warehouse, part, 40)
    ids = (manager.id, central.id, regional.id, a.id, b.id)

    def transfer(i):
        manager_id, c_id, r_id, a_id, b_id = ids
        source, target = (c_id, r_id) if i % 2 else (r_id, c_id)
        lines = [{"part_id": a_id, "qty": 1}, {"part_id": b_id, "qty": 1}]
        if i % 3 == 0:
            lines.reverse()
        return (
            transfer_stock(
                {"from_warehouse_id": source, "to_warehouse_id": target, "lines": lines},
                _db.session.get(User, manager_id),
            )
            and "moved"
        )

    results = _race(app, 30, transfer)
    assert results == ["moved"] * 30, results
    db.session.expire_all()
    assert qty_at(central.id, a.id) + qty_at(regional.id, a.id) == 80
    assert_ledger_matches_levels(db)


def test_two_deliveries_of_one_visit_take_its_parts_once(app, db, engineer, assigned_request, part, stock_van, van):
    from fieldservice.requests import operations as rops
    from fieldservice.requests.models import ServiceRequest, Visit
    from tests.test_parts.conftest import visit_body

    stock_van(part, 5)
    body = visit_body([])
    from fieldservice.requests.schemas import VisitArgs

    visit = rops.record_visit(assigned_request, VisitArgs().load(body), engineer.user, assigned_request.version)
    db.session.commit()
    ids = (visit.id, assigned_request.id, engineer.user_id, part.id)

    def deliver(_i):
        visit_id, sr_id, user_id, part_id = ids
        rows = consume_visit_parts(
            _db.session.get(Visit, visit_id),
            _db.session.get(ServiceRequest, sr_id),
            [{"part_id": part_id, "qty": 2}],
            _db.session.get(User, user_id),
        )
        return len(rows)

    results = _race(app, 2, deliver)
    assert results == [1, 1], results
    db.session.expire_all()
    assert qty_at(van.id, part.id) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitPart)) == 1
    assert db.session.query(StockMovement).filter_by(reason="use").count() == 1
