"""Part requests through the API: apply → approve → ship → sign (and reject, cancel), each role boundary, the
ledger of each step, 409 on stale versions and illegal steps, 422 on bad input with nothing changed."""

import pytest

from fieldservice.parts.models import PartRequest, StockMovement
from fieldservice.parts.stock import ensure_van
from tests.test_parts.conftest import qty_at


@pytest.fixture
def eng_api(api_as, engineer):
    return api_as(user=engineer.user)


def _apply(api, part, qty=2, **extra):
    response = api.post("/api/v1/part-requests", json={"lines": [{"part_id": part.id, "qty": qty}], **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_full_flow_moves_stock_central_to_transit_to_van(db, api_as, eng_api, central, part, receive, van):
    receive(central, part, 5)
    manager = api_as("manager")
    pr = _apply(eng_api, part, 2, note="明天上门要用")
    assert pr["status"] == "applied" and pr["target_warehouse_id"] == van.id

    pr = manager.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]}).get_json()
    assert pr["status"] == "approved"
    response = manager.post(f"/api/v1/part-requests/{pr['id']}/ship", json={"version": pr["version"]})
    assert response.status_code == 200, response.get_json()
    pr = response.get_json()
    assert pr["status"] == "shipped" and pr["source_warehouse_id"] == central.id
    assert qty_at(central.id, part.id) == 3 and qty_at(van.id, part.id) == 0

    response = eng_api.post(f"/api/v1/part-requests/{pr['id']}/sign", json={"version": pr["version"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "signed"
    assert qty_at(van.id, part.id) == 2
    reasons = [m.reason for m in db.session.query(StockMovement).filter_by(part_request_id=pr["id"])]
    assert sorted(reasons) == ["ship", "sign"]
    events = eng_api.get(f"/api/v1/part-requests/{pr['id']}/events").get_json()
    assert [e["action"] for e in events] == ["apply", "approve", "ship", "sign"]
    assert events[-1]["from_status"] == "shipped" and events[-1]["to_status"] == "signed"


def test_engineer_cannot_approve_or_ship(api_as, eng_api, central, part, receive, van):
    receive(central, part, 5)
    pr = _apply(eng_api, part)
    for action in ("approve", "ship", "reject"):
        response = eng_api.post(
            f"/api/v1/part-requests/{pr['id']}/{action}", json={"version": pr["version"], "reason": "x"}
        )
        assert response.status_code == 403, action
    dispatcher = api_as("dispatcher")
    assert (
        dispatcher.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]}).status_code == 403
    )
    assert api_as("callback").get("/api/v1/part-requests").status_code == 403


def test_only_the_receiving_engineer_signs(db, api_as, eng_api, make_engineer, central, part, receive, van):
    receive(central, part, 5)
    manager = api_as("manager")
    pr = _apply(eng_api, part)
    pr = manager.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]}).get_json()
    pr = manager.post(f"/api/v1/part-requests/{pr['id']}/ship", json={"version": pr["version"]}).get_json()
    other = api_as(user=make_engineer(name="李工").user)
    response = other.post(f"/api/v1/part-requests/{pr['id']}/sign", json={"version": pr["version"]})
    assert response.status_code == 403
    assert other.get(f"/api/v1/part-requests/{pr['id']}").status_code == 403
    assert other.get("/api/v1/part-requests").get_json()["total"] == 0
    assert qty_at(van.id, part.id) == 0


def test_reject_needs_a_reason_and_is_final(api_as, eng_api, part, van):
    manager = api_as("manager")
    pr = _apply(eng_api, part)
    response = manager.post(f"/api/v1/part-requests/{pr['id']}/reject", json={"version": pr["version"]})
    assert response.status_code == 422 and "reason" in response.get_json()["error"]["fields"]
    assert manager.get(f"/api/v1/part-requests/{pr['id']}").get_json()["status"] == "applied"
    pr = manager.post(
        f"/api/v1/part-requests/{pr['id']}/reject",
        json={"version": pr["version"], "reason": "库存紧张，先用旧件"},
    ).get_json()
    assert pr["status"] == "rejected" and pr["reject_reason"] == "库存紧张，先用旧件"
    response = manager.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "illegal_transition"


