"""Parts used on a visit come out of the van (once, however often the visit is delivered), the removed part
opens a return, and the return runs: shipped back → received → inspected (refurbished / scrapped) →
supplier claim."""

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from fieldservice.parts.models import ReturnOrder, SerialUnit, StockMovement, VisitPart
from fieldservice.parts.returns import open_return
from fieldservice.parts.visits import on_visit_recorded
from tests.test_parts.conftest import qty_at, visit_body


@pytest.fixture
def eng_api(api_as, engineer):
    return api_as(user=engineer.user)


def _visit(api, sr, parts, **kw):
    return api.post(f"/api/v1/requests/{sr.id}/visits", json=visit_body(parts, **kw))


def test_visit_takes_parts_from_the_van_and_opens_a_return(db, eng_api, assigned_request, part, stock_van, van):
    stock_van(part, 3)
    response = _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 2}])
    assert response.status_code == 201, response.get_json()
    assert qty_at(van.id, part.id) == 1
    rows = db.session.scalars(sa.select(VisitPart)).all()
    assert [(r.part_id, r.qty, r.unit_price) for r in rows] == [(part.id, 2, Decimal("180.00"))]
    order = db.session.scalar(sa.select(ReturnOrder))
    assert order.status == "opened" and order.qty == 2 and order.request_id == assigned_request.id
    # Equipment installed 100 days ago, part warranty 12 months: the old part failed inside the warranty.
    assert order.in_supplier_warranty
    reasons = sorted(
        m.reason for m in db.session.scalars(sa.select(StockMovement).where(StockMovement.visit_id == rows[0].visit_id))
    )
    assert reasons == ["removal", "use"]


def test_visit_with_more_parts_than_the_van_holds_is_refused_whole(db, eng_api, assigned_request, part, stock_van, van):
    stock_van(part, 1)
    response = _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 2}])
    assert response.status_code == 409
    body = response.get_json()["error"]
    assert body["code"] == "insufficient_stock" and "parts.0.qty" in body["fields"]
    assert qty_at(van.id, part.id) == 1
    db.session.expire_all()
    assert assigned_request.status == "assigned" and assigned_request.visit_count == 0
    assert db.session.query(VisitPart).count() == 0


def test_the_same_visit_delivered_twice_takes_stock_once(db, eng_api, assigned_request, part, stock_van, van):
    stock_van(part, 3)
    body = {"client_op_id": "6f1c2b1e-offline-visit"}
    first = _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 1}], **body)
    assert first.status_code == 201, first.get_json()
    second = _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 1}], **body)
    assert second.status_code in (200, 201)
    assert qty_at(van.id, part.id) == 2
    assert db.session.query(VisitPart).count() == 1
    assert db.session.query(ReturnOrder).count() == 1


def test_consume_is_idempotent_when_the_signal_runs_again(db, eng_api, assigned_request, part, stock_van, van):
    from fieldservice.requests.models import Visit

    stock_van(part, 3)
    assert _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 1}]).status_code == 201
    visit = db.session.scalar(sa.select(Visit))
    on_visit_recorded(visit, request=assigned_request, data={"parts": [{"part_id": part.id, "qty": 1}]})
    db.session.commit()
    assert qty_at(van.id, part.id) == 2
    assert db.session.query(StockMovement).filter_by(reason="use").count() == 1


def test_serial_tracked_part_records_old_and_new_serial(db, eng_api, assigned_request, serial_part, stock_van, van):
    stock_van(serial_part, 1, ["MB-100"])
    response = _visit(eng_api, assigned_request, [{"part_id": serial_part.id, "qty": 1}])
    assert response.status_code == 422
    assert {"parts.0.new_serial", "parts.0.old_serial"} <= set(response.get_json()["error"]["fields"])
    response = _visit(
        eng_api,
        assigned_request,
        [{"part_id": serial_part.id, "qty": 1, "new_serial": "MB-100", "old_serial": "MB-OLD-7"}],
    )
    assert response.status_code == 201, response.get_json()
    new = db.session.scalar(sa.select(SerialUnit).where(SerialUnit.serial == "MB-100"))
    old = db.session.scalar(sa.select(SerialUnit).where(SerialUnit.serial == "MB-OLD-7"))
    assert new.status == "installed" and new.equipment_id == assigned_request.equipment_id
    assert old.status == "returned" and old.condition == "faulty"
    assert db.session.scalar(sa.select(ReturnOrder)).serial == "MB-OLD-7"


