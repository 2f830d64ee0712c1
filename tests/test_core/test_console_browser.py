"""The console shell in real Chromium: log in, the Chinese UI by default, the language switch sticks, role menus."""

import pytest

pytestmark = pytest.mark.browser


def _log_in(page, live_server, username):
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")


def test_log_in_see_chinese_switch_to_english_and_it_sticks(live_server, browser, make_user, make_customer):
    make_user("dispatcher", username="lina", name="李娜")
    make_customer(name="华东医院门诊部")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    _log_in(page, live_server, "lina")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.locator("main").get_by_role("link", name="客户").first.is_visible()
    page.click("[data-testid=lang-switch]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator("main").get_by_role("link", name="Customers").first.click()
    page.wait_for_url("**/customers")
    assert page.get_by_text("华东医院门诊部").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()


def test_an_english_browser_gets_english_before_log_in(live_server, browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(live_server.url + "/login")
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()


def test_engineers_do_not_get_the_admin_menu(live_server, browser, make_user):
    make_user("engineer", username="eng7")
    make_user("admin", username="boss")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _log_in(page, live_server, "eng7")
    assert page.locator("nav.mainnav a", has_text="Users").count() == 0
    page.click("text=Log out")
    _log_in(page, live_server, "boss")
    assert page.locator("nav.mainnav a", has_text="Users").count() == 1
    context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_menu_goes_by_task_on_one_line_at_1280_px(live_server, browser, make_user, locale):
    """The admin sees every page: grouped by task, the menu still fits one line, and each page opens from it."""
    make_user("admin", username="boss")
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _log_in(page, live_server, "boss")
    tops = page.eval_on_selector_all("nav.mainnav > *", "els => els.map(e => e.getBoundingClientRect().top)")
    assert len(tops) == 8 and len(set(tops)) == 1, tops  # eight groups, one row
    nav_right = page.eval_on_selector("nav.mainnav", "e => e.getBoundingClientRect().right")
    assert nav_right <= 1280
    page.hover("nav.mainnav [data-menu=system]")
    users = page.locator("nav.mainnav [data-menu=system] a", has_text="用户" if locale == "zh-CN" else "Users")
    assert users.is_visible()
    users.click()
    page.wait_for_url("**/admin/users")
    context.close()


def test_the_customer_form_shows_field_errors_in_the_page(live_server, browser, make_user):
    make_user("dispatcher", username="lina")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _log_in(page, live_server, "lina")
    page.goto(live_server.url + "/customers/new")
    page.fill("input[name=phone]", "abc")
    page.click("main button[type=submit]")
    assert page.locator(".error[data-field=name]").is_visible()
    assert page.locator(".error[data-field=phone]").is_visible()
    assert page.locator("input[name=phone]").input_value() == "abc"
    context.close()
