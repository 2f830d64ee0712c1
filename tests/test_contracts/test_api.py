"""POST/GET/PATCH /api/v1/contracts and renewal: API.md's fields, 422 with fields, 409 on a stale version."""

import pytest
import sqlalchemy as sa

from fieldservice.contracts.models import Agreement
from tests.test_contracts.conftest import on


def _body(customer_id, **kw):
    body = {
        "customer_id": customer_id,
        "name": "金牌服务协议",
        "response_hours": 4,
        "resolution_hours": 24,
        "starts_on": on(0).isoformat(),
        "ends_on": on(364).isoformat(),
        "charging_method": "covered",
    }
    body.update(kw)
    return body


def _count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Agreement))


def test_create_with_the_api_md_fields(db, api_as, make_equipment):
    unit = make_equipment()
    api = api_as("manager")
    response = api.post(
        "/api/v1/contracts", json=_body(unit.customer_id, service_items=["repair"], equipment_ids=[unit.id])
    )
    assert response.status_code == 201, response.json
    data = response.json
    assert data["id"] and data["number"].startswith("AG-") and data["version"] == 1
    assert data["equipment_ids"] == [unit.id] and data["service_items"] == ["repair"]
    assert (data["response_hours"], data["resolution_hours"], data["charging_method"]) == (4, 24, "covered")
    assert data["status"] in ("active", "expiring") and data["customer_name"] == unit.customer.name
    got = api.get(f"/api/v1/contracts/{data['id']}")
    assert got.status_code == 200 and got.json["number"] == data["number"]
    listed = api.get(f"/api/v1/contracts?customer_id={unit.customer_id}")
    assert listed.json["total"] == 1 and listed.json["items"][0]["id"] == data["id"]


def test_agreement_type_supplies_the_defaults(db, api_as, make_customer, gold_type):
    customer = make_customer()
    response = api_as("manager").post("/api/v1/contracts", json=_body(customer.id, type_id=gold_type.id))
    assert response.status_code == 201
    assert response.json["labour_rate"] == "150.00" and response.json["maintenance_cycle_months"] == 3
    assert response.json["type_id"] == gold_type.id


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": ""}, "name"),
        ({"response_hours": 0}, "response_hours"),
        ({"resolution_hours": 2}, "resolution_hours"),
        ({"ends_on": on(-1).isoformat()}, "ends_on"),
        ({"starts_on": "not a date"}, "starts_on"),
        ({"charging_method": "free"}, "charging_method"),
        ({"service_items": ["massage"]}, "service_items"),
        ({"customer_id": 999999}, "customer_id"),
        ({"equipment_ids": [999999]}, "equipment_ids"),
        ({"response_hours": None}, "response_hours"),
    ],
)
def test_bad_input_is_422_with_the_field_and_changes_nothing(db, api_as, make_equipment, change, field):
    unit = make_equipment()
    response = api_as("manager").post("/api/v1/contracts", json={**_body(unit.customer_id), **change})
    assert response.status_code == 422, response.json
    assert any(name.split(".")[0] == field for name in response.json["error"]["fields"])
    assert _count(db) == 0


def test_missing_fields_are_each_named(db, api_as):
    response = api_as("manager").post("/api/v1/contracts", json={})
    assert response.status_code == 422
    assert {
        "customer_id",
        "name",
        "response_hours",
        "resolution_hours",
        "starts_on",
        "ends_on",
        "charging_method",
    } <= set(response.json["error"]["fields"])


def test_another_customers_equipment_is_refused(db, api_as, make_equipment, make_customer):
    unit = make_equipment()
    other = make_customer(name="别家", phone="13900000002")
    response = api_as("manager").post("/api/v1/contracts", json=_body(other.id, equipment_ids=[unit.id]))
    assert response.status_code == 422 and "equipment_ids" in response.json["error"]["fields"]
    assert _count(db) == 0


def test_malformed_json_is_400(api_as):
    response = api_as("manager").post(
        "/api/v1/contracts", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "role, status", [("dispatcher", 403), ("engineer", 403), ("callback", 403), ("admin", 201)]
)
def test_only_managers_and_admins_sell_agreements(api_as, make_customer, role, status):
    customer = make_customer()
    assert api_as(role).post("/api/v1/contracts", json=_body(customer.id)).status_code == status


