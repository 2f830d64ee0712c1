"""Console pages of settlement: they render for the right roles in both languages, and their forms go through the
operations (errors shown, frozen visits refused)."""

import io

import pytest

from fieldservice.settlement.models import RepairItem, Verification


@pytest.mark.parametrize(
    "path",
    [
        "/settlement/repair-items",
        "/settlement/repair-items/new",
        "/settlement/repair-items/import",
        "/settlement/verifications",
        "/settlement/statements",
    ],
)
def test_manager_pages_render_in_both_languages(console_as, make_item, path):
    make_item()
    console = console_as("manager")
    zh = console.get(path)
    assert zh.status_code == 200, path
    en = console.get(path + "?lang=en")
    assert en.status_code == 200


def test_the_pages_speak_chinese_by_default_and_english_on_request(console_as):
    console = console_as("manager")
    assert "核销" in console.get("/settlement/verifications").get_data(as_text=True)
    zh = console.get("/settlement/repair-items").get_data(as_text=True)
    assert "新建维修项目" in zh and "导出 CSV" in zh
    en = console.get("/settlement/repair-items?lang=en").get_data(as_text=True)
    assert "New repair item" in en


@pytest.mark.parametrize("path", ["/settlement/repair-items", "/settlement/verifications"])
@pytest.mark.parametrize("role", ["dispatcher", "engineer", "callback"])
def test_others_may_not_open_the_manager_pages(console_as, path, role):
    assert console_as(role).get(path).status_code == 403


def test_the_item_form_shows_errors_and_saves(console_as, db):
    console = console_as("manager")
    bad = console.post(
        "/settlement/repair-items/new",
        data={
            "category": "water_purifier",
            "code": "WP-X",
            "name_zh": "检修",
            "name_en": "Check",
            "standard_hours": "-1",
            "pricing": "fixed",
            "fixed_price": "",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'data-field="standard_hours"' in html and 'data-field="fixed_price"' in html
    ok = console.post(
        "/settlement/repair-items/new",
        data={
            "category": "water_purifier",
            "code": "WP-X",
            "name_zh": "检修",
            "name_en": "Check",
            "standard_hours": "0.5",
            "pricing": "hourly",
            "active": "y",
        },
    )
    assert ok.status_code == 302
    assert db.session.query(RepairItem).filter_by(code="WP-X").one().standard_hours == 0.5


def test_deactivate_from_the_list(console_as, make_item, db):
    item = make_item()
    response = console_as("manager").post(
        f"/settlement/repair-items/{item.id}/deactivate", data={"version": item.version}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(RepairItem, item.id).active is False


def test_a_bad_import_lists_each_line(console_as):
    csv_bytes = b"category,code,name_zh,name_en,standard_hours,pricing\nwater_purifier,A,a,a,x,hourly\n"
    response = console_as("manager").post(
        "/settlement/repair-items/import",
        data={"file": (io.BytesIO(csv_bytes), "items.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "standard_hours" in response.get_data(as_text=True)


def test_the_engineer_picks_items_in_the_console_and_the_queue_approves(
    console_as, make_item, resolved_visit, engineer, db
):
    a, b = make_item(standard_hours="0.50"), make_item(standard_hours="1.00")
    visit = resolved_visit(items=[(a, 1)], hours="1.0")
    mine = console_as(user=engineer.user)
    assert mine.get(f"/settlement/visits/{visit.id}/items").status_code == 200
    saved = mine.post(f"/settlement/visits/{visit.id}/items", data={f"qty_{a.id}": "2", f"qty_{b.id}": "1"})
    assert saved.status_code == 302
    manager = console_as("manager")
    queue = manager.get("/settlement/verifications").get_data(as_text=True)
    assert f'data-visit="{visit.id}"' in queue
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    manager.post(f"/settlement/verifications/{v.id}/approve", data={"version": v.version})
    db.session.expire_all()
    assert db.session.get(Verification, v.id).status == "approved"
    frozen = mine.post(f"/settlement/visits/{visit.id}/items", data={f"qty_{a.id}": "5"})
    assert frozen.status_code == 409


def test_statements_page_builds_and_issues(console_as, db, engineer):
    from fieldservice.core.clock import local_date
    from fieldservice.core.models import utcnow
    from fieldservice.settlement import operations as ops

    period = local_date(utcnow()).strftime("%Y-%m")
    st = ops.build_statement(engineer.id, period, None)
    db.session.commit()
    console = console_as("manager")
    assert console.get(f"/settlement/statements/{st.id}").status_code == 200
    console.post(f"/settlement/statements/{st.id}/issue", data={"version": st.version})
    db.session.expire_all()
    assert db.session.get(type(st), st.id).status == "issued"
    assert console_as(user=engineer.user).get(f"/settlement/statements/{st.id}").status_code == 200
