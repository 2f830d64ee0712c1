"""Spare parts in real Chromium: an engineer applies for a part, the manager approves and ships it, the
engineer signs it into the van; refused steps show their message on the page and change nothing."""

import pytest
import sqlalchemy as sa

from fieldservice.parts.part_requests import apply_part_request, perform_part_request
from tests.test_parts.conftest import qty_at

pytestmark = pytest.mark.browser


def _log_in(browser, live_server, username):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    return page


def _fresh(db, obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def _part_request(db):
    from fieldservice.parts.models import PartRequest

    db.session.expire_all()
    return db.session.scalars(sa.select(PartRequest)).one()


def test_engineer_applies_manager_approves_and_ships_engineer_signs(
    live_server, browser, db, engineer, van, central, part, receive, manager, assigned_request
):
    receive(central, part, 5)
    eng_page = _log_in(browser, live_server, engineer.user.username)
    eng_page.goto(live_server.url + "/parts/requests/new")
    assert eng_page.locator("select[name=engineer_id]").count() == 0  # an engineer applies for their own van
    eng_page.fill("input[name=request_id]", str(assigned_request.id))
    eng_page.select_option("select[name='lines-0-part_id']", str(part.id))
    eng_page.fill("input[name='lines-0-qty']", "2")
    eng_page.fill("input[name=note]", "客户急需")
    eng_page.click("main button[type=submit]")
    eng_page.wait_for_url("**/parts/requests/*")
    pr = _part_request(db)
    assert eng_page.locator(".flash-success").inner_text().startswith(f"Part request {pr.number} sent")
    assert "Part request" in eng_page.locator("h1").inner_text()
    assert [(ln.part_id, ln.qty) for ln in pr.lines] == [(part.id, 2)]
    assert (pr.status, pr.target_warehouse_id, pr.request_id) == ("applied", van.id, assigned_request.id)

    mgr_page = _log_in(browser, live_server, manager.username)
    mgr_page.goto(live_server.url + "/parts/requests?status=applied")
    row = mgr_page.locator(f"[data-testid=part-request-queue] tr[data-id='{pr.id}']")
    assert part.part_number in row.inner_text() and "×2" in row.inner_text()
    row.get_by_role("link", name=pr.number).click()
    mgr_page.wait_for_url(f"**/parts/requests/{pr.id}")
    mgr_page.click("form[data-action=approve] button[type=submit]")
    mgr_page.wait_for_selector(".flash-success")
    assert _part_request(db).status == "approved"
    mgr_page.select_option(f"select[name='ship{pr.id}-source_warehouse_id']", str(central.id))
    mgr_page.click("form[data-action=ship] button[type=submit]")
    mgr_page.wait_for_selector(".flash-success")
    assert "Shipped" in mgr_page.locator("h1 .badge").inner_text()
    assert _part_request(db).status == "shipped"
    assert qty_at(central.id, part.id) == 3 and qty_at(van.id, part.id) == 0

    eng_page.goto(live_server.url + f"/parts/requests/{pr.id}")
    assert eng_page.locator("form[data-action=approve]").count() == 0  # not the engineer's step
    eng_page.click("form[data-action=sign] button[type=submit]")
    eng_page.wait_for_selector(".flash-success")
    timeline = eng_page.locator("[data-testid=timeline]").inner_text()
    for step in ("Applied for parts", "Approved", "Shipped", "Signed for"):
        assert step in timeline
    assert _part_request(db).status == "signed"
    assert qty_at(van.id, part.id) == 2 and qty_at(central.id, part.id) == 3
    eng_page.goto(live_server.url + "/parts/van")
    assert part.part_number in eng_page.locator("main").inner_text()


def test_refused_steps_show_the_message_and_change_nothing(
    live_server, browser, db, engineer, van, central, part, receive, manager
):
    receive(central, part, 1)
    pr = apply_part_request({"lines": [{"part_id": part.id, "qty": 3}]}, engineer.user)
    db.session.commit()
    page = _log_in(browser, live_server, manager.username)
    page.goto(live_server.url + f"/parts/requests/{pr.id}")

    # Rejecting needs a reason: the message shows on the reject form, the request stays applied.
    page.click("form[data-action=reject] button[type=submit]")
    error = page.locator(f"form[data-action=reject] .error[data-field='reject{pr.id}-reason']")
    assert error.is_visible()
    fresh = _part_request(db)
    assert (fresh.status, fresh.version, fresh.reject_reason) == ("applied", pr.version, None)

    # Approved, but the central warehouse holds 1 of the 3: shipping is refused, no stock leaves.
    page.click("form[data-action=approve] button[type=submit]")
    page.wait_for_selector(".flash-success")
    page.select_option(f"select[name='ship{pr.id}-source_warehouse_id']", str(central.id))
    page.click("form[data-action=ship] button[type=submit]")
    assert page.locator("form[data-action=ship] .error, form[data-action=ship] .flash-error").first.is_visible()
    fresh = _part_request(db)
    assert fresh.status == "approved" and fresh.shipped_at is None
    assert qty_at(central.id, part.id) == 1
    from fieldservice.parts.models import StockMovement

    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(StockMovement).where(StockMovement.part_request_id == pr.id)
        )
        == 0
    )


def test_a_stale_page_cannot_approve_twice(live_server, browser, db, engineer, van, part, manager):
    pr = apply_part_request({"lines": [{"part_id": part.id, "qty": 1}]}, engineer.user)
    db.session.commit()
    page = _log_in(browser, live_server, manager.username)
    page.goto(live_server.url + f"/parts/requests/{pr.id}")
    # Meanwhile a colleague rejects it.
    perform_part_request(_fresh(db, pr), "reject", manager, pr.version, reason="库存不足，改用替代件")
    db.session.commit()
    page.click("form[data-action=approve] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".flash-error, .error").first.is_visible()
    fresh = _part_request(db)
    assert fresh.status == "rejected" and fresh.decided_by_id == manager.id
    assert "库存不足" in page.locator("main").inner_text()
