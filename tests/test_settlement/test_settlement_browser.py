"""Verification in real Chromium: a manager returns a visit from the queue, the engineer corrects its repair items on
the PWA while offline and resubmits, the phone syncs once back online, and the manager approves it."""

import pytest

from fieldservice.settlement.models import Verification, VisitItem
from tests.test_sync.conftest import context, log_in, wait_pending, wait_synced  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def _console_log_in(page, live_server, username):
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")


def test_return_correct_offline_resubmit_approve(
    db,
    browser,
    context,  # noqa: F811 - the fixture imported above
    live_server,
    make_user,
    make_item,
    resolved_visit,
    engineer,
):
    wrong = make_item(code="WP-01", name_zh="更换PP棉", standard_hours="0.50")
    right = make_item(code="WP-02", name_zh="更换RO膜", standard_hours="1.00")
    visit = resolved_visit(items=[(wrong, 1)], hours="1.0")
    manager = make_user("manager", username="wangjl")

    desk = browser.new_context(locale="zh-CN").new_page()
    _console_log_in(desk, live_server, manager.username)
    desk.goto(live_server.url + "/settlement/verifications")
    row = desk.locator(f"tr[data-visit='{visit.id}']")
    row.locator("input[name=reason]").fill("应为更换RO膜")
    row.locator(f"[data-testid=return-{visit.id}]").click()
    desk.wait_for_selector(".flash")
    db.session.expire_all()
    assert db.session.query(Verification).filter_by(visit_id=visit.id).one().status == "returned"

    phone = context.new_page()
    log_in(phone, live_server, engineer)
    phone.wait_for_selector("#open-returned")
    context.set_offline(True)
    phone.wait_for_function("() => !navigator.onLine")
    phone.click("#open-returned")
    form = phone.locator("form.returned")
    assert "应为更换RO膜" in form.inner_text()
    form.locator("[name=repair_item_id]").select_option(str(right.id))
    form.locator(f"[data-resubmit='{visit.id}']").click()
    wait_pending(phone, 2)
    assert db.session.query(Verification).filter_by(visit_id=visit.id).one().status == "returned"

    context.set_offline(False)
    wait_pending(phone, 0)
    wait_synced(phone)
    db.session.expire_all()
    v = db.session.query(Verification).filter_by(visit_id=visit.id).one()
    assert (v.status, v.rounds) == ("pending", 2)
    assert [i.repair_item_id for i in db.session.query(VisitItem).filter_by(visit_id=visit.id)] == [right.id]

    desk.goto(live_server.url + "/settlement/verifications")
    desk.click(f"[data-testid=approve-{visit.id}]")
    desk.wait_for_selector(".flash")
    db.session.expire_all()
    assert db.session.get(Verification, v.id).status == "approved"

    # The month's statement, made on the console, reaches the phone and reads offline.
    desk.goto(live_server.url + "/settlement/statements")
    desk.click("[data-testid=build-statements]")
    desk.wait_for_selector("[data-testid=statements] td a")
    wait_synced(phone)
    context.set_offline(True)
    phone.goto(live_server.url + "/app/#/statements")
    phone.wait_for_selector(".statement")
    assert "¥" in phone.locator(".statement").inner_text()
