"""The customer's page in real Chromium under the content security policy: its stylesheet applies, nothing
is refused."""

import pytest

from fieldservice.reports import operations as ops

from ..test_core.test_csp_browser import watch_violations

pytestmark = pytest.mark.browser


def test_the_customer_page_runs_under_the_policy(live_server, browser, db, resolved_request):
    token = ops.current_token(resolved_request)
    db.session.commit()
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    violations = watch_violations(page)
    answer = page.goto(f"{live_server.url}/r/{token}")
    assert answer.status == 200
    assert "style-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    assert page.eval_on_selector(".stars", "e => getComputedStyle(e).flexDirection") == "row-reverse"
    assert violations == []
    context.close()
