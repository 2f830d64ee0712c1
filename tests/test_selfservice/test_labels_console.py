"""Label sheets (a job, with progress) and the console's label pages."""

import sqlalchemy as sa

from fieldservice.selfservice import operations as ops
from fieldservice.selfservice.models import EquipmentLabel, LabelSheet


def test_a_sheet_of_the_units_without_a_label(api_as, console_as, db, make_equipment, unit):
    others = [make_equipment() for _ in range(3)]
    api = api_as("dispatcher")
    answer = api.post("/api/v1/label-sheets", json={"unlabelled": True})
    assert answer.status_code == 202, answer.json
    sheet_id = answer.json["id"]
    assert answer.json["total"] == 3
    state = api.get(f"/api/v1/label-sheets/{sheet_id}").json
    assert state["status"] == "done" and state["done"] == 3 and state["pdf_url"] == f"/labels/{sheet_id}.pdf"
    # Every unit has a label now; the unit that had one keeps it (its printed sticker still works).
    assert ops.unlabelled_equipment_ids() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EquipmentLabel)) == 4
    assert ops.equipment_for_token(unit.token).id == unit.id
    console = console_as("dispatcher")
    pdf = console.get(f"/labels/{sheet_id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    page = console.get(f"/labels/{sheet_id}?lang=en").get_data(as_text=True)
    assert "Download the labels (PDF)" in page
    assert console.get(f"/labels/{sheet_id}/progress").json["status"] == "done"
    assert {e.id for e in others} <= set(db.session.scalar(sa.select(LabelSheet.equipment_ids)))


def test_sheet_selections_and_bad_ones(api_as, db, make_equipment, make_customer):
    customer = make_customer()
    units = [make_equipment(customer=customer) for _ in range(2)]
    make_equipment()
    api = api_as("manager")
    assert api.post("/api/v1/label-sheets", json={"customer_id": customer.id}).json["total"] == 2
    assert api.post("/api/v1/label-sheets", json={"equipment_ids": [units[0].id]}).json["total"] == 1
    for body, field in (
        ({}, "equipment_ids"),
        ({"equipment_ids": []}, "equipment_ids"),
        ({"equipment_ids": [999999]}, "equipment_ids"),
        ({"customer_id": 999999}, "customer_id"),
    ):
        answer = api.post("/api/v1/label-sheets", json=body)
        assert answer.status_code == 422 and field in answer.json["error"]["fields"], body
    assert api_as("engineer").post("/api/v1/label-sheets", json={"unlabelled": True}).status_code == 403


def test_the_sheet_job_runs_in_a_real_worker(worker_app, run_worker):
    from fieldservice.auth.operations import create_user
    from fieldservice.core.jobs import dispatch_committed_jobs
    from fieldservice.customers.models import Customer, Equipment, Product
    from fieldservice.extensions import db
    from fieldservice.selfservice import sheets

    customer = Customer(name="客户甲", phone="13800001234", address="上海市", zone="浦东")
    product = Product(name="商用净水器", model="RO-1", category="water_purifier")
    units = [Equipment(customer=customer, product=product, serial_number=f"W{n:05d}") for n in range(30)]
    db.session.add_all(units)
    user = create_user("sheetdispatcher", "password123", "dispatcher")
    db.session.commit()
    sheet = sheets.request_sheet({"equipment_ids": [u.id for u in units]}, user)
    db.session.commit()
    sheet_id = sheet.id
    dispatch_committed_jobs()
    assert db.session.get(LabelSheet, sheet_id).status == "queued"  # waiting for a worker
    assert run_worker() >= 1
    db.session.remove()
    done = db.session.get(LabelSheet, sheet_id)
    assert done.status == "done" and done.done == 30 and done.pdf.startswith(b"%PDF")
    assert ops.unlabelled_equipment_ids() == []


def test_the_label_page_issues_reissues_and_revokes(console_as, client, db, make_equipment):
    equipment = make_equipment()
    console = console_as("dispatcher")
    page = console.get(f"/equipment/{equipment.id}/label?lang=en").get_data(as_text=True)
    assert "This unit has no label yet." in page
    console.post(f"/equipment/{equipment.id}/label")
    first = ops.current_label(equipment)
    token = ops.label_token(equipment)
    page = console.get(f"/equipment/{equipment.id}/label").get_data(as_text=True)
    assert f"/e/{token}" in page
    console.post(f"/equipment/{equipment.id}/label")
    assert ops.current_label(equipment).serial == first.serial + 1
    assert client.get(f"/e/{token}").status_code == 404
    pdf = console.get(f"/equipment/{equipment.id}/label.pdf")
    assert pdf.data.startswith(b"%PDF")
    console.post(f"/equipment/{equipment.id}/label/revoke")
    assert ops.current_label(equipment) is None
    assert console_as("engineer").get(f"/equipment/{equipment.id}/label").status_code == 403


def test_the_customer_and_equipment_pages_link_to_labels(console_as, db, make_equipment):
    equipment = make_equipment()
    console = console_as("dispatcher")
    customer_page = console.get(f"/customers/{equipment.customer_id}").get_data(as_text=True)
    assert 'data-testid="customer-labels-panel"' in customer_page
    assert f"/equipment/{equipment.id}/label" in customer_page
    admin = console_as("admin")
    equipment_page = admin.get(f"/equipment/{equipment.id}/edit").get_data(as_text=True)
    assert 'data-testid="equipment-label-link"' in equipment_page
    # A sheet from the customer's panel: the selected units.
    answer = console.post("/labels", data={"customer_id": equipment.customer_id, "scope": "selected"})
    assert answer.status_code == 302 and "/customers/" in answer.headers["Location"]
    answer = console.post(
        "/labels", data={"customer_id": equipment.customer_id, "scope": "selected", "equipment_id": str(equipment.id)}
    )
    assert answer.status_code == 302 and "/labels/" in answer.headers["Location"]