def test_reading_needs_a_login_and_a_role(client, api_as):
    assert client.get("/api/v1/contracts").status_code == 401
    assert api_as("engineer").get("/api/v1/contracts").status_code == 403
    assert api_as("dispatcher").get("/api/v1/contracts").status_code == 200
    assert api_as("dispatcher").get("/api/v1/contracts/999").status_code == 404


def test_update_checks_the_version(db, api_as, make_equipment, make_agreement):
    unit = make_equipment()
    agreement = make_agreement(unit.customer)
    api = api_as("manager")
    first = api.patch(
        f"/api/v1/contracts/{agreement.id}",
        json={"version": 1, "response_hours": 2, "equipment_ids": [unit.id]},
    )
    assert first.status_code == 200, first.json
    assert (
        first.json["version"] == 2
        and first.json["response_hours"] == 2
        and first.json["equipment_ids"] == [unit.id]
    )
    stale = api.patch(f"/api/v1/contracts/{agreement.id}", json={"version": 1, "name": "被覆盖"})
    assert stale.status_code == 409 and stale.json["error"]["code"] == "stale_version"
    bad = api.patch(f"/api/v1/contracts/{agreement.id}", json={"version": 2, "resolution_hours": 1})
    assert bad.status_code == 422 and "resolution_hours" in bad.json["error"]["fields"]
    missing_version = api.patch(f"/api/v1/contracts/{agreement.id}", json={"name": "x"})
    assert missing_version.status_code == 422 and "version" in missing_version.json["error"]["fields"]
    db.session.expire_all()
    assert agreement.name == "服务协议" and agreement.version == 2 and agreement.resolution_hours == 48


def test_renew_once_with_the_same_terms(db, api_as, make_equipment, make_agreement):
    unit = make_equipment()
    agreement = make_agreement(unit.customer, [unit], starts_on=on(-335), ends_on=on(29))
    api = api_as("manager")
    assert api.post(f"/api/v1/contracts/{agreement.id}/renew", json={"version": 99}).status_code == 409
    response = api.post(f"/api/v1/contracts/{agreement.id}/renew", json={"version": agreement.version})
    assert response.status_code == 201, response.json
    renewal = response.json
    assert renewal["starts_on"] == on(30).isoformat() and renewal["renewed_from_id"] == agreement.id
    assert renewal["equipment_ids"] == [unit.id] and renewal["charging_method"] == "labour_only"
    old = api.get(f"/api/v1/contracts/{agreement.id}").json
    assert old["renewal_id"] == renewal["id"]
    again = api.post(f"/api/v1/contracts/{agreement.id}/renew", json={"version": old["version"]})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_renewed"


def test_expiring_lists_unrenewed_agreements_ending_within_30_days(db, api_as, make_customer, make_agreement):
    customer = make_customer()
    soon = make_agreement(customer, starts_on=on(-300), ends_on=on(20))
    make_agreement(customer, starts_on=on(-300), ends_on=on(40))
    api = api_as("manager")
    assert [a["id"] for a in api.get("/api/v1/contracts/expiring").json] == [soon.id]
    assert [a["id"] for a in api.get("/api/v1/contracts?status=expiring").json["items"]] == [soon.id]
    api.post(f"/api/v1/contracts/{soon.id}/renew", json={"version": soon.version})
    assert api.get("/api/v1/contracts/expiring").json == []


