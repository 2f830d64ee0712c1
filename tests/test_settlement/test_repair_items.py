"""The repair-item catalog: rules, API, roles, CSV import and export."""

import codecs

import pytest

D = __import__("decimal").Decimal


def _item(**kw):
    return {
        "category": "water_purifier",
        "code": "WP-RO",
        "name_zh": "更换RO膜",
        "name_en": "Replace the RO membrane",
        "standard_hours": "1.50",
        "pricing": "hourly",
        **kw,
    }


def test_a_manager_creates_an_item_and_everyone_reads_it(api_as):
    created = api_as("manager").post("/api/v1/repair-items", json=_item(reimbursable=True))
    assert created.status_code == 201
    assert created.json["standard_hours"] == "1.50"
    assert created.json["reimbursable"] is True
    listed = api_as("engineer").get("/api/v1/repair-items?category=water_purifier")
    assert [i["code"] for i in listed.json["items"]] == ["WP-RO"]


@pytest.mark.parametrize("role", ["dispatcher", "engineer", "callback"])
def test_only_managers_and_admins_change_the_catalog(api_as, role):
    assert api_as(role).post("/api/v1/repair-items", json=_item()).status_code == 403


def test_the_code_is_unique_per_category_only(api_as):
    api = api_as("manager")
    assert api.post("/api/v1/repair-items", json=_item()).status_code == 201
    again = api.post("/api/v1/repair-items", json=_item())
    assert again.status_code == 422
    assert "code" in again.json["error"]["fields"]
    assert api.post("/api/v1/repair-items", json=_item(category="air_conditioner")).status_code == 201


def test_a_fixed_price_item_needs_its_price(api_as):
    response = api_as("manager").post("/api/v1/repair-items", json=_item(pricing="fixed"))
    assert response.status_code == 422
    assert "fixed_price" in response.json["error"]["fields"]
    ok = api_as("manager").post("/api/v1/repair-items", json=_item(pricing="fixed", fixed_price="260.00"))
    assert ok.status_code == 201 and ok.json["fixed_price"] == "260.00"


@pytest.mark.parametrize(
    "bad", [{"standard_hours": "-1"}, {"standard_hours": "abc"}, {"pricing": "daily"}, {"name_zh": ""}]
)
def test_bad_fields_are_named(api_as, bad):
    response = api_as("manager").post("/api/v1/repair-items", json=_item(**bad))
    assert response.status_code == 422
    assert set(bad) <= set(response.json["error"]["fields"])


def test_an_update_needs_the_current_version_and_deactivates(api_as):
    api = api_as("manager")
    item = api.post("/api/v1/repair-items", json=_item()).json
    stale = api.patch(f"/api/v1/repair-items/{item['id']}", json={"version": item["version"] + 1, "active": False})
    assert stale.status_code == 409
    done = api.patch(f"/api/v1/repair-items/{item['id']}", json={"version": item["version"], "active": False})
    assert done.status_code == 200 and done.json["active"] is False
    assert api.get("/api/v1/repair-items?active=true").json["total"] == 0


def test_export_neutralises_formula_cells(api_as, make_item):
    make_item(name_zh='=HYPERLINK("http://x")', name_en="+1+1", code="@SUM")
    response = api_as("manager").get("/api/v1/repair-items/export.csv")
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1+1" in text and "'@SUM" in text
    assert ",=" not in text and ",+" not in text


def test_import_creates_and_updates_all_or_nothing(api_as, make_item, db):
    from fieldservice.settlement.models import RepairItem

    make_item(code="WP-01", standard_hours="1.00")
    api = api_as("manager")
    good = (
        "category,code,name_zh,name_en,standard_hours,pricing,fixed_price,reimbursable,active\r\n"
        "water_purifier,WP-01,更换滤芯,Replace filter,0.75,hourly,,1,1\r\n"
        "water_purifier,WP-09,上门检测,Inspection,0.50,fixed,80.00,0,1\r\n"
    )
    response = api.post(
        "/api/v1/repair-items/import", data=codecs.BOM_UTF8 + good.encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.json
    assert response.json == {"created": 1, "updated": 1}
    db.session.expire_all()
    assert db.session.query(RepairItem).filter_by(code="WP-01").one().standard_hours == D("0.75")

    bad = (
        "category,code,name_zh,name_en,standard_hours,pricing,fixed_price,reimbursable\n"
        "water_purifier,WP-20,好,Good,1,hourly,,0\n"
        "water_purifier,WP-21,坏,Bad,-2,hourly,,0\n"
        "water_purifier,WP-22,坏,Bad,1,fixed,,maybe\n"
    )
    refused = api.post("/api/v1/repair-items/import", data=bad.encode(), headers={"Content-Type": "text/csv"})
    assert refused.status_code == 422
    fields = refused.json["error"]["fields"]
    assert "line 3.standard_hours" in fields
    assert "line 4.fixed_price" in fields and "line 4.reimbursable" in fields
    assert db.session.query(RepairItem).filter_by(code="WP-20").one_or_none() is None


def test_an_exported_catalog_imports_back_unchanged(api_as, make_item):
    make_item(name_zh="-减压阀", pricing="fixed", fixed_price="99.90")
    api = api_as("manager")
    exported = api.get("/api/v1/repair-items/export.csv").data
    again = api.post("/api/v1/repair-items/import", data=exported, headers={"Content-Type": "text/csv"})
    assert again.status_code == 200 and again.json == {"created": 0, "updated": 1}
    assert api.get("/api/v1/repair-items").json["items"][0]["name_zh"] == "-减压阀"
