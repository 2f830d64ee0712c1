"""Complaint console pages: list, intake form, detail with the handling forms."""

import pytest
import sqlalchemy as sa

from fieldservice.complaints.models import Complaint


def _new(c, customer, **kw):
    data = {
        "channel": "wechat",
        "kind": "billing",
        "severity": "medium",
        "summary": "收费异议",
        "description": "客户认为上门费过高",
        "customer_id": str(customer.id),
        "handler_id": "",
        **kw,
    }
    return c.post("/complaints/new", data=data)


def test_log_handle_and_close_through_the_console(db, console_as, make_customer):
    customer = make_customer()
    c = console_as("manager")
    assert c.get("/complaints/new?lang=en").status_code == 200
    r = _new(c, customer, handler_id=str(c.user.id))
    assert r.status_code == 302
    complaint = db.session.scalars(sa.select(Complaint)).one()
    assert complaint.status == "assigned" and complaint.handler_id == c.user.id
    detail = c.get(f"/complaints/{complaint.id}?lang=en").get_data(as_text=True)
    assert complaint.number in detail and 'data-testid="action-start"' in detail
    assert (
        c.post(f"/complaints/{complaint.id}/do/start", data={"version": complaint.version}).status_code == 302
    )
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    r = c.post(
        f"/complaints/{complaint.id}/do/act",
        data={"kind": "call", "note": "已电话解释收费标准", "version": complaint.version},
    )
    assert r.status_code == 302
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    missing = c.post(
        f"/complaints/{complaint.id}/do/close?lang=en",
        data={"outcome": "退还上门费", "customer_feedback": "", "version": complaint.version},
    )
    assert missing.status_code == 422 and 'data-field="customer_feedback"' in missing.get_data(as_text=True)
    r = c.post(
        f"/complaints/{complaint.id}/do/close",
        data={
            "outcome": "退还上门费",
            "customer_feedback": "客户表示满意",
            "customer_satisfied": "yes",
            "version": complaint.version,
        },
    )
    assert r.status_code == 302
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    assert complaint.status == "closed" and complaint.customer_satisfied is True
    page = c.get(f"/complaints/{complaint.id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "客户表示满意" in page and "已关闭" in page


def test_invalid_intake_rerenders_with_field_errors(db, console_as, make_customer):
    r = _new(console_as("dispatcher"), make_customer(), summary="", kind="weather")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'data-field="summary"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Complaint)) == 0


def test_stale_action_form_is_409(db, console_as, make_customer):
    c = console_as("manager")
    _new(c, make_customer())
    complaint = db.session.scalars(sa.select(Complaint)).one()
    r = c.post(f"/complaints/{complaint.id}/do/assign", data={"handler_id": str(c.user.id), "version": 99})
    assert r.status_code == 409
    db.session.expire_all()
    assert db.session.get(Complaint, complaint.id).handler_id is None


def test_list_page_filters_and_counts(db, console_as, make_customer):
    c = console_as("dispatcher")
    _new(c, make_customer(), kind="quality", summary="维修后再次故障")
    _new(c, make_customer(), kind="billing", summary="收费异议")
    html = c.get("/complaints?kind=quality&lang=en").get_data(as_text=True)
    assert "维修后再次故障" in html and "收费异议" not in html


@pytest.mark.parametrize("path", ["/complaints", "/complaints/new"])
def test_engineers_may_not_open_complaints(console_as, path):
    assert console_as("engineer").get(path).status_code == 403


def test_customer_page_shows_its_complaints(db, console_as, make_customer):
    customer = make_customer()
    c = console_as("manager")
    _new(c, customer, summary="服务态度问题")
    assert "服务态度问题" in c.get(f"/customers/{customer.id}").get_data(as_text=True)
