"""The content security policy in real Chromium: the console's pages and the PWA run with no violation, and
the styles that moved out of the templates still apply."""

import pytest

pytestmark = pytest.mark.browser

CONSOLE_PAGES = ["/home", "/customers", "/requests", "/requests/new", "/dispatch", "/knowledge", "/analytics/"]


def watch_violations(page) -> list[str]:
    """The CSP violations *page* reports from now on, as console messages."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def test_console_pages_run_under_the_policy(live_server, browser, make_user):
    make_user("manager", username="mgr")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    violations = watch_violations(page)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "mgr")
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    for path in CONSOLE_PAGES:
        answer = page.goto(live_server.url + path)
        assert answer.status == 200, path
        assert "script-src 'self'" in answer.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    page.goto(live_server.url + "/dispatch")
    assert page.eval_on_selector(".board-grid", "e => getComputedStyle(e).display") == "grid"
    assert violations == []
    context.close()


def test_the_pwa_runs_under_the_policy(live_server, browser, make_engineer):
    make_engineer()
    context = browser.new_context(locale="en-US", service_workers="block")
    page = context.new_page()
    violations = watch_violations(page)
    answer = page.goto(live_server.url + "/app/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    assert violations == []
    context.close()
