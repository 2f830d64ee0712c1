"""The repair items done on a visit: recorded with the visit, priced by the standard, overruns flagged."""

from decimal import Decimal as D

from fieldservice.billing.charges import compute_charges
from fieldservice.settlement.models import Verification
from fieldservice.settlement.operations import STANDARD_LABOUR_RATE


def test_items_sent_with_the_visit_are_recorded_with_their_standard(api_as, make_item, resolved_visit, engineer):
    filter_change = make_item(standard_hours="0.50")
    visit = resolved_visit(items=[(filter_change, 2)], hours="1.0")
    answer = api_as(user=engineer.user).get(f"/api/v1/visits/{visit.id}/items").json
    assert [(i["code"], i["quantity"], i["standard_hours"]) for i in answer["items"]] == [
        (filter_change.code, 2, "0.50")
    ]
    assert (answer["standard_hours"], answer["actual_hours"], answer["overrun"]) == ("1.00", "1.00", False)
    assert answer["verification"] == "pending"


def test_labour_is_charged_from_the_items_not_the_hours_worked(make_item, resolved_visit):
    hourly = make_item(standard_hours="1.25")
    fixed = make_item(pricing="fixed", fixed_price="88.00", standard_hours="0.30")
    visit = resolved_visit(items=[(hourly, 2), (fixed, 1)], hours="4.0")
    charges = compute_charges(visit, part_lines=[])
    labour = [line for line in charges.lines if line.label.startswith("WP-")]
    assert [(line.qty, line.unit_price, line.amount) for line in labour] == [
        (D("2.50"), STANDARD_LABOUR_RATE, D("2.5") * STANDARD_LABOUR_RATE),
        (D("1"), D("88.00"), D("88.00")),
    ]
    # The 4 hours worked stay on the visit, but are not what is charged.
    assert visit.labour_hours == D("4.00")
    assert not any(line.qty == D("4.00") for line in charges.lines)


def test_without_items_labour_falls_back_to_the_hours(resolved_visit):
    visit = resolved_visit(hours="2.0")
    assert compute_charges(visit, part_lines=[]).lines[0].qty == D("2.00")


def test_a_visit_over_the_standard_times_the_factor_is_flagged(app, db, make_item, resolved_visit):
    item = make_item(standard_hours="1.00")
    visit = resolved_visit(items=[(item, 1)], hours="1.6")
    assert db.session.query(Verification).filter_by(visit_id=visit.id).one().overrun is True


def test_the_factor_is_configurable(app, db, make_item, resolved_visit):
    app.config["SETTLEMENT_OVERRUN_FACTOR"] = "2"
    try:
        item = make_item(standard_hours="1.00")
        visit = resolved_visit(items=[(item, 1)], hours="1.6")
        assert db.session.query(Verification).filter_by(visit_id=visit.id).one().overrun is False
    finally:
        app.config.pop("SETTLEMENT_OVERRUN_FACTOR")


def test_an_item_of_another_category_or_inactive_is_refused(api_as, make_item, engineer, assigned_request):
    from tests.test_settlement.conftest import visit_body

    other = make_item(category="elevator")
    retired = make_item(active=False)
    body = visit_body([], items=[{"repair_item_id": other.id}, {"repair_item_id": retired.id}])
    response = api_as(user=engineer.user).post(f"/api/v1/requests/{assigned_request.id}/visits", json=body)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"items.0.repair_item_id", "items.1.repair_item_id"}


def test_the_engineer_changes_the_items_and_it_is_on_the_timeline(api_as, make_item, resolved_visit, engineer):
    a, b = make_item(), make_item(standard_hours="2.00")
    visit = resolved_visit(items=[(a, 1)])
    api = api_as(user=engineer.user)
    response = api.put(f"/api/v1/visits/{visit.id}/items", json={"items": [{"repair_item_id": b.id}]})
    assert response.status_code == 200
    assert response.json["standard_hours"] == "2.00"
    events = api.get(f"/api/v1/requests/{visit.request_id}/events").json
    assert any(e["action"] == "visit_items" and b.code in (e["note"] or "") for e in events)


def test_another_engineer_may_not_change_the_items(api_as, make_item, resolved_visit, make_engineer):
    visit = resolved_visit(items=[(make_item(), 1)])
    other = make_engineer(skills=("water_purifier",))
    response = api_as(user=other.user).put(f"/api/v1/visits/{visit.id}/items", json={"items": []})
    assert response.status_code in (403, 404)


def test_a_bad_overrun_factor_stops_the_app_at_start(monkeypatch):
    import pytest

    from fieldservice.config import load_config

    monkeypatch.setenv("SETTLEMENT_OVERRUN_FACTOR", "abc")
    with pytest.raises(RuntimeError, match="SETTLEMENT_OVERRUN_FACTOR"):
        load_config("/tmp", {"SECRET_KEY": "x"})
    monkeypatch.setenv("SETTLEMENT_OVERRUN_FACTOR", "2")
    assert load_config("/tmp", {"SECRET_KEY": "x"})["SETTLEMENT_OVERRUN_FACTOR"] == "2"