def test_a_serial_not_in_the_van_is_refused(db, eng_api, assigned_request, serial_part, stock_van, van):
    stock_van(serial_part, 1, ["MB-100"])
    response = _visit(
        eng_api,
        assigned_request,
        [{"part_id": serial_part.id, "qty": 1, "new_serial": "MB-999", "old_serial": "MB-OLD"}],
    )
    assert response.status_code == 409
    assert "parts.0.new_serial" in response.get_json()["error"]["fields"]
    assert qty_at(van.id, serial_part.id) == 1


def _return_step(api, order_id, action, version, **body):
    response = api.post(f"/api/v1/returns/{order_id}/{action}", json={"version": version, **body})
    return response


def _opened_return(eng_api, assigned_request, part, stock_van):
    stock_van(part, 2)
    assert _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 2}]).status_code == 201
    return eng_api.get("/api/v1/returns").get_json()["items"][0]


def test_return_flow_refurbish_and_scrap_then_claim_accepted(
    db, api_as, eng_api, assigned_request, part, stock_van, central
):
    order = _opened_return(eng_api, assigned_request, part, stock_van)
    manager = api_as("manager")
    # The engineer holding the part ships it back; a dispatcher cannot.
    assert _return_step(api_as("dispatcher"), order["id"], "ship", order["version"]).status_code == 403
    assert _return_step(eng_api, order["id"], "receive", order["version"]).status_code == 403
    order = _return_step(eng_api, order["id"], "ship", order["version"], tracking_number="SF1234567890").get_json()
    assert order["status"] == "shipped_back" and order["tracking_number"] == "SF1234567890"
    order = _return_step(manager, order["id"], "receive", order["version"]).get_json()
    assert order["status"] == "received" and order["receiving_warehouse_id"] == central.id

    bad = _return_step(manager, order["id"], "inspect", order["version"], refurbished_qty=1, scrapped_qty=0)
    assert bad.status_code == 422 and "refurbished_qty" in bad.get_json()["error"]["fields"]
    before = qty_at(central.id, part.id)
    order = _return_step(
        manager,
        order["id"],
        "inspect",
        order["version"],
        refurbished_qty=1,
        scrapped_qty=1,
        note="一支可翻新",
    ).get_json()
    assert order["status"] == "inspected" and order["claim"]["status"] == "submitted"
    assert qty_at(central.id, part.id) == before + 1

    claim = manager.get(f"/api/v1/supplier-claims/{order['claim']['id']}").get_json()
    assert claim["claimed_amount"] == "360.00"
    too_much = manager.post(
        f"/api/v1/supplier-claims/{claim['id']}/accept",
        json={"version": claim["version"], "amount": "999.00"},
    )
    assert too_much.status_code == 422
    claim = manager.post(
        f"/api/v1/supplier-claims/{claim['id']}/accept",
        json={"version": claim["version"], "amount": "300.00"},
    ).get_json()
    assert claim["status"] == "accepted" and claim["accepted_amount"] == "300.00"
    assert api_as("dispatcher").get("/api/v1/supplier-claims").status_code == 403


