"""The fault knowledge base in real Chromium: an engineer searches in Chinese and reads the fix, a manager's
stale edit shows what a colleague changed before it saves on top, a new entry is
written, published and found."""

import pytest
import sqlalchemy as sa

from tests.test_knowledge.conftest import cause

pytestmark = pytest.mark.browser


def _log_in(browser, live_server, username, locale="zh-CN"):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("main button[type=submit]")
    page.wait_for_url("**/home")
    return page


def _search(page, live_server, q):
    page.goto(live_server.url + "/knowledge")
    page.fill("input[name=q]", q)
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/knowledge?*q=*")
    return [int(a.get_attribute("data-entry-id")) for a in page.locator("article.kb-hit").all()]


def test_an_engineer_finds_the_fix_by_a_chinese_phrase(live_server, browser, make_user, make_entry):
    leak = make_entry(
        "机器底部漏水",
        fault_code="E5",
        causes=[cause("进水接头密封圈老化", ("更换密封圈", ["关闭进水阀", "拆下接头", "更换O型圈后试压"]))],
    )
    make_entry("净水器不出水", causes=[cause("RO膜堵塞", "更换RO膜")])
    make_entry("漏水报警草稿", status="draft")  # drafts are for managers only
    make_user("engineer", username="zhanggong")
    page = _log_in(browser, live_server, "zhanggong")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"

    assert _search(page, live_server, "漏水") == [leak.id]
    assert page.get_by_role("link", name="新建条目").count() == 0  # engineers read, managers write
    page.get_by_role("link", name="机器底部漏水").click()
    page.wait_for_url(f"**/knowledge/{leak.id}")
    body = page.locator("main").inner_text()
    assert "进水接头密封圈老化" in body and "更换O型圈后试压" in body and "E5" in body
    assert page.get_by_role("link", name="编辑").count() == 0

    assert _search(page, live_server, "E5") == [leak.id]
    assert _search(page, live_server, "冰箱压缩机") == []
    assert page.locator("article.kb-hit").count() == 0


def test_a_stale_edit_shows_the_conflict_then_saves_on_top(live_server, browser, db, make_user, make_entry):
    from fieldservice.knowledge import operations as ops
    from fieldservice.knowledge.models import KnowledgeEntry

    entry = make_entry("制冰机不制冰", causes=[cause("水泵故障", "更换水泵")])
    make_user("manager", username="wangjl")
    colleague = make_user("manager", username="lijl")
    page = _log_in(browser, live_server, "wangjl", locale="en-US")
    page.goto(live_server.url + f"/knowledge/{entry.id}/edit")
    page.fill("input[name=fault_code]", "F3")

    # While the form is open, a colleague renames the symptom.
    ops.update_entry(
        db.session.get(KnowledgeEntry, entry.id), {"symptom": "制冰机不出冰", "version": 1}, colleague
    )
    db.session.commit()

    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".flash-error[role=alert]").is_visible()
    changes = page.locator("[data-testid=kb-changes]")
    assert "制冰机不制冰" in changes.inner_text() and "制冰机不出冰" in changes.inner_text()
    db.session.expire_all()
    current = db.session.get(KnowledgeEntry, entry.id)
    assert (current.symptom, current.fault_code, current.version) == ("制冰机不出冰", None, 2)

    # The form kept the typed fault code; saving again is a deliberate overwrite on top of version 2.
    assert page.locator("input[name=fault_code]").input_value() == "F3"
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/knowledge/{entry.id}")
    assert page.locator(".flash-success").is_visible()
    db.session.expire_all()
    current = db.session.get(KnowledgeEntry, entry.id)
    assert (current.fault_code, current.version) == ("F3", 3)
    assert "v3" in page.locator("main").inner_text()


def test_a_manager_writes_and_publishes_an_entry_that_search_then_finds(live_server, browser, db, make_user):
    from fieldservice.knowledge.models import KnowledgeEntry

    make_user("manager", username="wangjl")
    page = _log_in(browser, live_server, "wangjl", locale="en-US")
    page.goto(live_server.url + "/knowledge/new")
    page.click("button[name=publish]")  # nothing filled in: the form says what is missing
    page.wait_for_load_state()
    assert page.locator(".error").first.is_visible()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KnowledgeEntry)) == 0

    page.select_option("select[name=category]", "water_purifier")
    page.fill("input[name=symptom]", "出水有异味")
    page.fill("textarea[name='causes-0-description']", "活性炭滤芯失效")
    page.fill("input[name='causes-0-solutions-0-summary']", "更换活性炭滤芯")
    page.fill("textarea[name='causes-0-solutions-0-steps']", "关闭进水\n更换滤芯\n冲洗5分钟")
    page.click("button[name=publish]")
    page.wait_for_url("**/knowledge/*")
    db.session.expire_all()
    entry = db.session.scalars(sa.select(KnowledgeEntry)).one()
    assert (entry.status, entry.symptom, entry.category) == ("published", "出水有异味", "water_purifier")
    assert [s.summary for c in entry.causes for s in c.solutions] == ["更换活性炭滤芯"]
    assert "冲洗5分钟" in page.locator("main").inner_text()

    assert _search(page, live_server, "异味") == [entry.id]