def test_cancel_by_applicant_not_by_another_engineer(api_as, eng_api, part, van):
    pr = _apply(eng_api, part)
    dispatcher = api_as("dispatcher")
    assert (
        dispatcher.post(f"/api/v1/part-requests/{pr['id']}/cancel", json={"version": pr["version"]}).status_code == 403
    )
    pr = eng_api.post(
        f"/api/v1/part-requests/{pr['id']}/cancel",
        json={"version": pr["version"], "reason": "客户已自行更换"},
    ).get_json()
    assert pr["status"] == "cancelled"


def test_stale_version_is_409_and_changes_nothing(api_as, eng_api, central, part, receive, van):
    receive(central, part, 5)
    manager = api_as("manager")
    pr = _apply(eng_api, part)
    approved = manager.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]}).get_json()
    response = manager.post(f"/api/v1/part-requests/{pr['id']}/ship", json={"version": pr["version"]})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "stale_version"
    assert qty_at(central.id, part.id) == 5
    assert manager.get(f"/api/v1/part-requests/{pr['id']}").get_json()["version"] == approved["version"]


def test_ship_without_stock_is_409_and_moves_nothing(db, api_as, eng_api, central, part, receive, van):
    receive(central, part, 1)
    manager = api_as("manager")
    pr = _apply(eng_api, part, 3)
    pr = manager.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]}).get_json()
    response = manager.post(f"/api/v1/part-requests/{pr['id']}/ship", json={"version": pr["version"]})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock" and error["available"] == 1 and error["requested"] == 3
    assert qty_at(central.id, part.id) == 1
    assert db.session.get(PartRequest, pr["id"]).status == "approved"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"part_id": 999999, "qty": 1}]}, "lines.0.part_id"),
        ({"lines": [{"part_id": "x", "qty": 1}]}, "lines"),
        ({"lines": [{"qty": 0}]}, "lines"),
    ],
)
def test_bad_application_is_422_and_nothing_is_made(db, eng_api, van, part, body, field):
    response = eng_api.post("/api/v1/part-requests", json=body)
    assert response.status_code == 422, response.get_json()
    assert any(k.startswith(field) for k in response.get_json()["error"]["fields"])
    assert db.session.query(PartRequest).count() == 0


def test_dispatcher_applies_for_the_engineer_of_a_service_request(api_as, assigned_request, part, van):
    dispatcher = api_as("dispatcher")
    pr = _apply(dispatcher, part, 1, request_id=assigned_request.id)
    assert pr["target_warehouse_id"] == van.id and pr["request_id"] == assigned_request.id
    events = dispatcher.get(f"/api/v1/requests/{assigned_request.id}/events").get_json()
    assert any(e["action"] == "part_request_apply" for e in events)


def test_engineer_cannot_apply_for_someone_elses_van(api_as, eng_api, make_engineer, part, van, db):
    other_van = ensure_van(make_engineer(name="王工"))
    db.session.commit()
    response = eng_api.post(
        "/api/v1/part-requests",
        json={"lines": [{"part_id": part.id, "qty": 1}], "target_warehouse_id": other_van.id},
    )
    assert response.status_code == 403


def test_serial_tracked_ship_names_the_serials_and_sign_moves_them(
    db, api_as, eng_api, central, serial_part, receive, van
):
    from fieldservice.parts.models import SerialUnit

    receive(central, serial_part, 2, ["MB-001", "MB-002"])
    manager = api_as("manager")
    pr = _apply(eng_api, serial_part, 1)
    pr = manager.post(f"/api/v1/part-requests/{pr['id']}/approve", json={"version": pr["version"]}).get_json()
    response = manager.post(f"/api/v1/part-requests/{pr['id']}/ship", json={"version": pr["version"]})
    assert response.status_code == 422  # which unit?
    response = manager.post(
        f"/api/v1/part-requests/{pr['id']}/ship",
        json={"version": pr["version"], "serials": [{"part_id": serial_part.id, "serial": "MB-002"}]},
    )
    assert response.status_code == 200, response.get_json()
    pr = eng_api.post(f"/api/v1/part-requests/{pr['id']}/sign", json={"version": response.get_json()["version"]})
    assert pr.status_code == 200
    unit = db.session.query(SerialUnit).filter_by(serial="MB-002").one()
    assert unit.warehouse_id == van.id and unit.status == "in_stock"
    assert qty_at(van.id, serial_part.id) == 1 and qty_at(central.id, serial_part.id) == 1
