"""Parts fixtures: a central warehouse, suppliers and parts, an engineer with a van, stock received through
the operations (never inserted), and a service request assigned to the engineer for visit tests."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.core.models import utcnow
from fieldservice.parts.catalog import create_part, create_supplier
from fieldservice.parts.stock import create_warehouse, ensure_van, receive_stock, transfer_stock


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def central(db, manager):
    warehouse = create_warehouse({"code": "CENTRAL", "name": "上海中心仓", "kind": "central"}, manager)
    db.session.commit()
    return warehouse


@pytest.fixture
def regional(db, manager):
    warehouse = create_warehouse({"code": "SZ", "name": "苏州分仓", "kind": "regional"}, manager)
    db.session.commit()
    return warehouse


@pytest.fixture
def supplier(db, manager):
    s = create_supplier({"name": "苏州恒通滤材有限公司", "contact": "王经理", "phone": "0512-66880000"}, manager)
    db.session.commit()
    return s


@pytest.fixture
def make_part(db, manager, supplier):
    counter = iter(range(1, 10_000))

    def make(**kw):
        n = next(counter)
        data = {
            "part_number": f"P-{n:04d}",
            "name": f"RO反渗透膜{n}",
            "category": "water_purifier",
            "unit_price": "180.00",
            "supplier_id": supplier.id,
            "supplier_warranty_months": 12,
            "reorder_threshold": 2,
            **kw,
        }
        part = create_part(data, manager)
        db.session.commit()
        return part

    return make


@pytest.fixture
def part(make_part):
    return make_part()


@pytest.fixture
def serial_part(make_part):
    return make_part(name="主控板", unit_price="650.00", serial_tracked=True, reorder_threshold=1)


@pytest.fixture
def receive(db, manager):
    """receive(warehouse, part, qty, serials=None): goods in through the operation."""

    def do(warehouse, part, qty, serials=None):
        movements = receive_stock(
            {
                "warehouse_id": warehouse.id,
                "lines": [{"part_id": part.id, "qty": qty, "serials": serials or []}],
            },
            manager,
        )
        db.session.commit()
        return movements

    return do


@pytest.fixture
def engineer(make_engineer):
    return make_engineer(skills=("water_purifier",), name="张工")


@pytest.fixture
def van(db, engineer):
    v = ensure_van(engineer)
    db.session.commit()
    return v


@pytest.fixture
def stock_van(db, manager, van, central, receive):
    """stock_van(part, qty, serials=None): receive centrally, then transfer into the engineer's van."""

    def do(part, qty, serials=None):
        receive(central, part, qty, serials)
        transfer_stock(
            {
                "from_warehouse_id": central.id,
                "to_warehouse_id": van.id,
                "lines": [{"part_id": part.id, "qty": qty, "serials": serials or []}],
            },
            manager,
        )
        db.session.commit()

    return do


def qty_at(warehouse_id: int, part_id: int) -> int:
    from fieldservice.extensions import db
    from fieldservice.parts.models import StockLevel

    return (
        db.session.scalar(
            sa.select(StockLevel.qty).where(StockLevel.warehouse_id == warehouse_id, StockLevel.part_id == part_id)
        )
        or 0
    )


@pytest.fixture
def assigned_request(db, make_user, engineer, make_equipment):
    """A service request assigned to the engineer, on equipment installed a year ago."""
    from fieldservice.customers.models import Product
    from fieldservice.requests import operations as rops
    from fieldservice.requests.models import ProblemType

    db.session.add(ProblemType(code="no_water", name_zh="不出水", name_en="No water", category="repair"))
    dispatcher = make_user("dispatcher")
    equipment = make_equipment(installed_on=(utcnow() - timedelta(days=100)).date())
    product = db.session.get(Product, equipment.product_id)
    sr = rops.create_request(
        {
            "customer_id": equipment.customer_id,
            "product_id": product.id,
            "equipment_id": equipment.id,
            "problem_type": "no_water",
            "description": "净水器不出水",
            "priority": 3,
            "required_by": utcnow() + timedelta(days=2),
        },
        dispatcher,
    )
    db.session.commit()
    rops.perform(sr, "assign", dispatcher, sr.version, engineer_id=engineer.id)
    db.session.commit()
    return sr


def visit_body(parts, outcome="resolved", **kw):
    now = utcnow()
    return {
        "outcome": outcome,
        "arrived_at": (now - timedelta(seconds=30)).isoformat(),
        "finished_at": now.isoformat(),
        "labour_hours": "1.0",
        "solution": "更换RO膜",
        "parts": parts,
        **kw,
    }