def test_claim_rejected_with_reason(db, api_as, eng_api, assigned_request, part, stock_van, central):
    order = _opened_return(eng_api, assigned_request, part, stock_van)
    manager = api_as("manager")
    for action, body in (("ship", {}), ("receive", {}), ("inspect", {"scrapped_qty": 2, "claim": False})):
        order = _return_step(manager, order["id"], action, order["version"], **body).get_json()
    assert order["claim"] is None
    response = manager.post(f"/api/v1/returns/{order['id']}/claim", json={"version": order["version"]})
    assert response.status_code == 201
    claim = response.get_json()
    assert manager.post(f"/api/v1/returns/{order['id']}/claim", json={"version": order["version"]}).status_code == 409
    no_reason = manager.post(f"/api/v1/supplier-claims/{claim['id']}/reject", json={"version": claim["version"]})
    assert no_reason.status_code == 422
    claim = manager.post(
        f"/api/v1/supplier-claims/{claim['id']}/reject",
        json={"version": claim["version"], "reason": "人为损坏，不在保修范围"},
    ).get_json()
    assert claim["status"] == "rejected"
    again = manager.post(
        f"/api/v1/supplier-claims/{claim['id']}/accept", json={"version": claim["version"], "amount": "1.00"}
    )
    assert again.status_code == 409
    assert qty_at(central.id, part.id) == 0
    assert db.session.query(StockMovement).filter_by(reason="scrap").one().qty == 2


def test_out_of_warranty_return_gets_no_claim(db, api_as, manager, central, make_part, receive):
    part = make_part(supplier_warranty_months=0)
    receive(central, part, 2)
    order = open_return(
        {"part_id": part.id, "qty": 1, "warehouse_id": central.id, "fault_description": "外壳开裂"}, manager
    )
    db.session.commit()
    api = api_as("manager")
    body = api.get(f"/api/v1/returns/{order.id}").get_json()
    for action, extra in (("ship", {}), ("receive", {}), ("inspect", {"scrapped_qty": 1})):
        body = _return_step(api, order.id, action, body["version"], **extra).get_json()
    assert body["claim"] is None
    response = api.post(f"/api/v1/returns/{order.id}/claim", json={"version": body["version"]})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "outside_supplier_warranty"
    assert qty_at(central.id, part.id) == 1


def test_engineer_sees_only_own_returns(api_as, eng_api, make_engineer, assigned_request, part, stock_van):
    order = _opened_return(eng_api, assigned_request, part, stock_van)
    other = api_as(user=make_engineer(name="赵工").user)
    assert other.get("/api/v1/returns").get_json()["total"] == 0
    assert other.get(f"/api/v1/returns/{order['id']}").status_code == 403
    assert _return_step(other, order["id"], "ship", order["version"]).status_code == 403


def test_my_van_for_the_pwa(eng_api, part, stock_van, van):
    stock_van(part, 2)
    body = eng_api.get("/api/v1/engineers/me/van").get_json()
    assert body["warehouse"]["id"] == van.id
    assert [(line["part"]["id"], line["qty"]) for line in body["stock"]] == [(part.id, 2)]
    assert part.id in [p["id"] for p in body["catalog"]]


def test_the_app_alone_connects_the_visit_parts_subscriber():
    # A fresh interpreter: here the test modules import parts.visits themselves, which would hide a lost
    # subscription.
    script = (
        "from fieldservice import create_app\n"
        "create_app({'TESTING': True, 'DATABASE_URL': 'sqlite://', 'REDIS_URL': None})\n"
        "from fieldservice.requests import signals\n"
        "print(sorted(f'{r.__module__}.{r.__name__}' for r in signals.visit_recorded.receivers_for(object())))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parents[2], check=True
    )
    assert "fieldservice.parts.visits.on_visit_recorded" in result.stdout


def test_the_charges_count_the_parts_the_visit_used(db, api_as, eng_api, assigned_request, part, stock_van):
    """The request's charges read the parts recorded on the visit, at the price they had when used."""
    stock_van(part, 3)
    assert _visit(eng_api, assigned_request, [{"part_id": part.id, "qty": 2}]).status_code == 201
    charges = api_as("dispatcher").get(f"/api/v1/requests/{assigned_request.id}/charges").get_json()
    lines = [line for visit in charges["visits"] for line in visit["lines"]]
    assert {"label": part.name, "qty": "2", "unit_price": "180.00", "amount": "360.00"}.items() <= next(
        line for line in lines if line["label"] == part.name
    ).items()
