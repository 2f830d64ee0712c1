"""A small history whose every figure is counted by hand in the tests (see the table in `history`)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from fieldservice.core.models import utcnow


@pytest.fixture
def history(db, make_customer, make_product, make_engineer, make_user):
    """Five requests, base = ten days ago at the full hour:

    r1  浦东  P1 water_purifier  leak     prio 1  E1, accept +10 min, solved 1st visit +2 h, survey 5/5/5 ok
    r2  浦东  P1 water_purifier  leak     prio 3  E1, accept +40 min, unsolved, E1 again, solved +5 h,
                                                  survey 3/4/5 satisfied (a low score)
    r3  徐汇  P2 printer         install  prio 2  waiting for an engineer (logged base + 1 day)
    r4  徐汇  P1 water_purifier  leak     prio 3  cancelled (logged base + 1 day)
    r5  浦东  P1 water_purifier  leak     prio 3  logged 40 days before base, waiting
    """
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType

    db.session.add_all(
        [
            ProblemType(code="leak", name_zh="漏水", name_en="Leak", category="repair"),
            ProblemType(code="install", name_zh="新机安装", name_en="Installation", category="installation"),
        ]
    )
    a = make_customer(zone="浦东")
    b = make_customer(zone="徐汇")
    p1 = make_product(category="water_purifier")
    p2 = make_product(category="printer")
    e1 = make_engineer(skills=["water_purifier", "printer"], name="张师傅")
    dispatcher, callback = make_user("dispatcher"), make_user("callback")
    base = (utcnow() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)

    def create(customer, product, problem, priority, at):
        sr = ops.create_request(
            {
                "customer_id": customer.id,
                "product_id": product.id,
                "problem_type": problem,
                "priority": priority,
                "description": "测试",
                "required_by": at + timedelta(days=20),
            },
            dispatcher,
            now=at,
        )
        db.session.commit()
        return sr

    def visit(sr, outcome, arrived, finished):
        ops.record_visit(
            sr,
            {"outcome": outcome, "arrived_at": arrived, "finished_at": finished, "labour_hours": 1},
            e1.user,
            now=finished,
        )
        db.session.commit()

    def act(sr, action, actor, at, **payload):
        ops.perform(sr, action, actor, sr.version, now=at, **payload)
        db.session.commit()

    r1 = create(a, p1, "leak", 1, base)
    act(r1, "assign", dispatcher, base + timedelta(minutes=5), engineer_id=e1.id)
    act(r1, "accept", e1.user, base + timedelta(minutes=10))
    visit(r1, "resolved", base + timedelta(hours=1), base + timedelta(hours=2))
    act(
        r1,
        "revisit",
        callback,
        base + timedelta(days=1),
        satisfied=True,
        scores={"timeliness": 5, "attitude": 5, "quality": 5},
    )

    r2 = create(a, p1, "leak", 3, base)
    act(r2, "assign", dispatcher, base + timedelta(minutes=5), engineer_id=e1.id)
    act(r2, "accept", e1.user, base + timedelta(minutes=40))
    visit(r2, "unresolved", base + timedelta(hours=1), base + timedelta(hours=2))
    act(r2, "assign", dispatcher, base + timedelta(hours=3), engineer_id=e1.id)
    visit(r2, "resolved", base + timedelta(hours=4), base + timedelta(hours=5))
    act(
        r2,
        "revisit",
        callback,
        base + timedelta(days=1),
        satisfied=True,
        scores={"timeliness": 3, "attitude": 4, "quality": 5},
    )

    r3 = create(b, p2, "install", 2, base + timedelta(days=1))
    r4 = create(b, p1, "leak", 3, base + timedelta(days=1))
    act(r4, "cancel", dispatcher, base + timedelta(days=1, hours=1), reason="客户撤回")
    r5 = create(a, p1, "leak", 3, base - timedelta(days=40))
    return {
        "base": base,
        "requests": [r1, r2, r3, r4, r5],
        "e1": e1,
        "p1": p1,
        "p2": p2,
        "a": a,
        "b": b,
        "visit_of_r1": r1.visits[0],
    }


@pytest.fixture
def parts_history(db, history):
    """Parts on r1's visit: 2 x F-1 used; one F-1 returned (refurbished) and claimed (120.00, accepted
    100.00); one F-2 returned from stock (no request) and scrapped."""
    from fieldservice.parts.models import Part, ReturnOrder, Supplier, SupplierClaim, VisitPart, Warehouse

    supplier = Supplier(name="滤芯供应商")
    van = Warehouse(code="VAN-T", name="测试车", kind="van", engineer_id=history["e1"].id)
    f1 = Part(part_number="F-1", name="滤芯", category="water_purifier", unit_price=Decimal("60"))
    f2 = Part(part_number="F-2", name="水泵", category="water_purifier", unit_price=Decimal("300"))
    db.session.add_all([supplier, van, f1, f2])
    db.session.flush()
    r1 = history["requests"][0]
    visit = history["visit_of_r1"]
    db.session.add(
        VisitPart(visit_id=visit.id, line_no=1, part_id=f1.id, qty=2, unit_price=Decimal("60"), warehouse_id=van.id)
    )
    ro1 = ReturnOrder(
        number="RO-T-1",
        part_id=f1.id,
        qty=1,
        request_id=r1.id,
        visit_id=visit.id,
        source_warehouse_id=van.id,
        refurbished_qty=1,
        status="inspected",
    )
    ro2 = ReturnOrder(
        number="RO-T-2", part_id=f2.id, qty=1, source_warehouse_id=van.id, scrapped_qty=1, status="inspected"
    )
    db.session.add_all([ro1, ro2])
    db.session.flush()
    db.session.add(
        SupplierClaim(
            number="SC-T-1",
            return_order_id=ro1.id,
            supplier_id=supplier.id,
            part_id=f1.id,
            qty=1,
            claimed_amount=Decimal("120.00"),
            accepted_amount=Decimal("100.00"),
            status="accepted",
        )
    )
    db.session.commit()
    return history
