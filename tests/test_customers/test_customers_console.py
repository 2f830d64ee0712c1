"""Console pages for customers, equipment and products: lists, search, detail, forms with errors, stale edits."""

import sqlalchemy as sa

from fieldservice.customers.models import Customer, Equipment, Product


def test_list_searches(console_as, make_customer):
    make_customer(name="华东医院门诊部")
    make_customer(name="明德实验学校")
    client = console_as("dispatcher")
    page = client.get("/customers?q=华东").get_data(as_text=True)
    assert "华东医院门诊部" in page and "明德实验学校" not in page


def test_detail_shows_contacts_equipment_and_warranty(console_as, make_equipment):
    unit = make_equipment(serial_number="SN-77")
    page = console_as("dispatcher").get(f"/customers/{unit.customer_id}?lang=en").get_data(as_text=True)
    assert "SN-77" in page and unit.customer.name in page


def test_new_customer_form_errors_rerender_and_save_nothing(console_as, db):
    client = console_as("dispatcher")
    response = client.post("/customers/new?lang=en", data={"name": "", "phone": "xx", "address": ""})
    assert response.status_code == 422
    assert 'data-field="name"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 0
    ok = client.post(
        "/customers/new", data={"name": "绿源餐饮", "phone": "13912345678", "address": "张江路 1 号"}
    )
    assert ok.status_code == 302
    assert db.session.scalar(sa.select(Customer.name)) == "绿源餐饮"


def test_a_stale_edit_keeps_the_other_save_and_explains(console_as, make_customer, db):
    customer = make_customer(name="原名")
    read = customer.version
    first, second = console_as("dispatcher"), console_as("manager")
    form = {"name": "甲改的", "phone": customer.phone, "address": customer.address, "version": read}
    assert first.post(f"/customers/{customer.id}/edit", data=form).status_code == 302
    response = second.post(f"/customers/{customer.id}/edit?lang=en", data={**form, "name": "乙改的"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'data-testid="stale"' in page and "乙改的" in page
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).name == "甲改的"


def test_register_equipment_and_edit_product(console_as, make_customer, make_product, db):
    customer, product = make_customer(), make_product(model="GMV-1")
    client = console_as("manager")
    response = client.post(
        f"/customers/{customer.id}/equipment/new",
        data={
            "product_id": product.id,
            "serial_number": "SN-1",
            "installed_on": "2025-01-01",
            "warranty_until": "",
        },
    )
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Equipment.serial_number)) == "SN-1"
    edit = client.post(
        f"/products/{product.id}/edit",
        data={"name": "多联机", "model": "GMV-1", "category": "air_conditioner", "version": product.version},
    )
    assert edit.status_code == 302
    db.session.expire_all()
    assert db.session.get(Product, product.id).name == "多联机"


def test_engineers_cannot_open_customer_forms(console_as):
    assert console_as("engineer").get("/customers/new").status_code == 403
