"""Engineers' statements: the verified visits of a month, amounts by kind (exact Decimal), draft -> issued and
frozen, issuing twice refused, corrections as adjustment lines in a later period, CSV and PDF, own statements."""

from datetime import timedelta
from decimal import Decimal as D

import pytest

from fieldservice.core.clock import local_date
from fieldservice.core.models import utcnow
from fieldservice.settlement import operations as ops
from fieldservice.settlement.models import Verification
from fieldservice.settlement.operations import STANDARD_LABOUR_RATE


def _approve(db, visit, manager):
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    ops.perform_verification(v, "approve", manager, v.version)
    db.session.commit()
    return v


def _period(months_back: int = 0) -> str:
    day = local_date(utcnow())
    year, month = day.year, day.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return f"{year}-{month:02d}"


@pytest.fixture
def verified_visit(db, make_item, resolved_visit, manager):
    def make():
        hourly = make_item(standard_hours="1.25")
        fixed = make_item(pricing="fixed", fixed_price="88.10")
        visit = resolved_visit(items=[(hourly, 2), (fixed, 1)], hours="3.0")
        visit.costs.append(_cost())
        db.session.commit()
        _approve(db, visit, manager)
        return visit

    return make


def _cost():
    from fieldservice.requests.models import VisitCost

    return VisitCost(kind="toll", amount=D("12.35"))


def test_a_statement_counts_the_verified_visits_by_kind_exactly(api_as, verified_visit, engineer):
    verified_visit()
    response = api_as("manager").post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()})
    assert response.status_code == 201, response.json
    s = response.json
    labour = D("2.50") * STANDARD_LABOUR_RATE + D("88.10")
    assert (s["visits"], s["standard_hours"], s["actual_hours"]) == (1, "3.50", "3.00")
    assert D(s["labour_amount"]) == labour
    assert (s["parts_amount"], s["costs_amount"]) == ("0.00", "12.35")
    assert D(s["total"]) == labour + D("12.35")
    assert s["status"] == "draft" and s["lines"][0]["items"].count("×") == 2


def test_unverified_visits_do_not_count(api_as, make_item, resolved_visit, engineer):
    resolved_visit(items=[(make_item(), 1)])
    s = api_as("manager").post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    assert (s["visits"], s["total"]) == (0, "0.00")


def test_a_visit_verified_in_another_month_is_not_in_this_one(api_as, verified_visit, engineer, db):
    visit = verified_visit()
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    v.decided_at = utcnow() - timedelta(days=62)
    db.session.commit()
    s = api_as("manager").post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    assert s["visits"] == 0


def test_issued_is_frozen_and_issuing_twice_is_refused(api_as, verified_visit, engineer):
    verified_visit()
    api = api_as("manager")
    draft = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    issued = api.post(f"/api/v1/statements/{draft['id']}/issue", json={"version": draft["version"]})
    assert issued.status_code == 200
    assert issued.json["status"] == "issued" and issued.json["number"].startswith("ST-")
    twice = api.post(f"/api/v1/statements/{draft['id']}/issue", json={"version": issued.json["version"]})
    assert twice.status_code == 409
    rebuilt = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()})
    assert rebuilt.status_code == 409 and rebuilt.json["error"]["code"] == "statement_issued"


def test_a_correction_is_an_adjustment_line_in_a_later_period(api_as, verified_visit, engineer, db):
    verified_visit()
    api = api_as("manager")
    earlier = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    earlier = api.post(f"/api/v1/statements/{earlier['id']}/issue", json={"version": earlier["version"]}).json
    # Back-date the issued one a month so that this month's draft is the later period.
    from fieldservice.settlement.models import Statement

    db.session.get(Statement, earlier["id"]).period = _period(1)
    db.session.commit()
    later = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    body = {"corrects_id": earlier["id"], "amount": "-30.05", "note": "过路费重复报销"}
    line = api.post(f"/api/v1/statements/{later['id']}/adjustments", json=body)
    assert line.status_code == 201 and line.json["amount"] == "-30.05"
    later = api.get(f"/api/v1/statements/{later['id']}").json
    assert later["adjustments_amount"] == "-30.05"
    assert D(later["total"]) == D(later["labour_amount"]) + D(later["costs_amount"]) - D("30.05")
    # The issued statement itself is untouched.
    assert api.get(f"/api/v1/statements/{earlier['id']}").json["total"] == earlier["total"]
    same_period = api.post(f"/api/v1/statements/{earlier['id']}/adjustments", json=body)
    assert same_period.status_code in (409, 422)


def test_csv_and_pdf(api_as, verified_visit, engineer):
    verified_visit()
    api = api_as("manager")
    s = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    csv_text = api.get(f"/api/v1/statements/{s['id']}.csv").data.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("kind,request")
    assert s["total"] in csv_text
    pdf = api.get(f"/api/v1/statements/{s['id']}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_an_engineer_sees_only_their_own(api_as, verified_visit, engineer, make_engineer):
    verified_visit()
    s = api_as("manager").post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    assert [x["id"] for x in api_as(user=engineer.user).get("/api/v1/statements").json["items"]] == [s["id"]]
    other = api_as(user=make_engineer().user)
    assert other.get("/api/v1/statements").json["items"] == []
    assert other.get(f"/api/v1/statements/{s['id']}").status_code == 404
    assert other.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).status_code == 403


def test_a_bad_period_is_a_422(api_as, engineer):
    response = api_as("manager").post("/api/v1/statements", json={"engineer_id": engineer.id, "period": "2026-13"})
    assert response.status_code == 422 and "period" in response.json["error"]["fields"]


def test_parts_count_and_a_visit_without_items_is_paid_on_its_hours(
    api_as, resolved_visit, engineer, db, manager, part, stock_van
):
    stock_van(part, 3)
    visit = resolved_visit(hours="1.50", parts=[{"part_id": part.id, "qty": 2}])
    _approve(db, visit, manager)
    s = api_as("manager").post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    assert D(s["labour_amount"]) == D("1.5") * STANDARD_LABOUR_RATE
    assert s["parts_amount"] == "360.00" and s["standard_hours"] == "0.00"
    assert D(s["total"]) == D("1.5") * STANDARD_LABOUR_RATE + D("360.00")


def test_remaking_a_draft_replaces_its_visit_lines(api_as, verified_visit, engineer, db):
    verified_visit()
    api = api_as("manager")
    first = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    again = api.post("/api/v1/statements", json={"engineer_id": engineer.id, "period": _period()}).json
    assert again["id"] == first["id"] and len(again["lines"]) == 1 and again["total"] == first["total"]
