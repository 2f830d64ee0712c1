"""Console pages: agreement list (expiring filter), detail, create/edit/renew forms with errors re-rendered."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldservice.contracts.models import Agreement
from tests.test_contracts.conftest import on


def _form(**kw):
    data = {
        "name": "金牌服务协议",
        "starts_on": on(0).isoformat(),
        "ends_on": on(364).isoformat(),
        "response_hours": "4",
        "resolution_hours": "24",
        "charging_method": "covered",
        "labour_rate": "150",
        "visit_fee": "100",
        "maintenance_cycle_months": "3",
        "maintenance_lead_days": "7",
        "service_items": ["repair", "maintenance"],
        "terms": "7x24 小时响应",
    }
    data.update(kw)
    return data


def test_create_agreement_through_the_console(db, console_as, make_equipment):
    unit = make_equipment()
    client = console_as("manager")
    page = client.get(f"/contracts/new?customer_id={unit.customer_id}&lang=en")
    assert page.status_code == 200
    assert unit.serial_number in page.get_data(as_text=True)
    response = client.post(
        "/contracts/new", data=_form(customer_id=str(unit.customer_id), equipment_ids=[str(unit.id)])
    )
    assert response.status_code == 302
    agreement = db.session.scalar(sa.select(Agreement))
    assert agreement.equipment_ids == [unit.id] and agreement.service_items == ["repair", "maintenance"]
    detail = client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    for text in (
        agreement.number,
        "SLA terms",
        "Covered equipment",
        unit.serial_number,
        "Maintenance schedule",
        "Invoices",
        "4 hours",
    ):
        assert text in detail


def test_a_refused_form_is_shown_again_with_the_errors(db, console_as, make_equipment, make_customer):
    unit = make_equipment()
    other = make_customer(name="别的客户", phone="13900000001")
    client = console_as("manager")
    for bad, field in (
        (dict(name=""), "name"),
        (dict(resolution_hours="2"), "resolution_hours"),
        (dict(charging_method="free"), "charging_method"),
        (dict(ends_on=on(-1).isoformat()), "ends_on"),
    ):
        response = client.post("/contracts/new?lang=en", data=_form(customer_id=str(other.id), **bad))
        assert response.status_code == 422, field
        html = response.get_data(as_text=True)
        assert f'data-field="{field}"' in html
        assert 'value="金牌服务协议"' in html or field == "name"  # what the user typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agreement)) == 0
    # Equipment of another customer is refused by the operation, named on the field.
    response = client.post(
        "/contracts/new?lang=en", data=_form(customer_id=str(other.id), equipment_ids=[str(unit.id)])
    )
    assert response.status_code == 422
    assert 'data-field="equipment_ids"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agreement)) == 0


def test_the_form_is_chinese_by_default(console_as, make_equipment):
    unit = make_equipment()
    html = console_as("manager").get(f"/contracts/new?customer_id={unit.customer_id}").get_data(as_text=True)
    assert "新建服务协议" in html and "收费方式" in html


def test_edit_saves_and_a_stale_edit_changes_nothing(db, console_as, make_equipment, make_agreement):
    unit = make_equipment()
    agreement = make_agreement(unit.customer, [unit])
    client = console_as("manager")
    form = _form(name="银牌服务协议", version=str(agreement.version), equipment_ids=[])
    assert client.post(f"/contracts/{agreement.id}/edit", data=form).status_code == 302
    db.session.expire_all()
    assert agreement.name == "银牌服务协议" and agreement.equipment == [] and agreement.version == 2
    stale = client.post(f"/contracts/{agreement.id}/edit?lang=en", data={**form, "name": "铜牌"})
    assert stale.status_code == 409
    assert "Someone else changed this record" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert agreement.name == "银牌服务协议"


def test_renew_through_the_console(db, console_as, make_equipment, make_agreement):
    unit = make_equipment()
    agreement = make_agreement(unit.customer, [unit], starts_on=on(-335), ends_on=on(29))
    client = console_as("manager")
    page = client.get(f"/contracts/{agreement.id}/renew")
    assert on(30).isoformat() in page.get_data(as_text=True)
    response = client.post(
        f"/contracts/{agreement.id}/renew",
        data={
            "starts_on": on(30).isoformat(),
            "ends_on": on(394).isoformat(),
            "version": str(agreement.version),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert agreement.renewal.starts_on == on(30) and agreement.renewal.equipment_ids == [unit.id]
    again = client.post(
        f"/contracts/{agreement.id}/renew?lang=en",
        data={
            "starts_on": on(30).isoformat(),
            "ends_on": on(394).isoformat(),
            "version": str(agreement.version),
        },
    )
    assert again.status_code == 409 and "renewed already" in again.get_data(as_text=True)


def test_list_filters_expiring_and_to_renew(db, console_as, make_equipment, make_agreement):
    unit = make_equipment()
    soon = make_agreement(unit.customer, name="即将到期", starts_on=on(-300), ends_on=on(10))
    make_agreement(unit.customer, name="长期有效", starts_on=on(-10), ends_on=on(300))
    client = console_as("dispatcher")
    expiring = client.get("/contracts?status=expiring").get_data(as_text=True)
    assert "即将到期" in expiring and "长期有效" not in expiring
    to_renew = client.get("/contracts?status=to_renew").get_data(as_text=True)
    assert soon.number in to_renew and "长期有效" not in to_renew
    everything = client.get("/contracts").get_data(as_text=True)
    assert "即将到期" in everything and "长期有效" in everything
    # A dispatcher reads agreements but does not sell them.
    assert client.get("/contracts/new").status_code == 403
    assert "新建服务协议" not in everything


def test_customer_page_shows_the_agreements(console_as, make_equipment, make_agreement):
    unit = make_equipment()
    agreement = make_agreement(unit.customer)
    html = console_as("dispatcher").get(f"/customers/{unit.customer_id}").get_data(as_text=True)
    assert agreement.number in html


def test_agreement_types_console(db, console_as):
    client = console_as("manager")
    data = _form(code="gold", name="金牌", active="y")
    assert client.post("/contracts/types/new", data=data).status_code == 302
    html = client.get("/contracts/types").get_data(as_text=True)
    assert "金牌" in html
    bad = client.post("/contracts/types/new?lang=en", data={**data, "code": "Gold!"})
    assert bad.status_code == 422 and 'data-field="code"' in bad.get_data(as_text=True)
    from fieldservice.contracts.models import AgreementType

    type_id = db.session.scalar(sa.select(AgreementType.id).where(AgreementType.code == "gold"))
    page = client.get(f"/contracts/new?type_id={type_id}&lang=en").get_data(as_text=True)
    assert 'value="金牌"' in page


@pytest.mark.parametrize("path", ["/contracts", "/contracts/types"])
def test_engineers_do_not_see_agreements(console_as, path):
    assert console_as("engineer").get(path).status_code == 403


def test_detail_schedule_lists_generated_maintenance_requests(db, console_as, make_equipment, make_agreement):
    from fieldservice.requests.maintenance import generate_maintenance

    unit = make_equipment()
    agreement = make_agreement(
        unit.customer,
        [unit],
        starts_on=on(3),
        ends_on=on(3) + timedelta(days=364),
        maintenance_cycle_months=6,
    )
    run = generate_maintenance(on(0))
    db.session.commit()
    assert run.created == 1
    html = console_as("manager").get(f"/contracts/{agreement.id}").get_data(as_text=True)
    from fieldservice.requests.models import ServiceRequest

    number = db.session.get(ServiceRequest, run.request_ids[0]).number
    assert number in html and on(3).isoformat() in html


def test_invoices_are_issued_by_a_manager_from_the_console(
    db, console_as, make_equipment, make_agreement, finished_visit
):
    from fieldservice.billing import charges as charge_ops
    from fieldservice.billing.models import Invoice

    unit = make_equipment()
    agreement = make_agreement(unit.customer, [unit])  # labour only: the customer pays the toll
    visit = finished_visit(unit.customer, unit, costs=[{"kind": "toll", "amount": "30"}])
    invoice = charge_ops.request_invoice(visit.request, {"title": unit.customer.name}, None)
    db.session.commit()
    assert invoice.amount == 30
    dispatcher = console_as("dispatcher")
    listing = dispatcher.get("/contracts/invoices").get_data(as_text=True)
    assert visit.request.number in listing and "<button type=\"submit\">开具</button>" not in listing
    assert (
        dispatcher.post(f"/contracts/invoices/{invoice.id}/issue", data={"version": "1"}).status_code == 403
    )
    manager = console_as("manager")
    assert visit.request.number in manager.get(f"/contracts/{agreement.id}").get_data(as_text=True)
    refused = manager.post(
        f"/contracts/invoices/{invoice.id}/cancel", data={"version": "1"}, follow_redirects=True
    )
    assert "请说明取消原因" in refused.get_data(as_text=True)
    # Only verified visits (核销) are invoiced: the manager verifies the visit first.
    waiting = manager.post(f"/contracts/invoices/{invoice.id}/issue", data={"version": "1"}, follow_redirects=True)
    assert "等待核销" in waiting.get_data(as_text=True)
    from fieldservice.settlement.models import Verification
    from fieldservice.settlement.operations import perform_verification

    verification = db.session.scalars(sa.select(Verification).filter_by(visit_id=visit.id)).one()
    perform_verification(verification, "approve", manager.user, verification.version)
    db.session.commit()
    issued = manager.post(f"/contracts/invoices/{invoice.id}/issue", data={"version": "1"})
    assert issued.status_code == 302
    db.session.expire_all()
    assert invoice.status == "issued" and invoice.number.startswith("INV-")
    again = manager.post(f"/contracts/invoices/{invoice.id}/issue", data={"version": str(invoice.version)})
    assert again.status_code == 302
    db.session.expire_all()
    assert invoice.version == 2
    assert manager.post(f"/contracts/invoices/{invoice.id}/refund", data={"version": "2"}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1
