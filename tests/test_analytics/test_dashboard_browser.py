"""The dashboard in a real Chromium: the vendored Chart.js draws every chart, the filters narrow the page."""

import pytest


@pytest.mark.browser
def test_charts_draw_and_filters_apply(live_server, browser, db, make_user, history):
    make_user("manager", username="ana-manager")
    db.session.remove()  # the live server reads; this thread must not hold a stale snapshot

    page = browser.new_page(locale="en-US")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server.url}/login?lang=en")
        page.fill("input[name=username]", "ana-manager")
        page.fill("input[name=password]", "password123")
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/home*")
        page.goto(f"{live_server.url}/analytics/?lang=en")
        page.wait_for_function("() => document.querySelector('canvas.analytics-chart').chart !== undefined")
        drawn = page.evaluate(
            "[...document.querySelectorAll('canvas.analytics-chart')].map(c => [c.chart.config.type,"
            " c.chart.data.labels.length, c.chart.data.datasets[0].data.reduce((a, b) => a + b, 0)])"
        )
        # problem types (leak 4, install 1), products, agreements, service items, trend, engineers.
        assert drawn[0] == ["bar", 2, 5]
        assert ["line", 3, 5] in drawn
        assert page.locator("[data-kpi=first_time_fix] .stat-value").inner_text() == "50.0 %"
        page.select_option("select[name=zone]", "徐汇")
        page.click("form[data-testid=analytics-filters] button[type=submit]")
        page.wait_for_url("**zone=*")
        assert page.locator("[data-testid=totals] .stat-value").first.inner_text() == "2"
        assert errors == []
    finally:
        page.close()
