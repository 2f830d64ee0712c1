"""The dispatch board in a real Chromium: a dispatcher assigns a request by hand with the keyboard and the
board refreshes itself (htmx) without a full reload."""

import pytest

from fieldservice.requests.models import ServiceRequest


@pytest.mark.browser
def test_dispatcher_assigns_on_the_board(
    live_server, browser, db, make_user, engineer_factory, request_factory
):
    make_user("dispatcher", username="board-dispatcher")
    near = engineer_factory(name="张建国", lat=31.2216, lng=121.5441)
    engineer_factory(name="李明辉", lat=31.3750, lng=121.2650)
    urgent = request_factory(priority=1, hours=6)
    later = request_factory(priority=4, hours=100)
    number, other, near_login, urgent_id, near_id = (
        urgent.number,
        later.number,
        near.user.username,
        urgent.id,
        near.id,
    )
    db.session.remove()  # the live server writes; this thread must not hold a stale snapshot

    page = browser.new_page(locale="en-US")
    try:
        page.goto(f"{live_server.url}/login?lang=en")
        page.fill("input[name=username]", "board-dispatcher")
        page.fill("input[name=password]", "password123")
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/home*")
        page.goto(f"{live_server.url}/dispatch?lang=en")
        rows = page.locator("[data-testid^=board-row-]")
        assert rows.nth(0).get_attribute("data-testid") == f"board-row-{number}"
        assert rows.count() == 2
        # The nearest engineer is proposed first; assign with the keyboard.
        select = page.locator(f"[data-testid=assign-select-{number}]")
        assert "张建国" in select.locator("option").first.inner_text()
        select.focus()
        page.keyboard.press("Tab")
        page.evaluate("window.__marker = 'no reload'")
        page.keyboard.press("Enter")
        page.locator(f"[data-testid=board-row-{number}]").wait_for(state="detached")
        assert page.locator(".flash-success").inner_text().startswith(number)
        assert page.locator(f"[data-testid=board-row-{other}]").is_visible()
        assert page.locator(f"[data-testid=load-{near_login}]").inner_text() == "1/5"
        # htmx swapped the board in place: the page was not reloaded.
        assert page.evaluate("window.__marker") == "no reload"
    finally:
        page.close()
    sr = db.session.get(ServiceRequest, urgent_id)
    assert sr.status == "assigned" and sr.engineer_id == near_id