def test_coverage_endpoint_gives_the_agreement_and_its_due_times(db, api_as, make_equipment, make_agreement):
    from datetime import datetime, timedelta

    unit = make_equipment()
    agreement = make_agreement(unit.customer, [unit])
    at = "2026-11-23T09:00:00+08:00"
    query = f"/api/v1/coverage?customer_id={unit.customer_id}&equipment_id={unit.id}"
    response = api_as("dispatcher").get(query)
    assert response.status_code == 200, response.json
    data = response.json
    assert data["coverage"]["kind"] == "agreement" and data["coverage"]["agreement_id"] == agreement.id
    due = datetime.fromisoformat(data["response_due"]) - datetime.fromisoformat(data["resolution_due"])
    assert due == timedelta(hours=8 - 48)
    # Long before the agreement starts, nothing covers the unit (no warranty either).
    before = api_as("dispatcher").get(query + "&at=2001-01-01T09:00:00%2B08:00").json
    assert before == {"coverage": None, "response_due": None, "resolution_due": None}
    assert api_as("dispatcher").get(query + "&at=" + at.replace("+", "%2B")).status_code == 200
    assert api_as("dispatcher").get("/api/v1/coverage").status_code == 422


@pytest.mark.postgres
def test_concurrent_creates_get_distinct_numbers(app, app_config, make_customer, make_user):
    """Two agreements created at the same moment in two transactions never share a number."""
    import threading

    from fieldservice import create_app
    from fieldservice.contracts import operations as ops
    from fieldservice.extensions import db as _db

    customer_id, manager_id = make_customer().id, make_user("manager").id
    barrier, numbers, errors = threading.Barrier(2), [], []

    # Built here, not in the threads: one thread failing to start must not leave the other at the barrier.
    apps = [create_app(app_config) for _ in range(2)]

    def create(other):
        with other.app_context():
            try:
                from fieldservice.auth.models import User

                actor = _db.session.get(User, manager_id)
                barrier.wait(10)
                agreement = ops.create_agreement(
                    {**_body(customer_id), "starts_on": on(0), "ends_on": on(10)}, actor
                )
                _db.session.commit()
                numbers.append(agreement.number)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                _db.session.remove()
                _db.engine.dispose()

    threads = [threading.Thread(target=create, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(set(numbers)) == 2


def test_invoice_requested_then_issued_once(db, api_as, make_equipment, make_agreement, finished_visit):
    unit = make_equipment()
    make_agreement(unit.customer, [unit])  # labour only: parts and costs are the customer's
    visit = finished_visit(unit.customer, unit, costs=[{"kind": "travel", "amount": "45.5"}])
    dispatcher, manager = api_as("dispatcher"), api_as("manager")
    charges = dispatcher.get(f"/api/v1/requests/{visit.request_id}/charges").json
    assert charges["customer_amount"] == "45.50" and charges["covered"] == "250.00"
    bad = dispatcher.post("/api/v1/invoices", json={"request_id": visit.request_id, "title": ""})
    assert bad.status_code == 422 and "title" in bad.json["error"]["fields"]
    created = dispatcher.post(
        "/api/v1/invoices", json={"request_id": visit.request_id, "title": "上海绿源餐饮"}
    )
    assert (
        created.status_code == 201
        and created.json["amount"] == "45.50"
        and created.json["status"] == "requested"
    )
    invoice_id = created.json["id"]
    twice = dispatcher.post("/api/v1/invoices", json={"request_id": visit.request_id, "title": "再开一张"})
    assert twice.status_code == 409
    assert dispatcher.post(f"/api/v1/invoices/{invoice_id}/issue", json={"version": 1}).status_code == 403
    assert manager.post(f"/api/v1/invoices/{invoice_id}/issue", json={"version": 0}).status_code == 409
    # Only verified visits (核销) are invoiced: the visit waits for verification, so the invoice waits too.
    waiting = manager.post(f"/api/v1/invoices/{invoice_id}/issue", json={"version": 1})
    assert waiting.status_code == 409 and waiting.json["error"]["code"] == "visits_not_verified"
    [verification] = manager.get("/api/v1/verifications").json["items"]
    approved = manager.post(
        f"/api/v1/verifications/{verification['id']}/approve", json={"version": verification["version"]}
    )
    assert approved.status_code == 200
    issued = manager.post(f"/api/v1/invoices/{invoice_id}/issue", json={"version": 1})
    assert (
        issued.status_code == 200 and issued.json["number"].startswith("INV-") and issued.json["version"] == 2
    )
    again = manager.post(f"/api/v1/invoices/{invoice_id}/cancel", json={"version": 2, "reason": "重复"})
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"
