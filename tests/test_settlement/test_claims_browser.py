"""A warranty claim in real Chromium: the manager collects the month's verified warranty visits into a claim,
submits it to the manufacturer, then records a partial acceptance line by line with a reason; the amounts add up."""

from decimal import Decimal

import pytest

from fieldservice.settlement.models import WarrantyClaim
from tests.test_settlement.test_claims import two_visits, warranty_visit  # noqa: F401 - fixtures
from tests.test_settlement.test_settlement_browser import _console_log_in

pytestmark = pytest.mark.browser


def test_collect_submit_and_accept_in_part(db, browser, live_server, make_user, two_visits):  # noqa: F811
    manager = make_user("manager", username="zhaoqs")
    desk = browser.new_context(locale="zh-CN").new_page()
    _console_log_in(desk, live_server, manager.username)
    desk.goto(live_server.url + "/settlement/claims")
    desk.click("[data-testid=collect]")
    desk.wait_for_selector("[data-testid=claim-lines]")
    claim = db.session.query(WarrantyClaim).one()
    assert desk.locator("[data-testid=claim-status]").inner_text() == "草稿"
    assert desk.locator("[data-testid=claim-claimed]").inner_text() == "¥804.00"
    assert desk.locator("[data-testid=claim-lines] tbody tr").count() == 3

    desk.click("[data-testid=submit]")
    desk.wait_for_function("() => document.querySelector('[data-testid=claim-status]').textContent === '已提交厂家'")
    part_line = next(ln for ln in claim.lines if ln.kind == "part")
    desk.fill(f"[data-testid=accepted-{part_line.id}]", "100")
    desk.click("[data-testid=accept-part]")
    # Less than claimed needs a reason: the page says so and the claim stays submitted.
    desk.wait_for_selector(".flash")
    assert "原因" in desk.locator(".flash").first.inner_text()
    desk.fill(f"[data-testid=accepted-{part_line.id}]", "100")
    desk.fill(f"[data-testid=reason-{part_line.id}]", "旧件外观损坏，按折旧赔付")
    desk.click("[data-testid=accept-part]")
    desk.wait_for_function("() => document.querySelector('[data-testid=claim-status]').textContent === '部分接受'")
    assert desk.locator("[data-testid=claim-accepted]").inner_text() == "¥724.00"
    assert "明细与索赔单合计一致" in desk.locator("[data-testid=reconciliation]").inner_text()
    assert "旧件外观损坏" in desk.locator("[data-testid=claim-lines]").inner_text()
    db.session.expire_all()
    claim = db.session.get(WarrantyClaim, claim.id)
    assert (claim.status, claim.accepted_amount) == ("partly_accepted", Decimal("724.00"))

    desk.goto(live_server.url + "/settlement/claims")
    row = desk.locator(f"tr[data-claim='{claim.number}']")
    assert "部分接受" in row.inner_text() and "¥724.00" in row.inner_text()
    assert "90.0%" in desk.locator("[data-testid=acceptance]").inner_text()
