"""Master data through the API (API.md "Master data"): create, read, search, update with version, errors."""

import sqlalchemy as sa

from fieldservice.customers.models import Customer, Equipment, Product

CUSTOMER = {
    "name": "上海绿源餐饮",
    "phone": "13912345678",
    "address": "上海市浦东新区张江路 88 号",
    "zone": "浦东",
}


def _count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_customer_returns_201_with_id_and_version(api_as):
    response = api_as("dispatcher").post("/api/v1/customers", json={**CUSTOMER, "lat": 31.2, "lng": 121.5})
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] and body["version"] == 1 and body["name"] == CUSTOMER["name"] and body["lat"] == 31.2


def test_bad_customer_names_every_field_and_creates_nothing(api_as, db):
    response = api_as("dispatcher").post(
        "/api/v1/customers", json={"name": "", "phone": "abc", "lat": 123, "email": "not-an-email"}
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"name", "phone", "address", "lat", "email"} <= set(fields)
    assert _count(db, Customer) == 0


def test_search_finds_by_name_phone_and_serial(api_as, make_customer, make_equipment):
    api = api_as("dispatcher")
    customer = make_customer(name="华东医院门诊部", phone="13800001111")
    make_customer(name="明德实验学校", phone="13800002222")
    make_equipment(customer=customer, serial_number="SN-ABC-123")
    for q in ("华东", "13800001111", "SN-ABC-123"):
        body = api.get(f"/api/v1/customers?q={q}").get_json()
        assert [c["name"] for c in body["items"]] == ["华东医院门诊部"], q
        assert body["total"] == 1


def test_update_with_stale_version_is_409(api_as, make_customer, db):
    api = api_as("dispatcher")
    customer = make_customer(name="旧名")
    read = customer.version
    assert (
        api.patch(f"/api/v1/customers/{customer.id}", json={"version": read, "name": "新名"}).status_code
        == 200
    )
    stale = api.patch(f"/api/v1/customers/{customer.id}", json={"version": read, "name": "覆盖"})
    assert stale.status_code == 409
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).name == "新名"


def test_update_without_version_is_422(api_as, make_customer):
    customer = make_customer()
    response = api_as("dispatcher").patch(f"/api/v1/customers/{customer.id}", json={"name": "x"})
    assert response.status_code == 422 and "version" in response.get_json()["error"]["fields"]


def test_products_have_unique_models(api_as, db):
    api = api_as("manager")
    product = {"name": "商用净水器", "model": "RO-800G", "category": "water_purifier"}
    assert api.post("/api/v1/products", json=product).status_code == 201
    again = api.post("/api/v1/products", json=product)
    assert again.status_code == 422 and "model" in again.get_json()["error"]["fields"]
    assert _count(db, Product) == 1


def test_equipment_checks_references_and_unique_serials(api_as, make_customer, make_product, db):
    api = api_as("dispatcher")
    customer, product = make_customer(), make_product()
    unit = {
        "customer_id": customer.id,
        "product_id": product.id,
        "serial_number": "SN-1",
        "installed_on": "2025-03-01",
        "warranty_until": "2027-02-28",
    }
    created = api.post("/api/v1/equipment", json=unit)
    assert created.status_code == 201 and created.get_json()["warranty_until"] == "2027-02-28"
    assert api.post("/api/v1/equipment", json=unit).status_code == 422
    missing = api.post(
        "/api/v1/equipment", json={**unit, "serial_number": "SN-2", "customer_id": 999, "product_id": 998}
    )
    assert missing.status_code == 422
    assert {"customer_id", "product_id"} <= set(missing.get_json()["error"]["fields"])
    backwards = api.post(
        "/api/v1/equipment", json={**unit, "serial_number": "SN-3", "warranty_until": "2024-01-01"}
    )
    assert backwards.status_code == 422
    assert _count(db, Equipment) == 1


def test_engineers_and_callback_staff_cannot_edit_master_data(api_as, make_customer):
    customer = make_customer()
    for role in ("engineer", "callback"):
        api = api_as(role)
        assert api.post("/api/v1/customers", json=CUSTOMER).status_code == 403
        assert (
            api.patch(f"/api/v1/customers/{customer.id}", json={"version": 1, "name": "x"}).status_code == 403
        )


def test_contacts_add_and_remove(api_as, make_customer):
    api = api_as("dispatcher")
    customer = make_customer()
    added = api.post(
        f"/api/v1/customers/{customer.id}/contacts", json={"name": "王伟", "phone": "13700000000"}
    )
    assert added.status_code == 201
    contact_id = added.get_json()["id"]
    assert [c["name"] for c in api.get(f"/api/v1/customers/{customer.id}").get_json()["contacts"]] == ["王伟"]
    assert api.delete(f"/api/v1/customers/{customer.id}/contacts/{contact_id}").status_code == 204
    assert api.get(f"/api/v1/customers/{customer.id}").get_json()["contacts"] == []


def test_unknown_ids_are_404(api_as):
    api = api_as("dispatcher")
    for path in ("/api/v1/customers/999", "/api/v1/products/999", "/api/v1/equipment/999"):
        response = api.get(path)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
