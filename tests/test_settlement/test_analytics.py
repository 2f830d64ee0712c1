"""Settlement in the analytics dashboard: verification lead time and returned-for-correction rate, actual against
standard hours by engineer and repair item, the cost of verified visits only, and claim acceptance by supplier."""

from decimal import Decimal

from fieldservice.analytics import queries
from fieldservice.analytics.filters import Filters
from fieldservice.settlement import claims
from fieldservice.settlement import operations as ops
from fieldservice.settlement.models import Verification
from tests.test_settlement.test_claims import _period, two_visits, warranty_visit  # noqa: F401 - fixtures

D = Decimal


def _table(name: str, f: Filters | None = None) -> list[dict]:
    return queries.table(name, f or Filters())["rows"]


def test_verification_figures_by_engineer_count_the_returned_and_the_waiting(
    db, manager, engineer, make_item, warranty_visit  # noqa: F811
):
    hourly = make_item(standard_hours="1.00")
    clean = warranty_visit(items=[(hourly, 2)], hours="3.0", approve=False)
    returned = warranty_visit(items=[(hourly, 1)], hours="1.0", approve=False)
    waiting = warranty_visit(items=[(hourly, 1)], hours="1.0", approve=False)
    del waiting
    rows = {v.visit_id: v for v in db.session.query(Verification)}
    ops.perform_verification(rows[clean.id], "approve", manager, None)
    ops.perform_verification(rows[returned.id], "return", manager, None, "少录了一个项目")
    db.session.commit()
    ops.perform_verification(rows[returned.id], "resubmit", engineer.user, None)
    ops.perform_verification(rows[returned.id], "approve", manager, None)
    db.session.commit()
    [row] = _table("verification")
    assert (row["engineer"], row["visits"], row["verified"], row["waiting"]) == (engineer.name, 3, 2, 1)
    assert row["returned_rate"] == 33.3
    assert row["lead_hours"] is not None and row["lead_hours"] >= 0
    # Verified only: 2 + 1 standard hours against 3 + 1 worked.
    assert (row["standard_hours"], row["actual_hours"], row["actual_vs_standard"]) == (3.0, 4.0, 133.3)


def test_actual_hours_are_shared_among_a_visits_items_by_their_standard(db, manager, make_item, warranty_visit):  # noqa: F811
    short = make_item(standard_hours="1.00")
    long = make_item(standard_hours="3.00")
    visit = warranty_visit(items=[(short, 1), (long, 1)], hours="2.0", approve=False)
    warranty_visit(items=[(short, 1)], hours="9.0", approve=False)  # not verified: it does not count
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    ops.perform_verification(v, "approve", manager, None)
    db.session.commit()
    rows = {r["code"]: r for r in _table("repair_items")}
    assert set(rows) == {short.code, long.code}
    assert (rows[short.code]["standard_hours"], rows[short.code]["actual_hours"]) == (1.0, 0.5)
    assert (rows[long.code]["standard_hours"], rows[long.code]["actual_hours"]) == (3.0, 1.5)
    assert rows[long.code]["actual_vs_standard"] == 50.0


def test_the_cost_of_visits_counts_only_the_verified_ones(db, manager, make_item, warranty_visit):  # noqa: F811
    item = make_item(standard_hours="1.50")
    verified = warranty_visit(items=[(item, 1)], approve=False)
    warranty_visit(items=[(item, 4)], approve=False)
    v = db.session.query(Verification).filter_by(visit_id=verified.id).one()
    ops.perform_verification(v, "approve", manager, None)
    db.session.commit()
    [row] = _table("verified_costs")
    # 1.5 h at the standard rate of 120.00.
    assert row["visits"] == 1 and row["labour"] == 180.0 and row["total"] == 180.0


def test_claim_acceptance_by_supplier_in_the_dashboard(db, manager, two_visits, supplier):  # noqa: F811
    claim = claims.collect_claims(_period(), manager)[0]
    claims.perform_claim(claim, "submit", manager, claim.version)
    claims.perform_claim(claim, "reject", manager, claim.version, reason="不在厂家保修范围")
    db.session.commit()
    [row] = _table("claims_by_supplier")
    assert row == {"supplier": supplier.name, "claims": 1, "claimed": 804.0, "accepted": 0.0, "acceptance_rate": 0.0}
    from datetime import date

    assert _table("claims_by_supplier", Filters(since=date(2020, 1, 1), until=date(2020, 1, 31))) == []


def test_the_dashboard_shows_the_settlement_tables(console_as, api_as):
    page = console_as("manager").get("/analytics/").get_data(as_text=True)
    assert "按供应商的索赔接受率" in page and "核销" in page
    tables = [t["name"] for t in api_as("manager").get("/api/v1/analytics/dashboard").json["tables"]]
    assert {"verification", "repair_items", "verified_costs", "claims_by_supplier"} <= set(tables)
