"""The demo set: a repair-item catalog per category, items on the resolved visits, verification at every step."""

import sqlalchemy as sa

from fieldservice.cli import seed_all
from fieldservice.settlement import demo
from fieldservice.settlement.models import RepairItem, Statement, Verification, VisitItem


def test_demo_seeds_the_catalog_items_on_visits_and_every_verification_state(db):
    assert seed_all()
    assert db.session.query(RepairItem).count() == len(demo.REPAIR_ITEMS)
    states = set(db.session.scalars(sa.select(Verification.status).distinct()))
    assert states == {"pending", "approved", "returned"}
    assert db.session.query(VisitItem).count() > 0
    assert db.session.query(Statement).filter_by(status="draft").count() > 0
    returned = db.session.query(Verification).filter_by(status="returned").one()
    assert returned.reason


def test_demo_names_manufacturers_and_claims_the_warranty_work(db):
    from fieldservice.settlement import claims
    from fieldservice.settlement.models import ProductManufacturer, WarrantyClaim

    assert seed_all()
    assert db.session.query(ProductManufacturer).count() > 0
    for claim in db.session.query(WarrantyClaim):
        assert claims.reconcile(claim)["balanced"]
