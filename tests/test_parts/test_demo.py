import random

import sqlalchemy as sa

from fieldservice.parts import demo
from fieldservice.parts.models import Part, PartRequest, ReturnOrder, SupplierClaim, Warehouse
from fieldservice.parts.states import PART_REQUEST_STATUS_LABELS, RETURN_STATUS_LABELS
from tests.test_parts.test_stock import assert_ledger_matches_levels


def test_demo_seeds_stock_vans_and_every_step(db, make_user, make_product, make_engineer):
    products = [make_product(category=c) for c in ("water_purifier", "air_conditioner", "elevator")]
    engineers = [make_engineer(skills=["water_purifier", "air_conditioner"]) for _ in range(3)]
    engineers.append(make_engineer(skills=["elevator"]))
    context = {
        "users": {"manager": make_user("manager"), "dispatcher": make_user("dispatcher")},
        "products": products,
        "engineers": engineers,
    }
    demo.seed(random.Random(20261123), context)
    db.session.commit()
    assert db.session.query(Part).count() == len(demo.PARTS)
    ro_400 = db.session.scalar(sa.select(Part).where(Part.part_number == "WP-RO-400"))
    assert ro_400.product_ids == [products[0].id]
    assert db.session.query(Warehouse).filter_by(kind="van").count() == len(engineers)
    assert {pr.status for pr in db.session.query(PartRequest)} == set(PART_REQUEST_STATUS_LABELS)
    assert {ro.status for ro in db.session.query(ReturnOrder)} == set(RETURN_STATUS_LABELS)
    assert {c.status for c in db.session.query(SupplierClaim)} == {"submitted", "accepted", "rejected"}
    assert_ledger_matches_levels(db)
