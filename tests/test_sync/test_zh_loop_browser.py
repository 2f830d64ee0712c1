"""The whole loop in Chinese, in real Chromium: intake and assignment in the console, the visit offline on the phone,
the customer's page and rating, the callback survey. Each step is screenshotted (under the test's output folder, or
FIELDSERVICE_SCREENSHOTS) and read for English words and raw codes, like the console crawl does.

Pages covered: 新建服务请求, the request page (assign), 客户链接 (link and QR), the PWA's job list, visit form
(offline, signature) and job after sync, the customer's page before and after rating, the callback call page, and
the request page closing the loop (已回访).
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from tests.test_core.test_language_leaks import leaks_in
from tests.test_sync.conftest import log_in, wait_pending
from tests.test_sync.test_pwa_browser import record_visit

pytestmark = pytest.mark.browser


class Walk:
    """Screenshots and a language check of each step."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.steps: list[str] = []
        self.leaks: dict[str, list[str]] = {}

    def step(self, page, name: str) -> None:
        page.wait_for_load_state()
        self.steps.append(name)
        page.screenshot(path=str(self.folder / f"{len(self.steps):02d}-{name}.png"), full_page=True)
        words, _ = leaks_in(page.content())
        if words:
            self.leaks[name] = sorted(set(words))


def _console(browser, live_server, username):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    return context, page


def test_the_whole_loop_in_chinese(
    db, browser, context, live_server, make_user, make_customer, make_equipment, make_engineer, tmp_path
):
    from fieldservice.core.models import utcnow
    from fieldservice.requests import operations as ops
    from fieldservice.requests.models import ProblemType, ServiceRequest

    db.session.add(ProblemType(code="no_water", name_zh="不出水", name_en="No water", category="repair"))
    db.session.commit()
    make_user("dispatcher", username="lina", name="李娜")
    make_user("callback", username="huifang", name="王芳")
    customer = make_customer(name="华东医院门诊部", zone="徐汇")
    unit = make_equipment(customer=customer)
    engineer = make_engineer(skills=[unit.product.category], name="张师傅", zone="徐汇")
    # A second request nobody has taken yet: the engineer's claim pool shows it.
    pooled = ops.create_request(
        {
            "customer_id": customer.id,
            "equipment_id": unit.id,
            "problem_type": "no_water",
            "description": "二楼净水器出水很慢",
            "priority": 3,
            "required_by": utcnow() + timedelta(days=2),
        },
        make_user("dispatcher", username="pool-desk"),
    )
    db.session.commit()
    assert pooled.status == "awaiting_assignment"
    walk = Walk(Path(os.environ.get("FIELDSERVICE_SCREENSHOTS") or tmp_path) / "zh-loop")

    # The dispatcher logs the request and assigns it.
    desk, page = _console(browser, live_server, "lina")
    page.goto(live_server.url + f"/requests/new?customer_id={customer.id}")
    page.select_option("#problem_type", "no_water")
    page.select_option("#equipment_id", str(unit.id))
    page.fill("#description", "门诊部净水器不出水，已断电")
    walk.step(page, "intake")
    page.click("[data-testid=intake-submit]")
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    request_id = int(page.url.rsplit("/", 1)[1])
    page.click("[data-testid=open-assign]")
    page.select_option("#assign-engineer_id", str(engineer.id))
    walk.step(page, "assign")
    page.click("[data-testid=do-assign]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=request-status]").get_attribute("data-status") == "assigned"
    walk.step(page, "assigned")
    # The customer's link and its QR code exist from the start.
    page.goto(live_server.url + f"/requests/{request_id}/customer-link")
    # The link names the public site (FIELDSERVICE_PUBLIC_URL); the test serves it here.
    link = live_server.url + urlparse(page.locator("[data-testid=customer-link]").get_attribute("href")).path
    walk.step(page, "customer-link")

    # The engineer works the job offline on the phone, then syncs.
    phone = context.new_page()
    log_in(phone, live_server, engineer)
    phone.wait_for_selector(f"[data-job='{request_id}']")
    walk.step(phone, "pwa-jobs")
    # The job page with its appointment form and the customer's QR code, then the claim pool, the statements and
    # the visits returned for correction: the screens added since the loop was first walked.
    phone.click(f"[data-job='{request_id}']")
    phone.click("#show-customer-qr")
    phone.wait_for_selector("#customer-qr svg")
    walk.step(phone, "pwa-job")
    # The contact is the customer itself here: its name is printed once.
    assert phone.inner_text("#job-customer") == "华东医院门诊部"
    for screen, ready in (("pool", "[data-pool-job]"), ("statements", "#no-statements"), ("returned", "#no-returned")):
        phone.evaluate(f"location.hash = '#/{screen}'")
        phone.wait_for_selector(ready)
        walk.step(phone, f"pwa-{screen}")
    phone.evaluate("location.hash = '#/jobs'")
    phone.wait_for_selector(f"[data-job='{request_id}']")
    context.set_offline(True)
    phone.wait_for_function("() => !navigator.onLine")
    job = db.session.get(ServiceRequest, request_id)
    record_visit(phone, tmp_path, job)
    walk.step(phone, "pwa-visit-offline")
    phone.click("#submit-visit")
    phone.wait_for_selector("#job-status")
    wait_pending(phone, 1)
    context.set_offline(False)
    wait_pending(phone, 0)
    walk.step(phone, "pwa-synced")
    db.session.expire_all()
    assert db.session.get(ServiceRequest, request_id).status == "resolved"

    # The customer scans the QR code: the report, then a rating.
    customer_view = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    mine = customer_view.new_page()
    mine.goto(link)
    walk.step(mine, "customer-page")
    mine.locator("label[for$='-5']").first.click()
    mine.locator("form[action$='/rating'] button[type=submit]").click()
    mine.wait_for_load_state()
    walk.step(mine, "customer-rated")
    customer_view.close()

    # The callback agent closes the loop.
    callback, call = _console(browser, live_server, "huifang")
    call.goto(live_server.url + f"/revisits/{request_id}")
    survey = call.locator("[data-testid=survey-form]")
    survey.locator("input[name=satisfied][value=yes]").check()
    for name in ("timeliness", "attitude", "quality"):
        survey.locator(f"input[name={name}][value='5']").check()
    walk.step(call, "callback")
    survey.locator("button[type=submit]").click()
    call.wait_for_url("**/revisits")
    db.session.expire_all()
    assert db.session.get(ServiceRequest, request_id).status == "revisited"
    page.goto(live_server.url + f"/requests/{request_id}")
    walk.step(page, "closed")
    desk.close()
    callback.close()

    ratings = db.session.execute(sa.text("SELECT score FROM customer_ratings")).scalars().all()
    assert ratings == [5]
    print(f"\nscreenshots of {len(walk.steps)} steps in {walk.folder}")
    assert len(list(walk.folder.glob("*.png"))) == len(walk.steps) == 15
    assert not walk.leaks, f"English or codes on Chinese screens: {walk.leaks}"
