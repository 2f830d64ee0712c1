"""CSV import: UTF-8 and GBK files from Excel, all or nothing, every error by line and column."""

import io

import sqlalchemy as sa

from fieldservice.customers.models import Customer, Equipment

GOOD = (
    "name,phone,address,zone\n"
    "绿源餐饮,13912345678,上海市浦东新区张江路1号,浦东\n"
    "明德学校,13912345679,上海市徐汇区漕溪北路2号,徐汇\n"
)


def _count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_utf8_with_bom_imports_all_rows(api_as, db):
    response = api_as("dispatcher").post(
        "/api/v1/customers/import", data=("\ufeff" + GOOD).encode("utf-8"), content_type="text/csv"
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["imported"] == 2
    assert _count(db, Customer) == 2


def test_gbk_from_excel_is_read(api_as, db):
    response = api_as("dispatcher").post(
        "/api/v1/customers/import", data=GOOD.encode("gbk"), content_type="text/csv"
    )
    assert response.status_code == 201
    assert "GB" in response.get_json()["encoding"].upper()
    assert db.session.scalar(sa.select(Customer.name).order_by(Customer.id)) == "绿源餐饮"


def test_one_bad_row_imports_nothing_and_names_each_error(api_as, db):
    bad = GOOD + ",abc,\n"
    response = api_as("dispatcher").post(
        "/api/v1/customers/import", data=bad.encode("utf-8"), content_type="text/csv"
    )
    assert response.status_code == 422
    rows = response.get_json()["error"]["rows"]
    assert {(r["line"], r["field"]) for r in rows} >= {(4, "name"), (4, "phone"), (4, "address")}
    assert _count(db, Customer) == 0


def test_equipment_import_finds_the_customer_by_phone(api_as, make_customer, make_product, db):
    make_customer(phone="13912345678")
    make_product(model="RO-800G")
    csv = (
        "customer_phone,product_model,serial_number,installed_on,warranty_until\n"
        "13912345678,RO-800G,SN-9,2025/3/1,2027-02-28\n"
    )
    response = api_as("dispatcher").post(
        "/api/v1/equipment/import", data=csv.encode(), content_type="text/csv"
    )
    assert response.status_code == 201, response.get_json()
    assert _count(db, Equipment) == 1


def test_console_import_shows_the_errors_in_the_page(console_as, db):
    client = console_as("dispatcher")
    bad = "name,phone,address\n,,\n"
    response = client.post(
        "/customers/import?lang=en",
        data={"kind": "customers", "file": (io.BytesIO(bad.encode()), "customers.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-testid="import-errors"' in page and "nothing was imported" in page
    assert _count(db, Customer) == 0
    good = client.post(
        "/customers/import",
        data={"kind": "customers", "file": (io.BytesIO(GOOD.encode()), "customers.csv")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    assert _count(db, Customer) == 2


def test_the_template_downloads(console_as):
    response = console_as("dispatcher").get("/customers/import/customers-template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True).lstrip("\ufeff").startswith("name,phone,address")
