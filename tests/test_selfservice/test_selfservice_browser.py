"""A customer on a phone scans the unit's label, reports a fault with a photo and the code sent to their phone, the
dispatcher sees it in the list marked self-service, and the customer follows it from the label again."""

import re

import pytest
import sqlalchemy as sa
from PIL import Image

from fieldservice.requests.models import Attachment, ServiceRequest

from ..test_core.test_csp_browser import watch_violations
from .conftest import last_code

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _wait_for_code(db, page, testid: str, phone: str) -> str:
    page.wait_for_function(
        f"() => document.querySelector('[data-testid={testid}]').classList.contains('ok')", timeout=15000
    )
    db.session.rollback()  # read what the live server committed
    return last_code(phone)


def test_scan_report_dispatch_and_follow_on_a_phone(db, browser, live_server, unit, make_user, tmp_path):
    photo = tmp_path / "fault.jpg"
    Image.new("RGB", (3000, 2000), (200, 60, 60)).save(photo, format="JPEG")
    phone_context = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone_context.new_page()
    violations = watch_violations(page)
    answer = page.goto(f"{live_server.url}/e/{unit.token}")
    assert answer.status == 200
    assert page.inner_text("[data-testid=serial]") == unit.serial_number
    assert "保修期至2099-01-01。" in page.inner_text("[data-testid=coverage]")
    assert unit.customer.name not in page.content()
    # The page fits the phone: no sideways scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    page.click("[data-testid=go-report]")
    page.select_option("[data-testid=problem-type]", "leak")
    page.fill("[data-testid=description]", "净水器底部漏水，地上有积水")
    page.set_input_files("[data-testid=photos]", str(photo))
    page.fill("[data-testid=contact-name]", "王女士")
    page.fill("[data-testid=phone]", "13912345678")
    page.click("[data-testid=send-code]")
    code = _wait_for_code(db, page, "report-message", "13912345678")
    page.fill("[data-testid=code]", code)
    page.click("[data-testid=submit-report]")
    page.wait_for_url(re.compile(r".*/r/[^/]+$"), timeout=30000)
    assert "我们已受理您的请求。" in page.content()
    db.session.rollback()
    sr = db.session.scalar(sa.select(ServiceRequest))
    assert sr.channel == "qr" and sr.status == "awaiting_assignment" and sr.number in page.content()
    stored = db.session.scalar(sa.select(Attachment).where(Attachment.request_id == sr.id))
    assert stored is not None and stored.size < 1_000_000  # compressed in the browser, checked on the server
    assert violations == []

    make_user("dispatcher", username="desk")
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    console = desk.new_page()
    console.goto(live_server.url + "/login")
    console.fill("input[name=username]", "desk")
    console.fill("input[name=password]", "password123")
    console.click("main button[type=submit]")
    console.wait_for_url("**/home")
    console.goto(live_server.url + "/requests")
    row = console.locator("tr", has_text=sr.number)
    assert row.locator("[data-testid=self-service]").inner_text() == "自助报修"
    desk.close()

    follow = phone_context.new_page()
    follow.goto(f"{live_server.url}/e/{unit.token}")
    assert sr.number in follow.inner_text("[data-testid=open-requests]")
    follow.click("[data-testid=go-follow]")
    follow.fill("[data-testid=follow-phone]", "139 1234 5678")
    follow.click("[data-testid=follow-send-code]")
    follow.fill("[data-testid=follow-code]", _wait_for_code(db, follow, "follow-message", "13912345678"))
    follow.click("[data-testid=submit-follow]")
    follow.wait_for_url(re.compile(r".*/r/[^/]+$"), timeout=30000)
    assert sr.number in follow.content()
    phone_context.close()
