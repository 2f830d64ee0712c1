"""The dispatcher's intake in real Chromium: find the customer, log the request, see the detail, assign."""

import re

import pytest

pytestmark = pytest.mark.browser


def _log_in(page, live_server, username):
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")


def test_intake_to_detail_to_assign(
    live_server, browser, make_user, make_equipment, make_customer, make_engineer, problem_types
):
    make_user("dispatcher", username="lina", name="李娜")
    customer = make_customer(name="华东医院门诊部", zone="徐汇")
    unit = make_equipment(customer=customer)
    engineer = make_engineer(skills=["water_purifier"], name="张师傅")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _log_in(page, live_server, "lina")
    # The menu goes by task: the request pages open from the service-request group.
    page.hover("nav.mainnav [data-menu=requests]")
    page.click("nav.mainnav a:has-text('New request')")
    page.wait_for_url("**/requests/new")

    # The search answers as the dispatcher types (htmx), then choosing the customer shows their equipment.
    page.fill("[data-testid=customer-search]", "华东医院")
    page.locator("[data-testid=customer-results] a", has_text="华东医院门诊部").click()
    page.wait_for_url(re.compile(r".*customer_id=\d+"))
    assert page.locator("[data-testid=customer-history]").get_by_text(unit.serial_number).is_visible()

    # Priority 1 proposes a required date two hours out; the preview updates without a reload.
    before = page.input_value("#required_by")
    page.select_option("#priority", "1")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=due-preview]').textContent.includes('priority 1')"
    )
    assert page.input_value("#required_by") != before
    page.select_option("#problem_type", "leak")
    page.select_option("#equipment_id", str(unit.id))
    page.fill("#description", "门诊部净水器底部漏水，已关闭进水阀")
    page.click("[data-testid=intake-submit]")
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    assert page.locator("[data-testid=request-status]").get_attribute("data-status") == "awaiting_assignment"
    number = page.locator("[data-testid=request-number]").inner_text()
    assert re.fullmatch(r"SR-\d{8}-\d{4}", number)
    # The response clock counts down in the browser.
    clock = page.locator("[data-testid=clock-response] .sla-left")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=clock-response] .sla-left').textContent.includes('left')"
    )
    first = clock.inner_text()
    page.wait_for_timeout(1100)
    assert clock.inner_text() != first

    # Each action is one button; one that asks for something opens its own form.
    page.click("[data-testid=open-assign]")
    page.select_option("#assign-engineer_id", str(engineer.id))
    page.click("[data-testid=do-assign]")
    page.wait_for_load_state()
    assert page.locator("[data-testid=request-status]").get_attribute("data-status") == "assigned"
    assert page.locator("[data-testid=request-engineer]").inner_text() == "张师傅"
    assert page.locator("[data-testid=timeline] li[data-action=assign]").count() == 1
    context.close()


def test_intake_error_is_shown_in_the_page(live_server, browser, make_user, make_customer, problem_types):
    make_user("dispatcher", username="lina")
    customer = make_customer(name="静安写字楼")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _log_in(page, live_server, "lina")
    page.goto(f"{live_server.url}/requests/new?customer_id={customer.id}")
    page.select_option("#problem_type", "leak")
    page.click("[data-testid=intake-submit]")
    assert page.locator("p.error[data-field=description]").inner_text() == "Describe the problem."
    context.close()
